"""The ``huiqi`` command line: one sub-module per concept, registered on one app.

Modules load when their command runs (``api.cli.lazy``): ``huiqi --help`` imports typer and rich only.
"""

from __future__ import annotations

import sys

import typer

from api.cli.lazy import LazyGroup, register

app = typer.Typer(
    cls=LazyGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="huiqi — apply-free benefits (免申即享).",
)


@app.callback()
def _root() -> None:
    # A callback makes typer build a group even before any command module is loaded.
    pass


# Every top-level command: its module, and its one-line help for `huiqi --help` (tests/api/test_cli_lazy.py
# checks both against the command itself).
for _name, _module, _help in (
    ("check", "registries", "Validate a registry directory; bad rows go to quarantine files with their reasons."),
    ("db", "run", "The database: create or upgrade its schema."),
    (
        "deliver",
        "notices",
        "Post pending notices to the enterprises' webhooks, retrying with backoff; stops when nothing is due.",
    ),
    (
        "demo",
        "demo",
        "From nothing to a service ready to try: registries, feedback history, ranker, run, tokens, service.",
    ),
    ("docs", "registries", "Regenerate the reference pages (registry contract, fact catalogue) from the code."),
    ("facts", "registries", "List the fact catalogue: every fact a profile carries, with its source registry."),
    ("generate", "registries", "Write synthetic registries (all six registries) with realistic distributions."),
    ("model", "ranking", "The ranker's models in the MLflow registry."),
    ("notices", "notices", "Notices: what could not be delivered, and sending it again."),
    ("payouts", "payouts", "Payment batches: prepare, approve, export, reconcile."),
    ("policies", "policies", "Policy rules: check them, explain a decision, try a folder against profiles."),
    ("profiles", "registries", "Validate the registries, then build one profile per enterprise as of a date."),
    ("run", "run", "Decide every in-force policy for every enterprise, and write decisions, ledger and notices once."),
    ("serve", "serve", "Serve the API (OpenAPI at /docs and /openapi.json)."),
    (
        "simulate",
        "ranking",
        "Run the matcher on successive month-end as-of dates and record simulated responses (feedback).",
    ),
    ("supervision", "supervision", "E-supervision: cards, queues, escalations, handling times."),
    (
        "supplied-facts",
        "supplied_facts",
        "Facts supplied by enterprises or attested by officers: list, review, attest.",
    ),
    ("token", "tokens", "Bearer tokens for the HTTP service."),
    (
        "train",
        "ranking",
        "Train the ranker (LightGBM LambdaRank) on stored feedback, compare with baselines and the champion, log and register it in MLflow with its model card; the `champion` alias moves only when its take-up captured by the first wave beats the champion's (or the fallback order's) with a bootstrap interval above zero.",  # noqa: E501
    ),
    ("webhook", "notices", "Where each enterprise receives its notices."),
):
    register(_name, _module, _help)


def user_errors() -> tuple[type[Exception], ...]:
    """Domain errors carry complete messages (what, where, how to fix): printed, no traceback.

    Imported when an error is handled, not at start-up; by then the command has imported them anyway.
    """
    from features.errors import FeaturesError
    from matcher.db import DatabaseUnavailable
    from matcher.errors import MatcherError
    from matcher.ranking.errors import RankingError
    from policies.errors import PolicyError

    errors: tuple[type[Exception], ...] = (FeaturesError, PolicyError, RankingError, DatabaseUnavailable, MatcherError)
    run = sys.modules.get("api.cli.run")
    return errors + ((run.RunInterrupted,) if run is not None else ())


def main() -> None:
    # Usage errors are click's (exit 2 with usage); domain errors are ours: message, no traceback.
    try:
        app()
    except Exception as exc:
        if not isinstance(exc, user_errors()):
            raise
        from api.cli.progress import console

        # soft_wrap: a path or a command in the message is never broken across lines
        console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        for note in getattr(exc, "__notes__", []):  # further problems found in the same pass
            console.print(f"[bold red]error:[/] {note}", highlight=False, soft_wrap=True)
        sys.exit(2)
