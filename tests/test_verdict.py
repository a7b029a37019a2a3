"""The verdict: GO, GO with warnings or NO-GO, decided once and handed to the verdict hook."""

from __future__ import annotations

import pytest

from pytest_deploysmoke.results.records import CallRecord
from pytest_deploysmoke.results.verdict import CheckResult, Ending, RunInfo, Selection, decide, phase_results

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


CONFTEST = """
import json
import pytest

def pytest_deploysmoke_environment(config):
    return {"pipeline": "https://ci.example/jobs/42"}

def pytest_deploysmoke_verdict(config, verdict):
    with open("verdict.json", "w") as out:
        json.dump({"decision": verdict.decision, "reasons": list(verdict.reasons),
                   "warnings": list(verdict.warnings), "extra": [list(r) for r in verdict.run.extra],
                   "reported": verdict.run.reported_version, "titles": sorted(c.title for c in verdict.checks)}, out)
"""

CHECKS = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    \"\"\"GET /health answers 200.\"\"\"
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features", checklist="Items can be listed")
def test_items(http):
    assert http.get("/items").status_code == 200

@pytest.mark.destructive
def test_create(http):
    http.post("/items")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_verdict_hook_gets_the_typed_verdict_once(
    pytester: pytest.Pytester, standin_url: str, xdist: list[str]
) -> None:
    """The verdict hook runs once on the controller with decision, warnings, checklist words and extra rows."""
    import json

    pytester.makefile(".toml", deploysmoke=f'[targets.prod]\nbase_url = "{standin_url}"\nproduction = true\n')
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=prod", *xdist)
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(["deploysmoke verdict: GO"])
    seen = json.loads((pytester.path / "verdict.json").read_text())
    assert seen == {
        "decision": "GO",
        "reasons": [],
        "warnings": [],
        "extra": [["pipeline", "https://ci.example/jobs/42"]],
        "reported": "1.2.3",
        "titles": ["Create", "GET /health answers 200.", "Items can be listed"],
    }


def test_verdict_line_is_last_before_the_counts(pytester: pytest.Pytester, standin_url: str) -> None:
    """The verdict line comes right before pytest's final counts, after the short summary."""
    pytester.makefile(".toml", deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\nhealth_path = "/status/503"\n')
    pytester.makepyfile(
        test_checks="import pytest\n\n@pytest.mark.phase('health')\ndef test_h(http):\n    assert http.get('/status/503').status_code == 200\n"
    )
    result = pytester.runpytest("--deploy-target=s", "-ra")
    assert result.stdout.lines[-2].startswith(
        "deploysmoke verdict: NO-GO: gate 'health' failed (test_checks.py::test_h)"
    )


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


ROLLBACK_CHECKS = """
import pytest

@pytest.mark.phase("features")
@pytest.mark.rollback("data integrity")
def test_items_match_their_filter(http):
    \"\"\"Filtered items satisfy the filter.\"\"\"
    items = http.get("/items").json()
    assert items == [], f"{len(items)} item(s) do not satisfy the filter"

@pytest.mark.phase("features")
@pytest.mark.rollback("data integrity")
def test_health_is_fine(http):
    assert http.get("/health").status_code == 200
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_rollback_mark_reaches_the_verdict_and_the_exit_code(
    pytester: pytest.Pytester, standin_url: str, xdist: list[str]
) -> None:
    """A failing rollback-marked check ends the run in ROLLBACK, in the terminal and the JSON summary."""
    import json

    pytester.makefile(".toml", deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks=ROLLBACK_CHECKS)
    result = pytester.runpytest("--deploy-target=s", "--deploy-json=summary.json", *xdist)
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reason = "data integrity: test_checks.py::test_items_match_their_filter failed: 1 item(s) do not satisfy the filter"
    result.stdout.fnmatch_lines([f"deploysmoke verdict: ROLLBACK: {reason}*"])
    summary = json.loads((pytester.path / "summary.json").read_text())
    assert summary["verdict"]["decision"] == "ROLLBACK" and summary["verdict"]["rollback"] == [reason]
    rules = {check["nodeid"].split("::")[1]: check["rollback_rule"] for check in summary["checks"]}
    assert rules == {"test_items_match_their_filter": "data integrity", "test_health_is_fine": None}


NOT_DATA = """
import pytest
from pytest_deploysmoke import expect_json, expect_status

@pytest.mark.phase("features")
@pytest.mark.rollback("data integrity")
def test_answers_wrong_data(http):
    expect_json(http.get("/health"), {"status": "degraded"})

@pytest.mark.phase("features")
@pytest.mark.rollback("data integrity")
def test_cannot_get_an_answer(http):
    expect_status(http.get("/status/503"), 200)

@pytest.mark.phase("features")
@pytest.mark.rollback("data integrity")
def test_over_budget(http):
    http.get("/slow?s=0.05", budget="1ms")

@pytest.mark.phase("features")
@pytest.mark.rollback("data integrity")
def test_p95_over_budget(latency):
    latency("/slow?s=0.02", samples=20, warmup=0, budget="1ms")  # 20: enough samples to judge a p95
"""


def test_rollback_mark_trips_on_wrong_data_only(pytester: pytest.Pytester, standin_url: str) -> None:
    """expect_json's difference trips the rule; a 503 or a blown budget (call or p95) fails without a rollback."""
    import json

    pytester.makefile(".toml", deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks=NOT_DATA)
    result = pytester.runpytest("--deploy-target=s", "--deploy-json=summary.json")
    result.assert_outcomes(failed=4)
    summary = json.loads((pytester.path / "summary.json").read_text())
    assert summary["verdict"]["rollback"] == [
        "data integrity: test_checks.py::test_answers_wrong_data failed: GET "
        f"{standin_url}/health JSON differs from what was expected: $.status: expected 'degraded', got 'ok'"
    ]


@pytest.mark.parametrize(
    ("mark", "message"),
    [
        ("rollback()", "missing 1 required positional argument: 'rule'"),
        ("rollback('')", "the rule must be a non-empty string such as 'data integrity', got ''"),
        ("rollback(rule=3)", "the rule must be a non-empty string such as 'data integrity', got 3"),
    ],
)
def test_invalid_rollback_mark_is_a_collection_error(
    pytester: pytest.Pytester, standin_url: str, mark: str, message: str
) -> None:
    """A rollback mark without a readable rule fails collection with the node id and the reason."""
    pytester.makefile(".toml", deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks=f"import pytest\n\n@pytest.mark.{mark}\ndef test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=s")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*test_checks.py::test_x: invalid @pytest.mark.rollback: *{message}*"])


def test_a_check_that_skipped_itself_is_a_warning_but_a_gate_skip_is_not() -> None:
    """An unchecked box needs saying: a self-skip warns; skips behind a failed gate are covered by its reason."""
    verdict = verdict_of(check("v", "health", "skipped", message="no expected version"), check("a", "features"))
    assert (verdict.decision, verdict.warnings) == ("GO with warnings", ("v skipped: no expected version (t.py::v)",))
    gated = verdict_of(
        check("h", "health", "failed", message="503"),
        check("f", "features", "skipped", message="gate 'health' failed (t.py::h); later phases not run"),
    )
    assert gated.decision == "NO-GO" and gated.warnings == ()


def test_collection_errors_are_no_go(pytester: pytest.Pytester, standin_url: str) -> None:
    """A test module that does not import leaves checks unchecked: NO-GO, naming the module."""
    pytester.makefile(".toml", deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_good="def test_ok():\n    pass\n", test_broken="import no_such_module_here\n")
    result = pytester.runpytest("--deploy-target=s")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["deploysmoke verdict: NO-GO: collection failed: test_broken.py: *No module named 'no_such_module_here'*"]
    )


def test_collect_only_decides_nothing(pytester: pytest.Pytester, standin_url: str) -> None:
    """--collect-only runs no check, so no verdict is printed and no report is written."""
    pytester.makefile(".toml", deploysmoke=f'[targets.s]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_good="def test_ok():\n    pass\n")
    result = pytester.runpytest("--deploy-target=s", "--collect-only", "--deploy-json=s.json")
    assert result.ret == pytest.ExitCode.OK
    assert "deploysmoke verdict" not in result.stdout.str() and not (pytester.path / "s.json").exists()
