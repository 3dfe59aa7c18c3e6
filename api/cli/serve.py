"""`huiqi serve`: the HTTP service (uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli import app
from api.cli.progress import console


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Worker processes, each with its own socket; about one per core.")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json). Tokens: `huiqi token create`."""
    from api.service.server import serve as run_server
    from api.settings import Settings

    settings = Settings()
    console.print(f"huiqi service on http://{host}:{port} (database {settings.database_shown}); API docs at /docs")
    run_server(settings, host, port, workers=workers, access_log=access_log)
