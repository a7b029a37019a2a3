"""Budgets in a run: [budgets] per endpoint, the budget mark, and what the verdict makes of them."""

from __future__ import annotations

import json

import pytest

CHECKS = """
import pytest

def test_config_budget_warns(http):
    \"\"\"The slow list stays under its limit.\"\"\"
    assert http.get("/slow", params={"s": "0.15"}).status_code == 200

def test_config_budget_fails(http):
    http.get("/slow", params={"s": "0.15"}, budget=("50ms", "100ms"))

@pytest.mark.budget("10s", "20s")
def test_mark_two_levels(http):
    assert http.get("/health").status_code == 200
"""


def test_config_budgets_and_two_levels_in_the_verdict(pytester: pytest.Pytester, api_url: str) -> None:
    """[budgets] applies per endpoint; over the target is GO with warnings, over the limit fails."""
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\ntimeout = 3.0\n'
        '[targets.t.budgets]\n"GET /slow" = ["100ms", "10s"]\n',
    )
    pytester.makepyfile(test_budgets=CHECKS)
    result = pytester.runpytest("--deploy-target=t", "-k", "not fails", "--deploy-json=summary.json")
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "deploysmoke verdict: GO with warnings (partial: 2 of 3 checks, narrowed by -k not fails): The slow list stays under its limit.: GET /slow?s=0.15 took * ms, "
            "over its 100 ms target (limit 10000 ms) (test_budgets.py::test_config_budget_warns)"
        ]
    )
    summary = json.loads((pytester.path / "summary.json").read_text())
    calls = {c["action"]: c for check in summary["checks"] for c in check["calls"]}
    assert (calls["GET /slow?s=0.15"]["target_ms"], calls["GET /slow?s=0.15"]["budget_ms"]) == (100.0, 10000.0)
    assert (calls["GET /health"]["target_ms"], calls["GET /health"]["budget_ms"]) == (10000.0, 20000.0)
    result = pytester.runpytest("--deploy-target=t", "-k", "fails")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["GET /slow?s=0.15 took * ms, over its budget of 100 ms (status 200); *"])


def test_bad_budgets_key_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A [budgets] key that is not "METHOD /path" is refused before any check."""
    pytester.makefile(
        ".toml", deploysmoke='[targets.t]\nbase_url = "https://x"\n[targets.t.budgets]\n"/health" = "1s"\n'
    )
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=t")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            'ERROR: deploysmoke.toml: [[]targets.t.budgets] has key \'/health\'; expected "METHOD /path", e.g. "GET /health"'
        ]
    )
