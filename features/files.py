"""Files huiqi writes for people: whole or not at all, and safe to open in a spreadsheet.

Every such file is written to a temporary file in its own folder and renamed over the target
(``os.replace``, atomic on one file system): a reader sees the previous file or the new one, never
half of one, and a full disk or a folder that cannot be written leaves the previous file as it was.
A failure of the operating system becomes ``FileWriteError``: the path, the system's reason and
what to do about it.

CSV for people neutralises spreadsheet formulas (OWASP, "CSV Injection"): a text cell starting with
``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with a single quote, so Excel or WPS
shows it as text instead of running it. Data files (Parquet) keep every value exact.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from features.errors import FileWriteError

__all__ = [
    "FORMULA_PREFIXES",
    "atomic_write",
    "make_folder",
    "spreadsheet_safe",
    "write_csv_for_people",
    "write_error",
    "write_file",
]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Leading blanks (\s is Unicode: no-break and ideographic spaces too) are skipped by spreadsheets before
# they look for a formula, so " =1+1" is as live as "=1+1".
_FORMULA = r"^\s*[" + "".join({"-": r"\-", "\t": r"\t", "\r": r"\r"}.get(c, c) for c in FORMULA_PREFIXES) + "]"
# A plain number such as -5 or +1.25 starts with a sign but can only ever be that number: left as
# is, so a quarantined negative amount still reads as the amount.
_NUMBER = r"^[+-]?\d+(\.\d+)?$"
_OS_ERROR = re.compile(r"os error (\d+)")  # how polars (Rust) reports the system's error number

_FIXES = {
    errno.ENOSPC: "Free space on that disk, or write to another disk (another --out or --quarantine)",
    errno.EDQUOT: "Free space within your disk quota, or write elsewhere (another --out or --quarantine)",
    errno.EROFS: "That file system is read-only: write elsewhere (another --out or --quarantine)",
    errno.EACCES: "Fix the folder's permissions so you can write there, or write elsewhere (another --out)",
    errno.EPERM: "Fix the folder's permissions so you can write there, or write elsewhere (another --out)",
    errno.ENOTDIR: "Part of that path is a file, not a folder: choose another place to write (another --out)",
    errno.EEXIST: "A file stands where the folder should be: choose another place to write (another --out)",
    errno.EISDIR: "That path is a folder: give a file name (e.g. --out data/profiles.parquet)",
}
_FIX = "Check the path, or write elsewhere (another --out or --quarantine)"


def _os_reason(exc: BaseException) -> tuple[int | None, str] | None:
    """The system's error number and reason when ``exc`` is an operating-system failure, else None."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno, exc.strerror or str(exc)
    if isinstance(exc, OSError | pl.exceptions.PolarsError):
        found = _OS_ERROR.search(str(exc))
        if found:
            number = int(found.group(1))
            return number, os.strerror(number)
        if isinstance(exc, OSError):
            return None, str(exc)
    return None


def write_error(path: Path, exc: BaseException) -> FileWriteError | None:
    """``exc`` as a ``FileWriteError`` on ``path`` when it is an operating-system failure."""
    reason = _os_reason(exc)
    if reason is None:
        return None
    number, text = reason
    return FileWriteError(path, text, _FIXES.get(number, _FIX) if number is not None else _FIX)


def make_folder(folder: Path) -> Path:
    """Create ``folder`` and its parents if needed; a failure is a ``FileWriteError`` naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(folder, exc) or FileWriteError(folder, str(exc), _FIX) from exc
    return folder


@contextmanager
def atomic_write(path: Path) -> Iterator[Path]:
    """Yields a temporary path beside ``path`` to write to; on success it replaces ``path`` in one step.

    On any failure the temporary file is removed and ``path`` is untouched; a failure of the
    operating system (full disk, read-only folder, permissions) is raised as ``FileWriteError``.
    """
    path = Path(path)
    make_folder(path.parent)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")  # hidden; unique per writer
    try:
        yield partial
        with partial.open("rb+") as written:
            os.fsync(written.fileno())  # a full disk may only show when the data reaches it
        os.replace(partial, path)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        error = write_error(path, exc)
        if error is not None:
            raise error from exc
        raise


def write_file(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(temporary_path)``, then the result renamed onto ``path`` (see ``atomic_write``)."""
    with atomic_write(path) as partial:
        write(partial)
    return Path(path)


def spreadsheet_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula prefixed with ``'``."""
    text = pl.col(pl.String)
    risky = text.str.contains(_FORMULA) & ~text.str.contains(_NUMBER)
    return frame.with_columns(pl.when(risky).then(pl.lit("'") + text).otherwise(text).name.keep())


def write_csv_for_people(frame: pl.DataFrame, path: Path) -> Path:
    """A CSV meant to be opened in Excel or WPS: formulas neutralised, UTF-8 with a byte-order mark, atomic.

    The byte-order mark matters: Excel reads a CSV without one in the system code page (GBK on
    Chinese Windows) and garbles Chinese text.
    """
    safe = spreadsheet_safe(frame)
    return write_file(path, lambda partial: safe.write_csv(partial, include_bom=True))
