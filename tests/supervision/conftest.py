"""The service fixtures of tests/api/service (a small synthetic registry matched once, copied per test)."""

from tests.api.service.conftest import (  # noqa: F401
    app,
    checked,
    client,
    matched,
    matched_template,
    profiles_file,
    registry,
    repository,
    settings,
    tokens,
)
