"""Payouts against a real database: prepare, approve (maker-checker), export, reconcile, correct, pay again."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from features.registries.validate import check_registry
from features.synthetic import generate
from matcher import payouts
from matcher.db.models import benefit_journal, benefits, notices, payment_items
from matcher.ledger import BenefitKey, BenefitStatus, JournalEntry, move
from matcher.payouts.export import read_items
from matcher.run import run_matching
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
TODAY = datetime.now(UTC).date()
AFTER_WINDOW = TODAY + timedelta(days=16)  # notices give 15 days to object, from the day they are sent


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("payouts") / "registry"
    generate(out, enterprises=300, seed=5)
    return out


@pytest.fixture(scope="module")
def accounts(registry) -> pl.DataFrame:
    return payouts.registry_accounts(registry)


@pytest.fixture(scope="module")
def names(registry) -> dict[str, str]:
    return dict(pl.read_parquet(registry / "business.parquet").select("uscc", "name").iter_rows())


@pytest.fixture
def terms():
    return payouts.cash_terms(load_catalogue().policies)


@pytest.fixture
def matched(engine, registry):
    from api.service.attested_lists import import_generated_lists
    from api.service.tokens import Principal
    from features.synthetic.generate import LISTS

    catalogue = load_catalogue()
    # As `huiqi demo`: the departments' complete lists first, so the job-retention refunds pay the unlisted firms.
    import_generated_lists(engine, Principal.operator("test"), registry / LISTS, AS_OF)
    return run_matching(engine, check_registry(registry), AS_OF, catalogue.in_force(AS_OF))


def _prepare(engine, terms, accounts, as_of=AFTER_WINDOW, by="alice", **kw):
    return payouts.prepare(engine, as_of, terms, accounts, actor=f"cli:{by}", person=by, **kw)


def _approve(engine, batch_id, by="bob"):
    with engine.begin() as connection:
        return payouts.approve(connection, batch_id, actor=f"cli:{by}", person=by)


def _answer(engine, batch_id, failed_lines=(), code="BE01") -> bytes:
    with engine.connect() as connection:
        items = read_items(connection, batch_id)
    fails = pl.col("line").is_in(list(failed_lines))
    return payouts.bank_return(
        batch_id,
        items.select(
            "reference",
            "amount_fen",
            status=pl.when(fails).then(pl.lit("failed")).otherwise(pl.lit("paid")),
            reason_code=pl.when(fails).then(pl.lit(code)),
        ),
    )


def _statuses(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(select(benefits.c.status, func.count()).group_by(benefits.c.status)).all())


def _journal_sums_to_ledger(engine) -> None:
    with engine.connect() as connection:
        sums = {
            (r.uscc, r.policy_id, r.period_key): (r.owed, r.paid)
            for r in connection.execute(
                select(
                    benefit_journal.c.uscc,
                    benefit_journal.c.policy_id,
                    benefit_journal.c.period_key,
                    func.sum(benefit_journal.c.amount_after_fen - benefit_journal.c.amount_before_fen).label("owed"),
                    func.sum(benefit_journal.c.paid_fen).label("paid"),
                ).group_by(benefit_journal.c.uscc, benefit_journal.c.policy_id, benefit_journal.c.period_key)
            )
        }
        for row in connection.execute(select(benefits)):
            assert sums[(row.uscc, row.policy_id, row.period_key)] == (row.amount_fen, row.paid_fen)
            assert 0 <= row.paid_fen <= row.amount_fen


def _export(engine, batch_id, tmp_path, by="bob"):
    return payouts.export(engine, batch_id, tmp_path / f"batch-{batch_id}.jsonl", actor=f"cli:{by}")


def test_payouts_when_walked_from_run_to_bank_pay_every_cash_benefit_once(
    engine, matched, terms, accounts, names, tmp_path
):
    # Before the objection window closes nothing is payable.
    early = _prepare(engine, terms, accounts, as_of=TODAY)
    assert (early.status, early.made_payable, early.items) == ("withdrawn", 0, 0)

    first = _prepare(engine, terms, accounts)
    assert first.status == "prepared" and first.items > 10
    with engine.connect() as connection:
        batched = connection.execute(
            select(benefits.c.policy_id, benefits.c.policy_version).where(benefits.c.status == "in_batch")
        ).all()
    assert {tuple(r) for r in batched} <= set(terms)  # only cash benefits are ever batched
    assert _statuses(engine)[BenefitStatus.GRANTED] > 0  # tax relief and the like stay granted: never paid out

    with pytest.raises(payouts.BatchRefused, match=r"alice prepared it.*maker-checker"):
        _approve(engine, first.batch_id, by="alice")
    _approve(engine, first.batch_id)
    done = _export(engine, first.batch_id, tmp_path)
    lines = [json.loads(x) for x in done.path.read_text(encoding="utf-8").splitlines()]
    header, body, trailer = lines[0], lines[1:-1], lines[-1]
    assert header["count"] == trailer["count"] == len(body) == first.items
    assert header["total_fen"] == sum(p["amount_fen"] for p in body) == first.total_fen
    assert header["total_yuan"] == payouts.yuan(first.total_fen)

    answer = tmp_path / "return-1.jsonl"
    answer.write_bytes(_answer(engine, first.batch_id, failed_lines=[2]))
    result = payouts.reconcile_file(engine, answer, actor="cli:bob")
    assert (result.paid, result.failed) == (first.items - 1, 1)
    failed_line = body[1]
    with engine.connect() as connection:
        failed = connection.execute(
            select(benefits).join(payment_items, payment_items.c.benefit_id == benefits.c.id)
            .where(payment_items.c.reference == failed_line["reference"])
        ).one()  # fmt: skip
        notice = connection.execute(
            select(notices).where(notices.c.kind == "payment_failed", notices.c.uscc == failed.uscc)
        ).one()
        paid_notices = connection.execute(
            select(func.count()).select_from(notices).where(notices.c.kind == "paid")
        ).scalar_one()
    assert failed.status == BenefitStatus.PAYMENT_FAILED and failed.paid_fen == 0
    assert (notice.topic, notice.amount_fen, notice.delivery_status) == (
        f"batch:{first.batch_id}",
        failed_line["amount_fen"],
        "pending",
    )
    assert paid_notices == first.items - 1

    # The enterprise gives its account: the benefit is payable again, and the next batch pays it.
    with engine.begin() as connection:
        corrected = payouts.correct_account(
            connection,
            failed.uscc,
            payouts.Account("102584000012", "6222020200112233445", names[failed.uscc]),
            registered_name=names[failed.uscc],
            actor=f"enterprise:{failed.uscc}#1",
            at=datetime.now(UTC),
        )
    assert {"policy_id": failed.policy_id, "period_key": failed.period_key} in corrected["payable_again"]
    second = _prepare(engine, terms, accounts, by="carol")
    assert second.items >= 1
    with engine.connect() as connection:
        item = connection.execute(
            select(payment_items).where(payment_items.c.batch_id == second.batch_id,
                                        payment_items.c.benefit_id == failed.id)
        ).one()  # fmt: skip
    assert (item.bank_code, item.account_source) == ("102584000012", f"correction:{corrected['id']}")
    _approve(engine, second.batch_id, by="alice")
    _export(engine, second.batch_id, tmp_path, by="alice")
    payouts.reconcile(engine, payouts.parse_return(_answer(engine, second.batch_id), "r2"), actor="cli:alice")
    with engine.connect() as connection:
        now_paid = connection.execute(select(benefits).where(benefits.c.id == failed.id)).one()
        entries = connection.execute(
            select(benefit_journal.c.entry).where(
                benefit_journal.c.uscc == failed.uscc, benefit_journal.c.policy_id == failed.policy_id
            ).order_by(benefit_journal.c.id)
        ).scalars().all()  # fmt: skip
    assert now_paid.status == BenefitStatus.PAID and now_paid.paid_fen == now_paid.amount_fen
    assert entries == ["granted", "made_payable", "batched", "payment_failed", "account_corrected", "batched", "paid"]
    _journal_sums_to_ledger(engine)


def test_reconcile_when_the_totals_do_not_match_refuses_the_file_whole(engine, matched, terms, accounts, tmp_path):
    batch = _prepare(engine, terms, accounts)
    _approve(engine, batch.batch_id)
    _export(engine, batch.batch_id, tmp_path)
    lines = _answer(engine, batch.batch_id).decode().splitlines()
    header = json.loads(lines[0])
    header["total_fen"] += 1
    wrong = "\n".join([json.dumps(header), *lines[1:]]).encode()
    before = _statuses(engine)
    with pytest.raises(payouts.ReturnFileRefused, match=r"line 1: control totals do not match.*the lines hold"):
        payouts.reconcile(engine, payouts.parse_return(wrong, "bank.jsonl"), actor="cli:bob")
    dropped = "\n".join([lines[0], *lines[2:]]).encode()  # a line lost: the count no longer matches
    with pytest.raises(payouts.ReturnFileRefused, match="header says"):
        payouts.parse_return(dropped, "bank.jsonl")
    unknown = _answer(engine, batch.batch_id).replace(b'"HQ', b'"XX', 1)
    with pytest.raises(payouts.ReturnFileRefused, match=r"line 2: reference XX.* is not a payment of batch"):
        payouts.reconcile(engine, payouts.parse_return(unknown, "bank.jsonl"), actor="cli:bob")
    # U+0000 in a text (PostgreSQL cannot store it; the lookup failed in the database before): the line is named.
    nul = _answer(engine, batch.batch_id).replace(b'"HQ', b'"\\u0000HQ', 1)
    with pytest.raises(payouts.ReturnFileRefused, match=r"line 2: 'reference': contains a NUL character"):
        payouts.parse_return(nul, "bank.jsonl")
    assert _statuses(engine) == before  # nothing applied


def test_reconcile_when_the_same_file_is_imported_twice_changes_nothing(engine, matched, terms, accounts, tmp_path):
    batch = _prepare(engine, terms, accounts)
    _approve(engine, batch.batch_id)
    _export(engine, batch.batch_id, tmp_path)
    answer = _answer(engine, batch.batch_id, failed_lines=[1, 3], code="AC04")
    first = payouts.reconcile(engine, payouts.parse_return(answer, "r"), actor="cli:bob")
    with engine.connect() as connection:
        journal = connection.execute(select(func.count()).select_from(benefit_journal)).scalar_one()
        sent = connection.execute(select(func.count()).select_from(notices)).scalar_one()
    again = payouts.reconcile(engine, payouts.parse_return(answer, "r"), actor="cli:bob")
    assert again.already and (again.paid, again.failed) == (first.paid, first.failed) == (batch.items - 2, 2)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(benefit_journal)).scalar_one() == journal
        assert connection.execute(select(func.count()).select_from(notices)).scalar_one() == sent
    other = _answer(engine, batch.batch_id, failed_lines=[1])
    with pytest.raises(payouts.BatchRefused, match=r"already reconciled .* from another return file"):
        payouts.reconcile(engine, payouts.parse_return(other, "r"), actor="cli:bob")


def test_prepare_when_run_again_never_puts_a_benefit_in_two_open_batches(engine, matched, terms, accounts):
    first = _prepare(engine, terms, accounts)
    again = _prepare(engine, terms, accounts, by="carol")
    assert first.items > 0 and again.status == "withdrawn" and again.items == 0
    with engine.connect() as connection:
        twice = connection.execute(
            select(payment_items.c.benefit_id).where(payment_items.c.open == 1)
            .group_by(payment_items.c.benefit_id).having(func.count() > 1)
        ).all()  # fmt: skip
    assert twice == []


def test_prepare_when_a_benefit_is_held_or_in_publicity_leaves_it_out(engine, matched, terms, accounts):
    with engine.connect() as connection:
        granted = connection.execute(
            select(benefits).where(benefits.c.status == "granted").order_by(benefits.c.id)
        ).all()
    cash = [r for r in granted if (r.policy_id, r.policy_version) in terms]
    held = cash[0]
    with engine.begin() as connection:
        move(connection, BenefitKey.of(held), JournalEntry.HELD, actor="enterprise:x", reason="objected", ref="o:1")
    published = cash[-1].policy_id  # a policy that publishes its list for 30 days before paying
    slow = {k: (30 if k[0] == published else 0) for k in terms}
    batch = _prepare(engine, slow, accounts)
    with engine.connect() as connection:
        rows = {r.id: r.status for r in connection.execute(select(benefits.c.id, benefits.c.status))}
    assert rows[held.id] == BenefitStatus.HELD
    assert all(rows[r.id] == BenefitStatus.GRANTED for r in cash if r.policy_id == published)
    assert batch.items > 0
    later = _prepare(engine, slow, accounts, as_of=TODAY + timedelta(days=31), by="carol")
    with engine.connect() as connection:
        rows = {r.id: r.status for r in connection.execute(select(benefits.c.id, benefits.c.status))}
    assert later.made_payable > 0
    assert all(rows[r.id] != BenefitStatus.GRANTED for r in cash if r.policy_id == published)
    assert rows[held.id] == BenefitStatus.HELD  # an open objection holds it whatever the date


def test_prepare_when_a_benefit_is_held_while_it_runs_leaves_it_out_of_the_batch(engine, matched, terms, accounts):
    """An objection lands after the candidates were read, before the benefit's chunk is batched: its item goes
    with the chunk's transaction, so the payment file never pays a held benefit."""
    with_account = set(accounts["uscc"])
    held: list = []

    def hold_a_later_one(stage: str) -> None:
        if stage != "batched" or held:
            return
        with engine.begin() as connection:
            payable = connection.execute(
                select(benefits).where(benefits.c.status == BenefitStatus.PAYABLE).order_by(benefits.c.id.desc())
            ).all()
            later = next(r for r in payable if r.uscc in with_account)  # an item of the last chunk
            move(
                connection, BenefitKey.of(later), JournalEntry.HELD, actor="enterprise:x", reason="objected", ref="o:2"
            )
        held.append(later)

    batch = _prepare(engine, terms, accounts, chunk_rows=10, progress=hold_a_later_one)
    assert held and batch.items > 10  # more than one chunk, and a benefit held between them
    with engine.connect() as connection:
        items = connection.execute(
            select(payment_items.c.benefit_id, payment_items.c.amount_fen).where(
                payment_items.c.batch_id == batch.batch_id
            )
        ).all()
        status = connection.execute(select(benefits.c.status).where(benefits.c.id == held[0].id)).scalar_one()
        in_batch = connection.execute(
            select(func.count()).where(benefits.c.status == BenefitStatus.IN_BATCH)
        ).scalar_one()
    assert held[0].id not in {i.benefit_id for i in items} and status == BenefitStatus.HELD
    assert batch.items == len(items) == in_batch and batch.total_fen == sum(i.amount_fen for i in items)


def test_export_when_repeated_writes_the_same_bytes_and_refuses_an_unapproved_batch(
    engine, matched, terms, accounts, tmp_path
):
    batch = _prepare(engine, terms, accounts)
    with pytest.raises(payouts.BatchRefused, match=r"cannot export batch .*: it is prepared; expected .*approved"):
        _export(engine, batch.batch_id, tmp_path)
    _approve(engine, batch.batch_id)
    first = _export(engine, batch.batch_id, tmp_path).path.read_bytes()
    again = payouts.export(engine, batch.batch_id, tmp_path / "copy.jsonl", actor="cli:carol")
    assert again.again and again.path.read_bytes() == first
    with engine.begin() as connection, pytest.raises(payouts.BatchRefused, match="cannot withdraw"):
        payouts.withdraw(connection, batch.batch_id, actor="cli:bob", reason="too late")


def test_withdraw_when_before_export_makes_the_benefits_payable_again(engine, matched, terms, accounts):
    batch = _prepare(engine, terms, accounts)
    with engine.begin() as connection:
        payouts.withdraw(connection, batch.batch_id, actor="cli:bob", reason="wrong date")
    assert BenefitStatus.IN_BATCH not in _statuses(engine)
    again = _prepare(engine, terms, accounts, by="carol")
    assert again.items == batch.items and again.total_fen == batch.total_fen
    _journal_sums_to_ledger(engine)


def test_correct_account_when_the_name_is_not_the_registered_one_is_refused(engine, matched, names):
    uscc = next(iter(names))
    with engine.begin() as connection, pytest.raises(payouts.AccountRefused, match="expected the registered name"):
        payouts.correct_account(
            connection, uscc, payouts.Account("102584000012", "6222020200112233445", "别的公司"),
            registered_name=names[uscc], actor="enterprise:x", at=datetime.now(UTC),
        )  # fmt: skip
    with engine.begin() as connection, pytest.raises(payouts.AccountRefused, match="12-digit CNAPS"):
        payouts.correct_account(
            connection, uscc, payouts.Account("10258400001", "6222020200112233445", names[uscc]),
            registered_name=names[uscc], actor="enterprise:x", at=datetime.now(UTC),
        )  # fmt: skip


def test_prepare_when_an_officer_corrected_the_amount_waits_for_the_new_objection_window(
    engine, matched, terms, accounts
):
    from matcher.ledger.corrections import correct
    from matcher.notices import change_notice

    with engine.connect() as connection:
        cash = [
            r
            for r in connection.execute(select(benefits).where(benefits.c.status == "granted").order_by(benefits.c.id))
            if (r.policy_id, r.policy_version) in terms
        ]
    key = BenefitKey.of(cash[0])
    corrected_on = datetime.combine(AFTER_WINDOW, datetime.min.time(), UTC)  # told the new amount on that day
    with engine.begin() as connection:
        correct(connection, key, "adjust", actor="officer:test", reason="复核后调整金额", ref="c:1", amount_fen=12_345)
        connection.execute(
            notices.insert().values(**change_notice(_row(connection, key), "corrected", "c:1", corrected_on))
        )
    _prepare(engine, terms, accounts)  # AFTER_WINDOW: the first window is over, the correction's is not
    assert _status_of(engine, key) == BenefitStatus.GRANTED
    _prepare(engine, terms, accounts, as_of=AFTER_WINDOW + timedelta(days=16), by="carol")
    assert _status_of(engine, key) != BenefitStatus.GRANTED  # made payable once the enterprise could object


def _row(connection, key):
    from matcher.ledger import current

    return current(connection, key)


def _status_of(engine, key) -> str:
    with engine.connect() as connection:
        return _row(connection, key).status
