"""The account each enterprise is paid into: the registry's on file, unless the enterprise gave another.

- ``registry_accounts``: the ``accounts`` extract of a registry, validated like every table (bad rows
  quarantined, unknown enterprises refused);
- ``accounts_in_force``: the account to pay into on a day, per enterprise: the latest one the enterprise
  gave (``account_corrections``) wins over the registry's latest ``valid_from`` on or before that day;
- ``correct_account``: an enterprise gives its account (after a returned transfer, or before one); each of
  its benefits waiting in ``payment_failed`` is payable again (``account_corrected``): that is the
  confirmation a failed transfer falls back to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, insert, select

from features.registries.read import scan_registry
from features.registries.validate import ENTERPRISES, check_table
from matcher.db.models import account_corrections, benefits
from matcher.ledger import BenefitKey, BenefitStatus, JournalEntry, move
from matcher.payouts.errors import AccountRefused

__all__ = ["ACCOUNT_COLUMNS", "Account", "accounts_in_force", "correct_account", "registry_accounts"]

ACCOUNT_COLUMNS = ["uscc", "bank_code", "account_no", "account_name", "account_source"]
_BANK_CODE = re.compile(r"^[0-9]{12}$")
_ACCOUNT_NO = re.compile(r"^[0-9A-Za-z-]{6,40}$")


@dataclass(frozen=True)
class Account:
    bank_code: str
    account_no: str
    account_name: str


def registry_accounts(directory: Path, *, checked_on: date | None = None) -> pl.DataFrame:
    """The clean rows of the registry's ``accounts`` table (uscc, bank_code, account_no, account_name,
    valid_from); rows failing the contract are left out, as a run leaves them out."""
    scans = scan_registry(Path(directory))
    business = check_table(scans[ENTERPRISES], enterprises=None, checked_on=checked_on)
    return check_table(scans["accounts"], enterprises=business, checked_on=checked_on).clean


def accounts_in_force(connection: Connection, registry: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """One account per enterprise that has one on ``as_of``: ``ACCOUNT_COLUMNS``; ``account_source`` is
    ``registry`` or ``correction:<id>``."""
    on_file = (
        registry.filter(pl.col("valid_from") <= as_of)
        .sort("valid_from")
        .group_by("uscc")
        .last()
        .select("uscc", "bank_code", "account_no", "account_name", account_source=pl.lit("registry"))
    )
    rows = connection.execute(
        select(
            account_corrections.c.id,
            account_corrections.c.uscc,
            account_corrections.c.bank_code,
            account_corrections.c.account_no,
            account_corrections.c.account_name,
        ).order_by(account_corrections.c.id)
    ).all()
    given = pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"id": pl.Int64, "uscc": pl.String, "bank_code": pl.String, "account_no": pl.String,
                "account_name": pl.String},
        orient="row",
    )  # fmt: skip
    latest = (
        given.group_by("uscc")
        .last()
        .select(
            "uscc",
            "bank_code",
            "account_no",
            "account_name",
            account_source=pl.format("correction:{}", pl.col("id")),
        )
    )
    return pl.concat([latest, on_file.join(latest, on="uscc", how="anti")]).select(ACCOUNT_COLUMNS)


def check_account(account: Account, registered_name: str | None, uscc: str) -> Account:
    """The account, cleaned of surrounding blanks, or ``AccountRefused`` naming the field."""
    bank_code, account_no, name = account.bank_code.strip(), account.account_no.strip(), account.account_name.strip()
    if not _BANK_CODE.match(bank_code):
        raise AccountRefused(
            f"bank_code: expected the 12-digit CNAPS bank code (支付系统行号) of the account's branch, found"
            f" {bank_code!r}; it is on the account opening certificate or the bank's website",
            f"开户行行号应为 12 位数字（支付系统行号），实际为 {bank_code!r}：可在开户许可证或开户银行处查询",
            field="bank_code",
        )
    if not _ACCOUNT_NO.match(account_no):
        raise AccountRefused(
            f"account_no: expected 6 to 40 digits or letters, found {account_no!r}",
            f"银行账号应为 6 到 40 位数字或字母，实际为 {account_no!r}",
            field="account_no",
        )
    if registered_name is None:
        raise AccountRefused(
            f"account_name: enterprise {uscc} has no registered name in the latest profiles, so the account name"
            " cannot be checked; ask the officers to build the profiles (huiqi run), then give the account again",
            "暂无该企业的登记名称，无法核对账户名称：请联系主管部门更新企业档案后重新提交",
            field="account_name",
        )
    if name != registered_name:
        raise AccountRefused(
            f"account_name: expected the registered name {registered_name!r}, found {name!r}; the bank returns a"
            " transfer whose account name differs from the payee's registered name (户名不符)",
            f"账户名称应与登记名称“{registered_name}”一致，实际为“{name}”：户名不符的转账会被银行退回",
            field="account_name",
        )
    return Account(bank_code, account_no, name)


def correct_account(
    connection: Connection, uscc: str, account: Account, *, registered_name: str | None, actor: str, at: datetime
) -> dict[str, Any]:
    """Record the account ``uscc`` gave and make its failed payments payable again; in the caller's transaction.
    Returns the correction's id and the benefits made payable again."""
    account = check_account(account, registered_name, uscc)
    correction_id = connection.execute(
        insert(account_corrections)
        .values(uscc=uscc, **account.__dict__, given_by=actor, given_at=at)
        .returning(account_corrections.c.id)
    ).scalar_one()
    failed = connection.execute(
        select(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key)
        .where(benefits.c.uscc == uscc, benefits.c.status == BenefitStatus.PAYMENT_FAILED)
        .order_by(benefits.c.id)
    ).all()
    payable_again = []
    for row in failed:
        key = BenefitKey.of(row)
        move(
            connection,
            key,
            JournalEntry.ACCOUNT_CORRECTED,
            actor=actor,
            reason=f"the enterprise gave its account (bank {account.bank_code}); paid in the next batch",
            ref=f"account:{correction_id}",
            at=at,
        )
        payable_again.append({"policy_id": key.policy_id, "period_key": key.period_key})
    return {"id": correction_id, "uscc": uscc, **account.__dict__, "given_at": at, "payable_again": payable_again}
