"""Payouts driven by any sequence of what people do: the ledger stays the sum of its journal, nothing is paid twice.

A ``RuleBasedStateMachine`` over a few enterprises: runs grant cash benefits (and one that is not cash);
enterprises confirm, decline, object and give accounts; officers review objections, prepare batches at
advancing dates, approve (never their own), withdraw, export, reconcile the bank's answer (random paid and
failed lines) and correct benefits by hand. Each step is taken through the code people use (the service's
actions, ``matcher.payouts``, ``matcher.ledger.corrections``); a step the state does not allow must be
refused and change nothing. After every step the invariants below hold.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import func, select

from api.service import actions
from api.service.objections import review_objection
from api.service.problems import Problem
from api.service.tokens import Principal
from matcher import payouts
from matcher.db.models import (
    account_corrections,
    audit_log,
    benefit_journal,
    benefits,
    notices,
    objection_reviews,
    payment_batches,
    payment_items,
    payment_returns,
    responses,
)
from matcher.errors import IllegalMove, LedgerError
from matcher.ledger import BenefitKey, BenefitStatus, JournalEntry, move, move_all
from matcher.ledger.corrections import ACTIONS, correct
from matcher.ledger.moves import MOVES
from tests.matcher import payout_data as fixtures

S = BenefitStatus
OFFICERS = ("alice", "bob", "carol")
OPEN_BATCH = ("prepared", "approved", "exported")
OUTCOMES = st.sampled_from(["paid", "paid", "paid", *payouts.REASONS])
PICK = st.integers(0, 1_000)  # an index into whatever list the rule picks from (modulo its length)
KEEP_AMOUNT = [e for e, m in MOVES.items() if m.owed == "keep" and m.target is not None and None not in m.sources]
EXAMPLES, STEPS = 30, 30  # quick in the suite; more steps reach deeper (paid, topped up, paid again)
TABLES = [objection_reviews, responses, audit_log, notices, payment_returns, payment_items, payment_batches]
TABLES += [account_corrections, benefit_journal, benefits]


def same_key(key: BenefitKey):
    return (
        (benefits.c.uscc == key.uscc)
        & (benefits.c.policy_id == key.policy_id)
        & (benefits.c.period_key == key.period_key)
    )


def _rows(connection, table, order) -> list[tuple]:
    return [tuple(r) for r in connection.execute(select(table).order_by(*order)).all()]


class PayoutMachine(RuleBasedStateMachine):
    engine = None  # set by the test
    folder: Path

    # --- reading the state ---------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, list[tuple]]:
        """Everything a refused step must leave as it was."""
        with self.engine.connect() as c:
            return {
                "benefits": _rows(c, benefits, [benefits.c.id]),
                "journal": _rows(c, benefit_journal, [benefit_journal.c.id]),
                "batches": _rows(c, payment_batches, [payment_batches.c.id]),
                "items": _rows(c, payment_items, [payment_items.c.id]),
                "notices": _rows(c, notices, [notices.c.id]),
            }

    def status(self, key: BenefitKey) -> S | None:
        with self.engine.connect() as c:
            found = c.execute(
                select(benefits.c.status).where(
                    benefits.c.uscc == key.uscc,
                    benefits.c.policy_id == key.policy_id,
                    benefits.c.period_key == key.period_key,
                )
            ).scalar()
        return None if found is None else S(found)

    def allows(self, key: BenefitKey, entry: JournalEntry, amount: int | None = None) -> bool:
        """Would the ledger take ``entry`` for ``key``: its status is a source of the entry, and the benefit is
        never left owing less than was paid for it (money paid out is only ever undone by ``recovered``)."""
        rule_ = MOVES[entry]
        with self.engine.connect() as c:
            row = c.execute(select(benefits).where(same_key(key))).first()
        if (None if row is None else S(row.status)) not in rule_.sources:
            return False
        owed, paid = (0, 0) if row is None else (row.amount_fen, row.paid_fen)
        owed = {"given": amount or 0, "keep": owed, "zero": 0, "add": owed + (amount or 0)}[rule_.owed]
        paid = (owed if rule_.owed == "keep" else 0) if rule_.pays else paid
        return paid <= owed

    def batch(self, pick: int):
        with self.engine.connect() as c:
            rows = c.execute(select(payment_batches).order_by(payment_batches.c.id)).all()
        return rows[pick % len(rows)] if rows else None

    def refused(self, step, expected: bool, what: str, errors=(Problem, LedgerError, payouts.PayoutError)):
        """Run ``step``; it must be refused exactly when ``expected``, and a refusal must change nothing."""
        before = self.snapshot()
        try:
            result = step()
        except errors as exc:
            assert expected, f"{what}: refused, but the state allows it: {exc}"
            assert self.snapshot() == before, f"{what}: refused ({exc}), yet the state changed"
            return None
        assert not expected, f"{what}: accepted, but the state forbids it"
        return result

    # --- setting up ---------------------------------------------------------------------------------------

    @initialize(enterprises=st.integers(2, 4), confirm_mode=st.lists(st.booleans(), min_size=12, max_size=12))
    def start(self, enterprises, confirm_mode):
        with self.engine.begin() as c:
            for table in TABLES:
                c.execute(table.delete())
        self.enterprises = enterprises
        self.out = Path(tempfile.mkdtemp(dir=self.folder))  # this example's files (batch numbers start again)
        self.day = fixtures.TODAY
        self.runs = 0
        self.refs = 0
        self.files: dict[int, bytes] = {}  # batch → the payment file first exported
        self.returns: dict[int, bytes] = {}  # batch → the return file reconciled
        self.terms = dict(fixtures.CASH)
        self.registry = fixtures.accounts(enterprises, without_account=1)
        # An earlier run's grants: their deadline and publicity are over, the first batch may pay them.
        self.do_run(period="2025", modes=confirm_mode, amounts=None, days_ago=10)

    def do_run(self, period, modes, amounts, days_ago=0):
        """A run deciding ``period``: each enterprise and policy granted (automatic) or awaiting confirmation."""
        self.runs += 1
        keys = [(fixtures.uscc(i), p, v) for i in range(self.enterprises) for p, v in fixtures.POLICIES]
        rows = pl.DataFrame(
            {
                "uscc": [k[0] for k in keys],
                "policy_id": [k[1] for k in keys],
                "policy_version": [k[2] for k in keys],
                "period_key": [period] * len(keys),
                "amount_fen": [(amounts or [])[i % len(amounts)] if amounts else 1000_00 + i for i in range(len(keys))],
                "confirm": [modes[i % len(modes)] for i in range(len(keys))],
            }
        )
        at = datetime.now(UTC) - timedelta(days=days_ago)
        respond_by = self.day + timedelta(days=fixtures.RESPOND_DAYS - days_ago)
        run_id = f"run{self.runs}"
        decided = rows.filter(~pl.col("confirm")).drop("confirm")
        fixtures.grant(self.engine, decided, run_id, at=at, respond_by=respond_by)
        asked = rows.filter(pl.col("confirm")).drop("confirm")
        fixtures.grant(self.engine, asked, run_id, at=at, kind="awaiting_confirmation", respond_by=respond_by)

    # --- runs and enterprises ------------------------------------------------------------------------------

    @precondition(lambda self: self.runs < 3)
    @rule(
        modes=st.lists(st.booleans(), min_size=1, max_size=4),
        amounts=st.lists(st.integers(1, 20_000_00), min_size=1, max_size=4),
    )
    def run_a_later_period(self, modes, amounts):
        self.do_run(period=f"2026-{self.runs}", modes=modes, amounts=amounts)

    def notice(self, pick: int, kinds=("granted", "awaiting_confirmation")):
        with self.engine.connect() as c:
            rows = c.execute(select(notices).where(notices.c.kind.in_(kinds)).order_by(notices.c.id)).all()
        return rows[pick % len(rows)] if rows else None

    def responded(self, notice) -> set[str]:
        with self.engine.connect() as c:
            return set(c.execute(select(responses.c.kind).where(responses.c.notice_id == notice.id)).scalars())

    @staticmethod
    def enterprise(notice) -> Principal:
        return Principal(1, "enterprise", "firm", notice.uscc)

    @rule(pick=PICK, action=st.sampled_from(["confirm", "decline", "object"]))
    def enterprise_acts_on_a_notice(self, pick, action):
        {"confirm": self.enterprise_confirms, "decline": self.enterprise_declines,
         "object": self.enterprise_objects}[action](pick)  # fmt: skip

    def enterprise_confirms(self, pick):
        notice = self.notice(pick, kinds=("awaiting_confirmation",))
        if notice is None:
            return
        late = notice.respond_by < datetime.now(UTC).date()
        forbidden = late or bool(self.responded(notice)) or self.status(BenefitKey.of(notice)) is not None

        def step():
            with self.engine.begin() as c:
                return actions.confirm(c, self.enterprise(notice), notice)

        if self.refused(step, forbidden, f"confirm notice {notice.id}") is not None:
            assert self.status(BenefitKey.of(notice)) == S.GRANTED

    def enterprise_declines(self, pick):
        notice = self.notice(pick)
        if notice is None:
            return
        status = self.status(BenefitKey.of(notice))
        cancellable = status in (None, S.CANCELLED) or self.allows(BenefitKey.of(notice), JournalEntry.CANCELLED)
        forbidden = "declined" in self.responded(notice) or not cancellable

        def step():
            with self.engine.begin() as c:
                return actions.decline(c, self.enterprise(notice), notice, "not needed")

        if self.refused(step, forbidden, f"decline notice {notice.id} ({status})") is not None and status:
            assert self.status(BenefitKey.of(notice)) == S.CANCELLED

    def enterprise_objects(self, pick):
        notice = self.notice(pick)
        if notice is None:
            return
        status = self.status(BenefitKey.of(notice))
        forbidden = bool({"declined", "objected"} & self.responded(notice))

        def step():
            with self.engine.begin() as c:
                return actions.object_to(c, self.enterprise(notice), notice, "the amount is wrong")

        if self.refused(step, forbidden, f"object to notice {notice.id}") is not None:
            held = status in (S.GRANTED, S.PAYABLE)
            assert self.status(BenefitKey.of(notice)) == (S.HELD if held else status)

    @precondition(lambda self: self.count(responses, responses.c.kind == "objected") > 0)
    @rule(pick=PICK, outcome=st.sampled_from(["dismissed", "upheld"]))
    def officer_reviews_an_objection(self, pick, outcome):
        with self.engine.connect() as c:
            objections = c.execute(select(responses).where(responses.c.kind == "objected")).all()
            objection = objections[pick % len(objections)]
            reviewed = set(c.execute(select(objection_reviews.c.response_id)).scalars())
        key = BenefitKey.of(objection)
        others = [o for o in objections if BenefitKey.of(o) == key and o.id != objection.id and o.id not in reviewed]
        upheld = outcome == "upheld" and not others and self.status(key) == S.HELD
        forbidden = objection.id in reviewed or (upheld and not self.allows(key, JournalEntry.CANCELLED))
        objection = objection.id

        def step():
            with self.engine.begin() as c:
                return review_objection(c, Principal(9, "officer", "olga"), objection, outcome, "looked at it")

        self.refused(step, forbidden, f"review objection {objection} ({outcome})")

    @rule(which=st.integers(0, 3))
    def enterprise_gives_its_account(self, which):
        i = which % self.enterprises
        with self.engine.begin() as c:
            payouts.correct_account(
                c, fixtures.uscc(i), payouts.Account(f"105{i:09d}", f"6217{i:015d}", fixtures.name(i)),
                registered_name=fixtures.name(i), actor=f"enterprise:{fixtures.uscc(i)}", at=datetime.now(UTC),
            )  # fmt: skip
            waiting = c.execute(
                select(func.count()).where(benefits.c.uscc == fixtures.uscc(i), benefits.c.status == S.PAYMENT_FAILED)
            ).scalar_one()
        assert waiting == 0, "a failed payment of an enterprise that gave its account is not payable again"

    # --- officers: corrections -----------------------------------------------------------------------------

    def any_benefit(self, data) -> BenefitKey:
        """A benefit of a kind drawn among those the ledger holds — its status, and whether any of it was paid —
        so that rare kinds (paid, topped up) are as likely as common ones."""
        with self.engine.connect() as c:
            rows = c.execute(select(benefits).order_by(benefits.c.id)).all()
        kinds = sorted({(r.status, r.paid_fen > 0) for r in rows})
        kind = data.draw(st.sampled_from(kinds), label="kind")
        return BenefitKey.of(data.draw(st.sampled_from([r for r in rows if (r.status, r.paid_fen > 0) == kind])))

    @precondition(lambda self: self.count(benefits) > 0)
    @rule(data=st.data())
    def officer_corrects(self, data):
        key = self.any_benefit(data)
        status = self.status(key)
        allowed = sorted(a for a, e in ACTIONS.items() if status in MOVES[e].sources)
        legal = bool(allowed) and data.draw(st.integers(0, 3), label="legal") > 0  # mostly what the state allows
        action = data.draw(st.sampled_from(allowed if legal else sorted(ACTIONS)), label="action")
        entry = ACTIONS[action]
        takes = MOVES[entry].owed in ("given", "add")
        amount = None
        if data.draw(st.integers(0, 7), label="amount as asked") == 0:  # now and then the wrong amount
            amount = None if takes else data.draw(st.integers(0, 20_000_00), label="amount")
        elif takes:
            amount = data.draw(st.integers(0 if action == "adjust" else 1, 20_000_00), label="amount")
        bad_amount = (amount is None or (amount == 0 and action != "adjust")) if takes else amount is not None
        forbidden = bad_amount or not self.allows(key, entry, amount)
        self.refs += 1

        def step():
            with self.engine.begin() as c:
                return correct(c, key, action, actor="officer:olga", reason="audit finding 12",
                               ref=f"correction:{self.refs}", amount_fen=amount)  # fmt: skip

        self.refused(step, forbidden, f"{action} {amount} of {key} ({status})")

    # --- officers: batches ---------------------------------------------------------------------------------

    @rule(
        days=st.integers(0, 4),
        officer=st.sampled_from(OFFICERS),
        then=st.integers(0, 3),
        outcomes=st.lists(OUTCOMES, max_size=12),
    )
    def officer_prepares(self, days, officer, then, outcomes):
        """A batch prepared as of a later day, then (``then`` steps) approved, exported, reconciled."""
        self.day += timedelta(days=days)
        summary = payouts.prepare(
            self.engine, self.day, self.terms, self.registry, actor=f"cli:{officer}", person=officer, chunk_rows=3
        )
        with self.engine.connect() as c:
            made = c.execute(
                select(benefits.c.uscc, benefits.c.policy_id, benefits.c.period_key, benefits.c.policy_version)
                .join(
                    benefit_journal,
                    (benefit_journal.c.uscc == benefits.c.uscc)
                    & (benefit_journal.c.policy_id == benefits.c.policy_id)
                    & (benefit_journal.c.period_key == benefits.c.period_key),
                )
                .where(benefit_journal.c.entry == "made_payable", benefit_journal.c.ref == f"batch:{summary.batch_id}")
            ).all()
            still_open = c.execute(
                select(notices.c.uscc, notices.c.policy_id, notices.c.period_key).where(
                    notices.c.kind.in_(["granted", "awaiting_confirmation"]), notices.c.respond_by >= self.day
                )
            ).all()
            # Nothing payable that could be paid stays out of the batch.
            waiting = c.execute(
                select(benefits.c.uscc).where(
                    benefits.c.status == S.PAYABLE,
                    benefits.c.amount_fen > benefits.c.paid_fen,
                    benefits.c.uscc.in_(self.registry["uscc"].to_list() + self.corrected(c)),
                )
            ).all()
        assert summary.made_payable == len(made)
        early = {tuple(r) for r in still_open} & {(r.uscc, r.policy_id, r.period_key) for r in made}
        assert not early, f"made payable before the deadline to object or confirm: {early}"
        assert all((r.policy_id, r.policy_version) in self.terms for r in made), "a benefit not paid in cash"
        assert waiting == [], f"payable benefits with an account left out of batch {summary.batch_id}: {waiting}"
        assert summary.status == ("prepared" if summary.items else "withdrawn")
        self.walk(then, outcomes, officer)

    @staticmethod
    def corrected(c) -> list[str]:
        return list(c.execute(select(account_corrections.c.uscc)).scalars())

    @precondition(lambda self: self.count(payment_batches) > 0)
    @rule(
        pick=PICK,
        step=st.sampled_from(["approve", "withdraw", "export", "reconcile"]),
        officer=st.sampled_from(OFFICERS),
        outcomes=st.lists(OUTCOMES, max_size=12),
        again=st.booleans(),
    )
    def officer_takes_a_step_on_any_batch(self, pick, step, officer, outcomes, again):
        """Any step on any batch, in whatever state it is: refused unless the state allows it."""
        if step == "approve":
            self.officer_approves(pick, officer)
        elif step == "withdraw":
            self.officer_withdraws(pick)
        elif step == "export":
            self.officer_exports(pick)
        else:
            self.officer_reconciles(pick, outcomes, again)

    def officer_approves(self, pick, officer):
        batch = self.batch(pick)
        forbidden = batch.status != "prepared" or batch.preparer == officer

        def step():
            with self.engine.begin() as c:
                return payouts.approve(c, batch.id, actor=f"cli:{officer}", person=officer)

        self.refused(step, forbidden, f"{officer} approves batch {batch.id} ({batch.status}, by {batch.preparer})")

    def officer_withdraws(self, pick):
        batch = self.batch(pick)

        def step():
            with self.engine.begin() as c:
                return payouts.withdraw(c, batch.id, actor="cli:carol", reason="wrong date")

        if self.refused(step, batch.status not in ("prepared", "approved"), f"withdraw batch {batch.id}"):
            assert self.count(benefits, benefits.c.status == S.IN_BATCH, self.of_batch(batch.id)) == 0

    @staticmethod
    def of_batch(batch_id: int):
        return benefits.c.id.in_(select(payment_items.c.benefit_id).where(payment_items.c.batch_id == batch_id))

    def officer_exports(self, pick):
        batch = self.batch(pick)
        out = self.out / f"batch-{batch.id}-{self.refs}.jsonl"
        self.refs += 1
        done = self.refused(
            lambda: payouts.export(self.engine, batch.id, out, actor="cli:bob"),
            batch.status not in ("approved", "exported"),
            f"export batch {batch.id} ({batch.status})",
        )
        if done is None:
            assert not out.exists(), "a refused export wrote a file"
            return
        written = out.read_bytes()
        assert self.files.setdefault(batch.id, written) == written, "a second export wrote other bytes"
        assert done.again == (batch.status == "exported")

    def officer_reconciles(self, pick, outcomes, again):
        batch = self.batch(pick)
        answer = fixtures.answer(self.engine, batch.id, dict(enumerate(outcomes, start=1)))
        if again and batch.id in self.returns:
            answer = self.returns[batch.id]
        same = self.returns.get(batch.id) == answer
        forbidden = not (batch.status == "exported" or (batch.status == "reconciled" and same))
        done = self.refused(
            lambda: payouts.reconcile(self.engine, payouts.parse_return(answer, "bank.jsonl"), actor="cli:bob"),
            forbidden,
            f"reconcile batch {batch.id} ({batch.status})",
        )
        if done is not None:
            assert done.already == (batch.status == "reconciled")
            self.returns[batch.id] = answer
            assert done.paid + done.failed == batch.item_count

    @precondition(lambda self: self.count(payment_batches, payment_batches.c.status.in_(OPEN_BATCH)) > 0)
    @rule(steps=st.integers(1, 3), outcomes=st.lists(OUTCOMES, max_size=12), officer=st.sampled_from(OFFICERS))
    def officers_take_the_latest_open_batch_on(self, steps, outcomes, officer):
        self.walk(steps, outcomes, officer)

    def walk(self, steps, outcomes, officer):
        """What officers mostly do: the open batch approved by another officer, exported, then reconciled."""
        for _ in range(steps):
            with self.engine.connect() as c:
                batch = c.execute(
                    select(payment_batches).where(payment_batches.c.status.in_(OPEN_BATCH))
                    .order_by(payment_batches.c.id.desc())
                ).first()  # fmt: skip
            if batch is None:
                return
            if batch.status == "prepared":
                checker = officer if officer != batch.preparer else next(o for o in OFFICERS if o != batch.preparer)
                with self.engine.begin() as c:
                    payouts.approve(c, batch.id, actor=f"cli:{checker}", person=checker)
            elif batch.status == "approved":
                out = self.out / f"batch-{batch.id}.jsonl"
                payouts.export(self.engine, batch.id, out, actor="cli:bob")
                self.files[batch.id] = out.read_bytes()
            else:
                answer = fixtures.answer(self.engine, batch.id, dict(enumerate(outcomes, start=1)))
                done = payouts.reconcile(self.engine, payouts.parse_return(answer, "bank.jsonl"), actor="cli:bob")
                self.returns[batch.id] = answer
                failed = sum(o != "paid" for o in outcomes[: batch.item_count])
                assert (done.paid, done.failed) == (batch.item_count - failed, failed)

    # --- probes: every move the state machine forbids is refused; rolled back either way ----------------------

    @precondition(lambda self: self.count(benefits) > 0)
    @rule(data=st.data(), entry=st.sampled_from(list(JournalEntry)), amount=st.integers(1, 5_000_00))
    def any_move_on_any_benefit(self, data, entry, amount):
        key = self.any_benefit(data)
        legal = self.allows(key, entry, amount)
        with self.engine.connect() as c:
            c.rollback()  # what was read above; the probe starts its own transaction
            try:
                move(c, key, entry, actor="probe", reason="probe", ref="probe", amount_fen=amount)
            except IllegalMove:
                assert not legal, f"'{entry}' refused for {key}, which its status allows"
            else:
                assert legal, f"'{entry}' recorded for {key}, which the state machine forbids"
            finally:
                c.rollback()

    @rule(entry=st.sampled_from(KEEP_AMOUNT), ids=st.sets(st.integers(1, 40), max_size=8))
    def any_bulk_move_on_any_benefits(self, entry, ids):
        with self.engine.connect() as c:
            chosen = benefits.c.id.in_(sorted(ids))
            allowed = c.execute(
                select(func.count()).where(chosen, benefits.c.status.in_([str(s) for s in MOVES[entry].sources]))
            ).scalar_one()
            others = c.execute(select(benefits.c.id, benefits.c.status).where(~chosen | benefits.c.status.not_in(
                [str(s) for s in MOVES[entry].sources]))).all()  # fmt: skip
            c.rollback()  # what was read above; the probe starts its own transaction
            try:
                moved = move_all(c, entry, chosen, actor="probe", reason="probe", ref="probe", at=datetime.now(UTC))
                kept = benefits.c.id.in_([r.id for r in others])
                after = c.execute(select(benefits.c.id, benefits.c.status).where(kept)).all()
            finally:
                c.rollback()
        assert moved == allowed, f"'{entry}' moved {moved} benefits, {allowed} of those chosen could move"
        assert sorted(after) == sorted(others), f"'{entry}' moved a benefit its state machine does not let move"

    def count(self, table, *where) -> int:
        with self.engine.connect() as c:
            return c.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

    # --- invariants ----------------------------------------------------------------------------------------

    @invariant()
    def balances_are_the_sums_of_the_journal_and_never_overpaid(self):
        with self.engine.connect() as c:
            journal = c.execute(select(benefit_journal).order_by(benefit_journal.c.id)).all()
            rows = c.execute(select(benefits)).all()
        by_key: dict[tuple, list] = {}
        for j in journal:
            by_key.setdefault((j.uscc, j.policy_id, j.period_key), []).append(j)
        for row in rows:
            key = (row.uscc, row.policy_id, row.period_key)
            entries = by_key.pop(key)
            owed = sum(j.amount_after_fen - j.amount_before_fen for j in entries)
            paid = sum(j.paid_fen for j in entries)
            assert (row.amount_fen, row.paid_fen) == (owed, paid), f"{key}: balances are not the journal's sums"
            assert 0 <= row.paid_fen <= row.amount_fen, (
                f"{key} is {row.status} with {row.paid_fen} fen paid for {row.amount_fen} owed: "
                f"journal {[(j.entry, j.amount_after_fen, j.paid_fen) for j in entries]}"
            )
            # The journal is a walk of the state machine ending where the benefit stands.
            status, amount = None, 0
            for j in entries:
                rule_ = MOVES[JournalEntry(j.entry)]
                assert j.status_before == status and j.amount_before_fen == amount, f"{key}: the journal skips"
                assert (None if status is None else S(status)) in rule_.sources, f"{key}: '{j.entry}' from {status}"
                assert j.status_after == (rule_.target or status), f"{key}: '{j.entry}' led to {j.status_after}"
                status, amount = j.status_after, j.amount_after_fen
            assert (status, amount) == (row.status, row.amount_fen)
            count = {e: sum(j.entry == e for j in entries) for e in ("paid", "top_up", "regranted")}
            assert count["paid"] <= 1 + count["top_up"] + count["regranted"], f"{key} paid twice for one amount owed"
            assert all(j.paid_fen > 0 for j in entries if j.entry == "paid"), f"{key}: a payment of nothing"
            if (row.policy_id, row.policy_version) not in self.terms:
                assert row.status in (S.GRANTED, S.HELD, S.CANCELLED), f"{key} is not cash, yet {row.status}"
        assert not by_key, f"journal entries of benefits not in the ledger: {list(by_key)}"

    @invariant()
    def a_benefit_is_in_at_most_one_open_batch_and_paid_as_the_bank_paid(self):
        with self.engine.connect() as c:
            items = c.execute(
                select(payment_items, payment_batches.c.status.label("batch_status"))
                .join(payment_batches, payment_batches.c.id == payment_items.c.batch_id)
            ).all()  # fmt: skip
            rows = {r.id: r for r in c.execute(select(benefits))}
            paid_entries = dict(
                c.execute(
                    select(benefits.c.id, func.sum(benefit_journal.c.paid_fen))
                    .join(
                        benefit_journal,
                        (benefit_journal.c.uscc == benefits.c.uscc)
                        & (benefit_journal.c.policy_id == benefits.c.policy_id)
                        & (benefit_journal.c.period_key == benefits.c.period_key),
                    )
                    .where(benefit_journal.c.entry == "paid")
                    .group_by(benefits.c.id)
                ).all()
            )
            batches = c.execute(select(payment_batches)).all()
        open_items: dict[int, list] = {}
        bank_paid: dict[int, int] = {}
        for item in items:
            if item.open == 1:
                open_items.setdefault(item.benefit_id, []).append(item)
                assert item.batch_status in OPEN_BATCH, f"an open item in a {item.batch_status} batch"
            elif item.batch_status in OPEN_BATCH:
                raise AssertionError(f"item {item.reference} of an open batch is settled ({item.outcome})")
            if item.outcome == "paid":
                bank_paid[item.benefit_id] = bank_paid.get(item.benefit_id, 0) + item.amount_fen
        for benefit_id, row in rows.items():
            held = open_items.get(benefit_id, [])
            assert len(held) <= 1, f"benefit {benefit_id} is in {len(held)} open batches"
            assert (row.status == S.IN_BATCH) == (len(held) == 1), f"benefit {benefit_id} {row.status}, items {held}"
            if held:
                assert held[0].amount_fen == row.amount_fen - row.paid_fen, "the item is not the amount outstanding"
            assert bank_paid.get(benefit_id, 0) == (paid_entries.get(benefit_id) or 0), (
                f"benefit {benefit_id}: the bank paid {bank_paid.get(benefit_id, 0)} fen, the journal"
                f" {paid_entries.get(benefit_id)}"
            )
        for b in batches:
            assert b.approver is None or b.approver != b.preparer, f"batch {b.id} approved by its maker"
            if b.status == "reconciled":
                assert b.paid_count + b.failed_count == b.item_count
                assert b.paid_fen + b.failed_fen == b.total_fen


def _run_machine(engine) -> None:
    PayoutMachine.engine = engine
    with tempfile.TemporaryDirectory() as folder:
        PayoutMachine.folder = Path(folder)
        runner = PayoutMachine.TestCase
        runner.settings = settings(
            max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, suppress_health_check=list(HealthCheck)
        )
        runner().runTest()


def test_payouts_when_driven_by_any_sequence_of_steps_keep_the_ledger_whole_and_pay_once(engine):
    _run_machine(engine)
