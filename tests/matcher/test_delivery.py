"""The outbox against a real local HTTP receiver that fails some requests."""

import json
import threading
from collections import Counter
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import polars as pl
import pytest
from sqlalchemy import insert, select

from features.synthetic import generate
from matcher.db.models import notices, webhooks
from matcher.delivery import DeliveryPolicy, deliver_due
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


@pytest.fixture
def with_notices(engine, tmp_path):
    registry = tmp_path / "registry"
    generate(registry, enterprises=200, seed=4)
    run_matching(engine, registry, AS_OF, load_catalogue().in_force(AS_OF))
    with engine.connect() as connection:
        rows = connection.execute(select(notices.c.uscc, notices.c.policy_id, notices.c.period_key, notices.c.kind))
        keys = {":".join(r): r.uscc for r in rows}
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
