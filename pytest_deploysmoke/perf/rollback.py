"""Rollback rules: thresholds from the checklists and their evaluation on measured figures (no pytest)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pytest_deploysmoke.results.records import CallRecord, Measurement

#: The checklists' defaults: roll back at 5 % errors, p95 over twice its target, 10 % WebSocket
#: failures, or three health failures in a row.
DEFAULT_ERROR_RATE: Final = 0.05
DEFAULT_P95_OVER_TARGET: Final = 2.0
DEFAULT_WS_FAILURE_RATE: Final = 0.10
DEFAULT_HEALTH_CONSECUTIVE_FAILURES: Final = 3
#: The fewest samples a rate or percentile rule is evaluated on: the p95 of 9 samples is their maximum.
DEFAULT_MIN_SAMPLES: Final = 20


@dataclass(frozen=True, slots=True)
class RollbackRules:
    """When a deploy must be rolled back (``[targets.X.rollback]``); rates are fractions, 0.05 is 5 %."""

    error_rate: float = DEFAULT_ERROR_RATE
    p95_over_target: float = DEFAULT_P95_OVER_TARGET
    ws_failure_rate: float = DEFAULT_WS_FAILURE_RATE
    health_consecutive_failures: int = DEFAULT_HEALTH_CONSECUTIVE_FAILURES
    #: Below this many samples the rate and percentile rules are not evaluated (the health rule has no minimum).
    min_samples: int = DEFAULT_MIN_SAMPLES


@dataclass(frozen=True, slots=True)
class EndpointFigures:
    """One endpoint's measured p95 over some requests, and the target of its budget."""

    action: str
    count: int
    p95_ms: float
    target_ms: float


@dataclass(frozen=True, slots=True)
class Figures:
    """What was measured over one scope (an interval of the watch window, or the performance phase)."""

    scope: str  # "the last interval", "the performance phase": ends each reason
    requests: int = 0
    errors: int = 0
    ws_connects: int = 0
    ws_failures: int = 0
    health_streak: int = 0  # the longest run of consecutive failed health probes
    health_action: str = "GET /health"
    endpoints: tuple[EndpointFigures, ...] = ()


def endpoint_of(action: str) -> str:
    """``GET /items``: the endpoint a call's or a probe's *action* reached, its query left out.

    The one definition every rule, chart and metric groups calls by.
    """
    return action.split("?", 1)[0]


def parse_percent(value: str) -> float:
    """``"5%"`` -> 0.05.

    Raises:
        ValueError: *value* is not a percentage from 0 % to 100 %.
    """
    text = value.strip()
    try:
        number = float(text.removesuffix("%")) if text.endswith("%") else math.nan
    except ValueError:
        number = math.nan
    if not 0 <= number <= 100:
        raise ValueError("expected a percentage from 0% to 100% such as '5%'")
    return number / 100


def percent(fraction: float) -> str:
    """0.125 -> ``"12.5%"``, 0.05 -> ``"5%"``: at most one decimal, no trailing zero."""
    text = f"{fraction * 100:.1f}".removesuffix(".0")
    return f"{text}%"


def evaluate(rules: RollbackRules, figures: Figures) -> tuple[str, ...]:
    """The rules that trip on *figures*, each naming the rule, the measured value and the threshold.

    A rate or percentile rule with fewer than ``rules.min_samples`` samples is not evaluated
    (see :func:`not_evaluated`); the health rule has no minimum, so a dead service is still caught.
    """
    return _judge(rules, figures)[0]


def not_evaluated(rules: RollbackRules, figures: Figures) -> tuple[str, ...]:
    """The rules that would trip on *figures* but have too few samples to be evaluated.

    ``p95_over_target GET /x not evaluated: 9 samples < 20 in the performance phase (p95 263 ms,
    over 2 x its 100 ms target)``: a warning, never a rollback on too little data.  A rule whose
    few samples are within its threshold is not named: there is nothing to warn about.
    """
    return _judge(rules, figures)[1]


def _judge(rules: RollbackRules, figures: Figures) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the rules that trip, the rules that would trip on too few samples) on *figures*."""
    reasons: list[str] = []
    unjudged: list[str] = []
    where = figures.scope
    least = rules.min_samples

    def too_few(rule: str, count: int, measured: str) -> None:
        unjudged.append(f"{rule} not evaluated: {count} samples < {least} in {where} ({measured})")

    if figures.requests:
        rate = figures.errors / figures.requests
        if rate >= rules.error_rate and figures.requests < least:
            too_few("error_rate", figures.requests, f"{figures.errors} errors, {percent(rate)}")
        elif rate >= rules.error_rate:
            reasons.append(
                f"error_rate {percent(rate)} >= {percent(rules.error_rate)} over {figures.requests} requests in {where}"
            )
    for endpoint in figures.endpoints:
        limit = rules.p95_over_target * endpoint.target_ms
        if endpoint.count and endpoint.p95_ms > limit and endpoint.count < least:
            factor, target = f"{rules.p95_over_target:g}", f"{endpoint.target_ms:.0f}"
            measured = f"p95 {endpoint.p95_ms:.0f} ms, over {factor} x its {target} ms target"
            too_few(f"p95_over_target {endpoint.action}", endpoint.count, measured)
        elif endpoint.count and endpoint.p95_ms > limit:
            reasons.append(
                f"p95_over_target {endpoint.action} p95 {endpoint.p95_ms:.0f} ms > {rules.p95_over_target:g} x "
                f"its {endpoint.target_ms:.0f} ms target ({limit:.0f} ms) over {endpoint.count} requests in {where}"
            )
    if figures.ws_connects:
        rate = figures.ws_failures / figures.ws_connects
        if rate >= rules.ws_failure_rate and figures.ws_connects < least:
            too_few("ws_failure_rate", figures.ws_connects, f"{figures.ws_failures} failed, {percent(rate)}")
        elif rate >= rules.ws_failure_rate:
            reasons.append(
                f"ws_failure_rate {percent(rate)} >= {percent(rules.ws_failure_rate)} "
                f"over {figures.ws_connects} WebSocket connects in {where}"
            )
    if figures.health_streak >= rules.health_consecutive_failures:
        reasons.append(
            f"health_consecutive_failures {figures.health_streak} >= {rules.health_consecutive_failures}: "
            f"{figures.health_action} failed {figures.health_streak} times in a row in {where}"
        )
    return tuple(reasons), tuple(unjudged)


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The nearest-rank *q*-th percentile of *values* (exact; for the few calls a check records)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered) / 100 - 1e-9))
    return ordered[rank - 1]


def phase_figures(scope: str, calls: Iterable[CallRecord], loads: Iterable[Measurement] = ()) -> Figures:
    """Figures from the call records of checks: HTTP errors, WebSocket opens, p95 per endpoint.

    Every attempt is a request, retried or not; an error is an attempt that got no answer or a
    5xx (a 4xx is the client's doing, often what a check asks for: 401 without a token).  Warm-up
    requests (``warmup``) and calls the production guard blocked are not counted.  *loads* are
    the load probe's measurements: their requests and errors count, and the one call each
    recorded for its whole run does not.  Only the calls (and WebSocket opens) a budget with a
    target was applied to count towards the p95 rule; the endpoint is the action without its query.
    """
    requests = errors = ws_connects = ws_failures = 0
    timings: dict[str, list[float]] = {}
    targets: dict[str, float] = {}
    aggregated = set()
    for load in loads:
        requests += load.n
        errors += load.errors
        aggregated.add(load.action)
    for call in calls:
        if call.warmup:
            continue
        if call.kind == "http" and call.outcome != "blocked" and call.action not in aggregated:
            requests += 1
            errors += server_error(call)
        elif call.kind == "ws" and call.action.startswith("connect "):
            ws_connects += 1
            ws_failures += not call.ok
        else:
            continue
        if call.target_ms is not None and call.ok:  # a budgeted WebSocket open counts like an endpoint
            action = endpoint_of(call.action)
            timings.setdefault(action, []).append(call.ms)
            targets[action] = call.target_ms
    endpoints = tuple(
        EndpointFigures(action, len(times), nearest_rank(times, 95.0), targets[action])
        for action, times in timings.items()
    )
    return Figures(
        scope=scope,
        requests=requests,
        errors=errors,
        ws_connects=ws_connects,
        ws_failures=ws_failures,
        endpoints=endpoints,
    )


def server_error(call: CallRecord) -> bool:
    """Whether an HTTP call record counts as an error for ``error_rate``: no answer, or a 5xx."""
    if call.ok:
        return False
    return not call.outcome.isdigit() or int(call.outcome) >= 500
