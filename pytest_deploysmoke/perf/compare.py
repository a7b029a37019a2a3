"""Judge a run's endpoint distributions against a baseline's: Mann-Whitney U and Fisher's exact test (no pytest).

For each endpoint measured on both sides, the two latency distributions are compared with a
two-sided Mann-Whitney U test (the normal approximation with tie correction, as latencies
counted in histogram buckets tie), and the two error rates with Fisher's exact test.  A
**regression** is a difference that is significant at the configured confidence *and* larger
than the tolerance: the median moved up by more than ``tolerance`` (``latency_regression``), or
the error rate rose (``error_regression``).  With fewer than ``min_samples`` latencies on either
side the endpoint is **not evaluated**: it neither passes nor fails.  The defaults are Kayenta's
(Netflix's canary judge): tolerance 25 %, confidence 0.98, 50 samples.

scipy is imported only when :func:`compare` runs (the ``compare`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from pytest_deploysmoke.perf.distributions import EndpointDistribution

DEFAULT_TOLERANCE: Final = 0.25
DEFAULT_CONFIDENCE: Final = 0.98
DEFAULT_MIN_SAMPLES: Final = 50

OnRegression = Literal["rollback", "no-go"]
EndpointVerdict = Literal["regression", "improvement", "no significant change", "not evaluated"]
#: The rules a regression's reason names.
LATENCY_RULE: Final = "latency_regression"
ERROR_RULE: Final = "error_regression"


@dataclass(frozen=True, slots=True)
class CompareSettings:
    """How a run is judged against its baseline (``[targets.X.compare]``); the tolerance is a fraction."""

    tolerance: float = DEFAULT_TOLERANCE
    confidence: float = DEFAULT_CONFIDENCE
    min_samples: int = DEFAULT_MIN_SAMPLES
    #: The endpoints compared (``"GET /api/markets/krw"``); empty: every endpoint both runs measured.
    endpoints: tuple[str, ...] = ()
    on_regression: OnRegression = "rollback"


@dataclass(frozen=True, slots=True)
class EndpointComparison:
    """One endpoint, baseline against now: the figures, the tests' p-values and the verdict."""

    endpoint: str
    n_baseline: int
    n_now: int
    p50_baseline_ms: float | None
    p50_now_ms: float | None
    p95_baseline_ms: float | None
    p95_now_ms: float | None
    #: The median's shift, now against the baseline, as a fraction (0.4: 40 % slower); None when not computed.
    shift_pct: float | None
    #: The Mann-Whitney U test's two-sided p-value; None when not evaluated.
    p_value: float | None
    error_rate_baseline: float | None
    error_rate_now: float | None
    verdict: EndpointVerdict
    #: Fisher's exact test's two-sided p-value on the error counts; None when not evaluated.
    error_p_value: float | None = None
    #: The rules a regression broke (``latency_regression``, ``error_regression``).
    rules: tuple[str, ...] = ()
    #: Why it was not evaluated (``"12 samples now < 50"``), or a caveat (client-bound); "" otherwise.
    note: str = ""


@dataclass(frozen=True, slots=True)
class Comparison:
    """A run judged against one baseline: what the baseline was, the settings, and each endpoint."""

    #: The baseline: ``"kifu local 1.7.0 at 2026-12-01T10:00:00Z (reports/previous.json)"``, or the compared target.
    baseline: str
    settings: CompareSettings
    endpoints: tuple[EndpointComparison, ...]

    @property
    def regressions(self) -> tuple[EndpointComparison, ...]:
        """The endpoints judged a regression."""
        return tuple(row for row in self.endpoints if row.verdict == "regression")


def compare(
    baseline: Sequence[EndpointDistribution],
    now: Sequence[EndpointDistribution],
    settings: CompareSettings,
    *,
    label: str,
) -> Comparison:
    """Judge each endpoint in both *baseline* and *now* (only ``settings.endpoints``, when it names any).

    *label* names the baseline in every report.  Each side is merged per endpoint first.
    """
    from pytest_deploysmoke.perf.distributions import merge_by_endpoint

    before = {row.endpoint: row for row in merge_by_endpoint(baseline)}
    after = {row.endpoint: row for row in merge_by_endpoint(now)}
    wanted = settings.endpoints or tuple(name for name in after if name in before)
    rows = tuple(judge(before[name], after[name], settings) for name in wanted if name in before and name in after)
    return Comparison(label, settings, rows)


def judge(baseline: EndpointDistribution, now: EndpointDistribution, settings: CompareSettings) -> EndpointComparison:
    """One endpoint's comparison (see the module's docstring for the method)."""
    import numpy as np
    from scipy import stats

    p50_before, p50_after = baseline.percentile(50.0), now.percentile(50.0)
    shift = None
    if p50_before is not None and p50_after is not None and p50_before > 0:
        shift = (p50_after - p50_before) / p50_before
    row = EndpointComparison(
        endpoint=now.endpoint,
        n_baseline=baseline.answered,
        n_now=now.answered,
        p50_baseline_ms=p50_before,
        p50_now_ms=p50_after,
        p95_baseline_ms=baseline.percentile(95.0),
        p95_now_ms=now.percentile(95.0),
        shift_pct=shift,
        p_value=None,
        error_rate_baseline=baseline.error_rate,
        error_rate_now=now.error_rate,
        verdict="not evaluated",
    )
    minimum = max(settings.min_samples, 1)
    short = [
        f"{n} samples {side} < {minimum}"
        for side, n in (("in the baseline", baseline.answered), ("now", now.answered))
        if n < minimum
    ]
    if short or shift is None:
        return replace(row, note="; ".join(short) or "no median to compare")
    alpha = 1 - settings.confidence
    test = stats.mannwhitneyu(_samples(now), _samples(baseline), alternative="two-sided", method="asymptotic")
    p_value = float(test.pvalue)
    if math.isnan(p_value):  # every latency on both sides in one bucket: nothing tells them apart
        p_value = 1.0
    table = np.array([[now.errors, now.requests - now.errors], [baseline.errors, baseline.requests - baseline.errors]])
    error_p = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    rules = []
    if p_value < alpha and shift > settings.tolerance:
        rules.append(LATENCY_RULE)
    if error_p < alpha and now.errors * baseline.requests > baseline.errors * now.requests:
        rules.append(ERROR_RULE)
    verdict: EndpointVerdict = "no significant change"
    if rules:
        verdict = "regression"
    elif p_value < alpha and shift < -settings.tolerance:
        verdict = "improvement"
    note = ""
    if baseline.client_bound or now.client_bound:
        sides = " and ".join(side for side, part in (("baseline", baseline), ("now", now)) if part.client_bound)
        note = f"measured while the load client was the bottleneck ({sides}): latencies are upper bounds"
    return replace(row, p_value=p_value, verdict=verdict, error_p_value=error_p, rules=tuple(rules), note=note)


def _samples(distribution: EndpointDistribution) -> Any:
    """The distribution's latencies as one array, each bucket's value repeated by its count."""
    import numpy as np

    values = np.fromiter((ms for ms, _ in distribution.buckets), dtype=float, count=len(distribution.buckets))
    counts = np.fromiter((n for _, n in distribution.buckets), dtype=np.int64, count=len(distribution.buckets))
    return np.repeat(values, counts)
