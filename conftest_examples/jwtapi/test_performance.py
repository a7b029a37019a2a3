"""Performance: the checklist's percentiles on the main read endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from mentoring_api import READ_ENDPOINTS

from pytest_deploysmoke import Latency

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of authed_http

pytestmark = pytest.mark.phase("performance")


@pytest.mark.parametrize("endpoint", READ_ENDPOINTS)
def test_read_endpoint_percentiles(latency: Latency, authed_http: SmokeClient, mentor_id: int, endpoint: str) -> None:
    """Main read endpoints: P50 < 1 s, P95 < 2 s, P99 < 5 s, no errors."""
    stats = latency(endpoint.format(mentor_id=mentor_id), client=authed_http)
    assert stats.errors == 0, stats.error_summary
    assert stats.p50 < "1s"
    assert stats.p95 < "2s"
    assert stats.p99 < "5s"
