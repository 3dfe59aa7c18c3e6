"""Benchmark: a payment batch of a million cash benefits, prepared, exported and reconciled, on SQLite and PostgreSQL.

    .venv/bin/python bench/payouts.py [--benefits 1000000] [--databases sqlite postgresql]
                                      [--postgresql-url URL] [--failures 25]

Seeds the ledger as a run leaves it (benefits and their journal through ``grant_decided``, a granted notice
each whose deadline has passed; an account per enterprise, one in a hundred without), then times, each in
a process of its own so that its peak memory is its own: ``prepare`` (make payable, batch) + ``approve`` +
``export`` (the payment file), and ``reconcile`` of the bank's return file with a few failures. Target
(issue 12): at most 30 s for each and 4 GiB, on 2 cores. Under each database's line, the seconds each
stage of the step took (from its ``progress`` calls: made payable, batched, settled, ...), and the CPU seconds
of the step's process and of the PostgreSQL backends it used (``ServerClock``; when the server is on this
machine): on a shared machine, CPU says what the code costs where wall time mostly says what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from _databases import DEFAULT_PG, postgresql_schema  # bench/ is on the path: these scripts run from there
from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
POLICIES = {("subsidy-a", 1): 0, ("subsidy-b", 1): 0}  # cash policy versions, no publicity
AS_OF = datetime.now(UTC).date() + timedelta(days=20)
TARGET_SECONDS, TARGET_BYTES = 30, 4 * 2**30


def _enterprises(n: int) -> int:
    return (n + len(POLICIES) - 1) // len(POLICIES)


def _uscc(expr):
    import polars as pl

    return pl.format("914403{}X", expr.cast(pl.String).str.zfill(11))


def _accounts(enterprises: int):
    """The registry's accounts extract: one per enterprise but every hundredth."""
    import polars as pl

    ids = pl.int_range(0, enterprises, eager=True).alias("i").to_frame().filter(pl.col("i") % 100 != 99)
    return ids.select(
        uscc=_uscc(pl.col("i")),
        bank_code=pl.format("102{}", pl.col("i").cast(pl.String).str.zfill(9)),
        account_no=pl.format("6222{}", pl.col("i").cast(pl.String).str.zfill(15)),
        account_name=pl.format("企业{}有限公司", pl.col("i")),
        valid_from=pl.lit(date(2020, 1, 1)),
    )


def seed(url: str, n: int) -> dict:
    import polars as pl

    from matcher.db import make_engine, upgrade
    from matcher.db.bulk import insert_missing
    from matcher.db.models import notices
    from matcher.ledger import grant_decided

    engine = make_engine(url)
    upgrade(engine)
    at = datetime.now(UTC) - timedelta(days=30)
    enterprises = pl.int_range(0, _enterprises(n), eager=True).alias("i").to_frame()
    rows = (
        enterprises.join(pl.DataFrame({"policy_id": [p for p, _ in POLICIES], "policy_version": [1, 1]}), how="cross")
        .head(n)
        .select(
            uscc=_uscc(pl.col("i")),
            policy_id="policy_id",
            policy_version="policy_version",
            period_key=pl.lit("2025"),
            amount_fen=(pl.col("i") * 7919 % 4_000_000 + 10_000).cast(pl.Int64),
        )
    )
    grant_decided(engine, rows, "bench", str(at.date()), at)
    insert_missing(
        engine,
        notices,
        rows.select(
            "uscc",
            "policy_id",
            "policy_version",
            "period_key",
            "amount_fen",
            kind=pl.lit("granted"),
            run_id=pl.lit("bench"),
            respond_by=pl.lit(at.date() + timedelta(days=15)),
            delivery_status=pl.lit("delivered"),
            attempts=pl.lit(1),
            created_at=pl.lit(at),
            topic=pl.col("amount_fen").cast(pl.String),
        ),
    )
    engine.dispose()
    return {"benefits": rows.height}


def _stopwatch() -> tuple[dict[str, float], object]:
    """Seconds spent per stage, from a step's ``progress`` calls (each call ends a chunk of the named stage)."""
    spent: dict[str, float] = {}
    last = [time.perf_counter()]

    def progress(stage: str) -> None:
        now = time.perf_counter()
        spent[stage] = spent.get(stage, 0.0) + now - last[0]
        last[0] = now

    return spent, progress


def prepare_and_export(url: str, n: int, out: str) -> dict:
    from matcher import payouts
    from matcher.db import make_engine

    engine = make_engine(url)
    accounts = _accounts(_enterprises(n))
    spent, progress = _stopwatch()
    started = time.perf_counter()
    summary = payouts.prepare(engine, AS_OF, POLICIES, accounts, actor="bench:alice", person="alice", progress=progress)
    prepared = time.perf_counter()
    with engine.begin() as connection:
        payouts.approve(connection, summary.batch_id, actor="bench:bob", person="bob")
    approved = time.perf_counter()
    done = payouts.export(engine, summary.batch_id, Path(out), actor="bench:bob")
    exported = time.perf_counter()
    return {
        "batch_id": summary.batch_id,
        "items": summary.items,
        "made_payable": summary.made_payable,
        "without_account": summary.without_account,
        "bytes": Path(out).stat().st_size,
        "sha256": done.sha256,
        "timings": {"prepare": prepared - started, "approve": approved - prepared, "export": exported - approved},
        "stages": spent,
        "seconds": exported - started,
    }


def answer(url: str, batch_id: int, out: str, failures: int) -> dict:
    """The bank's return file: every payment paid but ``failures`` of them, spread over the batch."""
    import polars as pl

    from matcher import payouts
    from matcher.db import make_engine
    from matcher.payouts.export import read_items

    engine = make_engine(url)
    with engine.connect() as connection:
        items = read_items(connection, batch_id)
    step = max(1, items.height // max(1, failures))
    failed = (pl.col("line") % step == 0) & (pl.col("line") // step <= failures)
    codes = list(payouts.REASONS)
    data = payouts.bank_return(
        batch_id,
        items.select(
            "reference",
            "amount_fen",
            status=pl.when(failed).then(pl.lit("failed")).otherwise(pl.lit("paid")),
            reason_code=pl.when(failed).then(pl.lit(codes[0])),
        ),
    )
    Path(out).write_bytes(data)
    return {"bytes": len(data), "codes": codes[:1]}


def reconcile(url: str, path: str) -> dict:
    from matcher import payouts
    from matcher.db import make_engine

    engine = make_engine(url)
    spent, progress = _stopwatch()
    started = time.perf_counter()
    done = payouts.reconcile_file(engine, Path(path), actor="bench:bob", progress=progress)
    return {"seconds": time.perf_counter() - started, "paid": done.paid, "failed": done.failed, "stages": spent}


STAGES = {"seed": seed, "prepare": prepare_and_export, "answer": answer, "reconcile": reconcile}


class ServerClock:
    """CPU seconds of the PostgreSQL backends this process connected to, read from ``/proc`` (so only when the
    server runs on this machine): on a shared machine the step's CPU, unlike its wall time, barely depends on
    what else runs. Sampled every 0.1 s until ``stop``, as a backend's time is gone once it exits."""

    def __init__(self) -> None:
        import threading

        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.seconds: dict[int, float] = {}
        self._done = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        event.listen(Engine, "connect", self._connected)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _connected(self, dbapi_connection, _record) -> None:
        pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)  # psycopg: PostgreSQL only
        if pid is not None and Path(f"/proc/{pid}/stat").exists():
            self.seconds.setdefault(pid, 0.0)

    def _read(self) -> None:
        for pid in list(self.seconds):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited: its last reading stands
            self.seconds[pid] = (int(fields[11]) + int(fields[12])) / self._tick  # utime + stime

    def _sample(self) -> None:
        while not self._done.wait(0.1):
            self._read()

    def stop(self) -> float | None:
        self._done.set()
        self._thread.join()
        self._read()
        return sum(self.seconds.values()) if self.seconds else None


def stage(name: str, *args: str) -> None:
    """One stage in this process; prints its figures and the process's peak memory as one JSON line."""
    fn = STAGES[name]
    server = ServerClock()
    started = time.perf_counter()
    converted = [int(a) if a.isdigit() else a for a in args]
    figures = fn(*converted)
    figures.setdefault("seconds", time.perf_counter() - started)
    figures["server_cpu"] = server.stop()
    used = resource.getrusage(resource.RUSAGE_SELF)
    figures["client_cpu"] = used.ru_utime + used.ru_stime
    figures["peak_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    print(json.dumps(figures))


def _process(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--stage", *args],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cpu(step: dict) -> str:
    server = "–" if step["server_cpu"] is None else f"{step['server_cpu']:.1f} s"
    return f"{step['client_cpu']:.1f} s / {server}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benefits", type=int, default=1_000_000)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--postgresql-url", default=DEFAULT_PG)
    parser.add_argument("--failures", type=int, default=25, help="payments the bank returns as failed")
    parser.add_argument("--stage", nargs="+", help=argparse.SUPPRESS)  # internal: one stage in its own process
    args = parser.parse_args()
    if args.stage:
        stage(*args.stage)
        return
    console = Console(width=150)
    root = Path(tempfile.mkdtemp(prefix="huiqi-bench-payouts-"))
    results: dict[str, dict] = {}
    try:
        for db in args.databases:
            if db == "sqlite":
                url, cleanup = f"sqlite:///{root / 'payouts.db'}", lambda: None
            else:
                url, cleanup = postgresql_schema(args.postgresql_url)
            try:
                n = str(args.benefits)
                seeded = _process("seed", url, n)
                console.print(f"{db}: seeded {seeded['benefits']:,} granted cash benefits in {seeded['seconds']:.0f} s")
                prepared = _process("prepare", url, n, str(root / f"{db}-payment.jsonl"))
                _process("answer", url, str(prepared["batch_id"]), str(root / f"{db}-return.jsonl"), str(args.failures))
                reconciled = _process("reconcile", url, str(root / f"{db}-return.jsonl"))
                results[db] = {"prepare": prepared, "reconcile": reconciled}
            finally:
                cleanup()
            console.print(
                f"{db}: prepare + export {prepared['seconds']:.1f} s ({prepared['peak_bytes'] / 2**30:.2f} GiB),"
                f" reconcile {reconciled['seconds']:.1f} s ({reconciled['peak_bytes'] / 2**30:.2f} GiB);"
                f" load {' '.join(f'{v:.1f}' for v in os.getloadavg())}"
            )
            for label, step in (("prepare + export", prepared), ("reconcile", reconciled)):
                server = "" if step["server_cpu"] is None else f", server backends {step['server_cpu']:.1f} s"
                console.print(f"  {label} CPU: client {step['client_cpu']:.1f} s{server}")
            for step in (prepared, reconciled):
                console.print("  " + ", ".join(f"{k} {v:.1f} s" for k, v in step["stages"].items()))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    table = Table(title=f"payouts: {args.benefits:,} payable cash benefits (2 cores)")
    table.add_column("")
    for db in results:
        table.add_column(db, justify="right")
    first = next(iter(results.values()))
    for name in first["prepare"]["timings"]:
        table.add_row(name, *(f"{r['prepare']['timings'][name]:.1f} s" for r in results.values()))
    table.add_row("[bold]prepare + export", *(f"[bold]{r['prepare']['seconds']:.1f} s" for r in results.values()))
    table.add_row("  peak memory", *(f"{r['prepare']['peak_bytes'] / 2**30:.2f} GiB" for r in results.values()))
    table.add_row("  payments in the file", *(f"{r['prepare']['items']:,}" for r in results.values()))
    table.add_row("  file size", *(f"{r['prepare']['bytes'] / 2**20:.0f} MiB" for r in results.values()))
    table.add_row("  CPU: client / server backends", *(_cpu(r["prepare"]) for r in results.values()))
    table.add_row("[bold]reconcile", *(f"[bold]{r['reconcile']['seconds']:.1f} s" for r in results.values()))
    table.add_row("  CPU: client / server backends", *(_cpu(r["reconcile"]) for r in results.values()))
    table.add_row("  peak memory", *(f"{r['reconcile']['peak_bytes'] / 2**30:.2f} GiB" for r in results.values()))
    table.add_row(
        "  paid / failed", *(f"{r['reconcile']['paid']:,} / {r['reconcile']['failed']}" for r in results.values())
    )
    console.print(table)
    for db, r in results.items():
        worst = max(r["prepare"]["seconds"], r["reconcile"]["seconds"])
        peak = max(r["prepare"]["peak_bytes"], r["reconcile"]["peak_bytes"])
        verdict = "meets" if worst <= TARGET_SECONDS and peak <= TARGET_BYTES else "MISSES"
        console.print(
            f"{db}: slowest step {worst:.1f} s, peak {peak / 2**30:.2f} GiB — {verdict} the 30 s / 4 GiB target"
        )


if __name__ == "__main__":
    main()
