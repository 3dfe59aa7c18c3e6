"""The ``huiqi`` command line."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="huiqi — apply-free benefits (免申即享).")


def main() -> None:
    app()
