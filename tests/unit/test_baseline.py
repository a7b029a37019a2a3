"""Reading a previous run's JSON summary as the baseline, and judging a run against it source by source."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest

from pytest_deploysmoke.perf.baseline import (
    NO_DISTRIBUTIONS,
    Baseline,
    BaselineError,
    judge_against,
    read_baseline,
)
from pytest_deploysmoke.perf.compare import CompareSettings
from pytest_deploysmoke.perf.distributions import EndpointDistribution, Source
from pytest_deploysmoke.perf.stats import LatencyHistogram
from pytest_deploysmoke.reports.json_summary import render_json
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, decide, phase_results
from pytest_deploysmoke.results.watch_log import WatchLog

STARTED = 1_796_119_200.0  # 2026-12-01T10:00:00Z


def lognormal(
    endpoint: str, median_ms: float, n: int = 400, seed: int = 1, errors: int = 0, source: Source = "checks"
) -> EndpointDistribution:
    """*n* latencies around *median_ms* (a lognormal spread), as one endpoint's distribution from *source*."""
    rng = random.Random(seed)
    histogram = LatencyHistogram()
    for _ in range(n):
        histogram.record(median_ms * rng.lognormvariate(0.0, 0.2))
    return EndpointDistribution.of(endpoint, histogram, requests=n, errors=errors, source=source)


def written_summary(
    target: str = "local",
    checks: tuple[EndpointDistribution, ...] = (),
    watch: tuple[EndpointDistribution, ...] = (),
) -> dict[str, Any]:
    """A summary as the writer writes it, for a run of *target* that reported 1.7.0."""
    run = RunInfo(target, "http://127.0.0.1:9", False, "1.7.0", "1.7.0", started=STARTED, finished=STARTED + 5)
    passed = (CheckResult("t.py::test_a", "health", "A", "passed", 0.1),)
    log = WatchLog(2.0, 1.0, 2, (), distributions=watch) if watch else None
    verdict = decide(run, phase_results(("health",), (), passed), passed, endpoints=checks, watch_log=log)
    document: dict[str, Any] = json.loads(render_json(verdict))
    return document


def write(tmp_path: Path, document: object, name: str = "previous.json") -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return str(path)


def test_summary_reads_back_its_identity_and_distributions_by_source(tmp_path: Path) -> None:
    """The checks' and the watch window's distributions come back apart, with the run's identity and a label."""
    checks = (lognormal("GET /health", 5.0), lognormal("GET /items", 20.0, errors=3))
    watch = (lognormal("GET /health", 6.0, n=60, seed=2, source="watch"),)
    path = write(tmp_path, written_summary(checks=checks, watch=watch))
    baseline = read_baseline(path, "local")
    assert (baseline.path, baseline.target, baseline.version, baseline.started) == (path, "local", "1.7.0", STARTED)
    assert baseline.label == f"local 1.7.0 at 2026-12-01 10:00 UTC ({path})"
    assert baseline.has_distributions
    assert [(p.endpoint, p.requests, p.errors) for p in baseline.endpoints] == [
        ("GET /health", 400, 0),
        ("GET /items", 400, 3),
    ]
    for read, written in zip(baseline.endpoints, checks, strict=True):  # the same buckets, ms to the microsecond
        assert [n for _, n in read.buckets] == [n for _, n in written.buckets]
        assert [ms for ms, _ in read.buckets] == pytest.approx([ms for ms, _ in written.buckets], abs=0.0005)
    assert [(p.endpoint, p.requests, p.answered) for p in baseline.watch] == [("GET /health", 60, 60)]


def test_summary_written_before_the_endpoints_is_read_without_distributions(tmp_path: Path) -> None:
    """A file without ``endpoints`` is a baseline all the same; it says it has nothing to compare with."""
    document = written_summary(checks=(lognormal("GET /health", 5.0),))
    del document["endpoints"]
    document["versions"] = {"expected": "1.6.0", "reported": None}  # older still: no versions.source
    baseline = read_baseline(write(tmp_path, document), "local")
    assert (baseline.endpoints, baseline.watch, baseline.has_distributions) == ((), (), False)
    assert baseline.label.startswith("local 1.6.0 at 2026-12-01 10:00 UTC (")


def error_of(tmp_path: Path, content: object, target: str = "local") -> str:
    with pytest.raises(BaselineError) as caught:
        read_baseline(write(tmp_path, content), target)
    return str(caught.value)


FIX = "give the JSON summary a previous run of this target wrote with --deploy-json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: "{not json",
            f"is not JSON (Expecting property name enclosed in double quotes at line 1 column 2); {FIX}",
        ),
        (lambda d: [1, 2], f"is not a pytest-deploysmoke JSON summary (no tool.name 'pytest-deploysmoke'); {FIX}"),
        (lambda d: {**d, "tool": {"name": "k6"}}, "is not a pytest-deploysmoke JSON summary"),
        (
            lambda d: {**d, "schema": 2},
            "has schema 2, and this version reads schema 1; give a schema-1 summary, "
            "or a pytest-deploysmoke that reads schema 2",
        ),
        (
            lambda d: {**d, "target": {**d["target"], "name": "prod"}},
            "is a summary of target 'prod', not 'local'; give a summary of a previous run on 'local'",
        ),
        (lambda d: {**d, "started": "yesterday"}, 'has no start time (started is "yesterday")'),
        (lambda d: {**d, "endpoints": {}}, "has an 'endpoints' that is not a list"),
        (
            lambda d: {**d, "endpoints": [{**d["endpoints"][0], "source": "canary"}]},
            'has endpoints[0].source "canary", expected one of "checks", "load", "watch"',
        ),
        (
            lambda d: {**d, "endpoints": [{**d["endpoints"][0], "requests": -1}]},
            "has endpoints[0].requests -1, not a whole number >= 0",
        ),
        (
            lambda d: {**d, "endpoints": [{**d["endpoints"][0], "histogram": [[1.0, 0]]}]},
            "has endpoints[0].histogram, which holds [1.0, 0]: a count must be a whole number >= 1",
        ),
    ],
    ids=[
        "malformed",
        "not-an-object",
        "another-tool",
        "unknown-schema",
        "another-target",
        "no-start",
        "endpoints-object",
        "unknown-source",
        "negative-count",
        "empty-bucket",
    ],
)
def test_a_file_that_is_no_baseline_of_this_target_says_why_in_one_line(
    tmp_path: Path, change: Any, message: str
) -> None:
    """Each way a file can fail to be this target's baseline gives one line: what it is, what to give."""
    line = error_of(tmp_path, change(written_summary(checks=(lognormal("GET /health", 5.0, n=3),))))
    assert line.startswith(message)
    assert "\n" not in line and "; " in line


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_a_path_that_is_no_file_is_an_error(tmp_path: Path, what: str) -> None:
    """A missing file or a directory is named as such."""
    path = tmp_path / "previous.json"
    if what == "directory":
        path.mkdir()
    with pytest.raises(BaselineError, match=f"^{'does not exist' if what == 'missing' else 'is a directory'}; "):
        read_baseline(str(path), "local")


# -- judging a run against it -------------------------------------------------------------------------


def baseline_of(
    checks: tuple[EndpointDistribution, ...] = (), watch: tuple[EndpointDistribution, ...] = ()
) -> Baseline:
    return Baseline("previous.json", "local", "1.7.0", STARTED, checks, "local 1.7.0 at ... (previous.json)", watch)


def test_checks_are_judged_against_checks_and_the_watch_against_the_watch() -> None:
    """The same endpoint in the checks and the watch window is two rows, each against its own source."""
    baseline = baseline_of(
        checks=(lognormal("GET /health", 10.0),), watch=(lognormal("GET /health", 20.0, seed=3, source="watch"),)
    )
    # Now: the checks 40% slower than the baseline's checks, the watch probe as fast as the baseline's watch.
    comparison = judge_against(
        baseline,
        [lognormal("GET /health", 14.0, seed=4)],
        [lognormal("GET /health", 20.0, seed=5, source="watch")],
        CompareSettings(),
    )
    assert comparison.baseline == baseline.label and comparison.settings == CompareSettings()
    rows = {row.endpoint: row for row in comparison.endpoints}
    assert list(rows) == ["GET /health", "GET /health (watch)"]
    assert rows["GET /health"].verdict == "regression"
    assert rows["GET /health (watch)"].verdict == "no significant change"
    assert rows["GET /health (watch)"].p50_baseline_ms == pytest.approx(20.0, rel=0.1)


def test_named_endpoints_are_compared_in_both_sources_and_no_others() -> None:
    """``endpoints`` in the settings selects the endpoint in the checks and in the watch window alike."""
    parts = (lognormal("GET /health", 5.0), lognormal("GET /items", 5.0))
    watched = tuple(dataclasses.replace(part, source="watch") for part in parts)
    settings = CompareSettings(endpoints=("GET /items",))
    comparison = judge_against(baseline_of(parts, watched), parts, watched, settings)
    assert [row.endpoint for row in comparison.endpoints] == ["GET /items", "GET /items (watch)"]
    assert comparison.settings == settings


def test_every_endpoint_against_a_baseline_without_distributions_is_not_evaluated() -> None:
    """Against an old summary each endpoint is "not evaluated", with the note saying why."""
    old = Baseline("old.json", "local", "1.6.0", STARTED, (), "local 1.6.0 at ... (old.json)", has_distributions=False)
    now_watch = [lognormal("GET /health", 5.0, source="watch")]
    comparison = judge_against(old, [lognormal("GET /health", 5.0)], now_watch, CompareSettings())
    assert [(row.endpoint, row.verdict, row.note) for row in comparison.endpoints] == [
        ("GET /health", "not evaluated", NO_DISTRIBUTIONS),
        ("GET /health (watch)", "not evaluated", NO_DISTRIBUTIONS),
    ]
    assert comparison.regressions == ()
