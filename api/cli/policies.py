"""`huiqi policies ...`: check the catalogue, run its examples, explain a decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from features.profiles.store import read_profile_info
from policies.errors import CatalogueError
from policies.examples import run_examples
from policies.load import CATALOGUE_DIR, load_catalogue
from policies.render import RESULT_WORDS
from policies.trace import trace

policies_app = typer.Typer(
    no_args_is_help=True, help="Policy rules: check them, run their examples, explain a decision."
)
app.add_typer(policies_app, name="policies")


@policies_app.command("check")
def check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Policy files or folders (default: the shipped catalogue).")
    ] = None,
) -> None:
    """Validate every policy file and run every example; exit non-zero on any error."""
    targets = paths or [CATALOGUE_DIR]
    try:
        catalogue = load_catalogue(*targets)
    except CatalogueError as err:
        console.print(f"[bold red]{err.message}[/]", highlight=False)
        for e in err.errors:
            console.print(f"[red]✗[/] {e}", highlight=False)
        raise typer.Exit(1) from None
    results = run_examples(list(catalogue.policies))
    table = Table(title=f"{len(catalogue.policies)} policies, {len(results)} examples")
    for col in ("policy", "example", "result"):
        table.add_column(col)
    for r in results:
        table.add_row(r.policy, r.example, "[green]ok[/]" if r.ok else "[red]" + "; ".join(r.problems) + "[/]")
    console.print(table)
    failed = [r for r in results if not r.ok]
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(results)} examples failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(results)} examples pass[/]")


@policies_app.command("explain")
def explain(
    uscc: Annotated[str, typer.Option(help="The enterprise's USCC.")],
    policy: Annotated[str, typer.Option(help="Policy id, e.g. job-retention-refund.")],
    profiles: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="Profiles file (huiqi profiles).")] = Path(
        "data/profiles.parquet"
    ),
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
) -> None:
    """Explain one enterprise's eligibility for one policy, condition by condition."""
    if lang not in ("zh", "en"):
        raise typer.BadParameter(f"expected 'zh' or 'en', found {lang!r}", param_hint="--lang")
    info = read_profile_info(profiles)
    row = pl.scan_parquet(profiles).filter(pl.col("uscc") == uscc).collect()
    if row.height == 0:
        raise typer.BadParameter(f"no profile for {uscc} in {profiles} (as of {info.as_of})", param_hint="--uscc")
    catalogue = load_catalogue()
    try:
        compiled = catalogue.get(policy)
    except KeyError:
        raise typer.BadParameter(
            f"no policy '{policy}'; known: {', '.join(catalogue.ids)}", param_hint="--policy"
        ) from None
    result = trace(compiled, row.row(0, named=True), info.as_of)
    title = compiled.policy.title.zh if lang == "zh" else compiled.policy.title.en
    verdict = RESULT_WORDS[result.eligible][lang]
    amount = "" if result.amount is None else f"  {result.amount:,.2f} {'元' if lang == 'zh' else 'yuan'}"
    console.print(f"[bold]{title}[/] (v{compiled.version}) — {uscc}: {verdict}{amount}", highlight=False)
    for line in result.lines(lang):
        console.print(line, highlight=False)
    if result.unknown_facts():
        ask = "需要补充的信息" if lang == "zh" else "facts to supply"
        console.print(f"{ask}: {', '.join(result.unknown_facts())}", highlight=False)
