"""The ceiling for P1: a bare FastAPI endpoint that answers 202 with a run id and does nothing."""

from __future__ import annotations

import uuid

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.post("/inbox", status_code=202)
async def inbox(request: Request) -> JSONResponse:
    await request.body()  # read it, as any real endpoint must
    return JSONResponse({"run_id": uuid.uuid4().hex, "status": "queued"}, 202)
