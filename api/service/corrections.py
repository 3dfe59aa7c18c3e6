"""Officers change the ledger: a correction, or a run's proposal accepted or dismissed.

Each change is one transaction: the ledger's journal entry (who, why), the
notice telling the enterprise, and the audit entry. A run's proposal is
decided once: a second decision is a 409.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from api.service.audit import audit
from api.service.problems import Conflict, NotFound
from api.service.tokens import Principal
from matcher.db.models import ledger_proposals, notices
from matcher.delivery import resend_withdrawn
from matcher.ledger import BenefitKey, BenefitStatus, Change, current
from matcher.ledger.corrections import Action, correct
from matcher.notices import change_notice

__all__ = ["apply_correction", "benefit_or_404", "decide_proposal", "list_proposals"]


def benefit_or_404(connection: Connection, key: BenefitKey) -> Any:
    """The benefit's ledger row; 404 when the ledger holds nothing for ``key``."""
    row = current(connection, key)
    if row is None:
        raise NotFound(f"the ledger holds nothing for {key}", detail_zh="账本中无该待遇记录")
    return row


def apply_correction(
    connection: Connection,
    principal: Principal,
    key: BenefitKey,
    action: Action,
    *,
    reason: str,
    amount_fen: int | None = None,
) -> Change:
    """Correct ``key`` and tell the enterprise; 404 when the ledger holds nothing for it."""
    benefit_or_404(connection, key)
    ref = f"correction:{uuid.uuid4().hex[:24]}"
    change = correct(connection, key, action, actor=principal.actor, reason=reason, ref=ref, amount_fen=amount_fen)
    # The enterprise is told, in a notice of its own, whatever the officer changed.
    kind = "revoked" if change.status_after == BenefitStatus.CANCELLED else "corrected"
    connection.execute(insert(notices).values(**change_notice(current(connection, key), kind, ref, datetime.now(UTC))))
    amounts = {"before_fen": change.amount_before_fen, "after_fen": change.amount_after_fen}
    audit(connection, principal, f"benefit.{action}", f"benefit:{key}", {"reason": reason} | amounts)
    return change


def list_proposals(connection: Connection, status: str, limit: int, offset: int) -> list[dict[str, Any]]:
    query = select(ledger_proposals)
    if status != "all":
        query = query.where(ledger_proposals.c.status == status)
    query = query.order_by(ledger_proposals.c.id if status == "open" else ledger_proposals.c.id.desc())
    return [dict(r) for r in connection.execute(query.limit(limit).offset(offset)).mappings()]


def decide_proposal(
    connection: Connection, principal: Principal, proposal_id: int, accept: bool, note: str
) -> dict[str, Any]:
    """Accept (the correction is made, with the run's finding and the officer's note as its reason) or dismiss."""
    row = connection.execute(select(ledger_proposals).where(ledger_proposals.c.id == proposal_id)).first()
    if row is None:
        raise NotFound(f"no ledger proposal {proposal_id}", detail_zh="未找到该处理建议")
    outcome = "accepted" if accept else "dismissed"
    decided = connection.execute(
        update(ledger_proposals)
        .where(ledger_proposals.c.id == proposal_id, ledger_proposals.c.status == "open")
        .values(status=outcome, decided_by=principal.actor, decided_at=datetime.now(UTC), note=note)
    ).rowcount
    if decided != 1:  # decided meanwhile, or before: the conditional update is the check
        raise Conflict(
            f"ledger proposal {proposal_id} was already {row.status}; nothing changed", detail_zh="该处理建议已处理"
        )
    if accept:
        apply_correction(
            connection,
            principal,
            BenefitKey.of(row),
            row.action,
            reason=f"{row.reason} (run {row.run_id[:8]}); {note}",
            amount_fen=row.amount_fen,
        )
    else:
        # The proposal had the benefit's grant notice withdrawn as no longer matched: it is due again now.
        resent = resend_withdrawn(connection, row.uscc, row.policy_id, row.period_key, datetime.now(UTC))
        audit(connection, principal, "proposal.dismissed", f"proposal:{proposal_id}", {"note": note, "resent": resent})
    return dict(
        connection.execute(select(ledger_proposals).where(ledger_proposals.c.id == proposal_id)).mappings().one()
    )
