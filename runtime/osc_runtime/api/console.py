"""The run console: a static page at `/` that drives the runs API from the browser.

The page and its assets need no key (they hold no data); everything it shows comes from
authenticated calls. `/job` tells the console which job this service runs and its health.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from osc_runtime.api.deps import Authenticated, Readiness, RuntimeDep
from osc_runtime.api.page_headers import page_headers

ASSETS = Path(__file__).resolve().parents[1] / "console"
TYPES = {"console.js": "text/javascript", "console.css": "text/css", "chart.js": "text/javascript"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def console_page() -> FileResponse:
    return FileResponse(ASSETS / "index.html", media_type="text/html", headers=page_headers())


@router.get("/console")
def console_redirect() -> RedirectResponse:
    return RedirectResponse("/")


@router.get("/console/{asset}")
def console_asset(asset: str) -> FileResponse:
    if asset not in TYPES:  # a fixed set: no path from the request reaches the filesystem
        raise HTTPException(404, "no such console asset")
    return FileResponse(ASSETS / asset, media_type=TYPES[asset], headers=page_headers())


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    return FileResponse(ASSETS / "favicon.ico", media_type="image/x-icon",
                        headers=page_headers(cache="public, max-age=86400"))


@router.get("/job", dependencies=[Authenticated], include_in_schema=True,
            summary="This service's job: name, adaptor, trigger, health")
def job_info(runtime: RuntimeDep) -> dict:
    settings, adaptor = runtime.settings, runtime.adaptor
    return {
        "name": settings.job_name,
        "adaptor": settings.adaptor_name(),
        "adaptor_version": adaptor.version,
        "trigger": settings.trigger,
        "engine": settings.engine.value,
        "ready": adaptor.state is Readiness.READY and not runtime.draining,
        "reason": adaptor.reason,
    }
