"""Health: the service answers healthy, reaches its database and python worker, and runs the hotfix."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("health")


def is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def test_health_is_healthy_with_database_and_worker(http: SmokeClient, deploy_target: Target) -> None:
    """GET /api/health answers 200: status "healthy", services.database "connected", services.python_worker "ready"."""
    expected = {"status": "healthy", "services": {"database": "connected", "python_worker": "ready"}}
    expect_json(expect_status(http.get(deploy_target.health_path), 200), expected)


def test_health_reports_the_hotfix_version(http: SmokeClient, deploy_target: Target) -> None:
    """GET /api/health reports the hotfix's version (2.0.2), not the release it replaced."""
    hotfix = deploy_target.version
    if not hotfix:
        pytest.fail(f"target '{deploy_target.name}' has no version; set RELEASE_VERSION to the hotfix's", pytrace=False)
    reported = expect_json(http.get(deploy_target.health_path), {"version": is_text})["version"]
    if reported != hotfix:
        replaced = deploy_target.vars.get("replaces")
        which = f"{reported}, the release the hotfix replaces" if reported == replaced else reported
        pytest.fail(
            f"GET {deploy_target.health_path} reports version {which}, not the hotfix {hotfix}: "
            f"the hotfix is not deployed; roll out {hotfix} (check the image tag the deploy used) and rerun",
            pytrace=False,
        )
