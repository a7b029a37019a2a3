"""Rollback rules on given figures: what is evaluated, and what is named as not evaluated below min_samples."""

from __future__ import annotations

from pytest_deploysmoke.perf.rollback import EndpointFigures, Figures, RollbackRules, evaluate, not_evaluated


def test_rate_and_percentile_rules_are_not_evaluated_below_min_samples() -> None:
    """Below min_samples a rule that would trip is named as not evaluated, with the count; the health rule has no minimum."""
    rules = RollbackRules()
    figures = Figures(
        "the performance phase",
        requests=9,
        errors=3,
        ws_connects=4,
        ws_failures=4,
        health_streak=3,
        endpoints=(EndpointFigures("GET /api/x", 9, 263.0, 100.0), EndpointFigures("GET /api/y", 9, 10.0, 100.0)),
    )
    assert evaluate(rules, figures) == (
        "health_consecutive_failures 3 >= 3: GET /health failed 3 times in a row in the performance phase",
    )
    assert not_evaluated(rules, figures) == (
        "error_rate not evaluated: 9 samples < 20 in the performance phase (3 errors, 33.3%)",
        "p95_over_target GET /api/x not evaluated: 9 samples < 20 in the performance phase "
        "(p95 263 ms, over 2 x its 100 ms target)",
        "ws_failure_rate not evaluated: 4 samples < 20 in the performance phase (4 failed, 100%)",
    )
    assert not_evaluated(RollbackRules(min_samples=4), figures) == ()
    assert len(evaluate(RollbackRules(min_samples=4), figures)) == 4
