"""Health: the service answers, runs the version being released, reaches Redis and has a live ticker feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("health")

FEED_AGE_MS = 2000  # the feed ticks every 250 ms; a last tick older than this means it stopped


def is_recent_tick(age_ms: object) -> bool:
    return isinstance(age_ms, int) and 0 <= age_ms <= FEED_AGE_MS


def test_health_answers_200(http: SmokeClient, deploy_target: Target) -> None:
    """GET /health answers 200 within 1 s, and says "ok" (not "degraded") in its status field."""
    # The status field too: a proxy or a cached answer can pair "degraded" with a 200.
    expect_json(expect_status(http.get(deploy_target.health_path, budget="1s"), 200), {"status": "ok"})


def test_health_reports_the_release_version(http: SmokeClient, deploy_target: Target) -> None:
    """/health reports the version being released."""
    if not deploy_target.version:
        pytest.skip(f"no expected version for target '{deploy_target.name}' (set RELEASE_VERSION)")
    expect_json(http.get(deploy_target.health_path), {"version": deploy_target.version})


def test_health_reports_redis_and_a_live_feed(http: SmokeClient, deploy_target: Target) -> None:
    """/health reports Redis as ok and a ticker feed that ticked within the last 2 s."""
    expect_json(http.get(deploy_target.health_path), {"redis": "ok", "feed": {"age_ms": is_recent_tick}})
