"""Bodies are capped per route and the token is checked before a body is read: an oversized or unauthenticated
body is refused having pulled none of it (or no more than the cap) from the client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from api.service.limits import DEFAULT_BODY
from api.service.routes.drafts import MAX_BODY
from tests.api.service.test_roles import DRAFT

MIB = 1024 * 1024
HUGE = 100 * MIB


class Pulled:
    """A request body made as the server pulls it, ``chunk`` bytes at a time: ``data``, or ``size`` bytes of x.
    Counts what was pulled."""

    def __init__(self, size: int = 0, chunk: int = MIB, data: bytes | None = None) -> None:
        self.data, self.chunk, self.pulled = data, chunk, 0
        self.size = size if data is None else len(data)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.pulled < self.size:
            start, n = self.pulled, min(self.chunk, self.size - self.pulled)
            self.pulled += n  # counted as handed over
            yield b"x" * n if self.data is None else self.data[start : start + n]


def send(client, method: str, path: str, body: Pulled, headers: dict[str, str]) -> httpx.Response:
    """One request straight to the ASGI app, on the test client's event loop, pulling the body lazily."""

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await http.request(method, path, content=body, headers=headers)

    return client.portal.call(call)


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["detail"] and problem["detail_zh"]
    return problem


def test_body_when_its_declared_length_is_over_the_cap_is_refused_413_before_any_is_read(client):
    body = Pulled(HUGE)
    response = send(client, "POST", "/runs", body, {"content-length": str(HUGE), "content-type": "application/json"})
    problem = assert_problem(response, 413)
    assert f"{DEFAULT_BODY // 1024} KiB" in problem["detail"] and f"{HUGE:,}" in problem["detail"]
    assert problem["limit_bytes"] == DEFAULT_BODY
    assert body.pulled == 0


@pytest.mark.parametrize("token", [None, "hq_not-a-token-we-issued"], ids=["no token", "unknown token"])
def test_body_when_the_token_is_missing_or_unknown_is_refused_401_before_any_is_read(client, token):
    body = Pulled(HUGE)  # chunked: no Content-Length to refuse it by
    headers = {"content-type": "application/yaml"} | ({"authorization": f"Bearer {token}"} if token else {})
    response = send(client, "POST", "/policy-drafts", body, headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="huiqi"'
    assert body.pulled == 0


def test_body_when_chunked_past_the_cap_is_refused_413_having_read_no_more_than_the_cap(client, tokens):
    body = Pulled(HUGE, chunk=16 * 1024)
    headers = {"content-type": "application/yaml"} | tokens.headers("officer")
    response = send(client, "POST", "/policy-drafts", body, headers)
    problem = assert_problem(response, 413)
    assert f"{MAX_BODY // 1024} KiB" in problem["detail"]
    assert MAX_BODY < body.pulled <= MAX_BODY + body.chunk


def test_body_when_within_the_cap_reaches_the_route_whole_however_it_was_chunked(client, tokens):
    body = Pulled(data=DRAFT.encode(), chunk=1000)
    headers = {"content-type": "application/yaml"} | tokens.headers("officer")
    response = send(client, "POST", "/policy-drafts", body, headers)
    assert response.status_code == 201, response.text
    assert response.json()["text"] == DRAFT and body.pulled == len(DRAFT.encode())


@pytest.mark.parametrize("method, path", [("POST", "/policy-drafts"), ("PUT", "/policy-drafts/{draft_id}")])
def test_draft_body_when_exactly_at_the_cap_is_read_and_one_byte_more_is_413(client, tokens, method, path):
    headers = {"content-type": "application/yaml"} | tokens.headers("officer")
    draft_id = client.post("/policy-drafts", content=DRAFT, headers=headers).json()["id"]
    padding = MAX_BODY - len(DRAFT.encode())
    at_cap = DRAFT + "".join("#" * 99 + "\n" for _ in range(padding // 100)) + "#" * (padding % 100)
    assert len(at_cap.encode()) == MAX_BODY
    url = path.format(draft_id=draft_id)
    assert client.request(method, url, content=at_cap, headers=headers).status_code in (200, 201)
    over = client.request(method, url, content=at_cap + "#", headers=headers)
    assert_problem(over, 413)


def test_body_when_its_length_header_is_not_a_number_is_a_400_saying_so(client, tokens):
    headers = {"content-length": "lots", "content-type": "application/json"} | tokens.headers("officer")
    response = send(client, "POST", "/runs", Pulled(10), headers)
    assert "Content-Length" in assert_problem(response, 400)["detail"]


def test_body_when_the_path_needs_no_token_is_not_asked_for_one(client):
    # /health takes no token and no POST: the router's 405, not a 401.
    response = send(client, "POST", "/health", Pulled(100), {"content-type": "text/plain"})
    assert response.status_code == 405
    assert send(client, "GET", "/health", Pulled(100), {"content-type": "text/plain"}).status_code == 200


def test_body_when_no_route_takes_it_still_needs_a_token_and_is_left_unread(client):
    body = Pulled(HUGE)
    response = send(client, "POST", "/no-such-thing", body, {"content-type": "application/json"})
    assert_problem(response, 401)
    assert body.pulled == 0


def test_reads_when_declared_in_openapi_take_no_body(app):
    # BodyLimits lets GET, HEAD and OPTIONS through unchecked: it holds only while no such route reads a body.
    for path, operations in app.openapi()["paths"].items():
        for method in {"get", "head", "options"} & operations.keys():
            assert "requestBody" not in operations[method], (method, path)
