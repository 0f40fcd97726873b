"""/docs: Swagger UI for the runtime's OpenAPI schema, served from the runtime itself.

Its assets come from the `fastapi-offline` package (the swagger-ui-dist files), so the docs work
offline and in an air-gapped cluster, and no script is loaded from elsewhere; the page's own
set-up is a static script (docs.js), so the Content-Security-Policy needs no inline script.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

from osc_runtime.api.page_headers import DOCS_POLICY, page_headers

SWAGGER_ASSETS = Path(str(files("fastapi_offline") / "static"))
OWN_ASSETS = Path(__file__).resolve().parents[1] / "console"
ASSETS = {  # a fixed set: no path from the request reaches the filesystem
    "swagger-ui.css": (SWAGGER_ASSETS / "swagger-ui.css", "text/css"),
    "swagger-ui-bundle.js": (SWAGGER_ASSETS / "swagger-ui-bundle.js", "text/javascript"),
    "docs.js": (OWN_ASSETS / "docs.js", "text/javascript"),
}

router = APIRouter(include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} · API</title>
  <link rel="icon" href="{root}/favicon.ico">
  <link rel="stylesheet" href="{root}/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{root}/openapi.json"></div>
  <script src="{root}/docs/swagger-ui-bundle.js"></script>
  <script src="{root}/docs/docs.js"></script>
</body>
</html>
"""


@router.get("/docs")
def docs_page(request: Request) -> HTMLResponse:
    root = escape(request.scope.get("root_path", "").rstrip("/"))
    html = PAGE.format(title=escape(request.app.title), root=root)
    return HTMLResponse(html, headers=page_headers(DOCS_POLICY))


@router.get("/docs/{asset}")
def docs_asset(asset: str) -> FileResponse:
    if asset not in ASSETS:
        raise HTTPException(404, "no such docs asset")
    path, media_type = ASSETS[asset]
    return FileResponse(path, media_type=media_type,
                        headers=page_headers(DOCS_POLICY, cache="public, max-age=3600"))
