"""Notices delivery gave up on (dead letters), and sending them again."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.service.schemas.common import Instant

__all__ = ["MAX_REQUEUE_IDS", "DeadLetterOut", "RequeueIn", "RequeueOut", "SkippedOut"]

MAX_REQUEUE_IDS = 1000  # ids per request; `{"ids": "all"}` re-queues any number


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 1042,
                    "idempotency_key": "91440300MA5G00000X:job-retention-refund:2025:granted",
                    "uscc": "91440300MA5G00000X",
                    "policy_id": "job-retention-refund",
                    "kind": "granted",
                    "attempts": 6,
                    "last_error": "HTTP 503",
                    "created_at": "2025-06-30T08:01:00Z",
                }
            ]
        }
    )

    id: int = Field(description="the notice's id: what POST /notices/dead/requeue takes")
    idempotency_key: str
    uscc: str
    policy_id: str
    kind: str
    attempts: int
    last_error: str | None = None
    created_at: Instant


NoticeId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class RequeueIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"ids": [1042, 1043]}, {"ids": "all"}]},
    )

    ids: Annotated[list[NoticeId], Field(min_length=1, max_length=MAX_REQUEUE_IDS)] | Literal["all"] = Field(
        description='the dead notices to send again (GET /notices/dead lists them), or "all" of them'
    )

    @field_validator("ids", mode="before")
    @classmethod
    def _list_or_all(cls, value: Any) -> Any:
        # Said once, plainly, instead of one error per member of the union.
        if (isinstance(value, str) and value != "all") or value == []:
            raise ValueError(f'expected a list of notice ids (e.g. [1042]) or "all", found {value!r}')
        return value


class SkippedOut(BaseModel):
    id: int
    reason: str = Field(description="why it was left alone: not dead, no such notice, or the enterprise said no")


class RequeueOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"requeued": 1, "ids": [1042], "skipped": [{"id": 1043, "reason": "it is delivered, not dead"}]}
            ]
        }
    )

    requeued: int = Field(description="how many dead notices are pending again; delivery sends them next")
    ids: list[int]
    skipped: list[SkippedOut] = Field(description="ids asked for and left alone, each with why")
