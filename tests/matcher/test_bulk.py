"""Bulk writes (matcher.db.bulk): rows in the unique key's order, and whether a write was a first one."""

import os
from datetime import UTC, date, datetime

import polars as pl
import pytest
from sqlalchemy import select

from matcher.db import bulk
from matcher.db.bulk import insert_missing
from matcher.db.models import decisions, notices, supplied_facts

RUN = "r" * 32


def _decisions(usccs: list[str], policies: list[str]) -> pl.DataFrame:
    """One decision per enterprise and policy, policy by policy as ``decide`` emits them."""
    return pl.DataFrame(
        [
            {"uscc": u, "policy_id": p, "policy_version": 1, "period_key": "2025", "status": "granted",
             "amount_fen": 100, "facts": "{}", "run_id": RUN}
            for p in policies
            for u in usccs
        ]
    )  # fmt: skip


@pytest.fixture(autouse=True, params=["image", "tuples"])
def sqlite_path(request, monkeypatch):
    """Every test here on both of SQLite's paths: a chunk as a database image (ADBC) and as tuples (executemany).
    PostgreSQL has one path (COPY): there both runs are the same."""
    monkeypatch.setattr(bulk, "IMAGE_ROWS", 1 if request.param == "image" else 10**9)
    return request.param


def test_insert_missing_writes_rows_in_key_order_keeping_an_enterprises_own_order(engine):
    """Within a chunk ids follow the USCC (the unique key's order), and an enterprise's decisions keep the order
    the run gave them (not the policies' alphabetical order): the service lists an enterprise's decisions by id."""
    usccs = [f"91440300{i:09d}X" for i in (7, 3, 9, 1, 5, 8, 2, 6, 4, 0)]
    policies = ["zeta", "alpha", "mu"]
    insert_missing(engine, decisions, _decisions(usccs, policies))  # one chunk: chunks at once interleave ids
    with engine.connect() as connection:
        got = connection.execute(select(decisions.c.uscc, decisions.c.policy_id).order_by(decisions.c.id)).all()
    assert [u for u, _ in got] == sorted(u for u in usccs for _ in policies)
    assert [p for _, p in got[:3]] == policies


def test_insert_missing_says_whether_every_row_was_new_and_writes_only_the_missing(engine):
    usccs = [f"91440300{i:09d}X" for i in range(12)]
    rows = _decisions(usccs, ["a", "b"])
    assert insert_missing(engine, decisions, rows.head(5), chunk_rows=4) is True  # a first write
    assert insert_missing(engine, decisions, rows, chunk_rows=4) is False  # resumed: 5 of them were there
    assert insert_missing(engine, decisions, rows.head(0)) is True
    with engine.connect() as connection:
        count = len(connection.execute(select(decisions.c.id)).all())
    assert count == rows.height


def test_insert_missing_on_a_fresh_table_then_again_changes_nothing(engine):
    rows = _decisions([f"91440300{i:09d}X" for i in range(30)], ["a"]).with_columns(
        amount_fen=pl.int_range(pl.len(), dtype=pl.Int64)
    )
    insert_missing(engine, decisions, rows, chunk_rows=8)
    with engine.connect() as connection:
        before = connection.execute(select(decisions).order_by(decisions.c.id)).all()
    assert insert_missing(engine, decisions, rows.reverse(), chunk_rows=8) is False
    with engine.connect() as connection:
        assert connection.execute(select(decisions).order_by(decisions.c.id)).all() == before
    assert len(before) == 30  # every row once


def test_every_kind_of_value_reads_back_as_written(engine):
    """Text with quotes and Chinese, big and negative integers, floats, nulls, zoned datetimes, dates and booleans
    read back through SQLAlchemy as the frame held them, whichever path wrote them."""
    at = datetime(2025, 7, 1, 8, 30, 15, 123456, tzinfo=UTC)
    rows = pl.DataFrame(
        {
            "uscc": ["91440300000000001X", "91440300000000002X"],
            "policy_id": ['it\'s "quoted"', "深圳市稳岗补贴"],
            "policy_version": [1, 2],
            "period_key": ["2025", "2025-07"],
            "kind": ["granted", "near_miss"],
            "run_id": [RUN, RUN],
            "amount_fen": [99_999_999_999, None],  # a large amount, to the fen
            "respond_by": [date(2025, 7, 31), None],
            "delivery_status": ["pending", "held"],
            "attempts": [0, 3],
            "next_attempt_at": [at, None],
            "created_at": [at, at],
            "topic": ["", "12.5"],
        }
    )
    insert_missing(engine, notices, rows)
    with engine.connect() as connection:
        got = connection.execute(select(*(notices.c[c] for c in rows.columns)).order_by(notices.c.uscc)).all()
    expected = rows.rows()
    assert [tuple(r) for r in got] == [
        tuple(v.replace(tzinfo=None) if isinstance(v, datetime) and engine.dialect.name == "sqlite" else v for v in r)
        for r in expected
    ]
    flags = pl.DataFrame(
        {
            "uscc": ["91440300000000001X", "91440300000000002X"],
            "fact": ["high_tech", "employees"],
            "value": ["true", "12"],
            "source": ["officer", "department"],
            "supplied_by": ["officer:li", "department:tax"],
            "supplied_at": [at, at],
            "status": ["accepted", "accepted"],
            "overrides_registry": [True, False],
        }
    )
    insert_missing(engine, supplied_facts, flags)
    with engine.connect() as connection:
        read = connection.execute(select(supplied_facts.c.overrides_registry).order_by(supplied_facts.c.uscc)).all()
    assert [r[0] for r in read] == [True, False]


def test_a_connection_keeps_nothing_of_the_last_chunk_once_back_in_its_pool(engine, sqlite_path):
    """The chunk a connection inserted from (SQLite: its image in memory, tens of MB at 100,000 rows; PostgreSQL:
    the temporary table of a resumed write) is gone once the connection is handed back, so a long-lived process
    does not keep one per pooled connection."""
    rows = _decisions([f"91440300{i:09d}X" for i in range(5)], ["a"])
    assert insert_missing(engine, decisions, rows) is True
    assert insert_missing(engine, decisions, rows) is False  # a rerun: PostgreSQL's detour by a temporary table
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            assert [row[1] for row in connection.exec_driver_sql("PRAGMA database_list")] == ["main"]
        else:
            left = "SELECT count(*) FROM pg_class WHERE relname = '_bulk' AND relpersistence = 't'"
            assert connection.exec_driver_sql(left).scalar() == 0
    assert insert_missing(engine, decisions, _decisions(["91440300999999999X"], ["a"])) is True


def test_an_image_s_scratch_file_never_outlives_its_write_nor_a_killed_process_s_folder_a_later_write(
    tmp_path, monkeypatch
):
    """Each chunk image is written in a private folder of this process (huiqi-bulk-<pid>-<random>) and removed once
    read; a process killed mid-write leaves its folder, which the next process to make an image removes — not a
    live process's, and never what a link points to."""
    import subprocess
    import sys

    monkeypatch.setattr(bulk.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(bulk, "_SCRATCH", {})
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f"huiqi-bulk-{int(gone.stdout)}-abc"
    dead.mkdir()
    (dead / "left.db").write_bytes(b"x" * 1000)  # what a process killed while writing a chunk left
    live = tmp_path / "huiqi-bulk-1-abc"  # init: always running
    live.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not the run's")
    (tmp_path / f"huiqi-bulk-{int(gone.stdout)}-link").symlink_to(elsewhere)
    image = bulk._image(pl.DataFrame({"uscc": ["91440300000000001X"], "n": [1]}))
    assert image.startswith(b"SQLite format 3")
    assert not dead.exists() and live.exists() and (elsewhere / "keep.txt").exists()
    (mine,) = tmp_path.glob(f"huiqi-bulk-{os.getpid()}-*")
    assert mine.is_dir() and (mine.stat().st_mode & 0o777) == 0o700  # this user's alone
    assert list(mine.iterdir()) == []  # the image's file is gone once its bytes are read
