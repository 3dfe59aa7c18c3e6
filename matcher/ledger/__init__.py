"""The benefit ledger: the one place a benefit changes, each change a journal entry (who, when, why, amounts).

- ``statuses``: every status word (decision, benefit, journal entry, delivery);
- ``moves``: the state machine, which entry may leave which status;
- ``journal``: ``move`` applies one entry to one benefit, inside the caller's transaction;
- ``grants``: a run's grants in bulk, exactly once;
- ``bulk``: one entry applied to every benefit a condition selects (payment batches), exactly once, and
  new amounts set for many benefits at once (a later run's review).

Nothing else writes the ``benefits`` table (a test reads the code for it).
"""

from matcher.ledger.bulk import move_all
from matcher.ledger.grants import grant_decided
from matcher.ledger.journal import BenefitKey, Change, current, entries, move
from matcher.ledger.statuses import BenefitStatus, DecisionStatus, DeliveryStatus, JournalEntry

__all__ = [
    "BenefitKey",
    "BenefitStatus",
    "Change",
    "DecisionStatus",
    "DeliveryStatus",
    "JournalEntry",
    "current",
    "entries",
    "grant_decided",
    "move",
    "move_all",
]
