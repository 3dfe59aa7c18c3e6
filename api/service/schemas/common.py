"""Shapes shared by every audience: bilingual text and problem details (RFC 9457)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = ["FieldError", "Instant", "PolicyProblem", "ProblemOut", "Text"]


def _utc(value: datetime) -> datetime:
    # SQLite hands back timestamps without their zone; every timestamp huiqi writes is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


Instant = Annotated[datetime, AfterValidator(_utc)]


class Text(BaseModel):
    zh: str
    en: str


class FieldError(BaseModel):
    field: str = Field(description="where: body.reason, query.limit, path.uscc, facts.<name>, ...")
    message: str
    type: str | None = None


class PolicyProblem(BaseModel):
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None


class ProblemOut(BaseModel):
    """An error, as problem details (RFC 9457, ``application/problem+json``)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://huiqi.example.gov.cn/problems/invalid",
                    "title": "Invalid request",
                    "status": 422,
                    "detail": "invalid body.reason: String should have at least 5 characters",
                    "detail_zh": "请求参数有误：body.reason",
                    "instance": "/enterprises/91440300MA5G00000X/notices/12/object",
                    "errors": [{"field": "body.reason", "message": "String should have at least 5 characters"}],
                }
            ]
        },
    )

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    detail_zh: str | None = Field(default=None, description="the same message in Chinese, where there is one")
    instance: str | None = None
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="each problem: a field (FieldError) or a place in a policy text (PolicyProblem)"
    )
