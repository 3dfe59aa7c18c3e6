"""The open statistics over HTTP, without a token: totals equal the ledger's after a real payout; the metrics
endpoint for a monitor token; the request id carried from the header into the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from sqlalchemy import distinct, func, select

from api.service.tokens import issue_token
from matcher import payouts
from matcher.db.models import audit_log, benefits, runs
from matcher.payouts.export import read_items

TODAY = datetime.now(UTC).date()


def _pay_everything(engine, registry, repository, tmp_path) -> None:
    """Prepare, approve, export and reconcile one batch of every payable cash benefit: all paid by the bank."""
    terms = payouts.cash_terms(repository.policies)
    accounts = payouts.registry_accounts(registry)
    batch = payouts.prepare(engine, TODAY + timedelta(days=16), terms, accounts, actor="cli:alice", person="alice")
    assert batch.items > 10
    with engine.begin() as connection:
        payouts.approve(connection, batch.batch_id, actor="cli:bob", person="bob")
    payouts.export(engine, batch.batch_id, tmp_path / "batch.jsonl", actor="cli:bob")
    with engine.connect() as connection:
        items = read_items(connection, batch.batch_id)
    answer = payouts.bank_return(
        batch.batch_id, items.select("reference", "amount_fen", status=pl.lit("paid"), reason_code=pl.lit(None))
    )
    payouts.reconcile(engine, payouts.parse_return(answer, "return.jsonl"), actor="cli:bob")


def test_open_statistics_when_read_without_a_token_equal_the_ledger_and_hide_small_cells(
    client, engine, matched, registry, repository, tmp_path
):
    _pay_everything(engine, registry, repository, tmp_path)
    with engine.connect() as connection:
        paid_policy, paid_fen, paid_firms = connection.execute(
            select(benefits.c.policy_id, func.sum(benefits.c.paid_fen), func.count(distinct(benefits.c.uscc)))
            .where(benefits.c.paid_fen > 0)
            .group_by(benefits.c.policy_id)
            .order_by(func.count(distinct(benefits.c.uscc)).desc())
        ).first()
        granted = connection.execute(
            select(func.count(distinct(benefits.c.uscc))).where(
                benefits.c.policy_id == paid_policy, benefits.c.status != "cancelled"
            )
        ).scalar_one()
    assert paid_firms >= 5
    listed = client.get("/statistics")  # no Authorization header at all
    assert listed.status_code == 200 and paid_policy in {p["policy_id"] for p in listed.json()}
    year = 2025  # the run's as-of year (AS_OF): its decisions and grants count for 2025
    answer = client.get(f"/statistics/policies/{paid_policy}/{year}", params={"dimension": "region"})
    assert answer.status_code == 200, answer.text
    figures = answer.json()
    assert figures["total"]["paid_fen"] == paid_fen and figures["total"]["paid"] == paid_firms
    assert figures["total"]["granted"] == granted and figures["total"]["eligible"] >= granted
    shown = [c for c in figures["cells"] if c["paid"] is not None]
    assert all(c["paid"] == 0 or c["paid"] >= figures["threshold"] for c in shown)
    hidden_fen = paid_fen - sum(c["paid_fen"] or 0 for c in shown)
    hidden_firms = paid_firms - sum(c["paid"] for c in shown)
    assert hidden_firms == 0 or hidden_firms >= figures["threshold"], hidden_fen
    # A policy nobody published, a year out of range: clear refusals, not 500s.
    assert client.get(f"/statistics/policies/no-such-policy/{year}").status_code == 404
    assert client.get(f"/statistics/policies/{paid_policy}/1850").status_code == 422
    # The page, without signing in.
    page = client.get("/web/statistics", params={"policy": paid_policy, "year": year, "dimension": "size_class"})
    assert page.status_code == 200 and "政策兑现公开数据" in page.text
    assert f"{paid_fen // 100:,}" in page.text


def test_metrics_when_scraped_count_the_requests_by_route_template_for_a_monitor_only(client, engine, tokens):
    monitor = {"Authorization": f"Bearer {issue_token(engine, role='monitor', name='prometheus')[0]}"}
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=tokens.headers("officer")).status_code == 403

    def served(route: str) -> float:
        text = client.get("/metrics", headers=monitor).text
        lines = [x for x in text.splitlines() if x.startswith("huiqi_http_requests_total{") and f'route="{route}"' in x]
        return sum(float(x.rsplit(" ", 1)[1]) for x in lines if 'method="GET"' in x and 'status="2xx"' in x)

    before = served("/enterprises/{uscc}/decisions")
    for _ in range(7):
        assert (
            client.get(f"/enterprises/{tokens.uscc}/decisions", headers=tokens.headers("enterprise")).status_code == 200
        )
    assert served("/enterprises/{uscc}/decisions") == before + 7
    text = client.get("/metrics", headers=monitor).text
    assert f"/enterprises/{tokens.uscc}" not in text  # the template, never the raw path
    assert "huiqi_notices{" in text and "huiqi_run_stage_seconds{" in text and "huiqi_dead_letters" in text
    assert "huiqi_http_request_duration_seconds_bucket{" in text
    # The run's stage durations, as the run recorded them (matcher/run.py: runs.timings).
    with engine.connect() as connection:
        timings = connection.execute(select(runs.c.timings).where(runs.c.status == "completed")).scalar_one()
    scraped = {
        line.split('stage="', 1)[1].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("huiqi_run_stage_seconds{")
    }
    assert scraped == {stage: float(seconds) for stage, seconds in timings.items()} and scraped


def test_request_id_when_sent_is_answered_and_written_to_the_audit_log_and_a_bad_one_replaced(client, engine, tokens):
    headers = tokens.headers("officer") | {"X-Request-ID": "trace-42.a_b"}
    done = client.post("/notices/dead/requeue", json={}, headers=headers)
    assert done.headers["X-Request-ID"] == "trace-42.a_b"
    supervisor = {"Authorization": f"Bearer {issue_token(engine, role='supervisor', name='Zhao')[0]}"}
    watched = client.post("/supervision/watch", headers=supervisor | {"X-Request-ID": "watch-1"})
    assert watched.status_code == 200, watched.text
    with engine.connect() as connection:
        entry = connection.execute(
            select(audit_log.c.action, audit_log.c.request_id).where(audit_log.c.action == "supervision.watch")
        ).one()
    assert entry.request_id == "watch-1"
    forged = client.get("/health", headers={"X-Request-ID": "x" * 65})
    assert forged.headers["X-Request-ID"] != "x" * 65 and len(forged.headers["X-Request-ID"]) == 32


def test_access_log_when_a_request_is_served_is_one_json_line_with_its_request_id(client):
    import io
    import json
    import logging

    from api.service.logs import JsonFormatter, access_log

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    access_log.addHandler(handler)
    level = access_log.level
    access_log.setLevel(logging.INFO)
    try:
        client.get("/statistics", headers={"X-Request-ID": "log-7"})
    finally:
        access_log.removeHandler(handler)
        access_log.setLevel(level)
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert line["request_id"] == "log-7" and line["route"] == "/statistics" and line["status"] == 200
    assert line["method"] == "GET" and line["duration_ms"] >= 0 and line["logger"] == "huiqi.access"
