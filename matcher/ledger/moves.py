"""The benefit's state machine: which journal entry may leave which status, and what it does to the amounts.

```
                 granted (run) / confirmed (enterprise)
                                  │
                                  ▼
   regranted ───────────────► GRANTED ◄──── released ─────┐
      ▲                        │   │  └──── held ───► HELD ─┘
      │                        │   made_payable          │
      │                        ▼                          │
  CANCELLED ◄── cancelled ── PAYABLE ◄── unbatched ──┐    │
      ▲   ▲                    │                     │    │
      │   └──── cancelled ─────┼──── (from GRANTED, HELD, PAYABLE, PAYMENT_FAILED)
      │                        ▼ batched             │
      │                     IN_BATCH ────────────────┘
      │                     │      │
      │                paid │      │ payment_failed
      │                     ▼      ▼
      └── recovered ──── PAID    PAYMENT_FAILED ── account_corrected ──► PAYABLE
                          │
                          └── top_up ──► PAYABLE (the difference is owed)
```

``adjusted`` changes the amount owed and keeps the status (granted, held,
payable or payment failed: never once money is on its way or paid).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from matcher.ledger.statuses import BenefitStatus as S
from matcher.ledger.statuses import JournalEntry as E

__all__ = ["MOVES", "Move"]


@dataclass(frozen=True)
class Move:
    sources: frozenset[S | None]  # None: no benefit yet (the entry creates it)
    target: S | None  # None: the status stays
    owed: Literal["given", "keep", "zero", "add"]  # the amount owed becomes the given one, stays, 0, or grows by it
    pays: bool = False  # money moves: the outstanding amount is paid (or, with owed="zero", recovered)


_UNPAID = frozenset({S.GRANTED, S.HELD, S.PAYABLE, S.PAYMENT_FAILED})

MOVES: dict[E, Move] = {
    E.GRANTED: Move(frozenset({None}), S.GRANTED, "given"),
    E.CONFIRMED: Move(frozenset({None}), S.GRANTED, "given"),
    E.HELD: Move(frozenset({S.GRANTED, S.PAYABLE}), S.HELD, "keep"),
    E.RELEASED: Move(frozenset({S.HELD}), S.GRANTED, "keep"),
    E.CANCELLED: Move(_UNPAID, S.CANCELLED, "zero"),
    E.ADJUSTED: Move(_UNPAID, None, "given"),
    E.REGRANTED: Move(frozenset({S.CANCELLED}), S.GRANTED, "given"),
    E.MADE_PAYABLE: Move(frozenset({S.GRANTED}), S.PAYABLE, "keep"),
    E.BATCHED: Move(frozenset({S.PAYABLE}), S.IN_BATCH, "keep"),
    E.UNBATCHED: Move(frozenset({S.IN_BATCH}), S.PAYABLE, "keep"),
    E.PAID: Move(frozenset({S.IN_BATCH}), S.PAID, "keep", pays=True),
    E.PAYMENT_FAILED: Move(frozenset({S.IN_BATCH}), S.PAYMENT_FAILED, "keep"),
    E.ACCOUNT_CORRECTED: Move(frozenset({S.PAYMENT_FAILED}), S.PAYABLE, "keep"),
    E.TOP_UP: Move(frozenset({S.PAID}), S.PAYABLE, "add"),
    E.RECOVERED: Move(frozenset({S.PAID}), S.CANCELLED, "zero", pays=True),
}
