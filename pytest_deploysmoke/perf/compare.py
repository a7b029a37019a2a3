"""Judge a run's endpoint distributions against a baseline's: Mann-Whitney U and Fisher's exact test (no pytest).

For each endpoint measured on both sides, the two latency distributions are compared with a
two-sided Mann-Whitney U test (the normal approximation with tie correction, as latencies
counted in histogram buckets tie), and the two error rates with Fisher's exact test.  A
**regression** is a difference that is significant at the configured confidence *and* larger
than the tolerance: the median moved up by more than ``tolerance`` and by at least
``min_shift`` (``latency_regression``), or the error rate rose (``error_regression``).  An
**improvement** is the median moving down as far, significantly; it is shown, never a reason.
``min_shift`` (2 ms) is ours, not Kayenta's: between two runs of the same deploy on a busy
2-core runner, the median of a 1.3 ms ``/health`` moved by up to 2.6 ms (+200 %), scheduler
noise that no test within one run can tell from a release (benchmarks/false_alarms.py).  With fewer than
``min_samples`` answered requests on either side the latencies are **not evaluated** (and with
fewer than ``min_samples`` requests, the errors): such an endpoint neither passes nor fails.
The defaults are Kayenta's (Netflix's canary judge): tolerance 25 %, confidence 0.98, 50 samples.

scipy is imported only when :func:`compare` runs (the ``compare`` extra).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from pytest_deploysmoke.perf.distributions import EndpointDistribution
from pytest_deploysmoke.perf.rollback import percent

DEFAULT_TOLERANCE: Final = 0.25
DEFAULT_CONFIDENCE: Final = 0.98
DEFAULT_MIN_SAMPLES: Final = 50
#: The smallest move of a median, in ms, that can be a regression or an improvement.
DEFAULT_MIN_SHIFT_MS: Final = 2.0

OnRegression = Literal["rollback", "no-go"]
#: What a regression makes the verdict (``on_regression``): ROLLBACK, or NO-GO.
ON_REGRESSION: Final[tuple[OnRegression, ...]] = ("rollback", "no-go")
EndpointVerdict = Literal["regression", "improvement", "no significant change", "not evaluated"]
#: The verdicts of one endpoint, in the order the reports explain them.
ENDPOINT_VERDICTS: Final[tuple[EndpointVerdict, ...]] = (
    "regression",
    "improvement",
    "no significant change",
    "not evaluated",
)
#: How a row's note says that a side was measured while its load client was the bottleneck.
BOTTLENECK: Final = "measured while the load client was the bottleneck"
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
    #: The smallest move of the median, in ms, that counts (a smaller one is no significant change).
    min_shift_ms: float = DEFAULT_MIN_SHIFT_MS

    @property
    def alpha(self) -> float:
        """The significance level: a p-value under it is significant (0.02 at confidence 0.98)."""
        return 1 - self.confidence

    def describe(self) -> str:
        """``confidence 0.98 (p < 0.02), tolerance 25% and 2 ms on the median, at least 50 samples a side``."""
        return (
            f"confidence {self.confidence:g} (p < {p_text(self.alpha)}), tolerance {percent(self.tolerance)} "
            f"and {ms_text(self.min_shift_ms).removesuffix('.0')} ms on the median, "
            f"at least {self.min_samples} samples a side"
        )


@dataclass(frozen=True, slots=True)
class BaselineIdentity:
    """Which run or target a comparison was made against: what the JSON summary's ``comparison.baseline`` holds."""

    #: ``"run"``: a previous run's JSON summary (``--deploy-baseline``); ``"target"``: a target measured live
    #: beside this one (``--deploy-compare``).
    kind: Literal["run", "target"]
    #: The baseline run's target, or the compared target's name.
    target: str
    #: The version the baseline run reported (else expected); "" when unknown or live.
    version: str = ""
    #: When the baseline run started (seconds since the epoch); None for a live target.
    started: float | None = None
    #: The JSON summary read, as given on the command line; "" for a live target.
    path: str = ""


@dataclass(frozen=True, slots=True)
class EndpointComparison:
    """One endpoint, baseline against now: the figures, the tests' p-values and the verdict."""

    endpoint: str
    #: Answered requests (latencies) on each side.
    n_baseline: int
    n_now: int
    p50_baseline_ms: float | None
    p50_now_ms: float | None
    p95_baseline_ms: float | None
    p95_now_ms: float | None
    #: The median's shift, now against the baseline, in percent (42.0: 42 % slower); None without both medians.
    shift_pct: float | None
    #: The Mann-Whitney U test's two-sided p-value; None when the latencies were not evaluated.
    p_value: float | None
    error_rate_baseline: float | None
    error_rate_now: float | None
    verdict: EndpointVerdict
    #: Fisher's exact test's two-sided p-value on the error counts; None when the errors were not evaluated.
    error_p_value: float | None = None
    #: The rules a regression broke (``latency_regression``, ``error_regression``).
    rules: tuple[str, ...] = ()
    #: Why it was not evaluated (``"12 samples now < 50"``), and a caveat (client-bound); "" otherwise.
    note: str = ""
    #: Requests sent and errors (a status of 400 or more, or no answer) on each side.
    requests_baseline: int = 0
    requests_now: int = 0
    errors_baseline: int = 0
    errors_now: int = 0
    #: The two distributions compared, for the charts (no report writes their buckets out).
    baseline_distribution: EndpointDistribution | None = field(default=None, repr=False, compare=False)
    now_distribution: EndpointDistribution | None = field(default=None, repr=False, compare=False)

    def latency_text(self) -> str:
        """``p50 12.0 -> 17.1 ms (+42%), p95 15.0 -> 21.0 ms``: the latency figures of both sides."""
        shift = "" if self.shift_pct is None else f" ({shift_text(self.shift_pct)})"
        p50 = f"p50 {ms_text(self.p50_baseline_ms)} -> {ms_text(self.p50_now_ms)} ms{shift}"
        return f"{p50}, p95 {ms_text(self.p95_baseline_ms)} -> {ms_text(self.p95_now_ms)} ms"

    def error_text(self) -> str:
        """``error rate 0.2% -> 4% (2 of 1000 -> 40 of 1000 requests)``."""
        return (
            f"error rate {rate_text(self.error_rate_baseline)} -> {rate_text(self.error_rate_now)} "
            f"({self.errors_baseline} of {self.requests_baseline} -> {self.errors_now} of {self.requests_now} requests)"
        )


@dataclass(frozen=True, slots=True)
class Comparison:
    """A run judged against one baseline: what the baseline was, the settings, and each endpoint."""

    #: The baseline: ``"kifu local 1.7.0 at 2026-12-01T10:00:00Z (reports/previous.json)"``, or the compared target.
    baseline: str
    settings: CompareSettings
    endpoints: tuple[EndpointComparison, ...]
    #: The baseline's target, version and time, or the compared target's name; None when not given.
    identity: BaselineIdentity | None = None
    #: Endpoints measured only in the baseline, or only now: not compared (``settings.endpoints`` empty).
    only_baseline: tuple[str, ...] = ()
    only_now: tuple[str, ...] = ()

    @property
    def regressions(self) -> tuple[EndpointComparison, ...]:
        """The endpoints judged a regression."""
        return self.of("regression")

    def of(self, verdict: EndpointVerdict) -> tuple[EndpointComparison, ...]:
        """The endpoints judged *verdict*, in table order."""
        return tuple(row for row in self.endpoints if row.verdict == verdict)

    def regression_lines(self) -> tuple[str, ...]:
        """One line per rule each regression broke, naming the rule, the endpoint, its figures and the baseline.

        ``latency_regression: GET /x p50 12.0 -> 17.1 ms (+42%), p95 15.0 -> 21.0 ms, p = 0.0001 < 0.02,
        over the 25% tolerance, against local 1.7.0 at ... (reports/previous.json)``
        """
        alpha = p_text(self.settings.alpha)
        lines = []
        for row in self.regressions:
            caveat = f"; {row.note}" if row.note else ""
            for rule in row.rules:
                if rule == LATENCY_RULE:
                    figures = (
                        f"{row.latency_text()}, p = {p_text(row.p_value)} < {alpha}, "
                        f"over the {percent(self.settings.tolerance)} tolerance"
                    )
                else:
                    figures = f"{row.error_text()}, p = {p_text(row.error_p_value)} < {alpha} (Fisher's exact test)"
                lines.append(f"{rule}: {row.endpoint} {figures}, against {self.baseline}{caveat}")
        return tuple(lines)

    def warning_lines(self) -> tuple[str, ...]:
        """Each endpoint not evaluated, and a line when nothing at all was compared: a warning each, never a pass.

        ``GET /x not evaluated against the baseline: 12 samples now < 50``.  An endpoint judged
        no change or an improvement on latencies measured while a load client was the
        bottleneck warns too (its regression line says so already): upper bounds that agree
        are no proof that the server did.
        """
        unjudged = self.of("not evaluated")
        lines = [f"{row.endpoint} not evaluated against the baseline: {row.note}" for row in unjudged]
        lines += [
            f"{row.endpoint} {row.verdict} against the baseline, {row.note}"
            for row in self.endpoints
            if row.verdict in ("no significant change", "improvement") and BOTTLENECK in row.note
        ]
        if not self.endpoints:
            sides = f"{len(self.only_baseline)} endpoint(s) only in the baseline, {len(self.only_now)} only now"
            lines.append(f"nothing was compared against the baseline {self.baseline}: no endpoint in common ({sides})")
        elif len(unjudged) == len(self.endpoints):
            lines.append(
                f"nothing was compared against the baseline {self.baseline}: "
                f"not one of its {len(self.endpoints)} endpoint(s) could be evaluated"
            )
        return tuple(lines)


def compare(
    baseline: Sequence[EndpointDistribution],
    now: Sequence[EndpointDistribution],
    settings: CompareSettings,
    *,
    label: str,
    identity: BaselineIdentity | None = None,
) -> Comparison:
    """Judge each endpoint in both *baseline* and *now*, or each of ``settings.endpoints`` when it names any.

    *label* names the baseline in every report, *identity* in the JSON summary.  Each side is
    merged per endpoint and source first, and a source is only compared with the same source
    (the checks' requests with the checks', a load probe's with a load probe's).  An endpoint
    ``settings.endpoints`` names is judged from every source either side measured it with; one
    that neither side's checks measured is not evaluated.
    """
    from pytest_deploysmoke.perf.distributions import merge_by_endpoint

    before = {row.key: row for row in merge_by_endpoint(baseline)}
    after = {row.key: row for row in merge_by_endpoint(now)}
    wanted = tuple(name for name in after if name in before)
    if settings.endpoints:
        measured = {part.key: part.endpoint for part in (*before.values(), *after.values())}
        wanted = tuple(dict.fromkeys(key for name in settings.endpoints for key in _keys_of(name, measured)))
    rows = tuple(
        judge(
            before.get(name, EndpointDistribution(name, 0, 0)),
            after.get(name, EndpointDistribution(name, 0, 0)),
            settings,
        )
        for name in wanted
    )
    only_baseline = tuple(name for name in before if name not in after and name not in wanted)
    only_now = tuple(name for name in after if name not in before and name not in wanted)
    return Comparison(label, settings, rows, identity, only_baseline, only_now)


def _keys_of(name: str, measured: dict[str, str]) -> tuple[str, ...]:
    """The rows a configured endpoint asks for: ``GET /x (load)`` that source only, ``GET /x (checks)``
    the checks' own requests only, ``GET /x`` the checks' and every other source either side measured it with."""
    if name.endswith(" (checks)"):
        return (name.removesuffix(" (checks)"),)
    if name.endswith(")"):
        return (name,)
    return (name, *(key for key, endpoint in measured.items() if endpoint == name and key != name))


def judge(baseline: EndpointDistribution, now: EndpointDistribution, settings: CompareSettings) -> EndpointComparison:
    """One endpoint's comparison (see the module's docstring for the method)."""
    p50_before, p50_after = baseline.percentile(50.0), now.percentile(50.0)
    shift = None
    if p50_before is not None and p50_after is not None and p50_before > 0:
        shift = (p50_after - p50_before) / p50_before * 100
    row = EndpointComparison(
        endpoint=now.key,
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
        requests_baseline=baseline.requests,
        requests_now=now.requests,
        errors_baseline=baseline.errors,
        errors_now=now.errors,
        baseline_distribution=baseline,
        now_distribution=now,
    )
    minimum = max(settings.min_samples, 1)
    short = []
    for side, part in (("in the baseline", baseline), ("now", now)):
        if not part.requests:
            short.append(f"not measured {side}")
        elif part.answered < minimum:
            short.append(f"{part.answered} samples {side} < {minimum}")
    if not short and shift is None:  # every latency 0 µs in the baseline: no median to move from
        short.append("no median in the baseline to compare with")
    latencies = not short
    errors = min(baseline.requests, now.requests) >= minimum
    alpha = settings.alpha
    rules = []
    p_value = error_p = None
    if latencies and shift is not None:
        p_value = _mann_whitney(now, baseline)
        moved = abs((p50_after or 0.0) - (p50_before or 0.0)) >= settings.min_shift_ms
        if p_value < alpha and shift > settings.tolerance * 100 and moved:
            rules.append(LATENCY_RULE)
    if errors:
        error_p = _fisher(now, baseline)
        if error_p < alpha and now.errors * baseline.requests > baseline.errors * now.requests:
            rules.append(ERROR_RULE)
    verdict: EndpointVerdict = "not evaluated"
    if rules:
        verdict = "regression"
    elif p_value is not None and shift is not None:
        improved = p_value < alpha and shift < -settings.tolerance * 100 and moved
        verdict = "improvement" if improved else "no significant change"
    notes = list(short)
    if short and verdict == "regression":  # an error regression whose latencies could not be judged
        notes = [f"latencies not evaluated: {'; '.join(short)}"]
    bound = [side for side, part in (("baseline", baseline), ("now", now)) if part.client_bound]
    if bound:
        notes.append(f"{BOTTLENECK} ({' and '.join(bound)}): latencies are upper bounds")
    return replace(
        row, p_value=p_value, verdict=verdict, error_p_value=error_p, rules=tuple(rules), note="; ".join(notes)
    )


def _mann_whitney(now: EndpointDistribution, baseline: EndpointDistribution) -> float:
    """The two-sided p-value of the Mann-Whitney U test on the two sides' latencies (tie-corrected)."""
    from scipy import stats

    test = stats.mannwhitneyu(_samples(now), _samples(baseline), alternative="two-sided", method="asymptotic")
    p_value = float(test.pvalue)
    return 1.0 if math.isnan(p_value) else p_value  # every latency in one bucket: nothing tells them apart


def _fisher(now: EndpointDistribution, baseline: EndpointDistribution) -> float:
    """The two-sided p-value of Fisher's exact test on the two sides' error and success counts."""
    import numpy as np
    from scipy import stats

    table = np.array([[now.errors, now.requests - now.errors], [baseline.errors, baseline.requests - baseline.errors]])
    return float(stats.fisher_exact(table, alternative="two-sided").pvalue)


def _samples(distribution: EndpointDistribution) -> Any:
    """The distribution's latencies as one array, each bucket's value repeated by its count."""
    import numpy as np

    values = np.fromiter((ms for ms, _ in distribution.buckets), dtype=float, count=len(distribution.buckets))
    counts = np.fromiter((n for _, n in distribution.buckets), dtype=np.int64, count=len(distribution.buckets))
    return np.repeat(values, counts)


def ms_text(ms: float | None) -> str:
    """``12.0``: a comparison's latency to 0.1 ms; ``n/a`` without one."""
    return "n/a" if ms is None else f"{ms:.1f}"


def shift_text(shift_pct: float) -> str:
    """``+42%``, ``-8%``, ``+0.4%``: a median's shift with its sign, to two significant digits at most."""
    return f"{shift_pct:+.0f}%" if abs(shift_pct) >= 10 else f"{shift_pct:+.1f}%".replace(".0%", "%")


def rate_text(rate: float | None) -> str:
    """``4.1%``; ``n/a`` without requests."""
    return "n/a" if rate is None else percent(rate)


def p_text(p_value: float | None) -> str:
    """``0.0001``, ``1.2e-09``, ``0.02``: a p-value to two significant digits; ``n/a`` when not computed."""
    return "n/a" if p_value is None else f"{p_value:.2g}"
