"""The ``huiqi`` command line: one sub-module per concept, registered on one app."""

from __future__ import annotations

import sys

import typer

from api.cli.progress import console
from features.errors import FeaturesError
from matcher.db import DatabaseUnavailable
from matcher.errors import MatcherError
from matcher.ranking.errors import RankingError
from policies.errors import PolicyError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="huiqi — apply-free benefits (免申即享).",
)

# Registering commands is the import's side effect; keep these below `app`.
from api.cli import demo, notices, payouts, policies, ranking, registries, run, serve, supplied_facts, tokens  # noqa: E402, F401

# Domain errors carry complete messages (what, where, how to fix): print them, no traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    FeaturesError,
    PolicyError,
    RankingError,
    DatabaseUnavailable,
    MatcherError,
    run.RunInterrupted,
)


def main() -> None:
    # Usage errors are click's (exit 2 with usage); domain errors are ours: message, no traceback.
    try:
        app()
    except USER_ERRORS as exc:
        # soft_wrap: a path or a command in the message is never broken across lines
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        for note in getattr(exc, "__notes__", []):  # further problems found in the same pass
            console.print(f"[bold red]error:[/] {note}", highlight=False, soft_wrap=True)
        sys.exit(2)
