"""Signed links open one enterprise's inbox until they expire; a real secret is required outside development."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.settings import Settings
from api.web.links import LinkError, link_url, read_link, sign_link

USCC = "91440300MA5G00000X"


def test_read_link_when_signed_by_huiqi_gives_its_enterprise():
    settings = Settings(web_secret="s" * 40)
    assert read_link(settings, sign_link(settings, USCC)) == USCC
    assert link_url(settings, USCC).startswith("http://127.0.0.1:8000/web/link/")


def test_read_link_when_altered_or_signed_with_another_secret_is_refused():
    settings = Settings(web_secret="s" * 40)
    token = sign_link(settings, USCC)
    with pytest.raises(LinkError, match="not one huiqi made"):
        read_link(settings, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(LinkError, match="not one huiqi made"):
        read_link(Settings(web_secret="t" * 40), token)


def test_read_link_when_older_than_link_days_is_refused(monkeypatch):
    settings = Settings(web_secret="s" * 40, link_days=1)
    token = sign_link(settings, USCC)
    import itsdangerous.timed

    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: 4_000_000_000)
    with pytest.raises(LinkError, match="older than 1 days"):
        read_link(settings, token)


def test_settings_when_in_production_with_the_placeholder_secret_refuse_to_start():
    with pytest.raises(ValidationError, match="HUIQI_WEB_SECRET"):
        Settings(environment="production")
    assert Settings(environment="production", web_secret="x" * 40).environment == "production"
