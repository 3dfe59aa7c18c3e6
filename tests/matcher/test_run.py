"""Runs against a real database: exactly once across reruns, later dates and kills."""

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select, text

from features.registries.validate import check_registry
from features.synthetic import generate
from matcher.db import make_engine, upgrade
from matcher.db.models import benefits, decisions, notices, runs
from matcher.run import run_matching
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
ROOT = Path(__file__).resolve().parents[2]
# What a run leaves behind, without the clocks (started_at, granted_at, ...), which differ between runs.
STATE = {
    decisions: ["run_id", "uscc", "policy_id", "policy_version", "period_key", "status", "amount_fen", "facts"],
    benefits: ["uscc", "policy_id", "period_key", "amount_fen", "status", "run_id"],
    notices: ["uscc", "policy_id", "period_key", "kind", "amount_fen", "respond_by", "delivery_status"],
}


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("registry")
    generate(out, enterprises=1_500, seed=21)
    return out


def state(engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {
            table.name: sorted(connection.execute(select(*(table.c[c] for c in cols))).all(), key=repr)
            for table, cols in STATE.items()
        }


def count(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_run_when_repeated_for_the_same_date_changes_nothing(engine, registry, monkeypatch):
    policies = load_catalogue().in_force(AS_OF)
    first = run_matching(engine, registry, AS_OF, policies)
    before = state(engine)

    def unread(*_args, **_kwargs):
        raise AssertionError("a completed run was found only after checking every row of the registry")

    # Found by the files' fingerprint alone: at ten million enterprises the whole check does not fit in memory.
    monkeypatch.setattr("matcher.run.check_registry", unread)
    again = run_matching(engine, registry, AS_OF, policies)
    assert first.outcome == "completed" and again.outcome == "unchanged"
    assert again.run_id == first.run_id and again.counts == first.counts
    assert state(engine) == before
    assert count(engine, benefits) == first.counts["granted"] > 0
    assert count(engine, notices) == sum(
        first.counts[s] for s in ("granted", "awaiting_confirmation", "recommended", "needs_data", "near_miss")
    )


def test_run_on_postgresql_when_done_leaves_the_planner_statistics_of_what_it_wrote(engine, registry):
    if engine.dialect.name != "postgresql":
        pytest.skip("planner statistics: PostgreSQL only")
    run_matching(engine, registry, AS_OF, load_catalogue().in_force(AS_OF))
    with engine.connect() as connection:
        estimates = dict(
            connection.execute(
                text(
                    "SELECT relname, reltuples FROM pg_class WHERE relnamespace = current_schema()::regnamespace"
                    " AND relname IN ('decisions', 'benefits', 'notices')"
                )
            ).all()
        )
    # reltuples is -1 until the table is analysed; ANALYZE of these small tables counts every row.
    assert estimates == {t.name: count(engine, t) for t in (decisions, benefits, notices)}


def test_run_when_a_later_date_comes_grants_only_what_is_newly_due(engine, registry):
    first = run_matching(engine, registry, AS_OF, load_catalogue().in_force(AS_OF))
    later_day = date(2025, 9, 30)
    later = run_matching(engine, registry, later_day, load_catalogue().in_force(later_day))
    assert later.run_id != first.run_id
    assert later.counts["already_granted"] > 0  # this year's and one-off benefits are not paid twice
    with engine.connect() as connection:
        per_key = connection.execute(
            select(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key, func.count())
            .group_by(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key)
            .having(func.count() > 1)
        ).all()
    assert per_key == []
    assert count(engine, benefits) == first.counts["granted"] + later.counts["granted"]


def test_run_when_the_registry_changes_is_a_new_run(engine, registry, tmp_path):
    policies = load_catalogue().in_force(AS_OF)
    first = run_matching(engine, registry, AS_OF, policies)
    changed = tmp_path / "changed"
    changed.mkdir()
    for f in registry.iterdir():
        if f.is_file():  # the departments' lists (lists/) are no registry table
            (changed / f.name).write_bytes(f.read_bytes())
    credit = pl.read_parquet(changed / "credit_lists.parquet")
    pl.concat([credit, credit.head(0)]).write_parquet(changed / "credit_lists.parquet", compression="lz4")
    second = run_matching(engine, check_registry(changed), AS_OF, policies)
    assert second.run_id != first.run_id and second.outcome == "completed"
    assert second.counts["granted"] == 0  # everything due this period was granted by the first run


def _run_in_process(database_url: str, registry: Path, partitions: int = 1) -> subprocess.Popen:
    # Small chunks, so that a kill can land between any two of the run's commits; and a pause after each chunk, so
    # that the test sees the count it waits for before the run is over however busy the machine is (the writes
    # got fast enough for the last chunks and the run's end to slip between two looks).
    code = (
        "import sys, time; from datetime import date; from pathlib import Path;"
        "from matcher.db import bulk, make_engine, upgrade;"
        "from matcher.run import run_matching; from policies.load import load_catalogue;"
        "e = make_engine(sys.argv[1]); upgrade(e); write = bulk._WRITERS[e.dialect.name];"
        "bulk._WRITERS[e.dialect.name] = lambda *a: (write(*a), time.sleep(0.03))[0];"
        "run_matching(e, Path(sys.argv[2]), date(2025, 6, 30), load_catalogue().in_force(date(2025, 6, 30)),"
        " chunk_rows=300, partitions=int(sys.argv[3]))"
    )
    return subprocess.Popen([sys.executable, "-c", code, database_url, str(registry), str(partitions)], cwd=ROOT)


@pytest.mark.parametrize(
    ("table", "share", "partitions"),
    [
        (decisions, 0.0, 1),
        (decisions, 0.5, 1),
        (benefits, 0.0, 1),
        (notices, 0.0, 1),
        (notices, 0.6, 1),
        # In partitions (on PostgreSQL the next one is ranked, its features stored, while one is written).
        (decisions, 0.5, 3),
    ],
)
def test_run_when_killed_at_any_point_and_rerun_ends_as_an_uninterrupted_run(
    database_url, registry, tmp_path, table, share, partitions
):
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(reference)
    expected = run_matching(reference, registry, AS_OF, load_catalogue().in_force(AS_OF))
    threshold = max(1, int(count(reference, table) * share))

    engine = make_engine(database_url)
    upgrade(engine)
    process = _run_in_process(database_url, registry, partitions)
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if count(engine, table) >= threshold:
            os.kill(process.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    with engine.connect() as connection:
        assert connection.execute(select(runs.c.status)).scalar_one() == "running", "the kill came too late"
    assert count(engine, notices) < count(reference, notices)  # something really was left undone

    resumed = run_matching(engine, registry, AS_OF, load_catalogue().in_force(AS_OF), partitions=partitions)
    assert resumed.outcome == "completed" and resumed.counts == expected.counts
    assert state(engine) == state(reference)
    engine.dispose()
