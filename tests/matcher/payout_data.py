"""Granted cash benefits for the payout tests, as a run leaves them, without the run: benefits and their journal
through the ledger's bulk path (``grant_decided``), each told by a notice with a deadline, and accounts on file."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl
from sqlalchemy import Engine

from matcher.db.bulk import insert_missing
from matcher.db.models import notices
from matcher.ledger import grant_decided
from matcher.payouts.export import read_items
from matcher.payouts.files import bank_return

__all__ = ["CASH", "NOT_CASH", "POLICIES", "RESPOND_DAYS", "TODAY", "Seeded", "accounts", "answer", "grant", "name"]
__all__ += ["seed", "uscc"]

TODAY = datetime.now(UTC).date()
RESPOND_DAYS = 2  # the notices' deadline to object or confirm: so many days after they are sent
CASH = {("cash-refund", 1): 0, ("cash-award", 1): 4}  # cash policy versions → publicity days (公示)
NOT_CASH = ("tax-relief", 1)  # granted like the others, never paid by transfer
POLICIES = [*CASH, NOT_CASH]


def uscc(i: int) -> str:
    return f"914403{i:011d}X"


def name(i: int) -> str:
    return f"测试企业{i}有限公司"


@dataclass(frozen=True)
class Seeded:
    terms: dict[tuple[str, int], int]  # what prepare is given: the cash policy versions
    accounts: pl.DataFrame  # the registry's accounts extract
    names: dict[str, str]  # uscc → registered name


def grant(
    engine: Engine,
    rows: pl.DataFrame,
    run_id: str,
    *,
    at: datetime,
    kind: str = "granted",
    respond_by: date | None = None,
) -> None:
    """``rows`` (uscc, policy_id, policy_version, period_key, amount_fen) decided by run ``run_id``: granted
    ones enter the ledger; each gets its ``kind`` notice (granted or awaiting_confirmation) with its deadline."""
    if kind == "granted":
        grant_decided(engine, rows, run_id, str(at.date()), at)
    told = rows.select(
        "uscc",
        "policy_id",
        "policy_version",
        "period_key",
        "amount_fen",
        kind=pl.lit(kind),
        run_id=pl.lit(run_id),
        respond_by=pl.lit(respond_by or at.date() + timedelta(days=RESPOND_DAYS)),
        delivery_status=pl.lit("pending"),
        attempts=pl.lit(0),
        created_at=pl.lit(at),
        topic=pl.col("amount_fen").cast(pl.String),
    )
    insert_missing(engine, notices, told)


def seed(engine: Engine, enterprises: int, *, rng_seed: int = 0, without_account: int = 1) -> Seeded:
    """Every enterprise granted every policy of period 2025 (random amounts); the last ``without_account``
    enterprises have no account on file."""
    rng = np.random.default_rng(rng_seed)
    keys = [(uscc(i), p, v) for i in range(enterprises) for p, v in POLICIES]
    rows = pl.DataFrame(
        {
            "uscc": [k[0] for k in keys],
            "policy_id": [k[1] for k in keys],
            "policy_version": [k[2] for k in keys],
            "period_key": ["2025"] * len(keys),
            "amount_fen": rng.integers(100_00, 50_000_00, len(keys)),
        }
    )
    grant(engine, rows, "seed", at=datetime.now(UTC))
    return Seeded(dict(CASH), accounts(enterprises, without_account), {uscc(i): name(i) for i in range(enterprises)})


def accounts(enterprises: int, without_account: int = 1) -> pl.DataFrame:
    """One basic account per enterprise, named as registered, but for the last ``without_account``."""
    ids = range(enterprises - without_account)
    return pl.DataFrame(
        {
            "uscc": [uscc(i) for i in ids],
            "bank_code": [f"102{i:09d}" for i in ids],
            "account_no": [f"6222{i:015d}" for i in ids],
            "account_name": [name(i) for i in ids],
            "valid_from": [date(2020, 1, 1)] * len(ids),
        },
        schema={"uscc": pl.String, "bank_code": pl.String, "account_no": pl.String, "account_name": pl.String,
                "valid_from": pl.Date},
    )  # fmt: skip


def answer(engine: Engine, batch_id: int, outcomes: dict[int, str] | None = None) -> bytes:
    """The bank's return file for ``batch_id``, built from its items: line → ``paid`` or a reason code
    (a failure); a line not named is paid."""
    with engine.connect() as connection:
        items = read_items(connection, batch_id)
    told = pl.DataFrame(
        {"line": list((outcomes or {}).keys()), "outcome": list((outcomes or {}).values())},
        schema={"line": pl.Int64, "outcome": pl.String},
    )
    lines = items.join(told, on="line", how="left").with_columns(pl.col("outcome").fill_null("paid"))
    failed = pl.col("outcome") != "paid"
    return bank_return(
        batch_id,
        lines.select(
            "reference",
            "amount_fen",
            status=pl.when(failed).then(pl.lit("failed")).otherwise(pl.lit("paid")),
            reason_code=pl.when(failed).then(pl.col("outcome")),
        ),
    )
