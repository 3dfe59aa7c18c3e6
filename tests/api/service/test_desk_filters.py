"""The officer's desk narrows its queues in SQL: a filter finds a matter however far down the queue it sits, and
the headings count every matching matter, not the page."""

from __future__ import annotations

from sqlalchemy import func, select, update

from matcher.db.models import notices
from tests.supervision.test_pages import _sign_in


def test_desk_when_filtered_finds_a_dead_letter_past_the_first_page_and_counts_them_all(
    client, engine, matched, tokens, monkeypatch
):
    monkeypatch.setattr("api.web.desk.QUEUE", 3)  # a page of 3: the filters must not work on it
    with engine.begin() as connection:
        connection.execute(update(notices).values(delivery_status="dead", attempts=6, last_error="HTTP 503"))
        # The oldest notice of a policy and region with at most a page of them (the page shows the newest).
        region_of = func.substr(notices.c.uscc, 3, 6)
        small = (
            select(notices.c.policy_id, region_of.label("region"))
            .group_by(notices.c.policy_id, region_of)
            .having(func.count() <= 3)
            .subquery()
        )
        oldest = connection.execute(
            select(notices)
            .join(small, (small.c.policy_id == notices.c.policy_id) & (small.c.region == region_of))
            .order_by(notices.c.id)
        ).first()
        region = oldest.uscc[2:8]
        matching = connection.execute(
            select(func.count()).where(
                notices.c.policy_id == oldest.policy_id, func.substr(notices.c.uscc, 3, 6) == region
            )
        ).scalar_one()
        total = connection.execute(select(func.count()).select_from(notices)).scalar_one()
    assert total > 3
    _sign_in(client, engine, "officer", "Li Wei")
    everything = client.get("/web/desk")
    assert everything.status_code == 200
    assert f"推送失败通知 ({total})" in everything.text
    assert f'value="{oldest.id}"' not in everything.text  # past the first page
    narrowed = client.get("/web/desk", params={"policy": oldest.policy_id, "region": region})
    assert narrowed.status_code == 200
    assert f'value="{oldest.id}"' in narrowed.text
    assert f"推送失败通知 ({matching})" in narrowed.text
    if matching > 3:
        assert f"显示最新的 3 条，共 {matching} 条" in narrowed.text
