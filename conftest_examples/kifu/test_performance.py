"""Performance: the checklist's response times, as percentiles over a few requests per endpoint."""

from __future__ import annotations

import pytest

from pytest_deploysmoke import Latency, LatencyStats

pytestmark = pytest.mark.phase("performance")

KLINES = "/api/v1/market/klines?symbol=BTCUSDT&interval=1d&limit=5"
#: The klines' requests: enough for a comparison with the previous release's run (at least 50 on each side).
KLINES_SAMPLES = 100


def fail_on_errors(stats: LatencyStats) -> None:
    """Fail in one line, with the whole distribution, when any measured request failed."""
    if stats.errors:
        message = f"{stats.describe()}; the endpoint fails under repeated requests: the service's logs say why"
        pytest.fail(message, pytrace=False)


def test_health_percentiles(latency: Latency) -> None:
    """/health: P95 under its 500 ms maximum, no errors (budgets in deploysmoke.toml)."""
    stats = latency("/health", samples=10)
    fail_on_errors(stats)
    assert stats.p95 < "500ms"


def test_klines_percentiles(latency: Latency) -> None:
    """Market klines: P95 under 1 s, no errors, over 100 requests."""
    stats = latency(KLINES, samples=KLINES_SAMPLES)
    fail_on_errors(stats)
    assert stats.p95 < "1s"
