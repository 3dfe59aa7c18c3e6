"""The OpenAPI document is complete, and schemathesis fuzzing it finds no server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from api.service.auth import PUBLIC_READS, FailedAuth
from tests.api.service.conftest import notice_of

EXAMPLES = 8  # per operation and mode: enough to hit every branch of validation, small enough to stay fast


def test_openapi_when_read_declares_bearer_auth_problems_and_examples(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A token issued by `huiqi token create --role ROLE [--uscc USCC]`.",
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path in PUBLIC_READS:  # read without a token (api/service/auth.py)
                continue
            assert operation["security"] == [{"bearer": []}], (method, path)
            for status in ("401", "403", "422"):
                assert "application/problem+json" in operation["responses"][status]["content"], (method, path, status)
    schemas = spec["components"]["schemas"]
    documented = ("DecisionOut", "NoticeOut", "ActionOut", "DraftOut", "ImpactOut", "RunRequestOut", "ProblemOut")
    for name in (*documented, "ModelVersionOut", "TrainingJobIn", "TrainingJobOut", "RankingReason"):
        assert schemas[name].get("examples"), name


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_openapi_when_fuzzed_by_schemathesis_finds_no_server_error(app, engine, tokens, mode):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Every call below sends a valid token itself (test_roles covers none and wrong ones), so a case "missing
    # Authorization" would be valid once sent; and undeclared query parameters are ignored, as FastAPI does.
    # Neither is data the service can reject, so neither is generated as "negative".
    # A NUL character (U+0000) in any text is refused with 422 by design (test_nul.py, docs/limits.md): the schema's
    # strings would otherwise say it is valid data.
    schema.config.generation.update(with_security_parameters=False, allow_extra_parameters=False, allow_x00=False)
    # A body over its endpoint's cap is rightly refused with 413 (a draft's text has a maxLength).
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    # schemathesis sends a wrong token to every operation to check it is refused: hundreds of failed
    # authentications from one address, which the limit (tested in test_failed_auth.py) would answer 429.
    app.state.failed_auth = FailedAuth(limit=1_000_000)
    own_notice = notice_of(engine, "awaiting_confirmation").id
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        # Enterprise endpoints with the token's own USCC reach the handlers; the rest with an admin token.
        fixed = {"uscc": tokens.uscc} if "uscc" in names else {}
        if "notice_id" in names and mode is GenerationMode.POSITIVE:
            fixed["notice_id"] = own_notice
        role = "enterprise" if "uscc" in names and operation.method.upper() == "POST" else "admin"

        headers = tokens.headers(role)
        # A draft's YAML body is any text (a draft may be work in progress), so a mistyped body is a text
        # with problems (201), which this check would count as invalid data accepted.
        excluded = [negative_data_rejection] if operation.path == "/policy-drafts" else []
        # A bank's return file is JSON Lines the schema cannot describe: text that is not one is rightly 422. So is
        # a department's complete list (CSV or Parquet), and whether its department keeps that fact's list.
        if operation.path in ("/payouts/returns", "/supplied-facts/lists") and operation.method.upper() == "POST":
            excluded = [positive_data_acceptance]

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case):
            case.call_and_validate(headers=headers, excluded_checks=excluded)  # noqa: B023 (runs right here)

        try:
            fuzz()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body): nothing to test in this mode
            assert mode is GenerationMode.NEGATIVE, operation.label
