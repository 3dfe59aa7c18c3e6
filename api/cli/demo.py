"""`huiqi demo`: the main job on embedded defaults, from nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from api.cli import app
from api.cli.progress import console, stages
from api.cli.registries import build_and_write_profiles
from api.settings import Settings
from features.synthetic import generate as generate_registries


@app.command()
def demo(
    enterprises: Annotated[int, typer.Option(min=1, help="Number of synthetic enterprises.")] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    as_of: Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"])] = datetime(2025, 6, 30),
) -> None:
    """Generate registries (with a few bad rows), validate them and build profiles under the data directory."""
    settings = Settings()
    with stages("demo") as step:
        generate_registries(settings.registry_dir, enterprises=enterprises, seed=seed, dirty=0.002, progress=step)
    built = build_and_write_profiles(
        settings.registry_dir, as_of.date(), settings.profiles_path, settings.quarantine_dir
    )
    console.print(
        f"size classes: {dict(built['size_class'].value_counts().iter_rows())}\n"
        f"[bold]Next:[/] `huiqi facts` lists what each profile column means; read the profiles with polars:\n"
        f"  pl.read_parquet('{settings.profiles_path}')"
    )
