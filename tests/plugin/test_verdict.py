"""The verdict of a run: handed once to the verdict hook, printed last, and ROLLBACK from the rollback mark."""

from __future__ import annotations

import pytest

from tests.fix_pytester import without_trace

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
    assert summary["verdict"]["decision"] == "ROLLBACK"
    assert [without_trace(line) for line in summary["verdict"]["rollback"]] == [reason]
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
    assert [without_trace(line) for line in summary["verdict"]["rollback"]] == [
        "data integrity: test_checks.py::test_answers_wrong_data failed: GET "
        "/health JSON differs from what was expected: $.status: expected 'degraded', got 'ok'"
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
