"""`huiqi demo`: the main job on embedded defaults, from nothing to a service ready to try.

Registries are generated, earlier months are run and answered by the
simulated enterprises (the ranker's feedback), the ranker is trained, the
as-of date is run with the champion, tokens are issued for each role, and the
service starts with the first URLs to open printed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli import app
from api.cli.progress import console, stages
from api.cli.registries import build_and_write_profiles
from api.cli.run import print_summary
from api.ranking import model_store, push_plan
from api.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def _month_ends_before(day: date, count: int) -> list[date]:
    """The ``count`` quarter ends (every 3 months) before ``day``'s month: the feedback history."""
    from matcher.ranking.simulate import as_of_dates

    start = date(day.year - (count * 3 + 11) // 12, (day.month - count * 3 - 1) % 12 + 1, 1)
    return [d for d in as_of_dates(start, day, 3) if d < date(day.year, day.month, 1)][-count:]


def _showcase(engine: Engine, run_id: str) -> str | None:
    """An enterprise with a near miss and something to confirm, if any: the most to look at."""
    from sqlalchemy import select

    from matcher.db.models import decisions

    with engine.connect() as connection:
        for status in ("awaiting_confirmation", "near_miss", "needs_data", "granted"):
            uscc = connection.execute(
                select(decisions.c.uscc)
                .where(decisions.c.run_id == run_id, decisions.c.status == status)
                .order_by(decisions.c.uscc)
                .limit(1)
            ).scalar()
            if uscc:
                return uscc
    return None


@app.command()
def demo(
    enterprises: Annotated[int, typer.Option(min=1, help="Number of synthetic enterprises.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"])] = datetime(2025, 6, 30),
    history: Annotated[int, typer.Option(min=2, help="Earlier quarter ends run and answered (feedback).")] = 4,
    serve: Annotated[bool, typer.Option(help="Start the service at the end.")] = True,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """From nothing to a service ready to try: registries, feedback history, ranker, run, tokens, service."""
    from sqlalchemy import select

    from api.service.attested_lists import import_generated_lists
    from api.service.published import PublishedCatalogue
    from api.service.tokens import Principal, issue_token
    from api.web.links import link_url
    from features.synthetic import generate as generate_registries
    from features.synthetic.generate import LISTS
    from matcher.db import open_database
    from matcher.db.models import runs
    from matcher.ranking.simulate import simulate
    from matcher.ranking.train import GATE, train
    from matcher.run import run_matching

    settings = Settings()
    day = as_of.date()
    with stages("registries") as step:
        generate_registries(settings.registry_dir, enterprises=enterprises, seed=seed, dirty=0.002, progress=step)
    build_and_write_profiles(settings.registry_dir, day, settings.profiles_path, settings.quarantine_dir)
    engine = open_database(settings.database)
    catalogue = PublishedCatalogue().load(engine)
    # The departments' complete lists (firms in bankruptcy, zombie firms): every other firm is "not on the list",
    # so the policies that exclude them can still pay automatically (docs/facts.md, "Complete lists").
    for done in import_generated_lists(
        engine, Principal.operator("demo"), settings.registry_dir / LISTS, day, profiles=settings.profiles_path
    ):
        console.print(f"complete list of {done['fact']} from {done['department']}: {done['entries']:,} firms on it")

    earlier = _month_ends_before(day, history)
    with stages("feedback history") as step:
        simulated = simulate(
            engine, settings.registry_dir, earlier, catalogue.in_force, plan=push_plan(settings), progress=step
        )
    console.print(
        f"{len(simulated.dates)} earlier runs ({earlier[0]} … {earlier[-1]}); simulated responses: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(simulated.responses.items()))
    )
    with stages("ranker") as step:
        step("training on the feedback (LightGBM LambdaRank), registering in MLflow")
        report = train(engine, model_store(settings))
    # What the ranker changes: the share of the notices enterprises act on that it put in the first pushed wave.
    found = report.decision_metrics
    take = {s: m[GATE] for s, m in found["metrics"].items() if s != "champion"}
    best = max((s for s in take if s != "ranker"), key=lambda s: take[s]["value"])

    def shown(e: dict) -> str:
        return f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"

    console.print(
        f"ranker version {report.version}: held-out take-up captured by the first {found['cap']} notices"
        f" {shown(take['ranker'])} against the best baseline ({best}) {shown(take[best])}"
        f" — {'champion' if report.promoted else 'not promoted'} ({report.reason})",
        highlight=False,
        soft_wrap=True,  # one line: the figures stay together however narrow the terminal
    )

    with stages("run") as step:
        summary = run_matching(
            engine, settings.registry_dir, day, catalogue.in_force(day), progress=step, push=push_plan(settings)
        )
    print_summary(summary)
    with engine.connect() as connection:
        model = connection.execute(select(runs.c.model_version).where(runs.c.id == summary.run_id)).scalar()
    order = model or "the fallback order"
    console.print(f"notices ordered by {order}; ledger and notices in {settings.database_shown}")

    uscc = _showcase(engine, summary.run_id)
    tokens = {role: issue_token(engine, role=role, name=f"demo {role}")[0] for role in ("officer", "analyst")}
    if uscc:
        tokens["enterprise"] = issue_token(engine, role="enterprise", uscc=uscc, name=f"demo {uscc}")[0]
    base = f"http://127.0.0.1:{port}"
    console.print("\n[bold]Tokens[/] (demo only; `huiqi token create --role ROLE [--uscc USCC]` issues more):")
    for role, token in tokens.items():
        console.print(f"  {role:<10} {token}", highlight=False, soft_wrap=True)
    console.print("\n[bold]Open in a browser[/] (the web pages, docs/web.md):")
    if uscc:
        console.print(
            f"  enterprise {link_url(settings, uscc)}  — its inbox (the link a notice carries)",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"  officer    {base}/web/sign-in  — sign in with the officer token above: the desk", highlight=False)
    console.print(
        f"  analyst    {base}/web/sign-in  — sign in with the analyst token above: the models", highlight=False
    )
    console.print("\n[bold]Try[/]:")
    console.print(f"  {base}/docs  — the API, with examples (Authorize with a token above)", highlight=False)
    if uscc:
        console.print(
            f"  curl -H 'Authorization: Bearer {tokens['enterprise']}' {base}/enterprises/{uscc}/decisions",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"  curl -H 'Authorization: Bearer {tokens['officer']}' {base}/policies", highlight=False, soft_wrap=True
    )
    console.print(
        f"  curl -H 'Authorization: Bearer {tokens['analyst']}' {base}/models/champion",
        highlight=False,
        soft_wrap=True,
    )
    engine.dispose()
    if serve:
        from api.service.server import serve as run_server

        console.print(f"\nserving on {base} (Ctrl-C stops)")
        run_server(settings, "127.0.0.1", port, log_level="warning")
