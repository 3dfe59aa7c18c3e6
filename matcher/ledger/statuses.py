"""Every status word of a benefit's life, one ``StrEnum`` per family, spelled here only.

DecisionStatus   what a run decided for an enterprise and policy
BenefitStatus    where the benefit stands in the ledger
JournalEntry     what happened to a benefit (one journal row each)
DeliveryStatus   where a notice stands in the outbox
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "DELIVERY_BY_MODE",
    "ELIGIBLE_DECISIONS",
    "PAYABLE_DECISIONS",
    "BenefitStatus",
    "DecisionStatus",
    "DeliveryStatus",
    "JournalEntry",
]


class DecisionStatus(StrEnum):
    GRANTED = "granted"  # eligible, paid without any step by the enterprise
    AWAITING_CONFIRMATION = "awaiting_confirmation"  # eligible, enters the ledger when the enterprise confirms
    RECOMMENDED = "recommended"  # eligible, the enterprise applies elsewhere
    NEEDS_DATA = "needs_data"  # a fact the rules need is unknown: asked for, never taken as false
    NEAR_MISS = "near_miss"  # not eligible, but eligible with thresholds eased


# Policy delivery mode → the status of an eligible decision.
DELIVERY_BY_MODE = {
    "automatic": DecisionStatus.GRANTED,
    "confirm": DecisionStatus.AWAITING_CONFIRMATION,
    "notify": DecisionStatus.RECOMMENDED,
}
# Decisions with an amount owed (now, or once confirmed): what budgets count.
PAYABLE_DECISIONS = (DecisionStatus.GRANTED, DecisionStatus.AWAITING_CONFIRMATION)
# Decisions where the rules say yes: paid automatically, on confirmation, or recommended for applying elsewhere.
ELIGIBLE_DECISIONS = (*PAYABLE_DECISIONS, DecisionStatus.RECOMMENDED)


class BenefitStatus(StrEnum):
    GRANTED = "granted"  # owed; the enterprise may still object
    HELD = "held"  # an objection is open: nothing moves until an officer reviews it
    PAYABLE = "payable"  # may enter a payment batch
    IN_BATCH = "in_batch"  # in an open payment batch (at most one)
    PAID = "paid"  # the bank confirmed the transfer
    PAYMENT_FAILED = "payment_failed"  # the bank refused it: waits for the enterprise's corrected account
    CANCELLED = "cancelled"  # declined, objection upheld, or recovered: nothing owed


class JournalEntry(StrEnum):
    GRANTED = "granted"  # a run granted it (automatic delivery)
    CONFIRMED = "confirmed"  # the enterprise confirmed it
    HELD = "held"  # an objection holds it
    RELEASED = "released"  # the objection was dismissed
    CANCELLED = "cancelled"  # declined by the enterprise, objection upheld, or cancelled by an officer
    ADJUSTED = "adjusted"  # the amount changed before payment (a later run, an officer's correction)
    REGRANTED = "regranted"  # an officer restored a cancelled benefit
    MADE_PAYABLE = "made_payable"  # nothing holds it any more: it may be paid
    BATCHED = "batched"  # put in a payment batch
    UNBATCHED = "unbatched"  # its batch was withdrawn before export
    PAID = "paid"  # the bank paid it
    PAYMENT_FAILED = "payment_failed"  # the bank refused the transfer
    ACCOUNT_CORRECTED = "account_corrected"  # the enterprise gave a new account: payable again
    TOP_UP = "top_up"  # paid, then found to be owed more: the difference is payable
    RECOVERED = "recovered"  # paid but improper: the amount was recovered


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"  # every attempt failed
    HELD = "held"  # an objection holds the benefit's notices
    WITHDRAWN = "withdrawn"  # superseded or moot before it was sent: never posted
