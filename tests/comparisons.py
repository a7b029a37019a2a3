"""Compared endpoints as the verdict and the reports receive them, for the tests of both (no scipy needed)."""

from __future__ import annotations

from typing import Any

from pytest_deploysmoke.perf.compare import LATENCY_RULE, EndpointComparison, EndpointVerdict


def endpoint_row(
    endpoint: str = "GET /api/markets/krw", verdict: EndpointVerdict = "regression", **changes: Any
) -> EndpointComparison:
    """A compared endpoint: 400 -> 380 samples, p50 12.0 -> 17.1 ms (+42.5 %), p95 15.0 -> 21.04 ms, p = 0.0001,
    no errors; a regression breaks ``latency_regression`` unless *changes* give its rules."""
    values: dict[str, Any] = {
        "endpoint": endpoint,
        "n_baseline": 400,
        "n_now": 380,
        "p50_baseline_ms": 12.0,
        "p50_now_ms": 17.1,
        "p95_baseline_ms": 15.0,
        "p95_now_ms": 21.04,
        "shift_pct": 42.5,
        "p_value": 0.0001,
        "error_rate_baseline": 0.0,
        "error_rate_now": 0.0,
        "verdict": verdict,
        "error_p_value": 1.0,
        "rules": (LATENCY_RULE,) if verdict == "regression" else (),
        "requests_baseline": 400,
        "requests_now": 380,
        **changes,
    }
    return EndpointComparison(**values)
