"""Web pages for people, in the service's own FastAPI app: the enterprise's inbox, the officer's desk, the
analyst's page, sign-in, and /docs without a CDN. See docs/web.md."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from api.web.links import link_url, read_link, sign_link

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["link_url", "mount_web", "read_link", "sign_link"]


def mount_web(app: FastAPI) -> None:
    """Add the pages, their static files and /docs to ``app`` (built with ``docs_url=None``). The pages (and
    FastAPI) are imported here, not with the package: a command that only signs a link (`huiqi notices
    deliver`, `huiqi demo`) reads ``api.web.links`` without them."""
    from fastapi.staticfiles import StaticFiles

    from api.web import account, analyst, desk, enterprise, supervision
    from api.web import statistics as open_statistics
    from api.web.docs import mount_docs
    from api.web.workbench import pages as workbench

    for module in (account, enterprise, desk, analyst, supervision, open_statistics, workbench):
        app.include_router(module.router)
    mount_docs(app)
    app.mount("/static/web", StaticFiles(directory=Path(__file__).parent / "static" / "web"), name="web")
