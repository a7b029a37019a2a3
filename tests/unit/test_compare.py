"""The comparison of two runs' distributions, checked against scipy itself on known distributions."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pytest
from scipy import stats

from pytest_deploysmoke.perf.compare import (
    ERROR_RULE,
    LATENCY_RULE,
    CompareSettings,
    Comparison,
    compare,
    judge,
)
from pytest_deploysmoke.perf.distributions import EndpointDistribution
from pytest_deploysmoke.perf.stats import LatencyHistogram
from tests.comparisons import endpoint_row

SETTINGS = CompareSettings()


def lognormal(seed: int, median_ms: float, n: int, sigma: float = 0.3) -> np.ndarray:
    """*n* latencies around *median_ms*, drawn the same way for the same *seed*."""
    return np.random.default_rng(seed).lognormal(math.log(median_ms), sigma, n)


def distribution(
    values: Iterable[float], *, errors: int = 0, unanswered: int = 0, endpoint: str = "GET /api/markets/krw"
) -> EndpointDistribution:
    """*values* recorded into a histogram, as a run keeps them; *unanswered* requests got no answer at all."""
    histogram = LatencyHistogram()
    for ms in values:
        histogram.record(float(ms))
    return EndpointDistribution.of(
        endpoint, histogram, requests=histogram.count + unanswered, errors=errors + unanswered
    )


def bucketed(part: EndpointDistribution) -> np.ndarray:
    """What a run's JSON keeps of *part*: each bucket's value, as many times as it counted."""
    return np.array([ms for ms, count in part.buckets for _ in range(count)])


def test_a_40_percent_slower_endpoint_is_a_latency_regression_with_scipys_p_value() -> None:
    """Two lognormal samples, the second 40 % slower: a regression whose p-value is scipy's on the bucketed values."""
    before, after = distribution(lognormal(1, 12.0, 400)), distribution(lognormal(2, 12.0 * 1.4, 400))
    row = judge(before, after, SETTINGS)
    assert (row.verdict, row.rules) == ("regression", (LATENCY_RULE,))
    expected = stats.mannwhitneyu(bucketed(after), bucketed(before), alternative="two-sided", method="asymptotic")
    assert row.p_value == pytest.approx(expected.pvalue, rel=1e-12)
    # The buckets (1/128 wide at most) barely move the test: scipy on the raw latencies agrees.
    raw = stats.mannwhitneyu(lognormal(2, 12.0 * 1.4, 400), lognormal(1, 12.0, 400), alternative="two-sided")
    assert row.p_value is not None
    assert math.log10(row.p_value) == pytest.approx(math.log10(raw.pvalue), rel=0.02)
    medians = [float(np.median(lognormal(seed, median, 400))) for seed, median in ((1, 12.0), (2, 16.8))]
    assert row.shift_pct == pytest.approx((medians[1] / medians[0] - 1) * 100, abs=2.0)
    assert (row.n_baseline, row.n_now, row.note) == (400, 400, "")


def test_identical_distributions_are_no_significant_change() -> None:
    """The same latencies on both sides: scipy's p-value, no shift, no significant change."""
    same = distribution(lognormal(3, 30.0, 200))
    row = judge(same, same, SETTINGS)
    expected = stats.mannwhitneyu(bucketed(same), bucketed(same), alternative="two-sided", method="asymptotic")
    assert (row.verdict, row.shift_pct, row.rules) == ("no significant change", 0.0, ())
    assert row.p_value == pytest.approx(expected.pvalue)


def test_draws_from_one_distribution_flag_no_regression() -> None:
    """Twenty pairs of draws from one distribution, as a deploy compared with itself: never a regression."""
    rows = [
        judge(distribution(lognormal(s, 12.0, 300)), distribution(lognormal(s + 100, 12.0, 300)), SETTINGS)
        for s in range(20)
    ]
    assert [row.verdict for row in rows] == ["no significant change"] * 20


def test_a_significant_shift_within_the_tolerance_is_no_regression() -> None:
    """10 % slower on many samples is significant, but within the 25 % tolerance: no significant change."""
    before, after = distribution(lognormal(4, 20.0, 3000)), distribution(lognormal(5, 22.0, 3000))
    row = judge(before, after, SETTINGS)
    assert row.p_value is not None and row.p_value < SETTINGS.alpha
    assert row.shift_pct is not None and 5 < row.shift_pct < 25
    assert row.verdict == "no significant change"
    assert judge(before, after, CompareSettings(tolerance=0.05)).verdict == "regression"


def test_a_shift_under_min_shift_ms_is_no_regression_however_large_in_percent() -> None:
    """A 1 ms endpoint 60 % slower moves 0.6 ms: scheduler noise, under the 2 ms floor; without the floor it counts."""
    before, after = distribution(lognormal(11, 1.0, 400)), distribution(lognormal(12, 1.6, 400))
    floored = judge(before, after, SETTINGS)
    assert floored.shift_pct is not None and floored.shift_pct > 25
    assert floored.p_value is not None and floored.p_value < SETTINGS.alpha
    assert (floored.verdict, floored.rules) == ("no significant change", ())
    assert judge(before, after, CompareSettings(min_shift_ms=0.0)).verdict == "regression"
    assert judge(after, before, SETTINGS).verdict == "no significant change"  # nor an improvement
    assert judge(after, before, CompareSettings(min_shift_ms=0.0)).verdict == "improvement"


def test_a_faster_endpoint_is_an_improvement_never_a_regression() -> None:
    """40 % faster is an improvement; the comparison lists no regression for it."""
    row = judge(distribution(lognormal(6, 20.0, 300)), distribution(lognormal(7, 12.0, 300)), SETTINGS)
    assert (row.verdict, row.rules) == ("improvement", ())
    assert Comparison("b", SETTINGS, (row,)).regressions == ()


@pytest.mark.parametrize(
    ("n_before", "n_after", "note"),
    [
        (400, 49, "49 samples now < 50"),
        (12, 400, "12 samples in the baseline < 50"),
        (0, 400, "not measured in the baseline"),
    ],
)
def test_too_few_samples_on_either_side_is_not_evaluated(n_before: int, n_after: int, note: str) -> None:
    """Under min_samples on either side: not evaluated, with no p-value, whatever the shift."""
    row = judge(distribution(lognormal(8, 10.0, n_before)), distribution(lognormal(9, 40.0, n_after)), SETTINGS)
    assert (row.verdict, row.p_value, row.rules, row.note) == ("not evaluated", None, (), note)


def test_error_counts_are_judged_with_scipys_fisher_exact_test() -> None:
    """2 errors in 1,000 against 40 in 1,000: Fisher's exact p-value as scipy gives it, and an error regression."""
    latencies = lognormal(10, 12.0, 1000)
    before, after = distribution(latencies, errors=2), distribution(latencies, errors=40)
    row = judge(before, after, SETTINGS)
    expected = stats.fisher_exact(np.array([[40, 960], [2, 998]]), alternative="two-sided")
    assert row.error_p_value == pytest.approx(expected.pvalue, rel=1e-12)
    assert (row.verdict, row.rules) == ("regression", (ERROR_RULE,))
    assert (row.error_rate_baseline, row.error_rate_now) == (0.002, 0.04)
    fewer = judge(after, before, SETTINGS)  # the error rate fell: significant, and no regression
    assert fewer.error_p_value == pytest.approx(expected.pvalue) and fewer.verdict == "no significant change"


def test_errors_without_answers_are_judged_even_when_latencies_cannot_be() -> None:
    """An endpoint that stopped answering has too few latencies, but its errors still make it a regression."""
    before = distribution(lognormal(11, 12.0, 200))
    after = distribution(lognormal(12, 12.0, 20), unanswered=180)
    row = judge(before, after, SETTINGS)
    assert (row.verdict, row.rules, row.p_value) == ("regression", (ERROR_RULE,), None)
    assert row.note == "latencies not evaluated: 20 samples now < 50"


def test_every_latency_in_one_bucket_on_both_sides_is_no_change() -> None:
    """All ties: nothing tells the sides apart (scipy's p-value, or 1 where an older scipy gives NaN)."""
    flat = distribution([5.0] * 100)
    expected = stats.mannwhitneyu(bucketed(flat), bucketed(flat), alternative="two-sided", method="asymptotic")
    row = judge(flat, flat, SETTINGS)
    assert (row.verdict, row.p_value) == (
        "no significant change",
        1.0 if math.isnan(expected.pvalue) else expected.pvalue,
    )


def test_a_client_bound_side_is_named_in_the_note() -> None:
    """Latencies measured while the load client was the bottleneck carry the caveat."""
    before = distribution(lognormal(13, 12.0, 400))
    after = EndpointDistribution("GET /api/markets/krw", 400, 0, distribution(lognormal(14, 17.0, 400)).buckets, True)
    row = judge(before, after, SETTINGS)
    assert row.verdict == "regression"
    assert row.note == "measured while the load client was the bottleneck (now): latencies are upper bounds"


def test_a_configured_endpoint_takes_every_source_unless_it_names_one() -> None:
    """``GET /x`` is judged from the checks' and the load probes' requests; ``GET /x (checks)`` from the checks' only."""
    checks = distribution(lognormal(17, 12.0, 100), endpoint="GET /x")
    load = EndpointDistribution("GET /x", 100, 0, checks.buckets, source="load")
    both = compare([checks, load], [checks, load], CompareSettings(endpoints=("GET /x",)), label="b")
    assert [row.endpoint for row in both.endpoints] == ["GET /x", "GET /x (load)"]
    own = compare([checks, load], [checks, load], CompareSettings(endpoints=("GET /x (checks)",)), label="b")
    assert [row.endpoint for row in own.endpoints] == ["GET /x"]
    loaded = compare([checks, load], [checks, load], CompareSettings(endpoints=("GET /x (load)",)), label="b")
    assert [row.endpoint for row in loaded.endpoints] == ["GET /x (load)"]


def test_no_change_on_client_bound_latencies_is_a_warning_not_a_clean_pass() -> None:
    """Upper bounds that agree prove nothing about the server: the verdict line says so, as a warning."""
    before = distribution(lognormal(15, 12.0, 400))
    same = EndpointDistribution("GET /api/markets/krw", 400, 0, distribution(lognormal(16, 12.0, 400)).buckets, True)
    comparison = compare([before], [same], SETTINGS, label="local 1.7.0")
    (row,) = comparison.endpoints
    assert row.verdict == "no significant change"
    assert comparison.warning_lines() == (
        "GET /api/markets/krw no significant change against the baseline, "
        "measured while the load client was the bottleneck (now): latencies are upper bounds",
    )
    clean = compare([before], [distribution(lognormal(16, 12.0, 400))], SETTINGS, label="local 1.7.0")
    assert clean.warning_lines() == ()


# -- which endpoints are compared -------------------------------------------------------------------


def test_every_endpoint_in_both_runs_is_compared_and_the_others_are_named() -> None:
    """Without endpoints configured: the ones both runs measured, in this run's order; the rest listed apart."""
    values = lognormal(15, 10.0, 60)
    base = [distribution(values, endpoint=name) for name in ("GET /a", "GET /old", "GET /b")]
    now = [distribution(values, endpoint=name) for name in ("GET /b", "GET /new", "GET /a")]
    result = compare(base, now, SETTINGS, label="previous")
    assert [row.endpoint for row in result.endpoints] == ["GET /b", "GET /a"]
    assert (result.only_baseline, result.only_now) == (("GET /old",), ("GET /new",))
    assert result.warning_lines() == ()


def test_configured_endpoints_only_and_a_missing_one_is_not_evaluated() -> None:
    """With endpoints configured, only those; one this run did not measure is not evaluated, and warns."""
    values = lognormal(16, 10.0, 60)
    base = [distribution(values, endpoint=name) for name in ("GET /a", "GET /b")]
    now = [distribution(values, endpoint="GET /a"), distribution(values[:30], endpoint="GET /a")]  # merged: 90
    result = compare(base, now, CompareSettings(endpoints=("GET /a", "GET /b")), label="previous")
    assert [(row.endpoint, row.verdict, row.n_now) for row in result.endpoints] == [
        ("GET /a", "no significant change", 90),
        ("GET /b", "not evaluated", 0),
    ]
    assert result.warning_lines() == ("GET /b not evaluated against the baseline: not measured now",)


def test_nothing_in_common_is_a_warning_that_nothing_was_compared() -> None:
    """A baseline that shares no endpoint with the run compares nothing, and says so."""
    values = lognormal(17, 10.0, 60)
    result = compare(
        [distribution(values, endpoint="GET /a")], [distribution(values, endpoint="GET /b")], SETTINGS, label="v1 run"
    )
    assert result.endpoints == ()
    assert result.warning_lines() == (
        "nothing was compared against the baseline v1 run: no endpoint in common "
        "(1 endpoint(s) only in the baseline, 1 only now)",
    )


def test_every_endpoint_not_evaluated_also_says_nothing_was_compared() -> None:
    """Each endpoint too small warns, and one line more says that no endpoint was compared at all."""
    result = compare(
        [distribution(lognormal(18, 10.0, 10))], [distribution(lognormal(19, 10.0, 10))], SETTINGS, label="v1"
    )
    assert result.warning_lines() == (
        "GET /api/markets/krw not evaluated against the baseline: 10 samples in the baseline < 50; 10 samples now < 50",
        "nothing was compared against the baseline v1: not one of its 1 endpoint(s) could be evaluated",
    )


# -- the lines the verdict shows -------------------------------------------------------------------------


def test_a_regression_line_names_the_rule_the_endpoint_its_figures_and_the_baseline() -> None:
    """The issue's line: the rule, the endpoint, p50 and p95 both sides, the shift, p against alpha, the tolerance."""
    label = "local 1.7.0 at 2026-12-01T10:00:00Z (reports/previous.json)"
    errors = endpoint_row(
        endpoint="GET /x",
        rules=(ERROR_RULE,),
        error_rate_baseline=0.002,
        error_rate_now=0.04,
        errors_baseline=2,
        errors_now=40,
        requests_baseline=1000,
        requests_now=1000,
        error_p_value=1.23e-09,
        note="measured while the load client was the bottleneck (now): latencies are upper bounds",
    )
    comparison = Comparison(
        label, SETTINGS, (endpoint_row(), errors, endpoint_row(endpoint="GET /y", verdict="improvement"))
    )
    assert comparison.regression_lines() == (
        "latency_regression: GET /api/markets/krw p50 12.0 -> 17.1 ms (+42%), p95 15.0 -> 21.0 ms, "
        f"p = 0.0001 < 0.02, over the 25% tolerance, against {label}",
        "error_regression: GET /x error rate 0.2% -> 4% (2 of 1000 -> 40 of 1000 requests), "
        f"p = 1.2e-09 < 0.02 (Fisher's exact test), against {label}; "
        "measured while the load client was the bottleneck (now): latencies are upper bounds",
    )
