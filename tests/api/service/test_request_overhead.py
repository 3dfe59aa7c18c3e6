"""What every request pays for outside its route: its id, its metrics, its access log line; and the explanation's
ranking reasons: without a champion given without a hop to a thread, with one read as the bulk path reads them."""

from __future__ import annotations

import logging
import re
import time

from sqlalchemy import select

from api.service import metrics
from api.service.logs import HEADER, RequestIds, access_log
from api.service.ranker import NO_CHAMPION, UNAVAILABLE, Ranker
from api.service.routes import enterprises
from matcher.db.models import decisions


def _counted(client, headers: dict, method: str) -> float:
    text = client.get("/metrics", headers=headers).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("huiqi_http_requests_total{")
        and f'method="{method}"' in line
        and 'route="unmatched"' in line
    )


def test_request_id_when_none_is_sent_is_a_fresh_32_hex_id_per_request(client):
    ids = [client.get("/health").headers[HEADER] for _ in range(50)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 50


def test_request_ids_when_a_process_forks_do_not_repeat_the_parents(client):
    from api.service import logs

    before = logs._fresh_id()
    logs._fresh_id.reset()  # what os.register_at_fork runs in a forked child
    after = logs._fresh_id()
    assert before[:16] != after[:16] and len(after) == 32


def test_metrics_when_clients_make_up_methods_count_them_as_other_without_growing(client, engine):
    from api.service.tokens import issue_token

    monitor = {"Authorization": f"Bearer {issue_token(engine, role='monitor', name='prometheus')[0]}"}
    before = _counted(client, monitor, "other")
    keys = len(metrics._children)
    for method in ("BREW", "WHEN", "PROPFIND"):
        assert client.request(method, "/no-such-path").status_code < 500
    assert _counted(client, monitor, "other") == before + 3
    assert 'method="BREW"' not in client.get("/metrics", headers=monitor).text
    assert len(metrics._children) <= keys + 2  # one key for the three, and the scrapes' own


def test_access_log_when_off_builds_no_record_and_when_on_logs_status_and_route(client):
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler, level = Keep(), access_log.level
    access_log.addHandler(handler)
    try:
        access_log.setLevel(logging.WARNING)  # `huiqi serve --no-access-log`: nothing is installed at INFO
        client.get("/health")
        assert records == []
        access_log.setLevel(logging.INFO)
        answered = client.get("/health", headers={HEADER: "abc-1"})
    finally:
        access_log.removeHandler(handler)
        access_log.setLevel(level)
    (record,) = records
    assert answered.headers[HEADER] == "abc-1"
    assert (record.route, record.status, record.method) == ("/health", 200, "GET")  # type: ignore[attr-defined]


def test_request_ids_middleware_when_no_observer_is_given_still_answers_with_the_id():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    sent: list[dict] = []

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-other", b"1")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "headers": [(b"x-request-id", b"given-7")], "path": "/"}
    # In a thread of its own: an xdist worker that ran the browser tests keeps Playwright's event loop running in
    # its main thread until the session ends, and asyncio.run refuses to start beside it.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, RequestIds(app)(scope, None, send)).result()
    assert (b"x-request-id", b"given-7") in sent[0]["headers"] and (b"x-other", b"1") in sent[0]["headers"]


class _Store:
    """A model store with no champion; counts how often it is asked."""

    tracking_uri = "memory:"

    def __init__(self, fails: bool = False) -> None:
        self.asked, self.fails = 0, fails

    def champion_version(self):
        self.asked += 1
        if self.fails:
            raise OSError("store unreachable")
        return None


def test_note_without_model_when_the_check_is_fresh_is_the_note_reasons_would_give(engine):
    store = _Store()
    ranker = Ranker(engine, store, ttl=60)  # type: ignore[arg-type]
    assert ranker.note_without_model() is None  # never checked: the caller must ask (in a thread)
    assert ranker.reasons("u", "p") == (None, NO_CHAMPION)
    assert ranker.note_without_model() == NO_CHAMPION and store.asked == 1  # no second read of the store
    broken = Ranker(engine, _Store(fails=True), ttl=60)  # type: ignore[arg-type]
    assert broken.reasons("u", "p") == (None, UNAVAILABLE)
    assert broken.note_without_model() == UNAVAILABLE
    stale = Ranker(engine, store, ttl=0)  # type: ignore[arg-type]
    stale.reasons("u", "p")
    assert stale.note_without_model() is None  # due for a re-read: not answered from memory


def test_reasons_at_once_answer_from_memory_only_while_the_check_is_fresh_or_under_way(engine):
    def rows(*_args):
        raise AssertionError("no pair to look up without a model")

    store = _Store()
    ranker = Ranker(engine, store, ttl=60)  # type: ignore[arg-type]
    assert ranker.reasons_at_once("u", "p", None, rows) is None  # never checked: the caller reads it (in a thread)
    ranker.reasons("u", "p")
    assert ranker.reasons_at_once("u", "p", None, rows) == (None, NO_CHAMPION) and store.asked == 1
    ranker.forget()  # a promotion here: the next answer must read the store again
    assert ranker.reasons_at_once("u", "p", None, rows) is None
    stale = Ranker(engine, store, ttl=0)  # type: ignore[arg-type]
    stale.reasons("u", "p")
    assert stale.reasons_at_once("u", "p", None, rows) is None  # due for a re-read: this request goes to re-read
    # The requests that follow before its thread holds the lock answer from memory: one hop to a thread, not one
    # per request in flight (under load, every request of the event loop's batch hopped and queued for the pool).
    assert stale.reasons_at_once("u", "p", None, rows) == (None, NO_CHAMPION)
    stale.reasons("u", "p")  # the thread re-read the store: the next due re-read is claimed again
    assert stale.reasons_at_once("u", "p", None, rows) is None and store.asked == 3
    stale._claimed = -float("inf")
    with stale._lock:  # a thread is re-reading the store: what was read last answers meanwhile, without waiting
        assert stale.reasons_at_once("u", "p", None, rows) == (None, NO_CHAMPION)
    assert store.asked == 3


class _Versions(_Store):
    """A model store whose champion changes: the versions it names, one per read (the last one repeats)."""

    def __init__(self, versions: list[str | None]) -> None:
        super().__init__()
        self.versions = versions

    def champion_version(self):
        self.asked += 1
        return self.versions[min(self.asked, len(self.versions)) - 1]

    def load(self, version):
        return object()


def test_the_service_freezes_what_reading_the_model_store_made_once_per_new_champion(app, engine):
    """Reading the store imports MLflow and builds the booster after start-up's gc.freeze(): hundreds of thousands
    of objects each full collection would scan (pauses of 100–150 ms under load). The service freezes them too:
    on the first read and after a new champion is loaded, not on each re-read."""
    import gc

    assert app.state.service.ranker.on_load is gc.freeze
    frozen: list[int] = []
    ranker = Ranker(engine, _Versions([None, None, "2", "2"]), ttl=0, on_load=lambda: frozen.append(1))  # type: ignore[arg-type]
    for expected in (1, 1, 2, 2):  # first read; the same (none); a new champion; the same again
        ranker.reasons("u", "p")
        assert len(frozen) == expected


def test_explanation_without_a_champion_once_checked_takes_no_thread(client, engine, tokens, monkeypatch):
    with engine.connect() as connection:
        decision_id = connection.execute(
            select(decisions.c.id).where(decisions.c.uscc == tokens.uscc).order_by(decisions.c.id).limit(1)
        ).scalar_one()
    path, headers = f"/enterprises/{tokens.uscc}/decisions/{decision_id}", tokens.headers("enterprise")
    first = client.get(path, headers=headers)  # the ranker reads the (empty) store once, in a thread
    assert first.status_code == 200

    def no_thread(*_args, **_kwargs):
        raise AssertionError("the explanation hopped to a thread with no champion to read")

    monkeypatch.setattr(enterprises, "run_in_threadpool", no_thread)
    again = client.get(path, headers=headers)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.json()["explanation"]["ranking_reasons"] is None
    assert again.json()["explanation"]["ranking_note"] == NO_CHAMPION


def test_a_served_worker_reads_the_champion_before_its_first_request(app):
    """`huiqi serve` reads the model store before listening: otherwise the first explanations wait for MLflow's
    import and the booster (seconds) in threads, every request a restarted worker was given under load."""
    from api.service.server import _ready

    def rows(*_args):
        raise AssertionError("no pair to look up without a model")

    ranker = app.state.service.ranker
    assert ranker.reasons_at_once("u", "p", None, rows) is None  # a fresh app: the first request would read it
    assert _ready(app) is app
    assert ranker.reasons_at_once("u", "p", None, rows) == (None, NO_CHAMPION)  # answered at once, no thread


class _SlowStore(_Store):
    """A model store that takes its time to answer (a tracking server retrying)."""

    def champion_version(self):
        time.sleep(3)
        return super().champion_version()


def test_a_served_worker_waits_for_a_hanging_model_store_only_so_long(engine):
    from types import SimpleNamespace

    from api.service.server import _ready

    store = _SlowStore()
    ranker = Ranker(engine, store, ttl=60)  # type: ignore[arg-type]
    app = SimpleNamespace(state=SimpleNamespace(service=SimpleNamespace(ranker=ranker)))
    started = time.monotonic()
    _ready(app, wait=0.2)  # type: ignore[arg-type]
    assert time.monotonic() - started < 2  # listens before the store answered
    assert ranker.champion() is None and store.asked == 1  # the read went on meanwhile, and only once
