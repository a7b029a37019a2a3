"""Production settings are in force: the service says so, and its error pages show nothing of its insides."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import leaks
import pytest

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    import httpx

    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("settings")

PRODUCTION = {"environment": "production", "debug": False, "log_level": "WARNING"}


def reported(body: object, name: str) -> object:
    """What a JSON answer says about setting *name*; None when it says nothing."""
    return body.get(name) if isinstance(body, dict) else None


def test_service_reports_production_settings(http: SmokeClient, deploy_target: Target) -> None:
    """The service reports ENVIRONMENT=production, DEBUG=false and LOG_LEVEL=WARNING (GET /info, GET /health)."""
    expected = dict(deploy_target.vars.get("expected_settings", PRODUCTION))
    info = expect_json(expect_status(http.get("/info"), 200))
    health = expect_json(expect_status(http.get(deploy_target.health_path), 200))
    wrong = [
        f"{where} says {name} is {json.dumps(reported(body, name))}"
        for where, body, names in (
            ("GET /info", info, expected),
            (f"GET {deploy_target.health_path}", health, ["environment"]),
        )
        for name in names
        if reported(body, name) != expected[name]
    ]
    if wrong:
        settings = ", ".join(f"{name}={json.dumps(value)}" for name, value in expected.items())
        pytest.fail(
            f"{'; '.join(wrong)}; expected {settings}: the deploy does not run with production settings, "
            "so fix ENVIRONMENT, DEBUG and LOG_LEVEL in its environment and redeploy",
            pytrace=False,
        )


def test_error_response_has_no_stack_trace_or_settings(error_page: httpx.Response) -> None:
    """An error response (the target's error_probe, GET /files?limit=oops) carries no stack trace and no settings."""
    if found := leaks.debug_markers(error_page.text):
        path = error_page.request.url.raw_path.decode()
        pytest.fail(
            f"GET {path} answered {error_page.status_code} with {' and '.join(found)} in its body; "
            "production error pages must not show the service's insides: set DEBUG=false and redeploy",
            pytrace=False,
        )


def test_not_found_is_a_plain_404(http: SmokeClient) -> None:
    """A path that does not exist answers a plain 404: no debug page, no routes, no stack trace."""
    path = f"/fileapi-smoke-no-such-page-{uuid.uuid4().hex[:8]}"
    response = http.get(path)
    if response.status_code != 404:
        pytest.fail(f"GET {path} answered {response.status_code}, expected 404 for a missing path", pytrace=False)
    if found := leaks.debug_markers(response.text):
        pytest.fail(
            f"GET {path} answered 404 with {' and '.join(found)} in its {len(response.content)}-byte body; "
            "a production 404 is a plain body: set DEBUG=false and redeploy",
            pytrace=False,
        )
