"""The verdict rules: GO, GO with warnings, NO-GO or ROLLBACK, decided from given check results."""

from __future__ import annotations

import pytest

from pytest_deploysmoke.perf.compare import (
    ERROR_RULE,
    LATENCY_RULE,
    CompareSettings,
    Comparison,
    EndpointComparison,
    OnRegression,
)
from pytest_deploysmoke.results.records import CallRecord
from pytest_deploysmoke.results.verdict import (
    CheckResult,
    Ending,
    RunInfo,
    Selection,
    against,
    decide,
    phase_results,
)
from tests.comparisons import endpoint_row

RUN = RunInfo(target="prod", base_url="https://x", production=True)
PHASES = ("preflight", "health", "features")
GATES = ("preflight", "health")


def verdict_of(*checks: CheckResult):  # type: ignore[no-untyped-def]  # a local shorthand
    return decide(RUN, phase_results(PHASES, GATES, checks), checks)


def check(name: str, phase: str, outcome: str = "passed", **kw: object) -> CheckResult:
    return CheckResult(f"t.py::{name}", phase, name, outcome, 0.1, **kw)  # type: ignore[arg-type]  # test data


def test_all_passed_is_go() -> None:
    """Every check passed and no warning: GO."""
    verdict = verdict_of(check("a", "preflight"), check("b", "health"), check("c", "features"))
    assert (verdict.decision, verdict.reasons, verdict.warnings) == ("GO", (), ())
    assert [p.outcome for p in verdict.phases] == ["passed", "passed", "passed"]


def test_failed_gate_is_no_go_naming_the_gate_first() -> None:
    """A failed gate check makes NO-GO; the gate is the first reason, the check's message follows."""
    verdict = verdict_of(
        check("a", "preflight"),
        check("b", "health", "failed", message="GET /health answered 503"),
        check("c", "features", "skipped", message="gate 'health' failed"),
    )
    assert verdict.decision == "NO-GO"
    assert verdict.reasons == (
        "gate 'health' failed (t.py::b); later phases not run",
        "b failed (t.py::b): GET /health answered 503",
    )
    assert verdict.headline() == "NO-GO: gate 'health' failed (t.py::b); later phases not run (+1 more)"


def test_failure_outside_gates_is_no_go_too() -> None:
    """Nothing may fail for GO, gate or not."""
    verdict = verdict_of(check("a", "features", "failed", message="boom"))
    assert verdict.decision == "NO-GO" and verdict.reasons == ("a failed (t.py::a): boom",)


def test_reruns_and_retries_are_warnings_held_back_checks_are_listed() -> None:
    """Passing after reruns or retried calls gives GO with warnings; a destructive check held back is only listed."""
    checks = (
        check("flaky", "health", reruns=2),
        check("retried", "features", calls=(CallRecord("http", "GET /x", "200", ok=True, ms=3.0, attempt=2),)),
        check("writer", "features", "skipped", guard_blocked=True),
    )
    verdict = verdict_of(*checks)
    assert verdict.decision == "GO with warnings"
    assert verdict.warnings == (
        "flaky passed only after 2 rerun(s) (t.py::flaky)",
        "retried passed only after retried calls (t.py::retried)",
    )
    assert [c.nodeid for c in verdict.held_back] == ["t.py::writer"]


@pytest.mark.parametrize(("warns", "decision"), [(False, "GO"), (True, "GO with warnings")])
def test_held_back_warns_only_when_asked(warns: bool, decision: str) -> None:
    """A destructive check held back on production leaves GO; with held_back = "warn" it warns."""
    checks = (check("reader", "health"), check("writer", "features", "skipped", guard_blocked=True))
    ending = Ending(selection=Selection(2, 2), held_back_warns=warns)
    verdict = decide(RUN, phase_results(PHASES, GATES, checks), checks, ending=ending)
    assert verdict.decision == decision
    assert bool(verdict.warnings) == warns


@pytest.mark.parametrize(
    ("checks", "ending", "reason"),
    [
        ((), Ending(Selection(0, 0)), "nothing was checked: no check was collected"),
        (
            (),
            Ending(Selection(0, 4, ("-k nope",))),
            "nothing was checked: the selection (-k nope) left none of the 4 collected checks",
        ),
        (
            (check("a", "features", "skipped", message="later"),),
            Ending(Selection(1, 1)),
            "nothing was checked: all 1 selected checks were skipped",
        ),
        (
            (),
            Ending(Selection(3, 3), not_ready="GET /health gave status 503"),
            "target 'prod' not ready: GET /health gave status 503",
        ),
        (
            (check("a", "health"),),
            Ending(Selection(3, 3), interrupted="SIGTERM", cut_short="t.py::b"),
            "interrupted (SIGTERM) during t.py::b after 1 of 3 checks",
        ),
        ((check("a", "health"),), Ending(Selection(3, 3)), "the run ended after 1 of 3 checks"),
    ],
)
def test_a_run_that_did_not_check_its_selection_is_no_go(
    checks: tuple[CheckResult, ...], ending: Ending, reason: str
) -> None:
    """GO needs a check that ran and passed, a ready target, and a run that got to its end."""
    verdict = decide(RUN, phase_results(PHASES, GATES, checks), checks, ending=ending)
    assert (verdict.decision, verdict.reasons[0]) == ("NO-GO", reason)


def test_phase_outcomes_count_checks() -> None:
    """A phase's outcome and counts follow its checks; a phase without checks is not run."""
    verdict = verdict_of(check("a", "health"), check("b", "health", "skipped"))
    assert [(p.name, p.outcome, p.passed, p.skipped) for p in verdict.phases] == [
        ("preflight", "not run", 0, 0),
        ("health", "passed", 1, 1),
        ("features", "not run", 0, 0),
    ]


def test_calls_over_target_are_one_warning_per_check() -> None:
    """However many samples went over their target, a check gives one warning naming the worst."""
    calls = tuple(
        CallRecord("http", "GET /x", "200", ok=True, ms=ms, target_ms=100.0, budget_ms=1000.0)
        for ms in (90.0, 150.0, 400.0, 120.0)
    )
    verdict = verdict_of(check("sampled", "features", calls=calls))
    assert verdict.decision == "GO with warnings"
    assert verdict.warnings == (
        "sampled: 3 calls over their target, worst GET /x took 400 ms, over its 100 ms target (limit 1000 ms) (t.py::sampled)",
    )


def test_failed_check_with_a_rollback_mark_is_rollback() -> None:
    """A failed check marked rollback('data integrity') makes ROLLBACK, its rule, node id and message the reason."""
    verdict = verdict_of(
        check("a", "health"),
        check("filter", "features", "failed", message="KRW-XRP has RSI 41.2, not < 30", rollback_rule="data integrity"),
    )
    assert verdict.decision == "ROLLBACK"
    assert verdict.rollback == ("data integrity: t.py::filter failed: KRW-XRP has RSI 41.2, not < 30",)
    assert verdict.reasons == ("filter failed (t.py::filter): KRW-XRP has RSI 41.2, not < 30",)


def test_passed_or_skipped_check_with_a_rollback_mark_changes_nothing() -> None:
    """Only a failure of a rollback-marked check is a rollback reason."""
    verdict = verdict_of(
        check("a", "features", rollback_rule="data integrity"),
        check("b", "features", "skipped", rollback_rule="data integrity"),
    )
    assert (verdict.decision, verdict.rollback) == ("GO with warnings", ())  # the skip warns, nothing more


def test_a_check_that_skipped_itself_is_a_warning_but_a_gate_skip_is_not() -> None:
    """An unchecked box needs saying: a self-skip warns; skips behind a failed gate are covered by its reason."""
    verdict = verdict_of(check("v", "health", "skipped", message="no expected version"), check("a", "features"))
    assert (verdict.decision, verdict.warnings) == ("GO with warnings", ("v skipped: no expected version (t.py::v)",))
    gated = verdict_of(
        check("h", "health", "failed", message="503"),
        check("f", "features", "skipped", message="gate 'health' failed (t.py::h); later phases not run"),
    )
    assert gated.decision == "NO-GO" and gated.warnings == ()


def test_a_reported_version_other_than_the_expected_one_is_never_go() -> None:
    """A mismatch read by any check is a reason; the built-in version check's own failure already says it."""
    run = RunInfo("prod", "https://x", False, "2.4.0", "2.3.9", "header X-App-Version of GET /health")
    checks = (check("a", "health"),)
    verdict = decide(run, phase_results(PHASES, GATES, checks), checks)
    assert verdict.decision == "NO-GO"
    assert verdict.reasons == ("version 2.3.9 answered, expected 2.4.0 (header X-App-Version of GET /health)",)
    failed = CheckResult("deploysmoke::version", "health", "Version", "failed", 0.1, message="version 2.3.9 answered")
    verdict = decide(run, phase_results(PHASES, GATES, (failed,)), (failed,))
    assert verdict.reasons == (
        "gate 'health' failed (deploysmoke::version); later phases not run",
        "Version failed (deploysmoke::version): version 2.3.9 answered",
    )
    agreed = RunInfo("prod", "https://x", False, "2.4.0", "2.4.0", "header X-App-Version of GET /health")
    assert decide(agreed, phase_results(PHASES, GATES, checks), checks).decision == "GO"
    assert agreed.version_line() == "version 2.4.0 expected and reported (header X-App-Version of GET /health)"


def calls_to(action: str, retried: int, calls: int, outcome: str = "503") -> tuple[CallRecord, ...]:
    """*calls* calls of *action*; the first *retried* failed once with *outcome* and passed on a retry."""
    records: list[CallRecord] = []
    for index in range(calls):
        path = f"{action}?page={index}"
        if index < retried:
            records.append(CallRecord("http", path, outcome, ok=False, ms=1.0, retried=True))
            records.append(CallRecord("http", path, "200", ok=True, ms=1.0, attempt=2))
        else:
            records.append(CallRecord("http", path, "200", ok=True, ms=1.0))
    return tuple(records)


@pytest.mark.parametrize(
    ("retried", "calls", "max_retried", "reasons"),
    [
        (3, 10, 0.10, ("GET /files needed a retry on 3 of 10 calls (30%, max_retried 10%): 503 x3",)),
        (2, 20, 0.10, ()),  # 10% is not over 10%
        (1, 2, 0.10, ()),  # one retried call is a blip: a warning, whatever its share
        (3, 10, 0.50, ()),
        (2, 2, 0.0, ("GET /files needed a retry on 2 of 2 calls (100%, max_retried 0%): 503 x2",)),
    ],
)
def test_an_endpoint_retried_on_too_many_calls_is_no_go(
    retried: int, calls: int, max_retried: float, reasons: tuple[str, ...]
) -> None:
    """Over max_retried of an endpoint's calls needing a retry, with at least two of them, is NO-GO."""
    checks = (check("files", "features", calls=calls_to("GET /files", retried, calls)),)
    verdict = decide(RUN, phase_results(PHASES, GATES, checks), checks, max_retried=max_retried)
    assert verdict.reasons == reasons
    assert verdict.decision == ("NO-GO" if reasons else "GO with warnings")
    assert verdict.warnings == ("files passed only after retried calls (t.py::files)",)


def test_retries_count_per_endpoint_over_every_check_and_name_what_the_attempts_got() -> None:
    """Calls of one endpoint add up over checks; a call retried twice counts once, with both failed attempts."""
    twice = (
        CallRecord("http", "GET /files", "503", ok=False, ms=1.0, retried=True),
        CallRecord("http", "GET /files", "timed out", ok=False, ms=1.0, attempt=2, retried=True),
        CallRecord("http", "GET /files", "200", ok=True, ms=1.0, attempt=3),
    )
    checks = (
        check("a", "features", calls=twice + calls_to("GET /health", 0, 5)),
        check("b", "features", calls=calls_to("GET /files", 1, 3)),
    )
    verdict = verdict_of(*checks)
    assert verdict.reasons == (
        "GET /files needed a retry on 2 of 4 calls (50%, max_retried 10%): 503 x2, timed out x1",
    )


# -- judged against a baseline -------------------------------------------------------------------------

BASELINE = "prod 1.7.0 at 2026-12-01T10:00:00Z (reports/previous.json)"


def judged(*rows: EndpointComparison, on_regression: OnRegression = "rollback", **kw: object) -> Comparison:
    return Comparison(BASELINE, CompareSettings(on_regression=on_regression), rows, **kw)  # type: ignore[arg-type]  # test data


def verdict_against(comparison: Comparison):  # type: ignore[no-untyped-def]  # a local shorthand
    checks = (check("a", "health"),)
    return decide(RUN, phase_results(PHASES, GATES, checks), checks, comparison=comparison)


LATENCY_LINE = (
    "latency_regression: GET /api/markets/krw p50 12.0 -> 17.1 ms (+42%), p95 15.0 -> 21.0 ms, p = 0.0001 < 0.02, "
    f"over the 25% tolerance, against {BASELINE}"
)


def test_a_regression_is_rollback_naming_the_rule_endpoint_and_figures() -> None:
    """With on_regression "rollback" (the default), each regression is a rollback reason with its figures."""
    verdict = verdict_against(
        judged(endpoint_row(verdict="regression"), endpoint_row("GET /health", "no significant change"))
    )
    assert (verdict.decision, verdict.rollback, verdict.reasons, verdict.warnings) == (
        "ROLLBACK",
        (LATENCY_LINE,),
        (),
        (),
    )
    assert verdict.headline() == f"ROLLBACK: {LATENCY_LINE}"


def test_a_regression_is_no_go_when_configured() -> None:
    """With on_regression "no-go", the same line is a NO-GO reason and nothing rolls back."""
    verdict = verdict_against(judged(endpoint_row(verdict="regression"), on_regression="no-go"))
    assert (verdict.decision, verdict.reasons, verdict.rollback) == ("NO-GO", (LATENCY_LINE,), ())


def test_a_regression_of_the_checks_decides_before_the_watch_window() -> None:
    """against() (asked before the window) already says ROLLBACK, or NO-GO as configured: no window watches it."""
    checks = (check("a", "health"),)
    phases = phase_results(PHASES, GATES, checks)
    regressed = judged(endpoint_row(verdict="regression"))
    assert against(RUN, phases, checks, comparison=regressed) == "ROLLBACK"
    no_go = judged(endpoint_row(verdict="regression"), on_regression="no-go")
    assert against(RUN, phases, checks, comparison=no_go) == "NO-GO"
    unchanged = judged(endpoint_row(verdict="no significant change"))
    assert against(RUN, phases, checks, comparison=unchanged) is None


def test_both_rules_of_one_endpoint_are_two_reasons() -> None:
    """An endpoint slower and failing more is named once per rule it broke."""
    row = endpoint_row(
        verdict="regression",
        rules=(LATENCY_RULE, ERROR_RULE),
        error_rate_now=0.1,
        errors_now=40,
        error_p_value=3.1e-12,
    )
    rules = [line.split(":", 1)[0] for line in verdict_against(judged(row)).rollback]
    assert rules == ["latency_regression", "error_regression"]


def test_a_client_bound_comparison_says_so_in_its_line() -> None:
    """Latencies measured while the load client was the bottleneck: the line carries the caveat."""
    note = "measured while the load client was the bottleneck (now): latencies are upper bounds"
    (line,) = verdict_against(judged(endpoint_row(verdict="regression", note=note))).rollback
    assert line == f"{LATENCY_LINE}; {note}"


def test_an_improvement_is_never_a_reason() -> None:
    """A faster endpoint changes nothing: GO."""
    verdict = verdict_against(judged(endpoint_row(verdict="improvement", shift_pct=-40.0, p50_now_ms=7.2)))
    assert (verdict.decision, verdict.reasons, verdict.warnings, verdict.rollback) == ("GO", (), (), ())


def test_an_endpoint_not_evaluated_is_a_warning_never_a_pass() -> None:
    """Too few samples on one side: GO with warnings, the endpoint and why named, while another endpoint passed."""
    verdict = verdict_against(
        judged(
            endpoint_row(verdict="no significant change"),
            endpoint_row("GET /x", "not evaluated", n_now=12, p_value=None, note="12 samples now < 50"),
        )
    )
    assert verdict.decision == "GO with warnings"
    assert verdict.warnings == ("GET /x not evaluated against the baseline: 12 samples now < 50",)


def test_nothing_compared_is_never_a_clean_go() -> None:
    """A baseline sharing no endpoint with the run, or none evaluated: a warning that nothing was compared."""
    nothing = verdict_against(judged(only_baseline=("GET /old",), only_now=("GET /new", "GET /health")))
    assert nothing.decision == "GO with warnings"
    assert nothing.warnings == (
        f"nothing was compared against the baseline {BASELINE}: no endpoint in common "
        "(1 endpoint(s) only in the baseline, 2 only now)",
    )
    unjudged = verdict_against(
        judged(endpoint_row(verdict="not evaluated", n_baseline=3, p_value=None, note="3 samples in the baseline < 50"))
    )
    assert unjudged.decision == "GO with warnings"
    assert unjudged.warnings[-1] == (
        f"nothing was compared against the baseline {BASELINE}: not one of its 1 endpoint(s) could be evaluated"
    )


def test_the_comparison_travels_on_the_verdict() -> None:
    """The reports read the comparison from the verdict; without one it is None."""
    comparison = judged(endpoint_row(verdict="no significant change"))
    assert verdict_against(comparison).comparison is comparison
    assert verdict_of(check("a", "health")).comparison is None
