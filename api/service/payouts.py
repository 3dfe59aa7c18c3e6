"""Payouts as officers and enterprises drive them, over HTTP and at the command line: each step audited.

The domain is ``matcher.payouts``; this module adds who acts (the maker-checker compares the officers'
names: the holder of a token, or the ``--by`` name at the command line), the published catalogue's cash
terms, the registry's accounts and the registered names from the latest profiles.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Engine

from api.service.audit import audit
from api.service.published import PublishedCatalogue
from api.service.tokens import Principal
from api.settings import Settings
from matcher import payouts
from matcher.payouts.publicity import publicity_list

__all__ = [
    "approve_batch",
    "correct_account",
    "export_batch",
    "prepare_batch",
    "publicity",
    "reconcile_return",
    "registered_names",
    "withdraw_batch",
]


def _terms(engine: Engine, catalogue: PublishedCatalogue | None) -> dict[tuple[str, int], int]:
    return payouts.cash_terms((catalogue or PublishedCatalogue()).load(engine).policies)


def registered_names(profiles: Path, usccs: list[str] | None = None) -> dict[str, str]:
    """uscc → registered name, from the latest profiles (empty when none were built yet)."""
    if not Path(profiles).exists():
        return {}
    frame = pl.scan_parquet(profiles).select("uscc", "name")
    if usccs is not None:
        frame = frame.filter(pl.col("uscc").is_in(usccs))
    return dict(frame.collect().iter_rows())


def prepare_batch(
    engine: Engine,
    settings: Settings,
    principal: Principal,
    as_of: date,
    *,
    catalogue: PublishedCatalogue | None = None,
    registry: Path | None = None,
    progress=None,
) -> payouts.PrepareSummary:
    accounts = payouts.registry_accounts(registry or settings.registry_dir)
    summary = payouts.prepare(
        engine, as_of, _terms(engine, catalogue), accounts, actor=principal.actor, person=principal.name,
        progress=progress,
    )  # fmt: skip
    with engine.begin() as connection:
        detail = {k: v for k, v in summary.as_dict().items() if k != "without_account_shown"}
        audit(connection, principal, "payouts.prepare", f"batch:{summary.batch_id}", detail)
    return summary


def approve_batch(engine: Engine, principal: Principal, batch_id: int) -> Any:
    with engine.begin() as connection:
        row = payouts.approve(connection, batch_id, actor=principal.actor, person=principal.name)
        audit(connection, principal, "payouts.approve", f"batch:{batch_id}", {"total_fen": row.total_fen})
    return row


def withdraw_batch(engine: Engine, principal: Principal, batch_id: int, reason: str) -> Any:
    with engine.begin() as connection:
        row = payouts.withdraw(connection, batch_id, actor=principal.actor, reason=reason)
        audit(connection, principal, "payouts.withdraw", f"batch:{batch_id}", {"reason": reason})
    return row


def export_batch(engine: Engine, principal: Principal, batch_id: int, out: Path, progress=None) -> payouts.Export:
    done = payouts.export(engine, batch_id, out, actor=principal.actor, progress=progress)
    with engine.begin() as connection:
        detail = {"file": str(out), "sha256": done.sha256, "again": done.again}
        audit(connection, principal, "payouts.export", f"batch:{batch_id}", detail)
    return done


def reconcile_return(
    engine: Engine, principal: Principal, data: bytes, source: str, progress=None
) -> payouts.Reconciliation:
    returned = payouts.parse_return(data, source)
    done = payouts.reconcile(engine, returned, actor=principal.actor, source=source, progress=progress)
    with engine.begin() as connection:
        detail = {"file": source, "sha256": returned.sha256, "paid": done.paid, "failed": done.failed,
                  "already": done.already}  # fmt: skip
        audit(connection, principal, "payouts.reconcile", f"batch:{done.batch_id}", detail)
    return done


def correct_account(
    engine: Engine, settings: Settings, principal: Principal, uscc: str, account: payouts.Account
) -> dict[str, Any]:
    name = registered_names(settings.profiles_path, [uscc]).get(uscc)
    with engine.begin() as connection:
        out = payouts.correct_account(
            connection, uscc, account, registered_name=name, actor=principal.actor, at=datetime.now(UTC)
        )
        audit(connection, principal, "account.correct", f"enterprise:{uscc}",
              {"bank_code": out["bank_code"], "payable_again": out["payable_again"]})  # fmt: skip
    return out


def publicity(
    engine: Engine,
    settings: Settings,
    as_of: date,
    *,
    policy_id: str | None = None,
    period_key: str | None = None,
    catalogue: PublishedCatalogue | None = None,
) -> list[dict[str, Any]]:
    terms = _terms(engine, catalogue)
    with engine.connect() as connection:
        rows = publicity_list(connection, terms, as_of, {}, policy_id=policy_id, period_key=period_key)
    names = registered_names(settings.profiles_path, sorted({r["uscc"] for r in rows}))
    return [r | {"name": names.get(r["uscc"], "")} for r in rows]
