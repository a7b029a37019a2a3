"""Performance: the checklist's response times, as percentiles over a few requests per endpoint."""

from __future__ import annotations

import pytest

from pytest_deploysmoke import Latency

pytestmark = pytest.mark.phase("performance")

KLINES = "/api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=5"


def test_health_percentiles(latency: Latency) -> None:
    """/health: P95 under its 500 ms maximum, no errors (budgets in deploysmoke.toml)."""
    stats = latency("/health", samples=10)
    assert stats.errors == 0, stats.error_summary
    assert stats.p95 < "500ms"


def test_klines_percentiles(latency: Latency) -> None:
    """Market klines: P95 under 1 s, no errors."""
    stats = latency(KLINES, samples=10)
    assert stats.errors == 0, stats.error_summary
    assert stats.p95 < "1s"
