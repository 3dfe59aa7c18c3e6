"""Maker-checker: a draft is published only after a different person approved it.

States: ``draft`` → ``submitted`` → ``approved`` → ``published``; the checker may
instead send it back (``returned``, with a comment). Any change of the text
after submitting sends the draft back to ``draft``: an approval covers one
revision of the text and one effective date, nothing else. Drafts submitted
together (a set of related policies) are approved, returned and published
together. Who is "a different person" is the token holder's name, not the
token: one officer with two tokens is still one person.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.service.tokens import Principal

__all__ = ["MOVES", "STATES", "parse_set", "person", "refusal", "same_person", "set_key"]

STATES = ("draft", "submitted", "approved", "returned", "published")
# The states each move starts from.
MOVES: dict[str, tuple[str, ...]] = {
    "submit": ("draft", "returned"),
    "approve": ("submitted",),
    "reject": ("submitted", "approved"),
    "publish": ("approved",),
}
_STATE_ZH = {"draft": "草稿", "submitted": "待审核", "approved": "已批准", "returned": "已退回", "published": "已发布"}
_DONE = {"submit": "submitted", "approve": "approved", "reject": "sent back", "publish": "published"}
_MOVE_ZH = {"submit": "提交审核", "approve": "批准", "reject": "退回", "publish": "发布"}
_NEXT_STEP = {
    "draft": "submit it for review first (POST /policy-drafts/{id}/submit)",
    "submitted": "it waits for another officer's approval",
    "approved": "it is approved: publish it",
    "returned": "it was sent back: change it and submit it again",
    "published": "it is published and frozen: write a new draft for the next version",
}


def person(principal: Principal) -> str:
    """The person behind a token, as compared for maker-checker."""
    return " ".join(principal.name.split()).casefold()[:80]


def refusal(row: Any, move: str) -> tuple[str, str] | None:
    """Why ``move`` cannot happen in the draft's state (English, Chinese), or None when it can."""
    state = row.review_state
    if state in MOVES[move]:
        return None
    step = _NEXT_STEP[state].replace("{id}", str(row.id))
    return (
        f"draft {row.id} is {state}; it cannot be {_DONE[move]}: {step}",
        f"草稿 {row.id} 当前为“{_STATE_ZH[state]}”，不能{_MOVE_ZH[move]}",
    )


def same_person(row: Any, principal: Principal) -> str | None:
    """Why ``principal`` may not review the draft (they wrote or submitted it), or None."""
    me = person(principal)
    if row.submitter and row.submitter == me:
        return f"{principal.name} submitted draft {row.id}; another officer must review it"
    if row.editor and row.editor == me:
        return f"{principal.name} last changed the text of draft {row.id}; another officer must review it"
    return None


def set_key(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(set(ids)))


def parse_set(key: str | None) -> list[int]:
    return [int(i) for i in key.split(",")] if key else []
