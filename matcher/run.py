"""A matching run: registries → profiles → decisions → database, exactly once.

A run is identified by what it decides from: the as-of date, the registry
snapshot's fingerprint, the policy catalogue's fingerprint and the facts
officers accepted (matcher/supplied.py). Running the
same inputs again finds the completed run and changes nothing. A run killed
part-way is resumed by running it again: decisions are deterministic, every
write skips rows already there, and what earlier *other* runs granted is read
excluding this run's own rows, so the resumed run decides exactly as an
uninterrupted one would.

The work over the population is three passes over its partitions (``matcher.run_passes``), with the two
global steps between them; one partition (the default) is the whole population in memory.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, insert, or_, select, text, update

from features.registries.partitions import MAX_PARTITIONS, Partitioning
from features.registries.read import fingerprint, scan_registry
from features.registries.split import RegistrySplit, split_registry
from features.registries.validate import ENTERPRISES, RegistryCheck, check_registry
from matcher.db.bulk import CHUNK_ROWS
from matcher.db.models import benefit_journal, benefits, decisions, notices, rank_feature_parts, runs
from matcher.decide import budget_scales
from matcher.engines import Local, PassEngine
from matcher.ledger.persons import counted_persons
from matcher.ledger.review import review_ledger
from matcher.periods import check_as_of, period_key
from matcher.persons import assign_persons, hired_for, person_families
from matcher.ranking.serve import Earlier, PushPlan
from matcher.run_passes import Held, Part, Summed, decide_part, profile_part, write_part, write_parts_overlapped
from matcher.supplied import accepted_facts, attested_fingerprint, latest_lists, lists_fingerprint
from policies.compiled import CompiledPolicy

__all__ = ["RunSummary", "catalogue_fingerprint", "run_matching"]


@dataclass
class RunSummary:
    run_id: str
    as_of: date
    outcome: str  # "completed" (this call did the work) or "unchanged" (already completed before)
    counts: dict[str, int] = field(default_factory=dict)
    budgets: dict[str, dict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    quarantined: int | None = 0  # registry rows set aside; None when a completed run is found by its files
    amount_errors: dict[str, dict] = field(default_factory=dict)  # per policy: amounts that cannot be paid


def catalogue_fingerprint(policies: Sequence[CompiledPolicy]) -> str:
    digest = hashlib.sha256()
    for p in sorted(policies, key=lambda p: p.policy.key):
        digest.update(f"{p.id}:{p.version}:".encode())
        digest.update(Path(p.file).read_bytes() if Path(p.file).exists() else p.policy.model_dump_json().encode())
    return digest.hexdigest()


def _prior(engine: Engine, run_id: str, keys: set[str], any_key: set[str]) -> pl.DataFrame:
    """Benefits other runs granted in the periods ``keys``, and under any key for the policies ``any_key``
    (per certificate: every certificate, for their budgets)."""
    query = select(
        benefits.c.uscc,
        benefits.c.policy_id,
        benefits.c.period_key,
        benefits.c.amount_fen,
        benefits.c.status,
        benefits.c.paid_fen,
    ).where(
        benefits.c.run_id != run_id,
        or_(benefits.c.period_key.in_(sorted(keys)), benefits.c.policy_id.in_(sorted(any_key))),
    )
    schema = {
        "uscc": pl.String,
        "policy_id": pl.String,
        "period_key": pl.String,
        "amount_fen": pl.Int64,
        "status": pl.String,
        "paid_fen": pl.Int64,
    }
    with engine.connect() as connection:
        return pl.DataFrame(connection.execute(query).all(), schema=schema, orient="row")


def run_matching(
    engine: Engine,
    registry: Path | RegistryCheck,
    as_of: date,
    policies: Sequence[CompiledPolicy],
    *,
    progress: Callable[[str], None] = lambda _: None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    chunk_rows: int = CHUNK_ROWS,
    push: PushPlan | None = None,
    partitions: int = 1,
    passes: PassEngine | None = None,
    spill: Path | None = None,
) -> RunSummary:
    """``push``: how the ranker orders and times the notices (matcher/ranking); ``None``: all at once, unranked.

    ``partitions``: the population is decided, ranked and written in this many parts (ranges of the USCC holding
    as many of the registry's enterprises each: ``features.registries.partitions``), one after another, so that
    a part's profiles and decisions are what the run holds in memory; the run's rows are the same whatever the
    number (the two global steps — sharing out the persons, scaling to the budgets — are taken over all parts
    between the passes). The parts wait on disk between passes, in a temporary folder under ``spill`` (default:
    the system's). ``passes``: where the passes run (``matcher.engines``: in this process by default, or on a
    Ray cluster)."""
    passes = passes or Local()
    check_as_of(as_of)
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ValueError(f"partitions: expected 1 to {MAX_PARTITIONS}, found {partitions}")
    if passes.remote and engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        # Each worker would open an empty database of its own and the run's rows would be lost.
        raise ValueError(
            f"--engine {passes.name}: the database is in memory, which the workers cannot reach; use a SQLite file"
            " or PostgreSQL (HUIQI_DATABASE_URL)"
        )
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str, k: int | None = None) -> None:
        nonlocal clock
        progress(name if k is None or partitions == 1 else f"{name} (partition {k + 1} of {partitions})")
        clock = time.perf_counter()

    def done(name: str) -> None:  # a stage's seconds, summed over the partitions
        timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - clock, 3)

    # A run in partitions (or on other processes) checks the registry one partition at a time, from files it
    # splits the registry into first: the whole check would hold every table at once.
    whole = partitions == 1 and not passes.remote
    if not whole and isinstance(registry, RegistryCheck):
        raise ValueError("a run in partitions checks the registry per partition: pass its directory, not a check")
    stage("checking registries")
    # The files' fingerprint first: a run already completed is found without reading a row (at ten million
    # enterprises the whole check would not even fit in memory).
    checked = registry if isinstance(registry, RegistryCheck) else None
    scans = None if checked is not None else scan_registry(Path(registry))  # a file of the wrong shape: raised now
    digest = checked.fingerprint if checked is not None else fingerprint(scan.path for scan in scans.values())
    catalogue_fp = catalogue_fingerprint(policies)
    # Facts accepted since the last run make a new run: they are part of what it decides from.
    attested = accepted_facts(engine)
    lists_meta, lists = latest_lists(engine)  # departments' complete lists, laid over every profile
    attested_fp = attested_fingerprint(attested) + lists_fingerprint(lists_meta)
    inputs = f"{as_of}|{digest}|{catalogue_fp}" + (f"|{attested_fp}" if attested_fp else "")
    run_id = hashlib.sha256(inputs.encode()).hexdigest()[:32]

    with engine.connect() as connection:
        existing = connection.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
    quarantined: int | None = None  # rows set aside; a run in partitions knows it after its first pass
    if existing is not None and existing["status"] == "completed":
        return RunSummary(
            run_id,
            as_of,
            "unchanged",
            existing["counts"] or {},
            existing["budgets"] or {},
            existing["timings"] or {},
            None if checked is None else sum(t.rows_quarantined for t in checked.tables.values()),
            existing["amount_errors"] or {},
        )
    if checked is None and whole:
        checked = check_registry(Path(registry), digest=digest)
    if checked is not None:
        quarantined = sum(t.rows_quarantined for t in checked.tables.values())
    done("checking registries")

    with engine.begin() as connection:
        existing = connection.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        started = existing["started_at"] if existing is not None else now()
        if existing is None:
            connection.execute(
                insert(runs).values(
                    id=run_id,
                    as_of=as_of,
                    registry_fingerprint=digest,
                    catalogue_fingerprint=catalogue_fp,
                    policy_versions={p.id: p.version for p in policies},
                    status="running",
                    started_at=started,
                )
            )

    stage("reading what other runs granted")
    families = person_families(policies)
    per_certificate = {p.id for p in policies if p.policy.benefit.certificate}
    keys = {period_key(p.policy.benefit.period, as_of) for p in policies if p.id not in per_certificate}
    # Ranges of the USCC, cut where the registry's enterprises fall in equal numbers (the same files cut the same).
    cut = Partitioning() if scans is None else Partitioning.of_frame(scans[ENTERPRISES].frame, partitions)
    prior = _prior(engine, run_id, keys, per_certificate).with_columns(_part=cut.of())
    persons = counted = None
    if families:  # each person once: those other runs counted; whole, the persons behind the counts now
        counted = counted_persons(engine, run_id, (family for family, _ in families.values()))
    source: dict[str, pl.DataFrame] | RegistrySplit | None = None
    if checked is not None:
        source = {t: checked.clean(t) for t in checked.tables}
        if families:
            persons = hired_for(families, source["si_hires"], as_of)
        # The registry's rows (about 1 GiB a million enterprises) are read through ``source`` only while
        # profiles are built: let the check go, unless the caller holds it.
        del checked
    done("reading what other runs granted")

    folder = None if whole else tempfile.TemporaryDirectory(prefix="huiqi-run-", dir=spill)
    part = Part(
        run_id,
        as_of,
        tuple(policies),
        partitions,
        Held(None if folder is None else Path(folder.name)),
        engine if not passes.remote else engine.url.render_as_string(hide_password=False),
        chunk_rows,
        push,
        lists,
        attested,
        started.date(),
        now,
        None if passes.remote else lambda name, k: stage(name, k),
    )
    ks = range(partitions)

    def on(name: str) -> Callable[[int], None]:
        def finished(count: int) -> None:
            if passes.remote:
                progress(f"{name}: {count} of {partitions} partitions done on {passes.name}")

        return finished

    def prior_of(k: int) -> pl.DataFrame:
        return prior.filter(pl.col("_part") == k).drop("_part")

    def laps(pass_name: str, results: list[dict[str, float]], started_at: float) -> None:
        if passes.remote:  # the workers' stages overlap: the pass's wall clock is what the run waited
            timings[pass_name] = round(time.perf_counter() - started_at, 3)
            return
        for found in results:
            for name, seconds in found.items():
                timings[name] = round(timings.get(name, 0.0) + seconds, 3)

    try:
        if source is None:  # in partitions: each partition's rows in files of their own, checked by its pass 1
            assert folder is not None
            stage("splitting the registry")
            source = split_registry(Path(str(registry)), cut, Path(folder.name) / "registry", digest=digest)
            done("splitting the registry")

        # Pass 1: profiles; with per-person benefits, who is eligible for one (persons are shared out over all).
        clock_1 = time.perf_counter()
        share = bool(families) and not whole
        first = passes.map(profile_part, [(part, k, source, prior_of(k), share) for k in ks], on("profiles"))
        del source
        laps("building profiles", [p.timings for p in first], clock_1)
        if quarantined is None:
            quarantined = sum(p.quarantined or 0 for p in first)
        shared = None
        if share:
            persons = pl.concat([p.persons for p in first if p.persons is not None])
            shared = assign_persons(pl.concat([p.pairs for p in first]), persons, counted, families)
            shared = shared.with_columns(_part=cut.of())
            persons = None
        del first

        # Pass 2: decisions, amounts as due; the budgets' scale needs the whole population's demand.
        clock_2 = time.perf_counter()
        calls = [
            (
                part,
                k,
                prior_of(k),
                persons,
                counted,
                None if shared is None else shared.filter(pl.col("_part") == k).drop("_part"),
            )
            for k in ks
        ]
        del shared
        second = passes.map(decide_part, calls, on("decisions"))
        del calls
        summed = Summed()
        for decided in second:
            summed.add(decided)
        laps("deciding", [d.timings for d in second], clock_2)
        del second
        budgets, scale = budget_scales(policies, summed.demand)

        # Pass 3: amounts scaled to the budgets; notices ranked; decisions, ledger and notices written.
        earlier: list[Earlier | None] = [None] * partitions  # a run taken whole: ranking reads them itself
        if not whole and push is not None:  # read once, not once per partition
            stage("reading earlier notices")
            earlier = list(Earlier.read(engine, run_id, as_of, policies, sorted(summed.period_keys)).split(cut))
            done("reading earlier notices")
        clock_3 = time.perf_counter()
        calls_3 = [(part, k, scale, earlier[k]) for k in ks]
        if passes.remote or whole or engine.dialect.name != "postgresql":
            third = passes.map(write_part, calls_3, on("writes"))
        else:  # the next partition ranked while one is written; its stages' seconds then overlap
            third = write_parts_overlapped(calls_3, on("writes"))
        del calls_3
        del earlier
        laps("ranking and writing", [t for _, t in third], clock_3)
        model_version = next((version for version, _ in third if version), None)  # a part may have no decision
    finally:
        if folder is not None:
            folder.cleanup()
    counts = dict(summed.counts)
    amount_errors = summed.amount_errors()
    stamp = now()
    prior = prior.drop("_part")

    stage("reviewing the ledger")  # benefits earlier runs granted, judged on today's data
    counts |= review_ledger(engine, run_id, as_of, summed.standing(), prior, policies, stamp)
    done("reviewing the ledger")

    if engine.dialect.name == "postgresql":
        # After a bulk load the planner's statistics are stale until autovacuum gets round to them, and it then
        # plans the service's per-enterprise lookups as scans of whole tables. ANALYZE samples: about a second.
        stage("refreshing planner statistics")
        with engine.begin() as connection:
            written = (runs, decisions, benefits, benefit_journal, notices, rank_feature_parts)
            connection.execute(text(f"ANALYZE {', '.join(t.name for t in written)}"))
        done("refreshing planner statistics")

    with engine.begin() as connection:
        connection.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status="completed",
                finished_at=now(),
                counts=counts,
                budgets=budgets,
                amount_errors=amount_errors,
                timings=timings,
                model_version=model_version,
            )
        )
    return RunSummary(run_id, as_of, "completed", counts, budgets, timings, quarantined, amount_errors)
