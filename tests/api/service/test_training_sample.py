"""A training job started over HTTP samples its queries as `huiqi ranker train --max-queries` does."""

from __future__ import annotations

from matcher.ranking.errors import NoFeedbackError
from tests.api.service.test_models import follow


def test_training_job_when_given_max_queries_trains_on_that_sample_and_0_means_all(client, tokens):
    analyst = tokens.headers("analyst")
    asked: list[dict] = []

    def train(engine, store, **params):  # records what training was asked for, then stops as with no feedback
        asked.append(params)
        raise NoFeedbackError("no feedback to train on (recorded)")

    client.app.state.service.trainer.train_model = train
    for body in ({"max_queries": 5000}, {"max_queries": 0}, {}):
        started = client.post("/training-jobs", json=body, headers=analyst)
        assert started.status_code == 202
        assert started.json()["params"] == {"holdout_share": 0.2, "seed": 0, "max_queries": 200_000, **body}
        assert follow(client, f"/training-jobs/{started.json()['id']}", analyst)["status"] == "failed"
    assert [p["max_queries"] for p in asked] == [5000, None, 200_000]


def test_training_job_when_max_queries_is_negative_names_the_field(client, tokens):
    response = client.post("/training-jobs", json={"max_queries": -1}, headers=tokens.headers("analyst"))
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.max_queries"
