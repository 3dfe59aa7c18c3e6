"""Officers run payment batches; enterprises give the account they are paid into (matcher.payouts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from api.service import payouts as service
from api.service.auth import ActingEnterprise, UsccPath, allow
from api.service.problems import PROBLEM_JSON, Conflict, Invalid, NotFound, Problem
from api.service.routes.common import Limit, Offset, problems
from api.service.schemas.common import ProblemOut
from api.service.schemas.payouts import (
    AccountIn,
    AccountOut,
    BatchOut,
    PrepareIn,
    PrepareOut,
    PublicityOut,
    ReconcileOut,
    WithdrawIn,
)
from api.service.state import StateDep
from api.service.tokens import Principal
from features.errors import FeaturesError
from matcher import payouts
from matcher.db.models import PERIOD_KEY_LENGTH

router = APIRouter(tags=["payouts"])
Officer = Annotated[Principal, Depends(allow("officer", "admin"))]
BatchId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the batch's number")]
MAX_RETURN_BODY = 512 * 1024 * 1024  # a return file of a million payments is about 150 MB


class RegistryUnavailable(Problem):
    """The registry the service reads the bank accounts from is missing or broken: the operators' to mend, not the
    caller's mistake, and not a failure of the service either."""

    status, title, slug = 503, "Registry unavailable", "registry-unavailable"


_NO_REGISTRY = (
    "The registry extracts the service reads the enterprises' bank accounts from are missing or unreadable: an "
    "operator puts them in the data directory's registry folder, then the batch is prepared again"
)
_PREPARE_PROBLEMS = problems(409, body=True) | {
    503: {"model": ProblemOut, "description": _NO_REGISTRY, "content": {PROBLEM_JSON: {}}}
}


@contextmanager
def _as_problems() -> Iterator[None]:
    """Refusals of the payout domain as problem documents: state 409, a file or an account 422; a registry the bank
    accounts cannot be read from 503 (the operators' to mend)."""
    try:
        yield
    except FeaturesError as exc:
        raise RegistryUnavailable(
            f"the bank accounts cannot be read from the registry: {exc}. An operator puts the registry extracts "
            "in the data directory's registry folder; then prepare the batch again (nothing was prepared)",
            detail_zh="无法读取登记库中的企业银行账户，未生成批次；"
            "请运维人员将登记库数据放入数据目录的 registry 文件夹后重试",
        ) from None
    except payouts.AccountRefused as exc:
        raise Invalid(
            str(exc), detail_zh=exc.zh, errors=[{"field": f"body.{exc.field}", "message": str(exc)}]
        ) from None
    except payouts.ReturnFileRefused as exc:
        raise Invalid(str(exc), detail_zh=exc.zh, line=exc.context.get("line")) from None
    except payouts.BatchRefused as exc:
        if str(exc).startswith("no payment batch"):
            raise NotFound(str(exc), detail_zh=exc.zh) from None
        raise Conflict(str(exc), detail_zh=exc.zh) from None


@router.get("/payouts/batches", response_model=list[BatchOut], responses=problems())
def read_batches(principal: Officer, state: StateDep, limit: Limit = 100, offset: Offset = 0) -> list[Any]:
    """Payment batches, newest first."""
    with state.engine.connect() as connection:
        return [r._asdict() for r in payouts.list_batches(connection, limit, offset)]


@router.post("/payouts/batches", status_code=201, response_model=PrepareOut, responses=_PREPARE_PROBLEMS)
def prepare_batch(body: PrepareIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Make payable what nothing holds any more and gather every payable cash benefit into a new batch. Audited.
    503 when the registry holding the bank accounts cannot be read (nothing is prepared)."""
    with _as_problems():
        summary = service.prepare_batch(state.engine, state.settings, principal, body.as_of, catalogue=state.catalogue)
    return summary.as_dict()


@router.get("/payouts/batches/{batch_id}", response_model=BatchOut, responses=problems(404))
def read_batch(batch_id: BatchId, principal: Officer, state: StateDep) -> dict[str, Any]:
    with _as_problems(), state.engine.connect() as connection:
        return payouts.get_batch(connection, batch_id)._asdict()


@router.post("/payouts/batches/{batch_id}/approve", response_model=BatchOut, responses=problems(404, 409))
def approve_batch(batch_id: BatchId, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Approve a prepared batch: 409 for the officer who prepared it (maker-checker). Audited."""
    with _as_problems():
        return service.approve_batch(state.engine, principal, batch_id)._asdict()


@router.post("/payouts/batches/{batch_id}/withdraw", response_model=BatchOut, responses=problems(404, 409, body=True))
def withdraw_batch(batch_id: BatchId, body: WithdrawIn, principal: Officer, state: StateDep) -> dict[str, Any]:
    """Withdraw a batch not yet exported; its benefits become payable again. Audited."""
    with _as_problems():
        return service.withdraw_batch(state.engine, principal, batch_id, body.reason)._asdict()


@router.post(
    "/payouts/batches/{batch_id}/export",
    response_class=FileResponse,
    responses=problems(404, 409) | {200: {"content": {"application/x-ndjson": {}}, "description": "the file"}},
)
def export_batch(batch_id: BatchId, principal: Officer, state: StateDep) -> FileResponse:
    """The payment file of an approved batch (JSON Lines, docs/payouts.md); the same bytes every time. Audited."""
    out = state.settings.data_dir / "payouts" / f"batch-{batch_id}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with _as_problems():
        service.export_batch(state.engine, principal, batch_id, out)
    return FileResponse(out, media_type="application/x-ndjson", filename=out.name)


# Read as bytes whatever its media type (JSON Lines, often sent as text/plain or application/x-ndjson).
_RETURN_BODY = {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}


@router.post(
    "/payouts/returns",
    response_model=ReconcileOut,
    responses=problems(404, 409, body=True),
    openapi_extra={"requestBody": _RETURN_BODY},
)
async def reconcile_return(request: Request, principal: Officer, state: StateDep) -> dict[str, Any]:
    """The bank's return file as the body (JSON Lines): refused whole (422) when it does not add up. Audited."""
    data = await request.body()
    with _as_problems():
        done = await run_in_threadpool(service.reconcile_return, state.engine, principal, data, "request body")
    return done.__dict__


@router.put("/enterprises/{uscc}/account", response_model=AccountOut, responses=problems(body=True))
def put_account(uscc: UsccPath, body: AccountIn, principal: ActingEnterprise, state: StateDep) -> dict[str, Any]:
    """The enterprise gives the account it is paid into (the name must be its registered name); a payment that
    failed is payable again. Audited."""
    account = payouts.Account(body.bank_code, body.account_no, body.account_name)
    with _as_problems():
        return service.correct_account(state.engine, state.settings, principal, uscc, account)


@router.get("/publicity", response_model=list[PublicityOut], responses=problems())
def read_publicity(
    principal: Officer,
    state: StateDep,
    policy_id: Annotated[str | None, Query(max_length=80)] = None,
    period_key: Annotated[str | None, Query(max_length=PERIOD_KEY_LENGTH)] = None,
    as_of: Annotated[date | None, Query(description="default: today")] = None,
) -> list[dict[str, Any]]:
    """Granted cash benefits in their publicity period (公示): name, USCC, policy, amount."""
    return service.publicity(
        state.engine, state.settings, as_of or date.today(), policy_id=policy_id, period_key=period_key,
        catalogue=state.catalogue,
    )  # fmt: skip
