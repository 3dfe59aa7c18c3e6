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
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json). Tokens: `huiqi token create`."""
    import uvicorn

    from api.service import create_app
    from api.settings import Settings

    settings = Settings()
    console.print(f"huiqi service on http://{host}:{port} (database {settings.database}); API docs at /docs")
    # One worker process: runs started over HTTP are followed by a thread of this process.
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
