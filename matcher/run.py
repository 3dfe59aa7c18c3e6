"""A matching run: registries → profiles → decisions → database, exactly once.

A run is identified by what it decides from: the as-of date, the registry
snapshot's fingerprint, the policy catalogue's fingerprint and the facts
officers accepted (matcher/supplied.py). Running the
same inputs again finds the completed run and changes nothing. A run killed
part-way is resumed by running it again: decisions are deterministic, every
write skips rows already there, and what earlier *other* runs granted is read
excluding this run's own rows, so the resumed run decides exactly as an
uninterrupted one would.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine, insert, or_, select, text, update

from features.profiles import build_profiles
from features.profiles.attested import apply_attested
from features.profiles.department_lists import apply_lists
from features.profiles.social_insurance import hired_persons
from features.registries.validate import RegistryCheck, check_registry
from matcher.db.bulk import CHUNK_ROWS, insert_missing
from matcher.db.models import benefit_journal, benefits, decisions, notices, rank_features, runs
from matcher.decide import decide
from matcher.ledger import DecisionStatus, grant_decided
from matcher.ledger.persons import count_persons, counted_persons
from matcher.ledger.review import review_ledger
from matcher.notices import build_notices
from matcher.periods import check_as_of, period_key
from matcher.persons import person_families
from matcher.ranking.serve import PushPlan, rank_decisions
from matcher.supplied import accepted_facts, attested_fingerprint, latest_lists, lists_fingerprint
from policies.compiled import CompiledPolicy

__all__ = ["RunSummary", "catalogue_fingerprint", "run_matching"]

DECISION_COLUMNS = (
    "uscc",
    "policy_id",
    "policy_version",
    "period_key",
    "status",
    "amount_fen",
    "amount_full_fen",
    "facts",
    "unknown_facts",
    "failing",
    "failing_zh",
    "rank",
)


@dataclass
class RunSummary:
    run_id: str
    as_of: date
    outcome: str  # "completed" (this call did the work) or "unchanged" (already completed before)
    counts: dict[str, int] = field(default_factory=dict)
    budgets: dict[str, dict] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    quarantined: int = 0
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
) -> RunSummary:
    """``push``: how the ranker orders and times the notices (matcher/ranking); ``None``: all at once, unranked."""
    check_as_of(as_of)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        progress(name)
        timings[name] = 0.0
        clock = time.perf_counter()

    def done(name: str) -> None:
        timings[name] = round(time.perf_counter() - clock, 3)

    stage("checking registries")
    checked = registry if isinstance(registry, RegistryCheck) else check_registry(registry)
    done("checking registries")
    quarantined = sum(t.rows_quarantined for t in checked.tables.values())
    catalogue_fp = catalogue_fingerprint(policies)
    # Facts accepted since the last run make a new run: they are part of what it decides from.
    attested = accepted_facts(engine)
    lists_meta, lists = latest_lists(engine)  # departments' complete lists, laid over every profile
    attested_fp = attested_fingerprint(attested) + lists_fingerprint(lists_meta)
    inputs = f"{as_of}|{checked.fingerprint}|{catalogue_fp}" + (f"|{attested_fp}" if attested_fp else "")
    run_id = hashlib.sha256(inputs.encode()).hexdigest()[:32]

    with engine.begin() as connection:
        existing = connection.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if existing is not None and existing["status"] == "completed":
            return RunSummary(
                run_id,
                as_of,
                "unchanged",
                existing["counts"] or {},
                existing["budgets"] or {},
                existing["timings"] or {},
                quarantined,
                existing["amount_errors"] or {},
            )
        started = existing["started_at"] if existing is not None else now()
        if existing is None:
            connection.execute(
                insert(runs).values(
                    id=run_id,
                    as_of=as_of,
                    registry_fingerprint=checked.fingerprint,
                    catalogue_fingerprint=catalogue_fp,
                    policy_versions={p.id: p.version for p in policies},
                    status="running",
                    started_at=started,
                )
            )

    stage("building profiles")
    profiles = build_profiles({t: checked.clean(t) for t in checked.tables}, as_of).collect(engine="streaming")
    profiles = apply_attested(apply_lists(profiles, lists), attested)
    families = person_families(policies)
    hires = checked.clean("si_hires") if families else None
    # The registry's rows (about 1 GiB a million enterprises) are not read past here: let them go, unless the
    # caller holds the check itself.
    del checked
    done("building profiles")

    stage("deciding")
    per_certificate = {p.id for p in policies if p.policy.benefit.certificate}
    keys = {period_key(p.policy.benefit.period, as_of) for p in policies if p.id not in per_certificate}
    prior = _prior(engine, run_id, keys, per_certificate)
    persons = counted = None
    if hires is not None:  # each person once: the persons behind the counts, and those other runs counted
        facts = sorted({fact for _, fact in families.values()})
        persons = hired_persons(hires.lazy(), as_of, facts).collect()
        counted = counted_persons(engine, run_id, (family for family, _ in families.values()))
    del hires
    decided = decide(profiles, policies, as_of, prior=prior, persons=persons, counted=counted)
    done("deciding")

    stage("ranking")  # orders and times the notices; never changes a decision
    ranked = rank_decisions(engine, run_id, decided.decisions, profiles, policies, as_of, push, chunk_rows=chunk_rows)
    del profiles  # nothing reads the profiles past ranking, nor the unranked decisions
    decided.decisions = decided.decisions.clear()
    done("ranking")

    stage("writing decisions")
    insert_missing(
        engine,
        decisions,
        ranked.decisions.select(*DECISION_COLUMNS).with_columns(run_id=pl.lit(run_id)),
        chunk_rows=chunk_rows,
    )
    # What the ledger and the notices read; the evidence (facts, failing, …), most of the frame, goes.
    rows = ranked.decisions.select("uscc", "policy_id", "policy_version", "period_key", "status", "amount_fen")
    ranked.decisions = ranked.decisions.clear()
    done("writing decisions")

    stage("writing the benefit ledger")
    stamp = now()
    granted = rows.filter(pl.col("status") == DecisionStatus.GRANTED)
    grant_decided(engine, granted, run_id, as_of.isoformat(), stamp, chunk_rows=chunk_rows, top_ups=decided.top_ups)
    count_persons(engine, decided.persons, run_id, stamp, chunk_rows=chunk_rows)
    done("writing the benefit ledger")

    stage("writing notices")
    built = build_notices(rows, started.date(), run_id, stamp)
    # A notice pushed in a later wave counts its days to answer from its push, not from the run.
    notice_rows = ranked.schedule(built).with_columns(
        respond_by=pl.col("respond_by") + pl.duration(days=(pl.col("next_attempt_at") - pl.lit(stamp)).dt.total_days())
    )
    del built, rows
    insert_missing(engine, notices, notice_rows, chunk_rows=chunk_rows)
    del notice_rows
    done("writing notices")

    stage("reviewing the ledger")  # benefits earlier runs granted, judged on today's data
    decided.counts |= review_ledger(engine, run_id, as_of, decided.standing, prior, policies, stamp)
    done("reviewing the ledger")

    if engine.dialect.name == "postgresql":
        # After a bulk load the planner's statistics are stale until autovacuum gets round to them, and it then
        # plans the service's per-enterprise lookups as scans of whole tables. ANALYZE samples: about a second.
        stage("refreshing planner statistics")
        with engine.begin() as connection:
            written = (runs, decisions, benefits, benefit_journal, notices, rank_features)
            connection.execute(text(f"ANALYZE {', '.join(t.name for t in written)}"))
        done("refreshing planner statistics")

    with engine.begin() as connection:
        connection.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                status="completed",
                finished_at=now(),
                counts=decided.counts,
                budgets=decided.budgets,
                amount_errors=decided.amount_errors,
                timings=timings,
                model_version=ranked.model_version,
            )
        )
    return RunSummary(
        run_id, as_of, "completed", decided.counts, decided.budgets, timings, quarantined, decided.amount_errors
    )
