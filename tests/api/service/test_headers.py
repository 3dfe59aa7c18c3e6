"""Every answer tells browsers not to sniff, frame, refer or store it."""

from __future__ import annotations

from fastapi.testclient import TestClient

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def test_answers_when_sent_carry_the_security_headers(client, tokens):
    officer, enterprise = tokens.headers("officer"), tokens.headers("enterprise")
    answers = {
        "health": client.get("/health"),
        "personal data": client.get(f"/enterprises/{tokens.uscc}/decisions", headers=enterprise),
        "a notice": client.get(f"/enterprises/{tokens.uscc}/notices", headers=enterprise),
        "objections": client.get("/objections", headers=officer),
        "no token": client.get("/runs"),
        "no such path": client.get("/nowhere", headers=officer),
        "too large": client.post("/runs", content=b"x" * (1024 * 1024), headers=officer),
    }
    assert [r.status_code for r in answers.values()] == [200, 200, 200, 200, 401, 404, 413]
    for what, response in answers.items():
        assert {k: response.headers.get(k) for k in SECURITY} == SECURITY, what


def test_answers_when_the_service_fails_still_carry_the_security_headers(app):
    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("a fault of the service")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/fails")
    assert response.status_code == 500 and "a fault" not in response.text
    assert {k: response.headers.get(k) for k in SECURITY} == SECURITY
