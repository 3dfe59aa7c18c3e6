"""Commands on registry data: generate, check, build profiles, describe the contract."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console, stages

if TYPE_CHECKING:
    import polars as pl

    from features.registries.validate import RegistryCheck

AsOf = Annotated[datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Profiles as of this date (YYYY-MM-DD).")]
RegistryDir = Annotated[
    Path, typer.Option("--registry", exists=True, file_okay=False, help="Directory of registry extracts.")
]


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Directory to write the registry tables to.")],
    enterprises: Annotated[int, typer.Option(min=1, help="Number of enterprises.")] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 0,
    dirty: Annotated[float, typer.Option(min=0.0, max=0.5, help="Fraction of extra bad rows to add.")] = 0.0,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv.")] = "parquet",
) -> None:
    """Write synthetic registries (all six registries) with realistic distributions."""
    from features.synthetic import generate as generate_registries

    if fmt not in ("parquet", "csv"):
        raise typer.BadParameter(f"expected 'parquet' or 'csv', found {fmt!r}", param_hint="--format")
    started = time.perf_counter()
    with stages("generate") as step:
        paths = generate_registries(out, enterprises=enterprises, seed=seed, dirty=dirty, fmt=fmt, progress=step)
    console.print(
        f"wrote {len(paths)} tables for {enterprises:,} enterprises to {out} in {time.perf_counter() - started:.1f} s"
    )


def print_check(check: RegistryCheck, quarantine_files: list[Path]) -> None:
    counts = check.summary()
    table = Table(title=f"registry {check.directory}  (fingerprint {check.fingerprint[:12]})")
    for col in ("table", "rows read", "clean", "quarantined"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for r in counts.iter_rows(named=True):
        bad = r["rows_quarantined"]
        table.add_row(r["table"], f"{r['rows_read']:,}", f"{r['rows_clean']:,}", f"[red]{bad:,}[/]" if bad else "0")
    console.print(table)
    reasons = check.rule_counts()
    if reasons.height:
        why = Table(title="quarantined rows by reason")
        for col in ("table", "column", "rule", "meaning", "rows"):
            why.add_column(col, justify="right" if col == "rows" else "left")
        for r in reasons.iter_rows(named=True):
            why.add_row(r["table"], r["column"], r["rule"], f"{r['meaning']} / {r['meaning_zh']}", f"{r['rows']:,}")
        console.print(why)
        console.print("quarantine files (each row with its reason): " + ", ".join(str(p) for p in quarantine_files))


@app.command()
def check(
    registry: RegistryDir,
    quarantine: Annotated[Path | None, typer.Option(help="Where to write quarantined rows.")] = None,
) -> None:
    """Validate a registry directory; bad rows go to quarantine files with their reasons."""
    from features.registries.validate import check_registry, write_quarantine

    with stages("check") as step:
        result = check_registry(registry, progress=step)
    files = write_quarantine(result, quarantine or registry.parent / "quarantine")
    print_check(result, files)


@app.command()
def profiles(
    registry: RegistryDir,
    as_of: AsOf,
    out: Annotated[Path, typer.Option(help="Parquet file to write the profiles to.")],
    quarantine: Annotated[Path | None, typer.Option(help="Where to write quarantined rows.")] = None,
) -> None:
    """Validate the registries, then build one profile per enterprise as of a date."""
    build_and_write_profiles(registry, as_of.date(), out, quarantine or out.parent / "quarantine")


def build_and_write_profiles(registry: Path, as_of: date, out: Path, quarantine: Path) -> pl.DataFrame:
    from features.profiles import FACTS, build_profiles, left_out
    from features.profiles.store import ProfileInfo, write_profiles
    from features.registries.validate import check_registry, write_quarantine

    with stages("profiles") as step:
        result = check_registry(registry, progress=step)
        files = write_quarantine(result, quarantine)
        step(f"assembling profiles as of {as_of}")
        frames = {name: result.clean(name) for name in result.tables}
        built = build_profiles(frames, as_of).collect(engine="streaming")
        step(f"writing {out}")
        write_profiles(built, out, ProfileInfo(as_of, result.fingerprint))
    print_check(result, files)
    console.print(f"{built.height:,} profiles as of {as_of} with {len(FACTS)} facts written to {out}")
    print_left_out(result, left_out(frames, as_of), quarantine)
    return built


def print_left_out(check: RegistryCheck, later: dict[str, int], quarantine: Path) -> None:
    """Every enterprise of the registry without a profile, counted by why: nothing is dropped silently."""
    reasons = {
        f"quarantined in business registration (see {quarantine / 'business.csv'})": check.enterprises_quarantined()
    }
    reasons |= later
    shown = [f"{count:,} {why}" for why, count in reasons.items() if count]
    if shown:
        console.print("enterprises left out of the profiles: " + "; ".join(shown), highlight=False, soft_wrap=True)


@app.command()
def facts() -> None:
    """List the fact catalogue: every fact a profile carries, with its source registry."""
    from features.profiles import FACTS

    table = Table(title=f"fact catalogue ({len(FACTS)} facts)")
    for col in ("fact", "type", "unit", "中文", "source"):
        table.add_column(col)
    for f in FACTS:
        table.add_row(
            f.name, f.kind, f.unit or "", f.zh, ", ".join(f"{s.table}.{'/'.join(s.columns)}" for s in f.sources)
        )
    console.print(table)


@app.command()
def docs(out: Annotated[Path, typer.Option(help="Docs directory.")] = Path("docs")) -> None:
    """Regenerate the reference pages (registry contract, fact catalogue) from the code."""
    from features.docs import facts_markdown, registries_markdown
    from features.files import write_file

    for name, text in (("registries.md", registries_markdown()), ("facts.md", facts_markdown())):
        write_file(out / name, lambda partial, text=text: partial.write_text(text, encoding="utf-8"))
    console.print(f"wrote {out / 'registries.md'} and {out / 'facts.md'}")
