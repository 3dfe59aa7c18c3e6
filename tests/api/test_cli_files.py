"""The `huiqi` command under bad luck: a full disk, a folder it cannot write, a database that goes away.

Each test runs the command as a user does (``huiqi``: its ``main()``, in this process). Faults the test cannot
cause for real (a full disk, a read-only folder: the tests run as root, who may write anywhere) are injected into
polars's writer or the database driver for that one command (``faults``), and undone after it.
"""

from __future__ import annotations

import errno
import hashlib
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import create_engine, select, text

import matcher.db.bulk as bulk
from matcher.db import make_engine
from matcher.db.models import runs
from tests.api.test_cli import huiqi as run_huiqi


def full_disk(monkeypatch: pytest.MonkeyPatch, *, csv: bool = True) -> None:
    def _full(self, file, *args, **kwargs):
        with open(file, "wb") as f:
            f.write(b"PAR1 the first half of a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", _full)
    if csv:
        monkeypatch.setattr(pl.DataFrame, "write_csv", _full)


def read_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def _read_only(self, file, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(file))

    monkeypatch.setattr(pl.DataFrame, "write_parquet", _read_only)


def connection_lost(url: str) -> Callable[[pytest.MonkeyPatch], None]:
    """The run's own database connection is terminated from a second connection while it writes decisions."""

    def inject(monkeypatch: pytest.MonkeyPatch) -> None:
        write, killer, done = bulk._WRITERS["postgresql"], create_engine(url), []

        def _write_then_lose_the_connection(connection, table, rows):
            if table.name == "decisions" and not done:
                done.append(True)
                pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                with killer.begin() as other:
                    other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            return write(connection, table, rows)

        monkeypatch.setitem(bulk._WRITERS, "postgresql", _write_then_lose_the_connection)

    return inject


def huiqi(*args: str, faults: Callable[[pytest.MonkeyPatch], None] | None = None, env: dict | None = None):
    """``huiqi ARGS`` with ``faults`` injected for this command only."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        if faults is not None:
            faults(monkeypatch)
        return run_huiqi(*args, env=env)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".partial"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("registry") / "registry"
    done = huiqi("generate", "--enterprises", "300", "--seed", "4", "--dirty", "0.02", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def _assert_told(done, *phrases: str) -> None:
    assert done.returncode != 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for phrase in phrases:
        assert phrase in done.stderr, (phrase, done.stderr)


def test_cli_profiles_when_the_disk_fills_part_way_keeps_the_previous_profiles_readable(registry, tmp_path):
    out = tmp_path / "profiles.parquet"
    args = ("profiles", "--registry", str(registry), "--as-of", "2025-06-30", "--out", str(out))
    assert huiqi(*args).returncode == 0
    before = pl.read_parquet(out)
    failed = huiqi(*args, "--quarantine", str(tmp_path / "q2"), faults=lambda m: full_disk(m, csv=False))
    _assert_told(failed, f"cannot write {out}", "No space left on device", "Free space")
    assert pl.read_parquet(out).equals(before)
    assert _leftovers(tmp_path) == []


def test_cli_check_when_the_disk_fills_part_way_keeps_the_previous_quarantine_and_no_partial_file(registry, tmp_path):
    quarantine = tmp_path / "quarantine"
    args = ("check", "--registry", str(registry), "--quarantine", str(quarantine))
    assert huiqi(*args).returncode == 0
    before = {p.name: _digest(p) for p in quarantine.iterdir()}
    failed = huiqi(*args, faults=full_disk)
    _assert_told(failed, "cannot write", str(quarantine), "No space left on device", "Free space")
    assert {p.name: _digest(p) for p in quarantine.iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_cli_profiles_when_the_folder_is_read_only_says_what_could_not_be_written(registry, tmp_path):
    out = tmp_path / "profiles.parquet"
    failed = huiqi(
        "profiles", "--registry", str(registry), "--as-of", "2025-06-30", "--out", str(out), faults=read_only
    )
    _assert_told(failed, f"cannot write {out}", "Read-only file system", "another --out")
    assert not out.exists() and _leftovers(tmp_path) == []


def test_cli_generate_when_out_is_under_a_regular_file_says_so_without_traceback(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    failed = huiqi("generate", "--enterprises", "20", "--out", str(blocker / "registry"))
    _assert_told(failed, f"cannot write {blocker / 'registry'}", "Not a directory", "another --out")
    assert blocker.read_text() == "not a folder"


def test_cli_profiles_when_out_is_under_a_regular_file_says_so_without_traceback(registry, tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    out = blocker / "profiles.parquet"
    failed = huiqi(
        "profiles", "--registry", str(registry), "--as-of", "2025-06-30", "--out", str(out), "--quarantine",
        str(tmp_path / "q"),
    )  # fmt: skip
    _assert_told(failed, f"cannot write {blocker}", "File exists", "A file stands where the folder should be")


def test_cli_db_upgrade_when_the_data_folder_cannot_be_created_says_where_and_why(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    failed = huiqi("db", "upgrade", env={"HUIQI_DATA_DIR": str(blocker / "data"), "HUIQI_DATABASE_URL": ""})
    _assert_told(failed, str(blocker / "data"), "Not a directory", "HUIQI_DATA_DIR")


def test_cli_db_upgrade_when_the_database_is_read_only_says_so_without_traceback(tmp_path):
    database = tmp_path / "huiqi.db"
    database.touch()  # an empty file is an empty SQLite database; opened read-only, nothing can be written
    url = f"sqlite:///file:{database}?mode=ro&uri=true"
    failed = huiqi("db", "upgrade", env={"HUIQI_DATABASE_URL": url})
    _assert_told(failed, "cannot write the database", "readonly database", "writable", "HUIQI_DATABASE_URL")


def test_cli_run_when_the_database_connection_drops_mid_run_says_so_and_a_rerun_completes(registry, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a dropped connection is a PostgreSQL failure (set HUIQI_TEST_DATABASE_URL)")
    env = {"HUIQI_DATABASE_URL": database_url}
    args = ("run", "--registry", str(registry), "--as-of", "2025-06-30")
    lost = huiqi(*args, faults=connection_lost(database_url), env=env)
    _assert_told(
        lost,
        "the database connection was lost during 'writing decisions'",
        "Nothing written so far is lost",
        f"huiqi run --registry {registry} --as-of 2025-06-30",
    )
    again = huiqi(*args, env=env)
    assert again.returncode == 0, again.stderr
    assert "completed" in again.stderr and "already completed" not in again.stderr
    engine = make_engine(database_url)
    with engine.connect() as connection:
        assert connection.execute(select(runs.c.status)).scalars().all() == ["completed"]
    engine.dispose()
