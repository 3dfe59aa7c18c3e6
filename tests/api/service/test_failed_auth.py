"""Failed authentications are limited per client address: past the limit a guess gets 429 with Retry-After,
while a valid token from the same address still works."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.service import create_app
from api.service.auth import FAILED_AUTH_LIMIT, FAILED_AUTH_WINDOW, FailedAuth, failed_auth_share

GUESS = {"Authorization": "Bearer hq_a-guess-that-is-no-token"}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failed_auth_when_an_address_passes_the_limit_answers_429_with_retry_after(client, tokens):
    for _ in range(FAILED_AUTH_LIMIT):
        assert client.get("/runs", headers=GUESS).status_code == 401
    refused = client.get("/runs", headers=GUESS)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    # The window started with the first failure, moments ago: nearly all of it is left.
    assert int(refused.headers["retry-after"]) in (FAILED_AUTH_WINDOW - 1, FAILED_AUTH_WINDOW)
    problem = refused.json()
    assert f"{FAILED_AUTH_LIMIT} failed authentications" in problem["detail"] and problem["detail_zh"]
    assert problem["retry_after"] == int(refused.headers["retry-after"])
    # A guess with a body is refused the same way, before its body is read.
    assert client.post("/runs", json={"as_of": "2025-06-30"}, headers=GUESS).status_code == 429
    # Others' failures from the same address (a NAT, a proxy) never lock out a valid token.
    assert client.get("/runs", headers=tokens.headers("officer")).status_code == 200
    assert client.post("/notices/dead/requeue", json={"ids": "all"}, headers=tokens.headers("admin")).status_code == 200


def test_failed_auth_when_the_window_has_passed_answers_401_again(app, client, tokens):
    clock = Clock()
    app.state.failed_auth = FailedAuth(timer=clock)
    for _ in range(FAILED_AUTH_LIMIT):
        client.get("/runs", headers=GUESS)
    clock.now += 45
    refused = client.get("/runs", headers=GUESS)
    assert refused.status_code == 429 and refused.headers["retry-after"] == str(FAILED_AUTH_WINDOW - 45)
    clock.now += FAILED_AUTH_WINDOW - 45
    assert client.get("/runs", headers=GUESS).status_code == 401


def test_failed_auth_when_no_token_is_sent_is_not_counted_as_a_guess(client, tokens):
    for _ in range(FAILED_AUTH_LIMIT + 5):
        assert client.get("/runs").status_code == 401
    assert client.get("/runs", headers=GUESS).status_code == 401


def test_failed_auth_when_many_addresses_fail_remembers_a_bounded_number():
    limiter = FailedAuth(addresses=100)
    for n in range(1000):
        limiter.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(limiter) == 100


def test_failed_auth_when_served_by_two_workers_each_counts_half_the_limit(settings, engine, repository, tokens):
    """With `huiqi serve --workers 2` the kernel spreads a client's connections over both: each worker refuses past
    its half, so the service refuses near the limit, not at twice it."""
    assert [failed_auth_share(n) for n in (1, 2, 3, 40)] == [FAILED_AUTH_LIMIT, 10, 7, 1]
    service = create_app(settings, engine=engine, repository=repository, workers=2)
    try:
        with TestClient(service) as client:
            for _ in range(FAILED_AUTH_LIMIT // 2):
                assert client.get("/runs", headers=GUESS).status_code == 401
            assert client.get("/runs", headers=GUESS).status_code == 429
            assert client.get("/runs", headers=tokens.headers("officer")).status_code == 200
    finally:
        service.state.service.runner.shutdown()
        service.state.service.trainer.shutdown()
