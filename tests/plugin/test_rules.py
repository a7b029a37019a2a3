"""Rollback rules on the checks' calls: enough samples, every attempt, no warm-ups; each line shows its figures."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))


def run(pytester: pytest.Pytester, url: str, checks: str, toml: str = "") -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run *checks* on the stand-in with *toml* added to the target; the result and the validated JSON summary."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{url}"\ntimeout = 5.0\n{toml}\n')
    pytester.makepyfile(test_checks=checks)
    result = pytester.runpytest("--deploy-target=t", "--deploy-json=summary.json", "--deploy-ticket=ticket.md")
    summary = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    jsonschema.validate(summary, SCHEMA)
    return result, summary


# -- the rules on the checks' calls ---------------------------------------------------------------

SLOW_NINE = """
import pytest

@pytest.mark.phase("performance")
def test_slow(http):
    \"\"\"The slow list answers within its limit.\"\"\"
    for _ in range(9):
        assert http.get("/slow?s=0.05").status_code == 200
"""
SLOW_BUDGET = '[targets.t.budgets]\n"GET /slow" = ["10ms", "5s"]\n'


def test_p95_rule_on_nine_samples_warns_instead_of_rolling_back(pytester: pytest.Pytester, standin_url: str) -> None:
    """The p95 of 9 calls is their maximum: with the default minimum of 20 it is a warning, not ROLLBACK."""
    result, summary = run(pytester, standin_url, SLOW_NINE, SLOW_BUDGET)
    assert result.ret == pytest.ExitCode.OK
    verdict = summary["verdict"]
    assert verdict["decision"] == "GO with warnings" and verdict["rollback"] == []
    [line] = [w for w in verdict["warnings"] if "not evaluated" in w]
    assert line.startswith("p95_over_target GET /slow not evaluated: 9 samples < 20 in the performance phase (p95 ")
    assert line.endswith(" ms, over 2 x its 10 ms target)")


def test_p95_rule_trips_with_a_lower_min_samples(pytester: pytest.Pytester, standin_url: str) -> None:
    """min_samples = 5 in [targets.X.rollback] lets the same 9 calls decide ROLLBACK."""
    result, summary = run(pytester, standin_url, SLOW_NINE, SLOW_BUDGET + "[targets.t.rollback]\nmin_samples = 5\n")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert summary["verdict"]["decision"] == "ROLLBACK"
    [reason] = summary["verdict"]["rollback"]
    assert reason.startswith("p95_over_target GET /slow p95 ")
    assert reason.endswith(" > 2 x its 10 ms target (20 ms) over 9 requests in the performance phase")


def test_retries_do_not_hide_the_error_rate(pytester: pytest.Pytester, standin_url: str) -> None:
    """With retries = 2 every call passes, but each of the 29 attempts counts: 9 of them were 503s."""
    checks = """
import pytest

@pytest.mark.phase("health")
def test_dependency(http):
    for _ in range(20):
        assert http.get("/fails-every/3?key=retries").status_code == 200
"""
    result, summary = run(pytester, standin_url, checks, "retries = 2")
    result.assert_outcomes(passed=1)
    assert summary["verdict"]["decision"] == "ROLLBACK"
    assert summary["verdict"]["rollback"] == ["error_rate 31% >= 5% over 29 requests in the checks"]
    attempts = [call["attempt"] for call in summary["checks"][0]["calls"]]
    assert (len(attempts), attempts.count(2)) == (29, 9)


def test_warmup_requests_count_towards_no_rule(pytester: pytest.Pytester, standin_url: str) -> None:
    """latency(samples=5) sends 6 requests; the error rate is over the 5 measured ones, and the warm-up is marked."""
    checks = """
import pytest

@pytest.mark.phase("performance")
def test_errors(latency):
    assert latency("/status/500", samples=5).errors == 5
"""
    result, summary = run(pytester, standin_url, checks, "[targets.t.rollback]\nmin_samples = 5\n")
    result.assert_outcomes(passed=1)
    assert summary["verdict"]["rollback"] == ["error_rate 100% >= 5% over 5 requests in the checks"]
    calls = summary["checks"][0]["calls"]
    assert [call["warmup"] for call in calls] == [True] + [False] * 5


def test_health_phase_server_errors_count_and_client_errors_do_not(pytester: pytest.Pytester, standin_url: str) -> None:
    """Every phase's calls count: 20 503s of a health check trip error_rate; 20 expected 401s are not errors."""
    checks = """
import pytest

@pytest.mark.phase("health")
def test_dependency_down(http):
    for _ in range(20):
        assert http.get("/status/503").status_code == 503

@pytest.mark.phase("auth")
def test_token_needed(http):
    for _ in range(20):
        assert http.get("/status/401").status_code == 401
"""
    result, summary = run(pytester, standin_url, checks)
    result.assert_outcomes(passed=2)
    assert summary["verdict"]["rollback"] == ["error_rate 50% >= 5% over 40 requests in the checks"]


def test_too_few_errors_to_judge_is_a_warning(pytester: pytest.Pytester, standin_url: str) -> None:
    """3 failed requests of 4 would trip error_rate, but 4 samples are under 20: GO with warnings, exit code 0."""
    checks = """
def test_mostly_down(http):
    assert [http.get(f"/status/{code}").status_code for code in (500, 500, 500, 200)] == [500, 500, 500, 200]
"""
    result, summary = run(pytester, standin_url, checks)
    assert result.ret == pytest.ExitCode.OK
    assert summary["verdict"]["decision"] == "GO with warnings"
    assert summary["verdict"]["warnings"] == ["error_rate not evaluated: 4 samples < 20 in the checks (3 errors, 75%)"]


# -- a latency budget on too few samples ----------------------------------------------------------


def test_latency_budget_on_too_few_samples_warns(pytester: pytest.Pytester, standin_url: str) -> None:
    """budget= on 5 samples, p95 over it: the check passes, the line and the verdict say it was not evaluated."""
    checks = """
def test_fast(latency):
    latency("/slow?s=0.05", samples=5, budget="10ms")
"""
    result, summary = run(pytester, standin_url, checks)
    result.assert_outcomes(passed=1)
    [warning] = summary["verdict"]["warnings"]
    assert warning.startswith("p95 budget 10 ms of GET /slow?s=0.05 not evaluated: 5 samples < 20 (p95 ")
    assert warning.endswith(" ms) (test_checks.py::test_fast)")
    [measurement] = summary["checks"][0]["measurements"]
    assert (measurement["budget"], measurement["not_evaluated"]) == (
        "p95 budget 10 ms",
        "not evaluated: 5 samples < 20",
    )


def test_latency_budget_with_no_answer_still_fails(pytester: pytest.Pytester, closed_port: int) -> None:
    """A dead service is still caught below min_samples: none of 3 requests answered fails the p95 budget."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "http://127.0.0.1:{closed_port}"\n')
    pytester.makepyfile(test_checks='def test_down(latency):\n    latency("/health", samples=3, budget="1s")\n')
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*GET /health: none of 3 requests was answered, so the p95 budget of 1.00 s*"])


# -- each line shows what it measured -------------------------------------------------------------

MEASURED = """
import pytest

@pytest.mark.phase("performance")
def test_markets(latency):
    \"\"\"GET /health p95 under 10 s\"\"\"
    latency("/health", samples=20, budget="10s")
"""


def test_latency_check_line_shows_its_figures(pytester: pytest.Pytester, standin_url: str) -> None:
    """The ticket line and the JSON check carry n, errors, p50/p95/p99 and the budget, not the slowest call."""
    result, summary = run(pytester, standin_url, MEASURED)
    result.assert_outcomes(passed=1)
    [check] = summary["checks"]
    [measurement] = check["measurements"]
    assert measurement["action"] == "GET /health"
    assert (measurement["n"], measurement["errors"], measurement["budget"]) == (20, 0, "p95 budget 10.00 s")
    assert 0 < measurement["p50_ms"] <= measurement["p95_ms"] <= measurement["p99_ms"] < 10_000
    assert (measurement["engine"], measurement["not_evaluated"]) == ("latency", None)
    ticket = (pytester.path / "ticket.md").read_text(encoding="utf-8").splitlines()
    [line] = [line for line in ticket if line.startswith("- [x] GET /health p95 under 10 s — ")]
    figures = line.split("; ", 1)[1]

    def ms(value: float) -> str:
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"

    assert figures == (
        f"GET /health: n 20, 0 errors, p50 {ms(measurement['p50_ms'])}, p95 {ms(measurement['p95_ms'])}, "
        f"p99 {ms(measurement['p99_ms'])} (p95 budget 10.00 s)"
    )
    assert "slowest" not in line


def test_measurement_crosses_xdist(pytester: pytest.Pytester, standin_url: str) -> None:
    """Under pytest-xdist the measurement travels from the worker to the controller's JSON summary."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks=MEASURED)
    result = pytester.runpytest("--deploy-target=t", "--deploy-json=summary.json", "-n", "2")
    result.assert_outcomes(passed=1)
    summary = json.loads(Path(pytester.path / "summary.json").read_text(encoding="utf-8"))
    jsonschema.validate(summary, SCHEMA)
    assert [m["n"] for m in summary["checks"][0]["measurements"]] == [20]


# -- retries must not hide a failing endpoint -----------------------------------------------------------

RETRIED = """
import pytest

@pytest.mark.phase("features")
def test_files(http):
    for _ in range(10):
        assert http.get("/fails-every/{n}?key={key}").status_code == 200
"""


def test_an_endpoint_that_needs_retries_too_often_is_no_go(pytester: pytest.Pytester, standin_url: str) -> None:
    """Every call passes on a retry, but 4 of 10 needed one: over max_retried (10%) that is NO-GO, naming the endpoint."""
    result, summary = run(pytester, standin_url, RETRIED.format(n=3, key="share"), "retries = 2")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reason = "GET /fails-every/3 needed a retry on 4 of 10 calls (40%, max_retried 10%): 503 x4"
    assert summary["verdict"]["decision"] == "NO-GO"
    assert summary["verdict"]["reasons"] == [reason]
    assert "Files passed only after retried calls (test_checks.py::test_files)" in summary["verdict"]["warnings"]
    assert reason in (pytester.path / "ticket.md").read_text(encoding="utf-8")
    result.stdout.fnmatch_lines([f"deploysmoke verdict: NO-GO: {reason}"])


def test_a_share_under_max_retried_is_a_warning(pytester: pytest.Pytester, standin_url: str) -> None:
    """max_retried = "50%" lets 4 retried calls of 10 pass with a warning."""
    result, summary = run(pytester, standin_url, RETRIED.format(n=3, key="loose"), 'retries = 2\nmax_retried = "50%"')
    result.assert_outcomes(passed=1)
    assert summary["verdict"]["decision"] == "GO with warnings"
    assert "Files passed only after retried calls (test_checks.py::test_files)" in summary["verdict"]["warnings"]


def test_a_single_retried_call_is_a_blip_and_warns(pytester: pytest.Pytester, standin_url: str) -> None:
    """One retried call stays a warning, even where it is more than max_retried of the endpoint's calls."""
    checks = RETRIED.replace("range(10)", "range(2)").format(n=2, key="blip")
    result, summary = run(pytester, standin_url, checks, "retries = 2")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert summary["verdict"]["decision"] == "GO with warnings"
    assert summary["verdict"]["reasons"] == []
    assert "Files passed only after retried calls (test_checks.py::test_files)" in summary["verdict"]["warnings"]
