"""The JSON summary (--deploy-json) of a hand-built verdict: its fields, its shipped schema and its doc page."""

from __future__ import annotations

import copy
import dataclasses
import json
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_deploysmoke.perf.distributions import EndpointDistribution
from pytest_deploysmoke.reports.json_summary import render_json
from pytest_deploysmoke.results.records import CallRecord, Measurement
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, decide, phase_results
from pytest_deploysmoke.results.watch_log import WatchLog
from tests.doc_pages import fenced_blocks

DOC = Path(__file__).parents[2] / "docs" / "json-schema.md"


def load_schema() -> dict[str, Any]:
    """The schema as the package ships it (the way users load it)."""
    resource = files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json"
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


def validate(document: object) -> None:
    jsonschema.Draft202012Validator(load_schema()).validate(document)


def doc_blocks(lang: str) -> list[str]:
    return fenced_blocks(DOC, lang)


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
ENDPOINTS = (
    EndpointDistribution("GET /health", requests=2, errors=1, buckets=((8.04, 1),)),
    EndpointDistribution("GET /items", requests=3, errors=3),
)
VERDICT = decide(RUN, phase_results(("health", "features"), ("health",), CHECKS), CHECKS, endpoints=ENDPOINTS)


def test_hand_built_verdict_renders_every_field() -> None:
    """Every field of the Verdict lands in the document, with nulls for unknowns and ms to 0.1."""
    document = json.loads(render_json(VERDICT))
    assert document == {
        "schema": 1,
        "tool": {"name": "pytest-deploysmoke", "version": installed_version("pytest-deploysmoke")},
        "target": {"name": "prod", "base_url": "https://***@example.com", "production": True},
        "versions": {"expected": "2.0.1", "reported": None, "source": None},
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
        "watch": None,
        "comparison": None,
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
                        "trace_id": None,
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
                        "trace_id": None,
                    },
                ],
                "measurements": [],
                "trace_url": None,
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
                "trace_url": None,
            },
        ],
        "held_back": [],
        "production_writes": [],
        "setup_and_cleanup": [],
        "cleanup_failures": [],
        "manual": [],
        "endpoints": [
            {
                "endpoint": "GET /health",
                "source": "checks",
                "requests": 2,
                "errors": 1,
                "client_bound": False,
                "p50_ms": 8.0,
                "p95_ms": 8.0,
                "histogram": [[8.04, 1]],
            },
            {
                "endpoint": "GET /items",
                "source": "checks",
                "requests": 3,
                "errors": 3,
                "client_bound": False,
                "p50_ms": None,
                "p95_ms": None,
                "histogram": [],
            },
        ],
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
        "watch",
        "comparison",
        "phases",
        "checks",
        "held_back",
        "production_writes",
        "setup_and_cleanup",
        "cleanup_failures",
        "manual",
        "endpoints",
        "environment",
    ]
    assert '"histogram": [[8.04, 1]]\n' in text  # a histogram on one line, however many buckets
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
        _set(("endpoints", 0, "source"), "canary"),
        _set(("endpoints", 0, "histogram"), [[8.0, 0]]),
        _set(("endpoints", 0, "histogram"), [[8.0]]),
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
        "endpoint-source",
        "empty-bucket",
        "bucket-without-count",
    ],
)
def test_schema_rejects_what_the_writer_never_writes(change: Any) -> None:
    """The schema is strict: unknown keys, values outside the enumerations and missing fields fail."""
    document = json.loads(render_json(VERDICT))
    broken = copy.deepcopy(document)
    change(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


# -- the doc page ------------------------------------------------------------------------------------


def test_doc_example_validates_against_the_schema() -> None:
    """The example output on docs/json-schema.md is a valid schema-1 document."""
    (example,) = doc_blocks("json")
    validate(json.loads(example))


def test_doc_validation_snippet_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's Python snippet validates a summary with the shipped schema and prints the decision."""
    (snippet,) = [block for block in doc_blocks("python") if "jsonschema" in block]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "smoke.json").write_text(render_json(VERDICT), encoding="utf-8")
    exec(compile(snippet, str(DOC), "exec"), {"__name__": "snippet"})
    assert capsys.readouterr().out == "NO-GO\n"


def test_watch_probes_follow_the_checks_endpoints_with_source_watch() -> None:
    """The watch window's per-probe distributions come after the checks' endpoints, as source "watch"."""
    watched = (EndpointDistribution("GET /health", 4, 1, ((1.5, 2), (2.25, 1)), source="watch"),)
    verdict = dataclasses.replace(VERDICT, watch_log=WatchLog(2.0, 1.0, 2, (), distributions=watched))
    document = json.loads(render_json(verdict))
    validate(document)
    assert [(e["endpoint"], e["source"]) for e in document["endpoints"]] == [
        ("GET /health", "checks"),
        ("GET /items", "checks"),
        ("GET /health", "watch"),
    ]
    assert document["endpoints"][2] == {
        "endpoint": "GET /health",
        "source": "watch",
        "requests": 4,
        "errors": 1,
        "client_bound": False,
        "p50_ms": 1.5,
        "p95_ms": 2.2,  # 2.25 to 0.1 ms, as every figure of the document
        "histogram": [[1.5, 2], [2.25, 1]],
    }
