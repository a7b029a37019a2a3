"""The hotfix itself: the result download of a known backtest no longer answers 404 (the 2.0.1 regression)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_deploysmoke import Target, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("hotfix")


def test_result_download_no_longer_404s(http: SmokeClient, known_backtest_id: str, deploy_target: Target) -> None:
    """The hotfix: GET /api/backtest/result/{id} of a known backtest no longer answers 404 (read-only)."""
    path = f"/api/backtest/result/{known_backtest_id}"
    hotfix = deploy_target.version or "the hotfix"
    response = http.get(path)
    if response.status_code == 404:
        body = " ".join(response.text.split())[:200]
        try:
            unknown_id = response.json().get("error") == "backtest_not_found"
        except (ValueError, AttributeError):  # not JSON, or not an object: the framework's own 404
            unknown_id = False
        if unknown_id:
            pytest.fail(
                f"GET {path} answered 404 ({body}): the target has no backtest {known_backtest_id}; "
                "set vars.known_backtest_id (KNOWN_BACKTEST_ID) to a completed backtest there",
                pytrace=False,
            )
        pytest.fail(
            f"GET {path} answered 404 ({body}): the result download still returns 404, "
            f"the bug {hotfix} fixes; check that {hotfix} is deployed on every instance and mounts the result route",
            pytrace=False,
        )
    expect_status(response, 200)
