"""Runs started over HTTP."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.service.schemas.common import Instant
from matcher.periods import AS_OF_PATTERN, check_as_of

__all__ = ["RunRequestOut", "RunStartIn"]


class RunStartIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"as_of": "2025-06-30"}]})
    as_of: date = Field(
        description="decide as of this date, from the registry extracts of the data directory;"
        " from 1990-01-01 to 2099-12-31",
        json_schema_extra={"pattern": AS_OF_PATTERN},
    )

    @field_validator("as_of")
    @classmethod
    def _in_window(cls, value: date) -> date:
        return check_as_of(value)


class RunRequestOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "as_of": "2025-06-30",
                    "status": "completed",
                    "stage": None,
                    "run_id": "3f0c9d2a4b1e4f5a8c7d6e5f4a3b2c1d",
                    "outcome": "completed",
                    "summary": {"counts": {"granted": 5120, "near_miss": 830}, "quarantined": 12},
                    "error": None,
                    "requested_by": "officer:alice#2",
                    "requested_at": "2025-06-30T08:00:00Z",
                    "started_at": "2025-06-30T08:00:01Z",
                    "finished_at": "2025-06-30T08:01:10Z",
                }
            ]
        }
    )

    id: int
    as_of: date
    status: Literal["queued", "running", "completed", "failed"]
    stage: str | None = None
    run_id: str | None = None
    outcome: str | None = Field(default=None, description="completed, or unchanged when the same run was done before")
    summary: dict[str, Any] | None = None
    error: str | None = None
    requested_by: str
    requested_at: Instant
    started_at: Instant | None = None
    finished_at: Instant | None = None
