"""Benchmark: a run's three writes (decisions, the benefit ledger, notices), old paths beside the new.

    .venv/bin/python bench/writes.py [--enterprises 1000000] [--databases postgresql sqlite]
                                     [--variants before tuples after] [--chunk-rows 100000] [--postgresql-url URL]

Builds the frames a run of that size writes (the enterprises of ``bench/out/profiles-<n>.parquet`` in their
registry order when it exists, else made-up USCCs in random order; about 2.9 decisions an enterprise, policy by
policy as ``decide`` emits them, 42 % granted, a notice per decision), then writes them into a fresh schema
(migrated to head) once per variant: ``before`` is ``bench/_writes_before.py`` (the code before this change),
``after`` is ``matcher``'s; on SQLite, ``tuples`` is ``matcher``'s with every chunk sent as tuples through
``executemany`` (as before chunks went as database images made by ADBC). Per stage: wall seconds, the client's CPU
seconds (all its threads) and, on PostgreSQL, the CPU seconds of the
backends it used (``/proc``: the server must run on this machine), the WAL it wrote (the server's WAL position:
other databases' writes on a shared server are included) and the backends' wait events sampled every 0.1 s. At
the end, each table's index sizes. On a shared machine compare CPU seconds, not wall. Session settings for a
side figure go in ``PGOPTIONS`` (e.g. ``-c synchronous_commit=off``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from _databases import DEFAULT_PG, postgresql_schema  # bench/ is on the path: these scripts run from there

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text

HERE = Path(__file__).resolve().parent
POLICIES = 20
SHARE = 0.146  # of enterprises per policy: about 2.9 decisions an enterprise, as the 1M run
TABLES = ("decisions", "benefits", "benefit_journal", "notices")


def frames(n: int, seed: int = 1) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(decisions, granted, notices) of a run over ``n`` enterprises, in the order a run holds them."""
    from matcher.notices import build_notices

    cached = HERE / "out" / f"profiles-{n}.parquet"
    if cached.exists():
        uscc = pl.read_parquet(cached, columns=["uscc"])["uscc"]
    else:
        i = pl.int_range(0, n, eager=True).shuffle(seed)
        uscc = pl.format("91440300{}X", i.cast(pl.String).str.zfill(9)).alias("uscc")
        uscc = pl.select(uscc)["uscc"]
    parts = []
    for p in range(POLICIES):
        picked = pl.DataFrame({"uscc": uscc}).sample(fraction=SHARE, seed=seed + p, shuffle=False)
        parts.append(picked.with_columns(policy_id=pl.lit(f"policy-{p:02d}-subsidy"), k=pl.int_range(pl.len())))
    rows = pl.concat(parts)
    status = (
        pl.when(pl.col("k") % 100 < 42)
        .then(pl.lit("granted"))
        .when(pl.col("k") % 100 < 60)
        .then(pl.lit("near_miss"))
        .when(pl.col("k") % 100 < 80)
        .then(pl.lit("needs_data"))
        .otherwise(pl.lit("recommended"))
    )
    decisions = rows.select(
        "uscc",
        "policy_id",
        policy_version=pl.lit(1),
        period_key=pl.lit("2026"),
        status=status,
        amount_fen=pl.lit(500_000, pl.Int64) + (pl.col("k") % 997) * 100,
        amount_full_fen=pl.lit(500_000, pl.Int64) + (pl.col("k") % 997) * 100,
        facts=pl.concat_str(
            pl.lit('{"employees": '),
            (pl.col("k") % 300).cast(pl.String),
            pl.lit(', "revenue_fen": '),
            (pl.col("k") * 7).cast(pl.String),
            pl.lit(', "region": "440300", "age_years": 7}'),
        ),
        unknown_facts=pl.lit(None, pl.String),
        failing=pl.lit(None, pl.String),
        failing_zh=pl.lit(None, pl.String),
        rank=pl.lit(None, pl.Float64),
        run_id=pl.lit("r" * 32),
    )
    granted = decisions.filter(pl.col("status") == "granted").select(
        "uscc", "policy_id", "policy_version", "period_key", "amount_fen"
    )
    now = datetime.now(UTC)
    notices = build_notices(decisions, now.date(), "r" * 32, now)
    return decisions, granted, notices


class Backends:
    """The engine's backends: CPU seconds from ``/proc`` and wait events sampled from ``pg_stat_activity``."""

    def __init__(self, engine, url: str) -> None:
        import psycopg

        self.pids: set[int] = set()
        self.waits: Counter[str] = Counter()
        self._tick = os.sysconf("SC_CLK_TCK")
        event.listen(engine, "connect", lambda dbapi, _r: self.pids.add(dbapi.info.backend_pid))
        self._watch = psycopg.connect(url.replace("postgresql+psycopg", "postgresql").split("?")[0], autocommit=True)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def cpu(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / self._tick
        return total

    def wal(self) -> int:
        return self._watch.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn").fetchone()[0]

    def counters(self) -> tuple[int, int, int]:
        """(full-page images in the WAL, checkpoints, buffers written by backends): server-wide."""
        return self._watch.execute(
            "SELECT wal_fpi, checkpoints_timed + checkpoints_req, buffers_backend FROM pg_stat_wal, pg_stat_bgwriter"
        ).fetchone()

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for kind, name in self._watch.execute(
                "SELECT wait_event_type, wait_event FROM pg_stat_activity WHERE pid = ANY(%s) AND state = 'active'",
                [list(self.pids)],
            ):
                self.waits[f"{kind}:{name}" if kind else "CPU"] += 1

    def start(self) -> None:
        self.waits.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()


def _sqlite_file() -> tuple[str, object]:
    folder = tempfile.TemporaryDirectory(prefix="huiqi-bench-writes-")
    return f"sqlite:///{folder.name}/writes.db", folder.cleanup


def run_variant(variant: str, database: str, url: str, decisions, granted, notices_rows, chunk_rows: int) -> None:
    from matcher.db import bulk, models
    from matcher.db.engine import make_engine, upgrade

    if variant == "before":
        import _writes_before as code
    else:
        from matcher.ledger import grants as code  # imports bulk.insert_missing: the new writes
    bulk.IMAGE_ROWS = 10**12 if variant == "tuples" else 1_000  # tuples: every chunk through executemany
    schema_url, drop = postgresql_schema(url) if database == "postgresql" else _sqlite_file()
    engine = make_engine(schema_url)
    try:
        backends = Backends(engine, url) if database == "postgresql" else None
        upgrade(engine)
        at = datetime.now(UTC)
        stages = {
            "decisions": lambda: code.insert_missing(engine, models.decisions, decisions, chunk_rows=chunk_rows),
            "benefit ledger": lambda: code.grant_decided(
                engine, granted, "r" * 32, "2026-06-30", at, chunk_rows=chunk_rows
            ),
            "notices": lambda: code.insert_missing(engine, models.notices, notices_rows, chunk_rows=chunk_rows),
        }
        for name, write in stages.items():
            if backends is None:  # SQLite: the client does all the work
                client, wall = time.process_time(), time.perf_counter()
                write()
                wall, client = time.perf_counter() - wall, time.process_time() - client
                print(f"{database:10} {variant:6} {name:15} wall {wall:6.1f} s  client {client:5.1f} s", flush=True)
                continue
            counters = backends.counters()
            wal, cpu, client, wall = backends.wal(), backends.cpu(), time.process_time(), time.perf_counter()
            backends.start()
            write()
            backends.stop()
            wall = time.perf_counter() - wall
            client = time.process_time() - client
            server = backends.cpu() - cpu
            wal_mb = (backends.wal() - wal) / 2**20
            fpi, checkpoints, evicted = (b - a for a, b in zip(counters, backends.counters(), strict=True))
            waits = sum(backends.waits.values()) or 1
            top = ", ".join(f"{k} {v / waits:.0%}" for k, v in backends.waits.most_common(4))
            print(
                f"{database:10} {variant:6} {name:15} wall {wall:6.1f} s  client {client:5.1f} s"
                f"  backends {server:5.1f} s"
                f"  WAL {wal_mb:6.0f} MB ({fpi:,} page images, {checkpoints} checkpoints, {evicted:,} buffers written"
                f" by backends)  waits: {top}",
                flush=True,
            )
        if backends is None:
            with engine.connect() as connection:
                counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
            print(f"{database:10} {variant:6} rows: {counts}", flush=True)
            return
        with engine.connect() as connection:
            sizes = connection.execute(
                text(
                    "SELECT c.relname, pg_relation_size(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " JOIN pg_class t ON t.oid = i.indrelid WHERE t.relname = ANY(:t)"
                    " AND t.relnamespace = to_regnamespace(current_schema()) ORDER BY 1"
                ),
                {"t": list(TABLES)},
            ).all()
            counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
        print(f"{database:10} {variant:6} rows: {counts}")
        shown = ", ".join(f"{name} {size / 2**20:.0f} MB" for name, size in sizes)
        print(f"{database:10} {variant:6} indexes: {shown}", flush=True)
    finally:
        engine.dispose()
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=1_000_000)
    parser.add_argument("--databases", nargs="+", default=["postgresql", "sqlite"], choices=["postgresql", "sqlite"])
    parser.add_argument(
        "--variants", nargs="+", default=["before", "tuples", "after"], choices=["before", "tuples", "after"]
    )
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--postgresql-url", default=os.environ.get("HUIQI_TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args()
    clock = time.perf_counter()
    decisions, granted, notices_rows = frames(args.enterprises)
    print(
        f"{decisions.height:,} decisions, {granted.height:,} granted, {notices_rows.height:,} notices"
        f" (built in {time.perf_counter() - clock:.1f} s); load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
        flush=True,
    )
    for database in args.databases:
        for variant in args.variants:
            if variant == "tuples" and database != "sqlite":
                continue  # PostgreSQL's chunks go by COPY whatever their size
            run_variant(variant, database, args.postgresql_url, decisions, granted, notices_rows, args.chunk_rows)
            print(f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
