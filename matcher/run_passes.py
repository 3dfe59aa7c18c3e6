"""The three passes of a run over one partition of the population, and what lies between them.

A run (``matcher.run``) takes three passes over the partitions, with a global step after each of the first two:

1. ``profile_part``: the partition's profiles, and who in it is eligible for a per-person benefit;
   then, globally, the persons are shared out (a person may be insured by enterprises of two partitions);
2. ``decide_part``: the partition's decisions, amounts as due, and its demand on each budget;
   then, globally, each budget's scale over the whole demand;
3. ``write_part``: amounts scaled, notices ranked, decisions, ledger and notices written (in the run's own
   process on PostgreSQL, the next partition is ranked while one is written: ``write_parts_overlapped``).

Each pass function takes plain, picklable arguments and opens what it needs itself, so the same functions run
in the run's own process (``matcher.engines.Local``) or on a Ray cluster's workers (``matcher.engines.Ray``).
What a partition's passes hand each other (profiles, decisions) waits as Parquet files in the run's folder:
the only things that travel back to the driver are small (person pairs, demand, counts, the ledger's standing).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from features.profiles import build_profiles
from features.profiles.attested import apply_attested
from features.profiles.department_lists import apply_lists
from features.registries.split import RegistrySplit, check_part
from matcher.db.bulk import ahead, insert_missing, key_order
from matcher.db.models import decisions, notices
from matcher.decide import AMOUNT_ERROR_REASONS, Decided, Demand, decide, person_pairs, rescale
from matcher.errors import NotOnThisMachine
from matcher.ledger import DecisionStatus, grant_decided
from matcher.ledger.persons import count_persons
from matcher.notices import build_notices
from matcher.persons import hired_for, person_families
from matcher.ranking.serve import Earlier, PushPlan, Ranked, rank_decisions
from policies.compiled import CompiledPolicy

__all__ = [
    "DECISION_COLUMNS",
    "Held",
    "Part",
    "PartDecided",
    "PartRanked",
    "Profiled",
    "Summed",
    "decide_part",
    "profile_part",
    "rank_part",
    "write_part",
    "write_parts_overlapped",
    "write_ranked",
]

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
    "position",
)


class Held:
    """Frames one pass over a partition leaves for the next: in memory for a run taken whole, else Parquet files in
    the run's folder (on a cluster of several machines, a folder every worker reads and writes)."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self.frames: dict[tuple[str, int], pl.DataFrame] = {}

    def __getstate__(self) -> dict:  # sent to a worker: the folder, never frames
        if self.folder is None:
            raise ValueError("frames held in memory cannot go to another process: give the run a folder")
        return {"folder": self.folder, "frames": {}}

    def put(self, name: str, k: int, frame: pl.DataFrame) -> None:
        if self.folder is None:
            self.frames[name, k] = frame
            return
        path = self.folder / f"{name}-{k}.parquet"
        frame.write_parquet(path.with_suffix(".part"), compression="lz4")
        path.with_suffix(".part").rename(path)  # whole or absent: a killed worker leaves no half file

    def get(self, name: str, k: int) -> pl.DataFrame:
        if self.folder is None:
            return self.frames[name, k]
        return pl.read_parquet(self.folder / f"{name}-{k}.parquet")

    def take(self, name: str, k: int) -> pl.DataFrame:
        """The frame, no longer held."""
        if self.folder is None:
            return self.frames.pop((name, k))
        frame = self.get(name, k)
        (self.folder / f"{name}-{k}.parquet").unlink()
        return frame


@dataclass(frozen=True)
class Part:
    """What every pass over a partition reads: the run's identity and inputs, and where its frames wait."""

    run_id: str
    as_of: date
    policies: Sequence[CompiledPolicy]
    partitions: int
    held: Held
    database: Engine | str  # an engine in the run's process; a URL on a worker, which opens its own
    chunk_rows: int
    push: PushPlan | None = None
    lists: pl.DataFrame | None = None
    attested: pl.DataFrame | None = None
    started: date | None = None  # the run's start: notices count their days to answer from it
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), compare=False)
    # Called at each stage of a pass, in the run's own process only (a worker reports when its pass is done).
    progress: Callable[[str, int], None] | None = field(default=None, compare=False)

    def engine(self) -> Engine:
        if isinstance(self.database, Engine):
            return self.database
        from matcher.db import make_engine  # a worker's own engine, once per process

        if self.database not in _ENGINES:
            _ENGINES[self.database] = make_engine(self.database)
        return _ENGINES[self.database]


_ENGINES: dict[str, Engine] = {}


class _Laps:
    """Seconds per stage of one pass, and the run's progress callback when there is one."""

    def __init__(self, part: Part, k: int) -> None:
        self.part, self.k, self.timings = part, k, {}
        self.name: str | None = None
        self.clock = time.perf_counter()

    def __call__(self, name: str | None) -> None:
        now = time.perf_counter()
        if self.name is not None:
            self.timings[self.name] = self.timings.get(self.name, 0.0) + now - self.clock
        self.name, self.clock = name, now
        if name is not None and self.part.progress is not None:
            self.part.progress(name, self.k)


@dataclass
class Profiled:
    """What pass 1 tells the driver about a partition."""

    pairs: pl.DataFrame  # (uscc, policy_id) eligible for a per-person benefit, when persons are shared out
    persons: pl.DataFrame | None  # the persons behind its hire counts, when it checked its own registry rows
    quarantined: int | None  # its registry rows set aside, likewise
    timings: dict[str, float]


def _on_this_machine(part: Part, registry: Path | None = None) -> None:
    """A pass on a worker of another machine reads the run's folder (and, in pass 1, the registry) by the paths
    the run's process gave: when they are not there, say so and how to fix it, rather than fail on the first
    file missing."""
    for folder, what in ((part.held.folder, "the run's folder (--spill)"), (registry, "the registry (--registry)")):
        if folder is not None and not Path(folder).is_dir():
            raise NotOnThisMachine(
                f"a partition's pass on {socket.gethostname()}: {what} {folder} is not on this machine. On a Ray "
                "cluster of several machines, the registry and the run's folder must be on a filesystem every "
                "machine mounts at the same path: give --registry and --spill such paths, then run again (the run "
                "resumes)"
            )


def profile_part(
    part: Part,
    k: int,
    source: Mapping[str, pl.LazyFrame | pl.DataFrame] | RegistrySplit,
    prior: pl.DataFrame,
    persons: bool,
) -> Profiled:
    """Pass 1: partition ``k``'s profiles (held for the next passes) and, when ``persons``, the (uscc, policy_id)
    eligible for a per-person benefit and the persons behind its hire counts, with which the persons are shared
    out over all partitions. ``source``: the checked registry's tables (a run taken whole), or the registry split
    into partitions, whose partition ``k`` this pass checks."""
    _on_this_machine(part, source.directory if isinstance(source, RegistrySplit) else None)
    lap = _Laps(part, k)
    hired = quarantined = None
    if isinstance(source, RegistrySplit):
        lap("checking registries")
        checked = check_part(source, k)
        quarantined = sum(t.rows_quarantined for t in checked.tables.values())
        tables: Mapping[str, pl.LazyFrame | pl.DataFrame] = {t: checked.clean(t) for t in checked.tables}
        del checked
        families = person_families(part.policies)
        if persons and families:
            hired = hired_for(families, tables["si_hires"], part.as_of)
    else:
        tables = source
    lap("building profiles")
    profiles = build_profiles({t: frame.lazy() for t, frame in tables.items()}, part.as_of).collect(engine="streaming")
    del tables
    if part.lists is not None:
        profiles = apply_lists(profiles, part.lists)
    if part.attested is not None:
        profiles = apply_attested(profiles, part.attested)
    pairs = person_pairs(profiles, part.policies, part.as_of, prior=prior) if persons else pl.DataFrame()
    part.held.put("profiles", k, profiles)
    lap(None)
    return Profiled(pairs, hired, quarantined, lap.timings)


@dataclass
class PartDecided:
    """What pass 2 tells the driver about a partition: small, added up over partitions."""

    demand: Demand
    counts: dict[str, int]
    amount_errors: dict[str, dict]
    standing: pl.DataFrame
    timings: dict[str, float]
    period_keys: list[str] = field(default_factory=list)  # of its decisions: the notices ranking looks back at


def decide_part(
    part: Part,
    k: int,
    prior: pl.DataFrame,
    persons: pl.DataFrame | None,
    counted: pl.DataFrame | None,
    shared: pl.DataFrame | None,
) -> PartDecided:
    """Pass 2: partition ``k``'s decisions, amounts as due (held), and its demand on each budget."""
    _on_this_machine(part)
    lap = _Laps(part, k)
    lap("deciding")
    decided: Decided = decide(
        part.held.get("profiles", k),
        part.policies,
        part.as_of,
        prior=prior,
        persons=persons,
        counted=counted,
        shared=shared,
    )
    part.held.put("decisions", k, decided.decisions)
    part.held.put("top_ups", k, decided.top_ups)
    part.held.put("persons", k, decided.persons)
    lap(None)
    keys = decided.decisions["period_key"].unique().to_list()
    return PartDecided(decided.demand, decided.counts, decided.amount_errors, decided.standing, lap.timings, keys)


def write_part(
    part: Part, k: int, scale: dict[str, float], earlier: Earlier | None = None
) -> tuple[str | None, dict[str, float]]:
    """Pass 3: partition ``k``'s amounts scaled to the budgets, its notices ranked, and its decisions, ledger
    entries and notices written (each write skips rows already there: a rerun after a kill resumes). Returns the
    ranker's model version. ``earlier``: what earlier runs left for its enterprises (default: read here)."""
    _on_this_machine(part)
    return write_ranked(part, k, rank_part(part, k, scale, earlier))


@dataclass
class PartRanked:
    """Pass 3's first half for one partition: its decisions ranked, and the seconds it took."""

    ranked: Ranked
    timings: dict[str, float]


def rank_part(part: Part, k: int, scale: dict[str, float], earlier: Earlier | None = None) -> PartRanked:
    """Partition ``k``'s amounts scaled to the budgets and its notices ranked (ordered and timed; never a
    decision changed); its ranking features are stored as the run's part ``k``."""
    lap = _Laps(part, k)
    lap("ranking")
    ranked = rank_decisions(
        part.engine(),
        part.run_id,
        rescale(part.held.take("decisions", k), scale),
        part.held.take("profiles", k),
        part.policies,
        part.as_of,
        part.push,
        chunk_rows=part.chunk_rows,
        part=k,  # its features are stored as the run's part k
        earlier=earlier,
    )
    lap(None)
    return PartRanked(ranked, lap.timings)


def write_ranked(part: Part, k: int, ranking: PartRanked) -> tuple[str | None, dict[str, float]]:
    """Partition ``k``'s decisions, ledger entries and notices written, once ranked (``rank_part``)."""
    lap, engine, held, run_id = _Laps(part, k), part.engine(), part.held, part.run_id
    lap.timings = dict(ranking.timings)
    ranked = ranking.ranked
    stamp = part.now()

    lap("writing decisions")
    # In the unique key's order once: the ledger's and the notices' rows follow from these in the same order, so
    # their writes find them sorted (each sort of millions of rows is time the database waits).
    ordered = key_order(decisions, ranked.decisions.select(*DECISION_COLUMNS).with_columns(run_id=pl.lit(run_id)))
    ranked.decisions = ranked.decisions.clear()
    insert_missing(engine, decisions, ordered, chunk_rows=part.chunk_rows)
    # What the ledger and the notices read; the evidence (facts, failing, …), most of the frame, goes.
    rows = ordered.select("uscc", "policy_id", "policy_version", "period_key", "status", "amount_fen")
    del ordered

    lap("writing the benefit ledger")
    granted = rows.filter(pl.col("status") == DecisionStatus.GRANTED)
    top_ups = held.take("top_ups", k)
    grant_decided(
        engine,
        granted,
        run_id,
        part.as_of.isoformat(),
        stamp,
        chunk_rows=part.chunk_rows,
        top_ups=top_ups,
        partial=part.partitions > 1,
    )
    count_persons(engine, held.take("persons", k), run_id, stamp, chunk_rows=part.chunk_rows)

    lap("writing notices")
    built = build_notices(rows, part.started or part.as_of, run_id, stamp)
    # A notice pushed in a later wave counts its days to answer from its push, not from the run.
    notice_rows = ranked.schedule(built).with_columns(
        respond_by=pl.col("respond_by") + pl.duration(days=(pl.col("next_attempt_at") - pl.lit(stamp)).dt.total_days())
    )
    del built, rows
    insert_missing(engine, notices, notice_rows, chunk_rows=part.chunk_rows)
    lap(None)
    return ranked.model_version, lap.timings


def write_parts_overlapped(
    calls: Sequence[tuple[Part, int, dict[str, float], Earlier | None]], done: Callable[[int], None]
) -> list[tuple[str | None, dict[str, float]]]:
    """Pass 3 in the run's own process with the next partition ranked while this one is written: what
    ``Local.map(write_part, calls, done)`` returns, sooner. A large run's writes wait on the database server's
    disk (its WAL), and the ranking — CPU in this process — fills that wait. Two partitions' frames are in
    memory at once (the one written, the one ranked). Only with a server that takes writes from several
    connections at once (PostgreSQL): on SQLite the ranking's own write (its features) would queue behind the
    partition being written."""
    out: list[tuple[str | None, dict[str, float]]] = []
    # A ranking's error, raised as its turn comes, ends the pass (as Local.map would).
    for (part, k, _, _), ranking in ahead(lambda call: rank_part(*call), calls):
        out.append(write_ranked(part, k, ranking))
        done(len(out))
    return out


class Summed:
    """What the run summary says of the decisions, added up over the partitions."""

    def __init__(self) -> None:
        self.demand = Demand({}, {}, {})
        self.counts: dict[str, int] = {}
        self.errors: list[dict[str, dict]] = []
        self.standings: list[pl.DataFrame] = []
        self.period_keys: set[str] = set()

    def add(self, decided: PartDecided) -> None:
        self.demand += decided.demand
        self.period_keys.update(decided.period_keys)
        for key, value in decided.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        self.errors.append(decided.amount_errors)
        self.standings.append(decided.standing)

    def standing(self) -> pl.DataFrame:
        return pl.concat(self.standings) if len(self.standings) > 1 else self.standings[0]

    def amount_errors(self, examples: int = 5) -> dict[str, dict]:
        """Per policy, as ``decide`` reports them for the whole population: the enterprises counted, the
        reasons in their order, the first examples by USCC."""
        out: dict[str, dict] = {}
        for errors in self.errors:
            for policy_id, found in errors.items():
                into = out.setdefault(policy_id, {"enterprises": 0, "reasons": [], "examples": []})
                into["enterprises"] += found["enterprises"]
                into["reasons"] = sorted({*into["reasons"], *found["reasons"]}, key=AMOUNT_ERROR_REASONS.index)
                into["examples"] = sorted(into["examples"] + found["examples"], key=lambda e: e["uscc"])[:examples]
        return {policy_id: out[policy_id] for policy_id in sorted(out)}
