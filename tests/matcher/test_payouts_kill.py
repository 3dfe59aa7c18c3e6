"""Payouts killed at any point and run again end as if nothing happened: prepare, export and reconcile.

The step runs in a process of its own with small chunks, so that each commit is a point it can die at; its
``progress`` hook kills the process (SIGKILL: no cleanup, no rollback but the database's own) at the chosen
point. The same step is then run again, and the database — batches, items, benefits, journal, notices,
return lines, without the clocks — must equal an uninterrupted run's, and the payment file its bytes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from matcher import payouts
from matcher.db import make_engine, upgrade
from matcher.db.models import benefit_journal, benefits, notices, payment_batches, payment_items, payment_returns
from tests.matcher import payout_data as fixtures

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ENTERPRISES = 100  # 300 benefits, 200 of them cash: 198 with an account
CHUNK = 40  # rows a commit: 8 chunks to make payable, 5 to batch, 5 to settle
AS_OF = fixtures.TODAY + timedelta(days=10)  # deadlines and publicity over
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
ANSWERS = {2: "BE01", 7: "AC04", 41: "AC01", 150: "MS03"}  # lines the bank returns; the others are paid
CLOCKS = {"prepared_at", "approved_at", "exported_at", "reconciled_at", "withdrawn_at", "at", "created_at"}
CLOCKS |= {"granted_at", "next_attempt_at", "id"}
TABLES = [payment_batches, payment_items, payment_returns, benefits, benefit_journal, notices]

# The step in a process of its own: `python -c STEP step url point nth args...`; the hook dies at (point, nth).
STEP = """
import os, signal, sys
from datetime import date, datetime
from pathlib import Path
from matcher import payouts
from matcher.db import make_engine
from tests.matcher import payout_data as fixtures

step, url, point, nth = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = {}

def hook(stage):
    seen[stage] = seen.get(stage, 0) + 1
    if (stage, seen[stage]) == (point, nth):
        os.kill(os.getpid(), signal.SIGKILL)

engine = make_engine(url)
now = datetime.fromisoformat(sys.argv[5])
if step == "prepare":
    payouts.prepare(engine, date.fromisoformat(sys.argv[6]), dict(fixtures.CASH),
                    fixtures.accounts(int(sys.argv[7])), actor="cli:alice", person="alice",
                    chunk_rows=int(sys.argv[8]), progress=hook, now=now)
elif step == "export":
    if point == "mid-write":  # dies halfway through writing the file
        module = sys.modules["matcher.payouts.export"]  # the module: the package's `export` is the function
        from features.files import atomic_write
        def half(path, write):
            data = []
            write(type("Sink", (), {"write_bytes": lambda self, b: data.append(b)})())
            with atomic_write(path) as partial:
                partial.write_bytes(data[0][: len(data[0]) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
        module.write_file = half
    payouts.export(engine, int(sys.argv[6]), Path(sys.argv[7]), actor="cli:bob", progress=hook, now=now)
else:
    payouts.reconcile_file(engine, Path(sys.argv[6]), actor="cli:bob", chunk_rows=int(sys.argv[7]),
                           progress=hook, now=now)
print("finished")
"""


def state(engine) -> dict[str, list]:
    """What the payouts leave behind, without the clocks (and the summary's note that a prepare resumed)."""
    out = {}
    with engine.connect() as connection:
        for table in TABLES:
            columns = [c for c in table.c if c.name not in CLOCKS]
            rows = []
            for row in connection.execute(select(*columns)).mappings():
                row = dict(row)
                if isinstance(row.get("summary"), dict):
                    row["summary"] = {k: v for k, v in row["summary"].items() if k != "resumed"}
                rows.append(json.dumps(row, sort_keys=True, default=str))
            out[table.name] = sorted(rows)
    return out


def _killed(step: str, url: str, point: str, nth: int, *args) -> None:
    done = subprocess.run(
        [sys.executable, "-c", STEP, step, url, point, str(nth), NOW.isoformat(), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, (
        f"expected the step to die at {point} #{nth}; it ended with {done.returncode}:\n{done.stdout}"
        f"{done.stderr[-2000:]}"
    )


def _prepare(engine):
    return payouts.prepare(
        engine, AS_OF, dict(fixtures.CASH), fixtures.accounts(ENTERPRISES), actor="cli:alice", person="alice",
        chunk_rows=CHUNK, now=NOW,
    )  # fmt: skip


def _approve(engine, batch_id):
    with engine.begin() as connection:
        payouts.approve(connection, batch_id, actor="cli:bob", person="bob", at=NOW)


def _export(engine, batch_id, out: Path):
    return payouts.export(engine, batch_id, out, actor="cli:bob", now=NOW)


def _reconcile(engine, path: Path):
    return payouts.reconcile_file(engine, path, actor="cli:bob", chunk_rows=CHUNK, now=NOW)


def _databases(database_url: str, tmp_path: Path, upto: str):
    """The reference (SQLite, uninterrupted) and the database under test, both seeded alike and taken to
    just before the step ``upto``."""
    engines = [make_engine(f"sqlite:///{tmp_path / 'reference.db'}"), make_engine(database_url)]
    for engine, name in zip(engines, ("reference", "killed"), strict=True):
        upgrade(engine)
        fixtures.seed(engine, ENTERPRISES)
        if upto == "prepare":
            continue
        batch = _prepare(engine)
        _approve(engine, batch.batch_id)
        if upto == "reconcile":
            _export(engine, batch.batch_id, tmp_path / f"{name}-payment.jsonl")
    return engines


@pytest.mark.parametrize(("point", "nth"), [("opened", 1), ("made payable", 1), ("made payable", 8),
                                            ("batched", 1), ("batched", 3)])  # fmt: skip
def test_prepare_when_killed_at_any_point_and_rerun_ends_as_an_uninterrupted_prepare(
    database_url, tmp_path, point, nth
):
    reference, engine = _databases(database_url, tmp_path, "prepare")
    expected = _prepare(reference)
    assert expected.items == 2 * (ENTERPRISES - 1) and expected.made_payable == 2 * ENTERPRISES

    _killed("prepare", database_url, point, nth, AS_OF, ENTERPRISES, CHUNK)
    with engine.connect() as connection:
        assert connection.execute(select(payment_batches.c.status)).scalar_one() == "preparing"
    resumed = _prepare(engine)
    assert resumed.resumed and resumed.batch_id == expected.batch_id
    assert (resumed.items, resumed.total_fen, resumed.made_payable) == (
        expected.items,
        expected.total_fen,
        expected.made_payable,
    )
    assert state(engine) == state(reference)
    engine.dispose()


@pytest.mark.parametrize(
    "points",
    [[("read", 1)], [("mid-write", 1)], [("written", 1)], [("exported", 1)], [("written", 1), ("read", 1)]],
    ids=["read", "mid-write", "written", "exported", "written-then-read-again"],
)
def test_export_when_killed_at_any_point_and_rerun_writes_the_same_bytes(database_url, tmp_path, points):
    reference, engine = _databases(database_url, tmp_path, "export")
    expected = _export(reference, 1, tmp_path / "reference.jsonl").path.read_bytes()

    out = tmp_path / "out" / "payment.jsonl"
    for attempt, (point, nth) in enumerate(points):
        _killed("export", database_url, point, nth, 1, out)
        if attempt == 0 and point in ("read", "mid-write"):
            assert not out.exists(), "a payment file appeared before it was whole"
    again = _export(engine, 1, out)
    assert out.read_bytes() == expected
    assert again.sha256 == payouts.export(reference, 1, tmp_path / "copy.jsonl", actor="cli:carol").sha256
    assert state(engine) == state(reference)
    engine.dispose()


@pytest.mark.parametrize(("point", "nth"), [("checked", 1), ("stored", 1), ("settled", 1), ("settled", 3),
                                            ("settled", 5)])  # fmt: skip
def test_reconcile_when_killed_at_any_point_and_rerun_ends_as_an_uninterrupted_reconciliation(
    database_url, tmp_path, point, nth
):
    reference, engine = _databases(database_url, tmp_path, "reconcile")
    answer = tmp_path / "return.jsonl"
    answer.write_bytes(fixtures.answer(reference, 1, ANSWERS))
    expected = _reconcile(reference, answer)
    assert (expected.failed, expected.paid) == (len(ANSWERS), 2 * (ENTERPRISES - 1) - len(ANSWERS))

    _killed("reconcile", database_url, point, nth, answer, CHUNK)
    with engine.connect() as connection:
        assert connection.execute(select(payment_batches.c.status)).scalar_one() == "exported"
    done = _reconcile(engine, answer)
    assert (done.paid, done.paid_fen, done.failed, done.failed_fen) == (
        expected.paid,
        expected.paid_fen,
        expected.failed,
        expected.failed_fen,
    )
    assert not done.already
    assert state(engine) == state(reference)
    with engine.connect() as connection:  # each enterprise told once of each payment
        told = connection.execute(select(notices.c.kind).where(notices.c.topic == "batch:1")).scalars().all()
    assert sorted(told).count("payment_failed") == len(ANSWERS) and told.count("paid") == expected.paid
    engine.dispose()
