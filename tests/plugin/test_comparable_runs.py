"""Runs that can be compared: the JSON summary's endpoints, from the checks' calls, the load probes and the watch window."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))
XDIST = pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])

SUITE = """
from pytest_deploysmoke import expect_status


def test_latency(latency):
    latency("/health", samples=60, warmup=2)


def test_calls(http):
    for page in (1, 2, 3):
        expect_status(http.get("/items", params={"page": page}), 200)
    expect_status(http.get("/status/404"), 404)
    expect_status(http.get("/status/503"), 503)
"""

#: A pytest_deploysmoke_verdict hook that writes what the verdict carries for the comparison.
VERDICT_HOOK = """
import dataclasses
import json


def pytest_deploysmoke_verdict(config, verdict):
    comparison = verdict.comparison
    seen = None
    if comparison is not None:
        seen = {"baseline": comparison.baseline, "rows": [dataclasses.asdict(row) for row in comparison.endpoints]}
    (config.rootpath / "comparison.json").write_text(json.dumps(seen), encoding="utf-8")
"""


def project(pytester: pytest.Pytester, url: str, suite: str = SUITE) -> None:
    pytester.makefile(".toml", deploysmoke=f'[targets.local]\nbase_url = "{url}"\n[targets.prod]\nbase_url = "{url}"\n')
    pytester.makepyfile(test_checks=suite)
    pytester.makeconftest(VERDICT_HOOK)


def summary(pytester: pytest.Pytester, name: str = "summary.json") -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    return document


def seen_comparison(pytester: pytest.Pytester) -> Any:
    return json.loads((pytester.path / "comparison.json").read_text(encoding="utf-8"))


# -- the summary's endpoints --------------------------------------------------------------------------


@XDIST
def test_endpoints_count_every_request_the_checks_sent(
    pytester: pytest.Pytester, standin_url: str, xdist: list[str]
) -> None:
    """Each endpoint's requests and errors are those of the checks' calls, warm-ups left out, queries merged."""
    project(pytester, standin_url)
    result = pytester.runpytest("--deploy-target=local", "--deploy-json=summary.json", *xdist)
    result.assert_outcomes(passed=2)
    document = summary(pytester)
    endpoints = {(e["endpoint"], e["source"]): e for e in document["endpoints"]}
    counts = {key: (e["requests"], e["errors"], sum(n for _, n in e["histogram"])) for key, e in endpoints.items()}
    assert counts == {
        ("GET /health", "checks"): (60, 0, 60),
        ("GET /items", "checks"): (3, 0, 3),
        ("GET /status/404", "checks"): (1, 1, 1),
        ("GET /status/503", "checks"): (1, 1, 1),
    }
    calls = Counter(
        call["action"].split("?")[0]
        for check in document["checks"]
        for call in check["calls"]
        if call["kind"] == "http" and not call["warmup"]
    )
    assert {name: e["requests"] for (name, _), e in endpoints.items()} == calls
    health = endpoints[("GET /health", "checks")]
    assert 0 < health["p50_ms"] <= health["p95_ms"] <= health["histogram"][-1][0] + 0.1
    assert [e["endpoint"] for e in document["endpoints"]] == sorted(e["endpoint"] for e in document["endpoints"])
    assert seen_comparison(pytester) is None  # no baseline, no comparison


def test_load_probe_counts_its_requests_not_its_summary_record(pytester: pytest.Pytester, standin_url: str) -> None:
    """The load probe's one record of its whole run is no request: it is not an endpoint, nor an error."""
    suite = 'def test_load(load_probe):\n    load_probe(users=2, duration="1s", requests=["GET /items"])\n'
    project(pytester, standin_url, suite)
    result = pytester.runpytest("--deploy-target=local", "--deploy-json=summary.json")
    result.assert_outcomes(passed=1)
    document = summary(pytester)
    (measurement,) = document["checks"][0]["measurements"]
    assert measurement["n"] > 0 and measurement["action"].startswith("LOAD ")
    assert not [e for e in document["endpoints"] if e["endpoint"].startswith("LOAD")]
    # Its requests count from its per-endpoint distributions, once its engine fills them in.
    assert [e["requests"] for e in document["endpoints"] if e["endpoint"] == "GET /items"] in ([], [measurement["n"]])


def test_watch_window_probes_are_endpoints_of_source_watch(pytester: pytest.Pytester, standin_url: str) -> None:
    """The watch window's probe is an endpoint of its own source, counting every probe of every interval."""
    project(pytester, standin_url, "def test_x(http):\n    http.get('/health')\n")
    result = pytester.runpytest(
        "--deploy-target=local", "--deploy-json=summary.json", "--deploy-watch=2s", "--deploy-watch-every=1s"
    )
    result.assert_outcomes(passed=1)
    document = summary(pytester)
    watched = [e for e in document["endpoints"] if e["source"] == "watch"]
    assert [e["endpoint"] for e in watched] == ["GET /health"]
    probed = sum(interval["probes"]["GET /health"]["requests"] for interval in document["watch"]["intervals"])
    assert watched[0]["requests"] == probed > 0 and watched[0]["errors"] == 0
    assert sum(n for _, n in watched[0]["histogram"]) == probed
    checks = [e for e in document["endpoints"] if e["source"] == "checks"]
    assert [(e["endpoint"], e["requests"]) for e in checks] == [("GET /health", 1)]
