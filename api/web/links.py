"""Signed links: a notice carries one, and it opens that one enterprise's inbox until it expires.

The link names the USCC and is signed with ``HUIQI_WEB_SECRET`` (HMAC-SHA256, itsdangerous); its age is in the
signature, so it expires ``HUIQI_LINK_DAYS`` after it was made without any row in the database.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from api.settings import Settings

__all__ = ["LinkError", "link_url", "read_link", "sign_link"]

_SALT = "huiqi.web.link"


class LinkError(Exception):
    """A link that is forged, altered or expired: the message says which, in Chinese and English."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.en, self.zh = en, zh


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.web_secret.get_secret_value(), salt=_SALT)


def sign_link(settings: Settings, uscc: str) -> str:
    return _serializer(settings).dumps(uscc)


def link_url(settings: Settings, uscc: str) -> str:
    """The address that opens ``uscc``'s inbox, as a notice carries it."""
    return f"{settings.public_url.rstrip('/')}/web/link/{sign_link(settings, uscc)}"


def read_link(settings: Settings, token: str) -> str:
    """The USCC the link was made for; LinkError when it is forged, altered or older than ``link_days``."""
    try:
        return _serializer(settings).loads(token, max_age=settings.link_days * 86400)
    except SignatureExpired:
        raise LinkError(
            f"this link is older than {settings.link_days} days: open the inbox with the newest notice's link",
            f"链接已超过 {settings.link_days} 天有效期：请使用最新通知中的链接",
        ) from None
    except BadSignature:
        raise LinkError(
            "this link is not one huiqi made (altered or cut short): open it again from the notice",
            "链接无效（可能被修改或不完整）：请从通知中重新打开",
        ) from None
