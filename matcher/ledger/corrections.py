"""Corrections: an officer changes a benefit by hand, always with a reason, always through the journal.

| action   | journal entry | from                                        | amount              |
|----------|---------------|---------------------------------------------|---------------------|
| regrant  | regranted     | cancelled (a period cancelled by mistake)   | the amount to owe   |
| adjust   | adjusted      | granted, held, payable, payment failed      | the new amount owed |
| cancel   | cancelled     | granted, held, payable, payment failed      | —                   |
| top_up   | top_up        | paid (found to be owed more)                | the increase        |
| recover  | recovered     | paid, but improper (e.g. listed as seriously dishonest before the grant) | — (paid back) |

A benefit on its way to the bank (in a batch) cannot be corrected until the
batch is reconciled or withdrawn. Whatever the action, the ledger's balances
stay the sums of the journal, and the entry names the officer and the reason.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import Connection

from matcher.errors import LedgerError
from matcher.ledger.journal import BenefitKey, Change, move
from matcher.ledger.moves import MOVES
from matcher.ledger.statuses import JournalEntry

__all__ = ["ACTIONS", "MIN_REASON", "Action", "correct"]

Action = Literal["regrant", "adjust", "cancel", "top_up", "recover"]
ACTIONS: dict[str, JournalEntry] = {
    "regrant": JournalEntry.REGRANTED,
    "adjust": JournalEntry.ADJUSTED,
    "cancel": JournalEntry.CANCELLED,
    "top_up": JournalEntry.TOP_UP,
    "recover": JournalEntry.RECOVERED,
}
MIN_REASON = 5  # characters: a correction an auditor cannot follow is refused


def correct(
    connection: Connection,
    key: BenefitKey,
    action: Action,
    *,
    actor: str,
    reason: str,
    ref: str,
    amount_fen: int | None = None,
) -> Change:
    """Apply the officer's ``action`` to ``key``; LedgerError says what is missing or why the state refuses it."""
    entry = ACTIONS[action]
    if len(reason.strip()) < MIN_REASON:
        raise LedgerError(
            f"a correction needs its reason (at least {MIN_REASON} characters), found {reason.strip()!r}: say why,"
            " e.g. the audit finding or the objection it follows",
            field="reason",
        )
    takes_amount = MOVES[entry].owed in ("given", "add")
    if takes_amount and (amount_fen is None or (amount_fen <= 0 and action != "adjust")):
        raise LedgerError(
            f"'{action}' needs the amount ({'the increase' if action == 'top_up' else 'the amount owed'}) in yuan,"
            f" more than 0; found {amount_fen!r}",
            field="amount_yuan",
        )
    if not takes_amount and amount_fen is not None:
        raise LedgerError(
            f"'{action}' takes no amount: it sets the amount itself; found {amount_fen}", field="amount_yuan"
        )
    return move(connection, key, entry, actor=actor, reason=reason.strip(), ref=ref, amount_fen=amount_fen)
