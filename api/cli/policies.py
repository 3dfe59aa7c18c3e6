"""`huiqi policies check | explain | run`: check policy files, explain a decision, try a folder against profiles.

``explain`` and ``run`` decide with the catalogue the service has — the repository's files overlaid by the
versions published over HTTP (api/service/published.py) — and, with ``--policies DIR``, the folder's files on
top: what the catalogue would be once that folder is published, so an officer tries it before publishing.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from api.cli import app
from api.cli.progress import console
from api.settings import Settings

if TYPE_CHECKING:
    import polars as pl

    from policies.analysis import Finding
    from policies.catalogue import Catalogue
    from policies.compiled import CompiledPolicy
    from policies.errors import CatalogueError
    from policies.render import Lang

policies_app = typer.Typer(
    no_args_is_help=True, help="Policy rules: check them, explain a decision, try a folder against profiles."
)
app.add_typer(policies_app, name="policies")

PoliciesDir = Annotated[
    Path | None,
    typer.Option(
        "--policies",
        exists=True,
        help="A folder (or file) of policies to try, laid over the published catalogue (default: none).",
    ),
]
ProfilesFile = Annotated[
    Path, typer.Option(exists=True, dir_okay=False, help="Profiles file (huiqi profiles, or a run's).")
]


def _print_errors(err: CatalogueError) -> None:
    console.print(f"[bold red]{err.message}[/]", highlight=False)
    for e in err.errors:
        console.print(f"[red]✗[/] {e}", highlight=False)


def _published() -> tuple[Catalogue, str]:
    """The service's catalogue, and where it came from (the database's published versions, when reachable)."""
    from api.service.published import PublishedCatalogue
    from matcher.db import DatabaseUnavailable, open_database
    from policies.load import CATALOGUE_DIR, load_catalogue

    settings = Settings()
    if settings.database_url is None and not (settings.data_dir / "huiqi.db").exists():
        return load_catalogue(CATALOGUE_DIR), f"repository catalogue (no database at {settings.database_shown})"
    try:
        engine = open_database(settings.database)
    except DatabaseUnavailable as exc:
        note = f"published versions not overlaid ({exc}); the repository's files only"
        return load_catalogue(CATALOGUE_DIR), note
    try:
        return PublishedCatalogue().load(engine), f"published catalogue of {settings.database_shown}"
    finally:
        engine.dispose()


def catalogue_with(folder: Path | None) -> tuple[list[CompiledPolicy], str]:
    """The published catalogue with ``folder``'s policies on top (a file there replaces the same id and
    version); the whole is checked like a catalogue (relations, graph). Exit 1 listing every error."""
    from api.service.published import check_catalogue, with_versions
    from policies.errors import CatalogueError
    from policies.load import load_catalogue

    published, source = _published()
    if folder is None:
        return list(published.policies), source
    try:
        tried = load_catalogue(folder)
        merged = with_versions(published.policies, tried.policies)
        errors = check_catalogue(merged)
        if errors:
            raise CatalogueError(errors)
    except CatalogueError as err:
        _print_errors(err)
        raise typer.Exit(1) from None
    return merged, f"{folder} over the {source}"


@policies_app.command("check")
def check(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Policy files or folders (default: the shipped catalogue).")
    ] = None,
    policies: PoliciesDir = None,
    analysis: Annotated[
        bool, typer.Option("--analysis/--no-analysis", help="Prove what the rules can never or always do (z3).")
    ] = True,
    show_acknowledged: Annotated[
        bool, typer.Option("--acknowledged", help="Also list the warnings the policy files acknowledge.")
    ] = False,
) -> None:
    """Validate every policy file, run every example and analyse the rules; exit non-zero on any error. With
    ``--policies DIR`` the folder is also checked against the published catalogue (relations to published
    policies). The analysis (docs/policies.md, "Static analysis") reports a policy no enterprise can meet or an
    amount undefined for an eligible enterprise as errors, the rest as warnings with an example enterprise."""
    from policies.analysis import analyse
    from policies.errors import CatalogueError
    from policies.examples import run_catalogue_examples, run_examples
    from policies.load import CATALOGUE_DIR, load_catalogue

    targets = ([policies] if policies else []) + (paths or ([] if policies else [CATALOGUE_DIR]))
    try:
        catalogue = load_catalogue(*targets)
    except CatalogueError as err:
        _print_errors(err)
        raise typer.Exit(1) from None
    if policies is not None:
        catalogue_with(policies)  # exits listing the errors of the folder over the published catalogue
    results = run_examples(list(catalogue.policies))
    results += run_catalogue_examples(catalogue, [t for t in targets if t.is_dir()])  # several policies at once
    table = Table(title=f"{len(catalogue.policies)} policies, {len(results)} examples")
    for col in ("policy", "example", "result"):
        table.add_column(col)
    for r in results:
        table.add_row(r.policy, r.example, "[green]ok[/]" if r.ok else "[red]" + "; ".join(r.problems) + "[/]")
    console.print(table)
    failed = [r for r in results if not r.ok]
    if failed:
        console.print(f"[bold red]{len(failed)} of {len(results)} examples failed[/]")
    else:
        console.print(f"[green]all {len(results)} examples pass[/]")
    errors = _print_findings(analyse(list(catalogue.policies)), show_acknowledged) if analysis else 0
    if failed or errors:
        raise typer.Exit(1)


def _print_findings(findings: list[Finding], show_acknowledged: bool) -> int:
    """Print the analysis' findings, file:line:column first; the number of errors."""
    shown = [f for f in findings if show_acknowledged or f.acknowledged is None]
    for f in shown:
        colour = "red" if f.severity == "error" else "yellow"
        head = f"[{colour}]{f.where()}: {f.severity} {f.code}[/]"
        console.print(f"{head} {f.message_zh} / {f.message_en}", highlight=False)
        if f.witness_zh:
            console.print(f"    {f.witness_zh}", highlight=False)
            console.print(f"    {f.witness_en}", highlight=False)
        if f.acknowledged:
            console.print(f"    [dim]acknowledged: {f.acknowledged}[/]", highlight=False)
    errors = sum(f.severity == "error" for f in findings)
    warnings = sum(f.severity == "warning" and f.acknowledged is None for f in findings)
    acknowledged = sum(f.acknowledged is not None for f in findings)
    colour = "red" if errors else "yellow" if warnings else "green"
    console.print(
        f"[{colour}]analysis: {errors} errors, {warnings} warnings, {acknowledged} acknowledged[/]", highlight=False
    )
    return errors


def _lang(lang: str) -> Lang:
    if lang not in ("zh", "en"):
        raise typer.BadParameter(f"expected 'zh' or 'en', found {lang!r}", param_hint="--lang")
    return lang  # type: ignore[return-value]


def _yuan(amount: float, lang: Lang) -> str:
    return f"{amount:,.2f} 元" if lang == "zh" else f"{amount:,.2f} yuan"


def _profiles(path: Path) -> pl.DataFrame:
    """The profiles as the next run decides from them: the departments' complete lists and the accepted
    attestations in the configured database laid over (without them P1's exclusions leave everyone unknown)."""
    import polars as pl

    from api.settings import Settings
    from matcher.db import open_database
    from matcher.supplied import lay_over

    engine = open_database(Settings().database)
    try:
        return lay_over(pl.read_parquet(path), engine)
    finally:
        engine.dispose()


@policies_app.command("explain")
def explain(
    uscc: Annotated[str, typer.Option(help="The enterprise's USCC.")],
    policy: Annotated[str, typer.Option(help="Policy id, e.g. job-retention-refund.")],
    profiles: ProfilesFile = Path("data/profiles.parquet"),
    policies: PoliciesDir = None,
    lang: Annotated[str, typer.Option(help="zh or en.")] = "zh",
) -> None:
    """Explain one enterprise's eligibility for one policy, condition by condition, and name what to supply."""
    import polars as pl

    from features.profiles.catalogue import fact
    from features.profiles.store import read_profile_info
    from policies.catalogue import Catalogue
    from policies.render import RESULT_WORDS
    from policies.trace import trace

    lang_ = _lang(lang)
    info = read_profile_info(profiles)
    row = _profiles(profiles).filter(pl.col("uscc") == uscc)
    if row.height == 0:
        raise typer.BadParameter(f"no profile for {uscc} in {profiles} (as of {info.as_of})", param_hint="--uscc")
    chosen, source = catalogue_with(policies)
    catalogue = Catalogue(tuple(chosen))
    try:
        compiled = catalogue.get(policy)
    except KeyError:
        raise typer.BadParameter(
            f"no policy '{policy}' in the {source}; known: {', '.join(catalogue.ids)}", param_hint="--policy"
        ) from None
    result = trace(compiled, row.row(0, named=True), info.as_of)
    title = compiled.policy.title.zh if lang_ == "zh" else compiled.policy.title.en
    verdict = RESULT_WORDS[result.eligible][lang_]
    amount = "" if result.amount is None else f"  {_yuan(result.amount, lang_)}"
    console.print(f"[bold]{title}[/] (v{compiled.version}) — {uscc}: {verdict}{amount}", highlight=False)
    for line in result.lines(lang_):
        console.print(line, highlight=False)
    if result.eligible is not False and result.amount is None:
        console.print("金额：未知" if lang_ == "zh" else "amount: unknown", highlight=False)
    missing = result.unknown_facts()
    if missing:
        ask = "需要补充的信息" if lang_ == "zh" else "facts to supply"
        # The names are what `huiqi supplied-facts attest --fact` takes; Chinese text carries no internal name.
        words = [fact(n).zh if lang_ == "zh" else f"{fact(n).en} ({n})" for n in missing]
        console.print(f"{ask}: {'、'.join(words) if lang_ == 'zh' else '; '.join(words)}", highlight=False)
    console.print(f"[dim]{source}[/]", highlight=False)


@policies_app.command("run")
def run(
    profiles: ProfilesFile = Path("data/profiles.parquet"),
    policies: PoliciesDir = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Default: the profiles' as-of date.")
    ] = None,
) -> None:
    """Evaluate the policies in force against every profile and print what they decide: per policy the
    enterprises eligible, not eligible and unknown (facts missing), and the amounts. Writes nothing."""
    import polars as pl

    from features.profiles.store import read_profile_info
    from policies.catalogue import Catalogue
    from policies.evaluate import evaluate_policies

    info = read_profile_info(profiles)
    day: date = as_of.date() if as_of else info.as_of
    chosen, source = catalogue_with(policies)
    in_force = Catalogue(tuple(chosen)).in_force(day)
    frame = _profiles(profiles)
    wide = evaluate_policies(frame, in_force, day).collect()
    table = Table(title=f"{len(in_force)} policies in force on {day} over {frame.height:,} profiles ({source})")
    for col in ("policy", "version", "eligible", "not eligible", "unknown", "amount unknown", "amount (yuan)"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for p in in_force:
        eligible, amount = pl.col(f"{p.id}:eligible"), pl.col(f"{p.id}:amount")
        counts = wide.select(
            (eligible == True).sum().alias("yes"),  # noqa: E712 (a polars expression, not a Python bool)
            (eligible == False).sum().alias("no"),  # noqa: E712
            eligible.is_null().sum().alias("unknown"),
            ((eligible == True) & amount.is_null()).sum().alias("amount_unknown"),  # noqa: E712
            amount.filter(eligible == True).sum().alias("amount"),  # noqa: E712
        ).row(0, named=True)
        table.add_row(
            p.id,
            str(p.version),
            f"{counts['yes']:,}",
            f"{counts['no']:,}",
            f"{counts['unknown']:,}",
            f"{counts['amount_unknown']:,}",
            f"{counts['amount'] or 0:,.2f}",
        )
    console.print(table)


PolicyFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A policy file.")]


def _load_one(path: Path) -> CompiledPolicy:
    from policies.errors import PolicyError
    from policies.load import load_policy_text
    from policies.source import read_policy_file

    try:
        return load_policy_text(read_policy_file(path), str(path))[0]
    except PolicyError as err:
        console.print(f"[red]✗[/] {err}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as err:
        console.print(f"[red]✗[/] {path}: cannot read the file: {err.strerror}", highlight=False)
        raise typer.Exit(1) from None


@policies_app.command("diff")
def diff(
    old: PolicyFile,
    new: PolicyFile,
    profiles: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Profiles file: count each region and the impact on it."),
    ] = None,
) -> None:
    """What NEW changes against OLD (two versions of one policy, or a draft against the published file): the
    enterprises it newly admits and newly refuses, each region as a condition with an example enterprise, and
    the amount's change; with ``--profiles``, how many profiles fall in each region and the impact (counts and
    sums of the matcher's decisions, old version against new)."""
    import polars as pl

    from features.profiles.store import read_profile_info
    from policies.analysis import diff_versions
    from policies.analysis.findings import witness_sentence

    before, after = _load_one(old), _load_one(new)
    if before.id != after.id:
        console.print(f"[yellow]comparing two different policies: '{before.id}' and '{after.id}'[/]", highlight=False)
    frame, day = None, after.policy.effective.start
    if profiles is not None:
        try:
            day = read_profile_info(profiles).as_of
        except (KeyError, ValueError):
            raise typer.BadParameter(
                f"{profiles} carries no as-of date: expected a file written by `huiqi profiles`",
                param_hint="--profiles",
            ) from None
        frame = _profiles(profiles).with_columns(as_of=pl.lit(day))
    result = diff_versions(before, after, frame)
    console.print(f"[bold]{after.id}[/] v{before.version} → v{after.version}", highlight=False)
    for title, regions in (("newly admitted 新增符合", result.admitted), ("newly refused 不再符合", result.refused)):
        console.print(f"[bold]{title}[/]: {len(regions)} region{'s' if len(regions) != 1 else ''}", highlight=False)
        for i, region in enumerate(regions, 1):
            counted = f"  [{region.profiles:,} profiles]" if region.profiles is not None else ""
            console.print(f"  {i}. {region.condition_zh}{counted}", highlight=False)
            console.print(f"     {region.condition_en}", highlight=False)
            if region.witness:
                console.print(f"     {witness_sentence(region.witness, 'en')}", highlight=False)
    if not result.complete:
        console.print("[yellow]more regions than listed, or the solver gave up: the list is incomplete[/]")
    console.print(
        f"amount 金额: {result.amount_change_zh or '不变'} / {result.amount_change_en or 'unchanged'}", highlight=False
    )
    if frame is not None:
        from api.service.impact import impact  # the matcher's decisions: heavy, only with profiles

        effect = impact(frame.drop("as_of"), [before], after, day)
        console.print(
            f"impact on {effect['enterprises']:,} profiles as of {day}: eligible {effect['baseline']['eligible']:,}"
            f" → {effect['draft']['eligible']:,}; newly eligible {effect['newly_eligible']['count']:,}, no longer"
            f" eligible {effect['no_longer_eligible']['count']:,}; amount payable"
            f" {effect['baseline']['amount_fen'] / 100:,.2f} → {effect['draft']['amount_fen'] / 100:,.2f} yuan",
            highlight=False,
        )
