"""What every request needs — settings, the database, the published catalogue, the run and training workers,
the ranker — and the ``Annotated`` aliases routes declare them with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from api.service.published import PublishedCatalogue
from api.service.ranker import Ranker
from api.service.reads import LoopReader
from api.service.runner import Runner
from api.service.trainer import Trainer
from api.settings import Settings

__all__ = ["ServiceState", "StateDep", "get_state"]


@dataclass
class ServiceState:
    settings: Settings
    engine: Engine
    catalogue: PublishedCatalogue
    runner: Runner
    trainer: Trainer
    ranker: Ranker
    reads: LoopReader


async def get_state(request: Request) -> ServiceState:  # async: no thread hop for a lookup
    return request.app.state.service


StateDep = Annotated[ServiceState, Depends(get_state)]
