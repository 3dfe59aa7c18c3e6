"""Payouts: payable cash benefits into payment batches, to the bank and back (docs/payouts.md).

- ``terms``: which policy versions are paid in cash, and their publicity (公示) days;
- ``accounts``: the account each enterprise is paid into, and the accounts enterprises correct;
- ``batches``: prepare (make payable, batch), approve (maker-checker), withdraw;
- ``files``: the payment file and the return file, written and read;
- ``export``: the payment file of an approved batch; ``reconcile``: the bank's answer into the ledger;
- ``publicity``: the granted cash benefits being published;
- ``chunks``: a step's chunks, one transaction each (two at once on PostgreSQL), and frames read by ``COPY``.

Every change of a benefit goes through ``matcher.ledger`` (set-based: ``move_all``).
"""

from matcher.payouts.accounts import Account, accounts_in_force, correct_account, registry_accounts
from matcher.payouts.batches import PrepareSummary, approve, get_batch, list_batches, prepare, withdraw
from matcher.payouts.errors import AccountRefused, BatchRefused, PayoutError, ReturnFileRefused
from matcher.payouts.export import Export, export
from matcher.payouts.files import REASONS, bank_return, parse_return, payment_file, yuan
from matcher.payouts.reconcile import Reconciliation, reconcile, reconcile_file
from matcher.payouts.terms import cash_terms

__all__ = [
    "REASONS",
    "Account",
    "AccountRefused",
    "BatchRefused",
    "Export",
    "PayoutError",
    "PrepareSummary",
    "Reconciliation",
    "ReturnFileRefused",
    "accounts_in_force",
    "approve",
    "bank_return",
    "cash_terms",
    "correct_account",
    "export",
    "get_batch",
    "list_batches",
    "parse_return",
    "payment_file",
    "prepare",
    "reconcile",
    "reconcile_file",
    "registry_accounts",
    "withdraw",
    "yuan",
]
