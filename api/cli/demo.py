"""`huiqi demo`: the main job on embedded defaults, from nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from api.cli import app
from api.cli.progress import console, stages
from api.cli.registries import build_and_write_profiles
from api.cli.run import print_summary
from api.settings import Settings
from features.synthetic import generate as generate_registries
from matcher.db import make_engine, upgrade
from matcher.run import run_matching
from policies.load import load_catalogue


@app.command()
def demo(
    enterprises: Annotated[int, typer.Option(min=1, help="Number of synthetic enterprises.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"])] = datetime(2025, 6, 30),
) -> None:
    """Generate registries (with a few bad rows), validate them, build profiles and run the matcher."""
    settings = Settings()
    day = as_of.date()
    with stages("demo") as step:
        generate_registries(settings.registry_dir, enterprises=enterprises, seed=seed, dirty=0.002, progress=step)
    build_and_write_profiles(settings.registry_dir, day, settings.profiles_path, settings.quarantine_dir)
    engine = make_engine(settings.database)
    upgrade(engine)
    with stages("run") as step:
        summary = run_matching(engine, settings.registry_dir, day, load_catalogue().in_force(day), progress=step)
    print_summary(summary)
    console.print(
        f"\nDecisions, benefit ledger and notices are in {settings.database}. Unknown means a fact is missing from"
        " the registries: the enterprise is asked for it (needs_data), never silently excluded.\n"
        "[bold]Next:[/] `huiqi policies explain --uscc <USCC> --policy job-retention-refund` explains a decision;"
        " `huiqi webhook set` + `huiqi deliver` push notices; `huiqi facts` lists the profile facts."
    )
