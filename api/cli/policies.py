"""`huiqi policies ...`: check the catalogue, run its examples, explain a decision."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from policies.errors import CatalogueError
from policies.examples import run_examples
from policies.load import CATALOGUE_DIR, load_catalogue

policies_app = typer.Typer(no_args_is_help=True, help="Policy rules: check, run examples.")
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
