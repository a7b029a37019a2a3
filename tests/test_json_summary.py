"""The JSON summary (--deploy-json): its fields, its shipped schema, its doc page, and xdist."""

from __future__ import annotations

import copy
import json
import re
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_deploysmoke.reports.json_summary import render_json
from pytest_deploysmoke.results.records import CallRecord, Measurement
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, decide, phase_results
from tests.test_docs import read_page

DOC = Path(__file__).parent.parent / "docs" / "json-schema.md"
_FENCED = re.compile(r"```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def load_schema() -> dict[str, Any]:
    """The schema as the package ships it (the way users load it)."""
    resource = files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


def validate(document: object) -> None:
    jsonschema.Draft202012Validator(load_schema()).validate(document)


def doc_blocks(lang: str) -> list[str]:
    return [m["body"] for m in _FENCED.finditer(DOC.read_text(encoding="utf-8")) if m["lang"] == lang]


# -- rendering a hand-built verdict --------------------------------------------------------------

STARTED = 1_750_000_000.25  # 2025-06-15T15:06:40.250Z
RUN = RunInfo(
    target="prod",
    base_url="https://***@example.com",
    production=True,
    expected_version="2.0.1",
    reported_version="",
    started=STARTED,
    finished=STARTED + 3.5,
    host="runner-7",
    commit="",
    extra=(("pipeline", "https://ci.example/jobs/42"), ("host", "spoofed"), ("région", "eu-west")),
)
CHECKS = (
    CheckResult(
        "t.py::test_health",
        "health",
        "Health answers",
        "passed",
        0.123456,
        calls=(
            CallRecord("http", "GET /health", "503", ok=False, ms=12.345, attempt=1),
            CallRecord("http", "GET /health", "200", ok=True, ms=8.04, budget_ms=300, attempt=2),
        ),
    ),
    CheckResult(
        "t.py::test_items",
        "features",
        "Prüfung der Liste",
        "failed",
        0.5,
        message="assert 0 == 1",
        measurements=(Measurement("GET /items", 3, 3, None, None, None, "p95 budget 500 ms"),),
    ),
)
VERDICT = decide(RUN, phase_results(("health", "features"), ("health",), CHECKS), CHECKS)


def test_hand_built_verdict_renders_every_field() -> None:
    """Every field of the Verdict lands in the document, with nulls for unknowns and ms to 0.1."""
    document = json.loads(render_json(VERDICT))
    assert document == {
        "schema": 1,
        "tool": {"name": "pytest-deploysmoke", "version": installed_version("pytest-deploysmoke")},
        "target": {"name": "prod", "base_url": "https://***@example.com", "production": True},
        "versions": {"expected": "2.0.1", "reported": None},
        "started": "2025-06-15T15:06:40.250Z",
        "finished": "2025-06-15T15:06:43.750Z",
        "duration_s": 3.5,
        "verdict": {
            "decision": "NO-GO",
            "reasons": ["Prüfung der Liste failed (t.py::test_items): assert 0 == 1"],
            "warnings": ["Health answers passed only after retried calls (t.py::test_health)"],
            "rollback": [],
        },
        "selection": {"partial": False, "selected": 2, "collected": 2, "narrowed_by": []},
        "interrupted": None,
        "not_ready": None,
        "phases": [
            {"name": "health", "gate": True, "outcome": "passed", "passed": 1, "failed": 0, "skipped": 0},
            {"name": "features", "gate": False, "outcome": "failed", "passed": 0, "failed": 1, "skipped": 0},
        ],
        "checks": [
            {
                "nodeid": "t.py::test_health",
                "phase": "health",
                "title": "Health answers",
                "outcome": "passed",
                "duration_s": 0.123,
                "message": None,
                "reruns": 0,
                "guard_blocked": False,
                "rollback_rule": None,
                "screenshot": None,
                "calls": [
                    {
                        "kind": "http",
                        "action": "GET /health",
                        "outcome": "503",
                        "ok": False,
                        "ms": 12.3,
                        "budget_ms": None,
                        "attempt": 1,
                        "target_ms": None,
                        "write": False,
                        "warmup": False,
                    },
                    {
                        "kind": "http",
                        "action": "GET /health",
                        "outcome": "200",
                        "ok": True,
                        "ms": 8.0,
                        "budget_ms": 300.0,
                        "attempt": 2,
                        "target_ms": None,
                        "write": False,
                        "warmup": False,
                    },
                ],
                "measurements": [],
            },
            {
                "nodeid": "t.py::test_items",
                "phase": "features",
                "title": "Prüfung der Liste",
                "outcome": "failed",
                "duration_s": 0.5,
                "message": "assert 0 == 1",
                "reruns": 0,
                "guard_blocked": False,
                "rollback_rule": None,
                "screenshot": None,
                "calls": [],
                "measurements": [
                    {
                        "action": "GET /items",
                        "n": 3,
                        "errors": 3,
                        "p50_ms": None,
                        "p95_ms": None,
                        "p99_ms": None,
                        "budget": "p95 budget 500 ms",
                        "engine": "latency",
                        "not_evaluated": None,
                    }
                ],
            },
        ],
        "held_back": [],
        "production_writes": [],
        "setup_and_cleanup": [],
        "cleanup_failures": [],
        "environment": {
            "host": "runner-7",
            "commit": None,
            "pipeline": "https://ci.example/jobs/42",
            "région": "eu-west",
        },
    }
    validate(document)


def test_rendering_is_stable_text() -> None:
    """Keys in the documented order, two-space indent, non-ASCII kept, one trailing newline."""
    text = render_json(VERDICT)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert '\n  "schema": 1,\n' in text
    assert "Prüfung der Liste" in text and "\\u" not in text
    assert list(json.loads(text)) == [
        "schema",
        "tool",
        "target",
        "versions",
        "started",
        "finished",
        "duration_s",
        "verdict",
        "selection",
        "interrupted",
        "not_ready",
        "phases",
        "checks",
        "held_back",
        "production_writes",
        "setup_and_cleanup",
        "cleanup_failures",
        "environment",
    ]
    assert render_json(VERDICT) == text


def test_tool_version_is_null_when_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from a source tree that was never installed, the tool version is null, not an error."""
    import importlib.metadata

    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    document = json.loads(render_json(VERDICT))
    assert document["tool"] == {"name": "pytest-deploysmoke", "version": None}
    validate(document)


# -- the schema ----------------------------------------------------------------------------------


def test_shipped_schema_is_a_valid_draft_2020_12_schema() -> None:
    """The schema file in the package is itself valid JSON Schema 2020-12."""
    schema = load_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _set(path: tuple[str | int, ...], value: object) -> Any:
    def change(document: Any) -> None:
        *parents, last = path
        for key in parents:
            document = document[key]
        document[last] = value

    return change


def _drop(key: str) -> Any:
    return lambda document: document.pop(key)


@pytest.mark.parametrize(
    "change",
    [
        _set(("surprise",), 1),
        _set(("schema",), 2),
        _set(("verdict", "decision"), "MAYBE"),
        _set(("phases", 0, "outcome"), "unknown"),
        _set(("checks", 0, "outcome"), "error"),
        _set(("checks", 0, "calls", 0, "kind"), "ftp"),
        _set(("checks", 0, "calls", 0, "extra"), True),
        _set(("started",), "2025-06-15 15:06:40"),
        _set(("environment", "pipeline"), 42),
        _drop("checks"),
    ],
    ids=[
        "unknown-key",
        "other-schema",
        "decision",
        "phase-outcome",
        "check-outcome",
        "call-kind",
        "call-key",
        "timestamp",
        "environment-row",
        "missing-checks",
    ],
)
def test_schema_rejects_what_the_writer_never_writes(change: Any) -> None:
    """The schema is strict: unknown keys, values outside the enumerations and missing fields fail."""
    document = json.loads(render_json(VERDICT))
    broken = copy.deepcopy(document)
    change(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


# -- real runs against the stand-in ----------------------------------------------------------------

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
        deploysmoke=f'[targets.stage]\nbase_url = "{standin_url}"\nversion = "1.2.3"\nhealth_path = "{health_path}"\n',
    )
    pytester.makepyfile(test_checks=SUITE)
    result = pytester.runpytest("--deploy-target=stage", "--deploy-json=out/summary.json", *args)
    document: dict[str, Any] = json.loads((pytester.path / "out" / "summary.json").read_text(encoding="utf-8"))
    validate(document)
    return result, document


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without what changes from run to run (times, durations), checks by node id."""
    kept = copy.deepcopy(document)
    for key in ("started", "finished", "duration_s"):
        del kept[key]
    for check in kept["checks"]:
        del check["duration_s"]
        for call in check["calls"]:
            del call["ms"]
    kept["checks"].sort(key=lambda check: check["nodeid"])
    return kept


XDIST = pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])


def test_passing_run_writes_a_go_summary_that_validates(pytester: pytest.Pytester, standin_url: str) -> None:
    """A passing run writes a schema-valid GO summary with the target, versions, phases and each check's calls."""
    result, document = run_with_json(pytester, standin_url)
    result.assert_outcomes(passed=3)
    assert document["verdict"] == {"decision": "GO", "reasons": [], "warnings": [], "rollback": []}
    assert document["target"] == {"name": "stage", "base_url": standin_url, "production": False}
    assert document["versions"] == {"expected": "1.2.3", "reported": "1.2.3"}
    assert document["started"] <= document["finished"]
    phases = {phase["name"]: phase for phase in document["phases"]}
    assert list(phases) == ["preflight", "migrations", "health", "auth", "features", "performance", "monitoring"]
    assert phases["health"] == {
        "name": "health",
        "gate": True,
        "outcome": "passed",
        "passed": 1,
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
        ("test_checks.py::test_health", "health", "The service answers on its health path.", "passed", None, 0, False),
        ("test_checks.py::test_items", "features", "Items can be listed", "passed", None, 0, False),
        ("test_checks.py::test_teapot_path_answers", "features", "Teapot path answers", "passed", None, 0, False),
    ]
    (health_call,) = document["checks"][0]["calls"]
    assert {k: v for k, v in health_call.items() if k != "ms"} == {
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
    assert [call["action"] for call in document["checks"][2]["calls"]] == ["GET /status/418"]


@XDIST
def test_failed_gate_gives_no_go_naming_the_gate(pytester: pytest.Pytester, standin_url: str, xdist: list[str]) -> None:
    """A failed health gate gives NO-GO with the gate first among the reasons and the later checks skipped."""
    result, document = run_with_json(pytester, standin_url, *xdist, health_path="/status/503")
    result.assert_outcomes(failed=1, skipped=2)
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
    assert document["versions"]["reported"] is None


def test_xdist_run_writes_the_same_summary(pytester: pytest.Pytester, standin_url: str) -> None:
    """Under -n 2 the controller writes the same document as an in-process run, up to timings and order."""
    _, in_process = run_with_json(pytester, standin_url)
    result, distributed = run_with_json(pytester, standin_url, "-n", "2")
    result.assert_outcomes(passed=3)
    assert comparable(distributed) == comparable(in_process)


# -- the doc page ------------------------------------------------------------------------------------


def test_doc_example_validates_against_the_schema() -> None:
    """The example output on docs/json-schema.md is a valid schema-1 document."""
    (example,) = doc_blocks("json")
    validate(json.loads(example))


def test_doc_example_is_what_its_project_writes(pytester: pytest.Pytester, standin_url: str) -> None:
    """Running the page's example project writes the page's example, up to timings, URL, host and commit."""
    page = read_page(DOC)
    for name, body in page.files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    result = pytester.runpytest(*page.args, f"--deploy-base-url={standin_url}")
    result.assert_outcomes(**page.expect)
    written = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    validate(written)
    (example,) = doc_blocks("json")
    shown = json.loads(example)
    for document in (written, shown):
        del document["tool"]["version"], document["target"]["base_url"], document["environment"]
    assert comparable(written) == comparable(shown)


def test_doc_validation_snippet_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's Python snippet validates a summary with the shipped schema and prints the decision."""
    (snippet,) = [block for block in doc_blocks("python") if "jsonschema" in block]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smoke.json").write_text(render_json(VERDICT), encoding="utf-8")
    exec(compile(snippet, str(DOC), "exec"), {"__name__": "snippet"})
    assert capsys.readouterr().out == "NO-GO\n"
