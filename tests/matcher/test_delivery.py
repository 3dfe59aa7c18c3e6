"""The outbox against a real local HTTP receiver that fails some requests."""

import json
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import polars as pl
import pytest
from sqlalchemy import insert, select, update

from features.synthetic import generate
from matcher.db.models import notices, objection_reviews, responses, webhooks
from matcher.delivery import DeliveryPolicy, _claim, dead_letters, deliver_due, requeue_dead
from matcher.run import run_matching
from policies.load import load_catalogue

AS_OF = date(2025, 6, 30)
FAST = DeliveryPolicy(max_attempts=4, base_delay=timedelta(0))


class Receiver:
    """Answers 500 to the first ``flaky`` tries of every third notice, and always to ``broken`` enterprises."""

    def __init__(self, flaky: int = 2, broken: frozenset[str] = frozenset()) -> None:
        self.calls: Counter[str] = Counter()
        self.accepted: dict[str, dict] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers["Idempotency-Key"]
                receiver.calls[key] += 1
                fail = body["uscc"] in broken or (hash(key) % 3 == 0 and receiver.calls[key] <= flaky)
                if not fail:
                    receiver.accepted[key] = body  # a repeat overwrites: recognised by its key
                self.send_response(500 if fail else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/notices"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _matched(engine, registry) -> None:
    generate(registry, enterprises=200, seed=4)
    run_matching(engine, registry, AS_OF, load_catalogue().in_force(AS_OF))


@pytest.fixture
def delivery_template(derived_templates):
    """The database after a run over 200 synthetic enterprises, built once per test process. Safe to share:
    `database_url` copies it for each test, so a test's deliveries and marks reach its own copy only."""
    registry = derived_templates.folder / "delivery-registry"
    return derived_templates.get("delivery", lambda engine: _matched(engine, registry))


@pytest.fixture
def with_notices(delivery_template, engine):
    with engine.connect() as connection:
        rows = connection.execute(
            select(notices.c.uscc, notices.c.policy_id, notices.c.period_key, notices.c.kind, notices.c.topic)
        )
        keys = {":".join(p for p in r if p): r.uscc for r in rows}  # the idempotency key: topic when there is one
    return engine, keys


def register(engine, usccs, url) -> None:
    with engine.begin() as connection:
        connection.execute(insert(webhooks), [{"uscc": u, "url": url} for u in sorted(set(usccs))])


def drain(engine, client, policy=FAST, rounds=20):
    reports = []
    for _ in range(rounds):
        report = deliver_due(engine, load_catalogue(), client, policy=policy)
        reports.append(report)
        if report.delivered == report.retried == report.dead == 0:
            break
    return reports


def test_deliver_when_the_receiver_fails_some_requests_every_notice_arrives_once_recognisably(with_notices):
    engine, keys = with_notices
    receiver = Receiver(flaky=2)
    register(engine, keys.values(), receiver.url)
    try:
        with httpx.Client() as client:
            drain(engine, client)
    finally:
        receiver.close()
    assert set(receiver.accepted) == set(keys)  # nothing lost
    assert sum(receiver.calls.values()) > len(keys)  # retries happened ...
    assert max(receiver.calls.values()) == 3  # ... and each repeat carried the same key
    with engine.connect() as connection:
        statuses = Counter(connection.execute(select(notices.c.delivery_status)).scalars())
    assert statuses == {"delivered": len(keys)}
    sample = next(iter(receiver.accepted.values()))
    assert sample["explanation"]["zh"] and sample["body"]["zh"] and sample["title"]["en"]


def test_deliver_when_a_receiver_never_answers_dead_letters_after_the_last_attempt(with_notices):
    engine, keys = with_notices
    broken = frozenset(list(keys.values())[:1])
    receiver = Receiver(flaky=0, broken=broken)
    register(engine, keys.values(), receiver.url)
    try:
        with httpx.Client() as client:
            drain(engine, client)
    finally:
        receiver.close()
    with engine.connect() as connection:
        dead = pl.DataFrame(
            connection.execute(
                select(notices.c.uscc, notices.c.attempts, notices.c.last_error).where(
                    notices.c.delivery_status == "dead"
                )
            ).all(),
            orient="row",
            schema=["uscc", "attempts", "last_error"],
        )
    assert set(dead["uscc"]) == broken
    assert dead["attempts"].to_list() == [FAST.max_attempts] * dead.height
    assert dead["last_error"].unique().to_list() == ["HTTP 500"]


def test_deliver_when_a_try_fails_waits_longer_each_time():
    policy = DeliveryPolicy(base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=10))
    assert [policy.delay(n).total_seconds() for n in range(1, 7)] == [30, 60, 120, 240, 480, 600]


def test_deliver_when_two_workers_run_at_once_posts_each_notice_once(with_notices):
    engine, keys = with_notices
    receiver = Receiver(flaky=0)
    register(engine, keys.values(), receiver.url)
    start = threading.Barrier(2)

    def worker() -> None:
        start.wait()  # both read the same due batch
        with httpx.Client() as client:
            drain(engine, client)

    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
    finally:
        receiver.close()
    assert set(receiver.accepted) == set(keys)
    assert set(receiver.calls.values()) == {1}  # nobody posted a notice the other had claimed
    with engine.connect() as connection:
        statuses = Counter(connection.execute(select(notices.c.delivery_status)).scalars())
    assert statuses == {"delivered": len(keys)}


def test_deliver_when_a_worker_died_holding_a_notice_retries_it_once_the_lease_runs_out(with_notices):
    engine, keys = with_notices
    receiver = Receiver(flaky=0)
    register(engine, keys.values(), receiver.url)
    now = datetime.now(UTC)
    with engine.connect() as connection:
        held = connection.execute(select(notices.c.id).order_by(notices.c.id).limit(1)).scalar_one()
    assert _claim(engine, held, now, FAST.lease) is not None  # a worker claims it, then dies before posting
    assert _claim(engine, held, now, FAST.lease) is None  # nobody else may take it meanwhile
    try:
        with httpx.Client() as client:
            while deliver_due(engine, load_catalogue(), client, policy=FAST, now=lambda: now).delivered:
                pass
            with engine.connect() as connection:
                status = connection.execute(select(notices.c.delivery_status).where(notices.c.id == held)).scalar()
            assert status == "pending"  # still leased: left alone
            later = now + FAST.lease + timedelta(seconds=1)
            while deliver_due(engine, load_catalogue(), client, policy=FAST, now=lambda: later).delivered:
                pass
    finally:
        receiver.close()
    with engine.connect() as connection:
        status = connection.execute(select(notices.c.delivery_status).where(notices.c.id == held)).scalar()
    assert status == "delivered"
    assert set(receiver.calls.values()) == {1}


def _mark(engine, ids, **values) -> None:
    with engine.begin() as connection:
        connection.execute(update(notices).where(notices.c.id.in_(ids)).values(**values))


def _notice_ids(engine, limit: int | None = None, **where) -> list[int]:
    query = select(notices.c.id).where(*(notices.c[k] == v for k, v in where.items())).order_by(notices.c.id)
    with engine.connect() as connection:
        return list(connection.execute(query.limit(limit)).scalars())


def test_dead_letters_when_more_than_a_page_are_dead_counts_them_all_and_pages_through_them(with_notices):
    engine, keys = with_notices
    everyone = _notice_ids(engine)
    assert len(everyone) > 250  # several pages of 100
    _mark(engine, everyone, delivery_status="dead", attempts=FAST.max_attempts, last_error="HTTP 500")
    total, first = dead_letters(engine, limit=100)
    assert total == len(everyone) and len(first) == 100
    pages = [dead_letters(engine, limit=100, offset=offset)[1] for offset in range(0, total, 100)]
    ids = [row["id"] for page in pages for row in page]
    assert ids == sorted(everyone, reverse=True)  # newest first, each exactly once
    assert {row["idempotency_key"] for page in pages for row in page} == set(keys)
    assert dead_letters(engine, limit=100, offset=total) == (total, [])


def test_requeue_dead_when_given_ids_resends_the_dead_ones_and_touches_nothing_else(with_notices):
    engine, _ = with_notices
    dead = _notice_ids(engine, limit=3)
    _mark(engine, dead, delivery_status="dead", attempts=FAST.max_attempts, last_error="HTTP 500")
    delivered = _notice_ids(engine, kind="needs_data")[-1:]  # not one of the first three
    stamp = datetime(2025, 7, 1, tzinfo=UTC)
    _mark(engine, delivered, delivery_status="delivered", attempts=1, delivered_at=stamp)
    with engine.begin() as connection:
        done = requeue_dead(connection, [dead[0], dead[1], delivered[0], 10**9])
    assert done.ids == dead[:2]
    assert done.skipped.keys() == {delivered[0], 10**9}
    assert "delivered, not dead" in done.skipped[delivered[0]] and "no notice" in done.skipped[10**9]
    with engine.connect() as connection:
        rows = {r.id: r for r in connection.execute(select(notices).where(notices.c.id.in_([*dead, *delivered])))}
    assert [(rows[i].delivery_status, rows[i].attempts) for i in dead] == [
        ("pending", 0),
        ("pending", 0),
        ("dead", FAST.max_attempts),
    ]
    assert rows[delivered[0]].delivery_status == "delivered" and rows[delivered[0]].attempts == 1

    # Delivery sends the re-queued ones, and not the one left dead.
    with engine.connect() as connection:
        found = connection.execute(select(notices).where(notices.c.id.in_(dead))).all()
    by_id = {r.id: ":".join(p for p in (r.uscc, r.policy_id, r.period_key, r.kind, r.topic) if p) for r in found}
    receiver = Receiver(flaky=0)
    register(engine, [r.uscc for r in found], receiver.url)
    try:
        with httpx.Client() as client:
            drain(engine, client)
    finally:
        receiver.close()
    assert {by_id[dead[0]], by_id[dead[1]]} <= set(receiver.accepted)
    assert by_id[dead[2]] not in receiver.calls
    assert _notice_ids(engine, delivery_status="dead") == [dead[2]]


def test_requeue_dead_when_all_resends_every_dead_notice(with_notices):
    engine, _ = with_notices
    dead = _notice_ids(engine, limit=40)
    _mark(engine, dead, delivery_status="dead", attempts=FAST.max_attempts)
    with engine.begin() as connection:
        done = requeue_dead(connection)
    assert done.ids == dead and done.skipped == {}
    assert dead_letters(engine)[0] == 0


def test_requeue_dead_when_the_enterprise_objected_leaves_the_notice_dead_until_the_objection_is_dismissed(
    with_notices,
):
    engine, _ = with_notices
    notice_id, declined_id = _notice_ids(engine, limit=2, kind="granted")
    _mark(engine, [notice_id, declined_id], delivery_status="dead", attempts=FAST.max_attempts)
    with engine.begin() as connection:
        found = connection.execute(select(notices).where(notices.c.id.in_([notice_id, declined_id]))).all()
        said = {}
        for row, kind in zip(sorted(found, key=lambda r: r.id), ("objected", "declined"), strict=True):
            said[kind] = connection.execute(
                insert(responses)
                .values(
                    notice_id=row.id,
                    uscc=row.uscc,
                    policy_id=row.policy_id,
                    period_key=row.period_key,
                    kind=kind,
                    detail={"reason": "数据有误，请核实"},
                    actor="test",
                    at=datetime.now(UTC),
                )
                .returning(responses.c.id)
            ).scalar_one()
    with engine.begin() as connection:
        done = requeue_dead(connection, [notice_id, declined_id])
    assert done.ids == [] and set(done.skipped) == {notice_id, declined_id}
    assert "objected to or declined" in done.skipped[notice_id]
    with engine.begin() as connection:
        connection.execute(
            insert(objection_reviews).values(
                response_id=said["objected"],
                outcome="dismissed",
                note="核实无误",
                reviewed_by="test",
                reviewed_at=datetime.now(UTC),
            )
        )
        done = requeue_dead(connection, [notice_id, declined_id])
    assert done.ids == [notice_id] and set(done.skipped) == {declined_id}


def test_deliver_when_the_enterprise_already_answered_withdraws_the_notice_unsent(with_notices):
    engine, keys = with_notices
    with engine.connect() as connection:
        awaiting = connection.execute(select(notices).where(notices.c.kind == "awaiting_confirmation")).first()
        granted = connection.execute(select(notices).where(notices.c.kind == "granted")).first()
    answered = {}
    for notice, kind in ((awaiting, "confirmed"), (granted, "declined")):
        with engine.begin() as connection:
            connection.execute(
                insert(responses).values(
                    notice_id=notice.id, uscc=notice.uscc, policy_id=notice.policy_id, period_key=notice.period_key,
                    kind=kind, actor="enterprise:test", at=datetime.now(UTC),
                )
            )  # fmt: skip
        parts = (notice.uscc, notice.policy_id, notice.period_key, notice.kind, notice.topic)
        answered[":".join(p for p in parts if p)] = notice.id
    receiver = Receiver(flaky=0)
    try:
        register(engine, keys.values(), receiver.url)
        with httpx.Client() as client:
            reports = drain(engine, client)
    finally:
        receiver.close()
    assert not set(answered) & set(receiver.calls), "a notice the enterprise had answered was posted"
    assert sum(r.withdrawn for r in reports) == 2
    with engine.connect() as connection:
        statuses = connection.execute(
            select(notices.c.delivery_status).where(notices.c.id.in_(answered.values()))
        ).scalars()
        assert set(statuses) == {"withdrawn"}
    assert len(receiver.accepted) == len(keys) - 2  # everything else arrived


def test_deliver_when_given_links_puts_each_enterprise_its_own_signed_link_in_payload_and_text(with_notices):
    from api.settings import Settings
    from api.web.links import link_url, read_link

    engine, keys = with_notices
    settings = Settings(web_secret="s" * 40)
    receiver = Receiver(flaky=0)
    register(engine, keys.values(), receiver.url)
    try:
        with httpx.Client() as client:
            report = deliver_due(engine, load_catalogue(), client, policy=FAST, links=lambda u: link_url(settings, u))
    finally:
        receiver.close()
    assert report.delivered > 0
    for body in receiver.accepted.values():
        token = body["link"].rsplit("/", 1)[-1].split("=")[-1]
        assert read_link(settings, token) == body["uscc"]  # a link opens that enterprise's inbox and no other
        assert body["body"]["zh"].endswith(body["link"]) and body["body"]["en"].endswith(body["link"])
