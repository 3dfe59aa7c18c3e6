"""`huiqi demo`: the main job on embedded defaults, from nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console, stages
from api.cli.registries import build_and_write_profiles
from api.settings import Settings
from features.synthetic import generate as generate_registries
from policies.evaluate import eligibility_long, evaluate_policies
from policies.load import load_catalogue


@app.command()
def demo(
    enterprises: Annotated[int, typer.Option(min=1, help="Number of synthetic enterprises.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"])] = datetime(2025, 6, 30),
) -> None:
    """Generate registries (with a few bad rows), validate them, build profiles and evaluate the catalogue."""
    settings = Settings()
    day = as_of.date()
    with stages("demo") as step:
        generate_registries(settings.registry_dir, enterprises=enterprises, seed=seed, dirty=0.002, progress=step)
    profiles = build_and_write_profiles(settings.registry_dir, day, settings.profiles_path, settings.quarantine_dir)
    policies = load_catalogue().in_force(day)
    long = eligibility_long(evaluate_policies(profiles, policies, day), policies).collect()
    summary = (
        long.group_by("policy_id", maintain_order=True)
        .agg(
            pl.col("eligible").eq(True).sum().alias("eligible"),
            pl.col("eligible").is_null().sum().alias("unknown"),
            pl.col("amount").filter(pl.col("eligible")).sum().alias("amount"),
        )
        .sort("policy_id")
    )
    table = Table(title=f"{len(policies)} policies in force on {day} over {profiles.height:,} profiles")
    for col in ("policy", "title", "eligible", "unknown (data missing)", "amount if all paid (yuan)"):
        table.add_column(col, justify="left" if col in ("policy", "title") else "right")
    titles = {p.id: p.policy.title.zh for p in policies}
    for r in summary.iter_rows(named=True):
        table.add_row(r["policy_id"], titles[r["policy_id"]], f"{r['eligible']:,}", f"{r['unknown']:,}",
                      f"{r['amount']:,.0f}")  # fmt: skip
    console.print(table)
    console.print(
        "Eligibility before the policy graph, budgets and ranking (issue 4). Unknown means a fact is missing from"
        " the registries: the enterprise will be asked, never silently excluded.\n"
        f"[bold]Next:[/] `huiqi facts` lists the profile columns; `huiqi policies check` runs every policy example;"
        f" profiles are in {settings.profiles_path}"
    )
