"""``/docs`` with Swagger UI served from this machine: a government network without internet still shows it.

The files come from npm's swagger-ui-dist, installed by ``make setup`` into api/web/node_modules (FastAPI's
own /docs would load them from a CDN). Without them /docs says how to install them instead of a blank page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["SWAGGER_DIR", "mount_docs"]

SWAGGER_DIR = Path(__file__).parent / "node_modules" / "swagger-ui-dist"
_MISSING = """<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>huiqi API</title></head><body>
<main><h1>接口文档所需文件未安装 / The API documentation's files are not installed</h1>
<p>Swagger UI is served from this machine, never from a CDN: install it with <code>make setup</code>
(<code>npm ci --prefix api/web</code>). The API itself is described at <a href="{url}">{url}</a>.</p></main>
</body></html>"""


def mount_docs(app: FastAPI) -> None:
    """Serve /docs and Swagger UI's files (the app must be built with ``docs_url=None``)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def docs(request: Request) -> HTMLResponse:
        if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():
            return HTMLResponse(_MISSING.format(url=app.openapi_url), status_code=503)
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="huiqi API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    app.include_router(router)
    if SWAGGER_DIR.is_dir():
        app.mount("/static/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
