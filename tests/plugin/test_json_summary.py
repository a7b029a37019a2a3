"""The JSON summary a run writes (--deploy-json): valid, the same under xdist, and as its doc page shows."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.doc_pages import fenced_blocks, read_page

DOC = Path(__file__).parents[2] / "docs" / "json-schema.md"
SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))


def validate(document: object) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(document)


SUITE = """
import pytest
from pytest_deploysmoke import expect_status


@pytest.mark.phase("health")
def test_health(http, deploy_target):
    \"\"\"The service answers on its health path.\"\"\"
    expect_status(http.get(deploy_target.health_path, budget="5s"), 200)


@pytest.mark.phase("features", checklist="Items can be listed")
def test_items(http):
    assert expect_status(http.get("/items"), 200).json() == [{"id": 1}]


@pytest.mark.phase("features")
def test_teapot_path_answers(http):
    expect_status(http.get("/status/418"), 418)
"""


def run_with_json(
    pytester: pytest.Pytester, standin_url: str, *args: str, health_path: str = "/health"
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run SUITE against the stand-in with --deploy-json; return the result and the validated file."""
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.stage]\nbase_url = "{standin_url}"\nversion = "1.2.3"\nhealth_path = "{health_path}"\n'
        # deploysmoke::version reads /health whatever health_path the run is given
        'version_from = "json:/health:$.version"\n',
    )
    pytester.makepyfile(test_checks=SUITE)
    result = pytester.runpytest("--deploy-target=stage", "--deploy-json=out/summary.json", *args)
    document: dict[str, Any] = json.loads((pytester.path / "out" / "summary.json").read_text(encoding="utf-8"))
    validate(document)
    return result, document


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without what changes from run to run (times, durations, trace ids, latencies), checks by
    node id; each endpoint's histogram is its count of latencies."""
    kept = copy.deepcopy(document)
    for key in ("started", "finished", "duration_s"):
        del kept[key]
    for check in kept["checks"]:
        del check["duration_s"]
        for call in check["calls"]:
            del call["ms"], call["trace_id"]
    kept["checks"].sort(key=lambda check: check["nodeid"])
    for endpoint in kept["endpoints"]:
        del endpoint["p50_ms"], endpoint["p95_ms"]
        endpoint["histogram"] = sum(count for _, count in endpoint["histogram"])
    return kept


XDIST = pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])


def test_passing_run_writes_a_go_summary_that_validates(pytester: pytest.Pytester, standin_url: str) -> None:
    """A passing run writes a schema-valid GO summary with the target, versions, phases and each check's calls."""
    result, document = run_with_json(pytester, standin_url)
    result.assert_outcomes(passed=4)
    assert document["verdict"] == {"decision": "GO", "reasons": [], "warnings": [], "rollback": []}
    assert document["target"] == {"name": "stage", "base_url": standin_url, "production": False}
    assert document["versions"] == {"expected": "1.2.3", "reported": "1.2.3", "source": "JSON $.version of GET /health"}
    assert document["started"] <= document["finished"]
    phases = {phase["name"]: phase for phase in document["phases"]}
    assert list(phases) == ["preflight", "migrations", "health", "auth", "features", "performance", "monitoring"]
    assert phases["health"] == {
        "name": "health",
        "gate": True,
        "outcome": "passed",
        "passed": 2,
        "failed": 0,
        "skipped": 0,
    }
    assert (phases["features"]["outcome"], phases["features"]["passed"]) == ("passed", 2)
    assert phases["preflight"]["outcome"] == "not run"
    checks = [
        (c["nodeid"], c["phase"], c["title"], c["outcome"], c["message"], c["reruns"], c["guard_blocked"])
        for c in document["checks"]
    ]
    assert checks == [
        ("deploysmoke::version", "health", "The deployed version is 1.2.3", "passed", None, 0, False),
        ("test_checks.py::test_health", "health", "The service answers on its health path.", "passed", None, 0, False),
        ("test_checks.py::test_items", "features", "Items can be listed", "passed", None, 0, False),
        ("test_checks.py::test_teapot_path_answers", "features", "Teapot path answers", "passed", None, 0, False),
    ]
    (health_call,) = document["checks"][1]["calls"]
    assert {k: v for k, v in health_call.items() if k not in ("ms", "trace_id")} == {
        "kind": "http",
        "action": "GET /health",
        "outcome": "200",
        "ok": True,
        "budget_ms": 5000.0,
        "attempt": 1,
        "target_ms": None,
        "write": False,
        "warmup": False,
    }
    assert len(health_call["trace_id"]) == 32  # the traceparent it sent
    assert [call["action"] for call in document["checks"][3]["calls"]] == ["GET /status/418"]


@XDIST
def test_failed_gate_gives_no_go_naming_the_gate(pytester: pytest.Pytester, standin_url: str, xdist: list[str]) -> None:
    """A failed health gate gives NO-GO with the gate first among the reasons and the later checks skipped."""
    result, document = run_with_json(pytester, standin_url, *xdist, health_path="/status/503")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    gate_reason = "gate 'health' failed (test_checks.py::test_health); later phases not run"
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["verdict"]["reasons"][0] == gate_reason
    assert "test_checks.py::test_health" in document["verdict"]["reasons"][1]
    by_id = {check["nodeid"]: check for check in document["checks"]}
    health = by_id["test_checks.py::test_health"]
    assert health["outcome"] == "failed" and "503" in health["message"]
    assert [call["outcome"] for call in health["calls"]] == ["503"]
    for later in ("test_checks.py::test_items", "test_checks.py::test_teapot_path_answers"):
        assert (by_id[later]["outcome"], by_id[later]["message"], by_id[later]["calls"]) == (
            "skipped",
            gate_reason,
            [],
        )
    phases = {phase["name"]: phase["outcome"] for phase in document["phases"]}
    assert (phases["health"], phases["features"]) == ("failed", "skipped")
    assert document["versions"]["reported"] == "1.2.3"  # deploysmoke::version read it from /health


def test_xdist_run_writes_the_same_summary(pytester: pytest.Pytester, standin_url: str) -> None:
    """Under -n 2 the controller writes the same document as an in-process run, up to timings and order."""
    _, in_process = run_with_json(pytester, standin_url)
    result, distributed = run_with_json(pytester, standin_url, "-n", "2")
    result.assert_outcomes(passed=4)
    assert comparable(distributed) == comparable(in_process)


def test_doc_example_is_what_its_project_writes(pytester: pytest.Pytester, standin_url: str) -> None:
    """Running the page's example project writes the page's example, up to timings, URL, host and commit."""
    page = read_page(DOC)
    for name, body in page.files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    result = pytester.runpytest(*page.args, f"--deploy-base-url={standin_url}")
    result.assert_outcomes(**page.expect)
    written = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    validate(written)
    (example,) = fenced_blocks(DOC, "json")
    shown = json.loads(example)
    for document in (written, shown):
        del document["tool"]["version"], document["target"]["base_url"], document["environment"]
    assert comparable(written) == comparable(shown)
