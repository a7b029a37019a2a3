"""Runs that can be compared: the JSON summary's endpoints, and --deploy-baseline reading a previous run's summary."""

from __future__ import annotations

import json
from collections import Counter
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from pytest_deploysmoke.perf.distributions import path_template

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
        ("GET /status/{id}", "checks"): (2, 2, 2),  # one route: /status/404 and /status/503 (path template)
    }
    calls = Counter(
        path_template(call["action"].split("?")[0])
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
    # Its requests count from its per-endpoint distributions, all of them.
    assert [e["requests"] for e in document["endpoints"] if e["endpoint"] == "GET /items"] == [measurement["n"]]


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


# -- --deploy-baseline ----------------------------------------------------------------------------------


def test_run_against_a_baseline_carries_the_comparison_on_its_verdict(
    pytester: pytest.Pytester, standin_url: str
) -> None:
    """A run given the summary of a previous run is judged against it: every shared endpoint is a row."""
    project(pytester, standin_url)
    pytester.runpytest("--deploy-target=local", "--deploy-json=previous.json").assert_outcomes(passed=2)
    result = pytester.runpytest("--deploy-target=local", "--deploy-baseline=previous.json", "-n", "2")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "deploysmoke: rerun with --deploy-target=local --deploy-baseline=previous.json",
            "deploysmoke: baseline local 1.2.3 at ????-??-?? ??:?? UTC (previous.json): 3 endpoints",
        ]
    )
    seen = seen_comparison(pytester)
    assert seen["baseline"].startswith("local 1.2.3 at ") and seen["baseline"].endswith(" UTC (previous.json)")
    rows = {row["endpoint"]: row for row in seen["rows"]}
    assert set(rows) == {"GET /health", "GET /items", "GET /status/{id}"}
    health = rows["GET /health"]
    assert (health["n_baseline"], health["n_now"]) == (60, 60)
    assert health["p_value"] is not None and health["verdict"] != "not evaluated"  # 60 samples >= 50 on both sides
    assert rows["GET /items"]["verdict"] == "not evaluated"  # 3 samples < 50
    assert rows["GET /status/{id}"]["error_rate_baseline"] == rows["GET /status/{id}"]["error_rate_now"] == 1.0


def test_baseline_written_without_endpoints_is_accepted_and_evaluates_nothing(
    pytester: pytest.Pytester, standin_url: str
) -> None:
    """An older summary, without the endpoints list, is read: each endpoint is "not evaluated", saying why."""
    project(pytester, standin_url)
    pytester.runpytest("--deploy-target=local", "--deploy-json=previous.json").assert_outcomes(passed=2)
    older = json.loads((pytester.path / "previous.json").read_text(encoding="utf-8"))
    del older["endpoints"]
    (pytester.path / "previous.json").write_text(json.dumps(older), encoding="utf-8")
    result = pytester.runpytest("--deploy-target=local", "--deploy-baseline=previous.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["deploysmoke: baseline * (previous.json): written without distributions, *"])
    rows = seen_comparison(pytester)["rows"]
    assert len(rows) == 3
    assert {(row["verdict"], row["note"].split(":")[0]) for row in rows} == {("not evaluated", "not evaluated")}
    assert all("written without distributions" in row["note"] for row in rows)


def run_usage_error(pytester: pytest.Pytester, *args: str) -> str:
    """Run expecting a usage error; return its one line (without ``ERROR: ``)."""
    result = pytester.runpytest("--deploy-target=local", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr.lines
    return errors[0].removeprefix("ERROR: ")


FIX = "give the JSON summary a previous run of this target wrote with --deploy-json"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, f"--deploy-baseline previous.json does not exist; {FIX}"),
        (
            '{"schema": 1,',
            f"--deploy-baseline previous.json is not JSON (Expecting property name enclosed in double "
            f"quotes at line 1 column 14); {FIX}",
        ),
        (
            '{"verdict": "GO"}',
            "--deploy-baseline previous.json is not a pytest-deploysmoke JSON summary "
            f"(no tool.name 'pytest-deploysmoke'); {FIX}",
        ),
    ],
    ids=["missing", "malformed", "not-a-summary"],
)
def test_unusable_baseline_file_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, standin_url: str, content: str | None, message: str
) -> None:
    """A missing, malformed or foreign file stops the run before collection, in one line naming the file."""
    project(pytester, standin_url)
    if content is not None:
        (pytester.path / "previous.json").write_text(content, encoding="utf-8")
    assert run_usage_error(pytester, "--deploy-baseline=previous.json") == message


def test_baseline_of_another_target_is_a_usage_error(pytester: pytest.Pytester, standin_url: str) -> None:
    """A summary of prod given as the baseline of local says whose it is and what to give."""
    project(pytester, standin_url)
    pytester.runpytest("--deploy-target=prod", "--deploy-json=reports/prod.json").assert_outcomes(passed=2)
    assert run_usage_error(pytester, "--deploy-baseline=reports/prod.json") == (
        "--deploy-baseline reports/prod.json is a summary of target 'prod', not 'local'; "
        "give a summary of a previous run on 'local'"
    )


def test_baseline_without_scipy_is_a_usage_error_naming_the_extra(pytester: pytest.Pytester, standin_url: str) -> None:
    """Without scipy a comparison cannot run: the run stops at once, saying which extra to install."""
    project(pytester, standin_url)
    pytester.makeconftest(VERDICT_HOOK + "\nimport sys\n\nsys.modules['scipy'] = None  # as if not installed\n")
    (pytester.path / "previous.json").write_text("{}", encoding="utf-8")
    result = pytester.runpytest_subprocess("--deploy-target=local", "--deploy-baseline=previous.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "Traceback" not in result.stderr.str()
    result.stderr.fnmatch_lines(["ERROR: --deploy-baseline needs scipy: pip install 'pytest-deploysmoke[compare]'"])


def test_baseline_without_a_target_does_nothing(pytester: pytest.Pytester) -> None:
    """Inert without a target: the option is not even read, so a missing file changes nothing."""
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("--deploy-baseline=missing.json")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("deploysmoke*")  # no header line, no verdict
    assert "missing.json" not in result.stdout.str() + result.stderr.str()


#: How often the same deploy is judged against its own earlier run (the issue's figure).
SELF_COMPARISONS = 20


def test_same_deploy_against_its_own_run_flags_no_regression_in_twenty_comparisons(
    pytester: pytest.Pytester, standin_url: str
) -> None:
    """One run of a 20 ms endpoint writes the baseline; 20 more runs of the same deploy are each GO, unchanged.

    This is the false-alarm rate on the loopback stand-in: 0 of 20 asserted, and the 20 shifts are
    in the message when one run fails.  Each run's requests end within the target's 5 s timeout.
    """
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.local]\nbase_url = "{standin_url}"\ntimeout = 5\n'
        '[targets.local.compare]\nendpoints = ["GET /slow"]\n',
    )
    pytester.makepyfile(test_checks='def test_slow(latency):\n    latency("/slow?s=0.02", samples=60)\n')
    pytester.runpytest("--deploy-target=local", "--deploy-json=previous.json").assert_outcomes(passed=1)
    judged = []
    for run in range(SELF_COMPARISONS):
        out = f"run-{run}.json"
        pytester.runpytest("--deploy-target=local", "--deploy-baseline=previous.json", f"--deploy-json={out}")
        document = summary(pytester, out)
        (row,) = document["comparison"]["endpoints"]
        judged.append((document["verdict"]["decision"], row["verdict"], row["n_now"], row["shift_pct"]))
    shifts = ", ".join(f"{shift:+.1f}%" for *_, shift in judged)
    unchanged = [(decision, verdict, n) for decision, verdict, n, _ in judged] == [
        ("GO", "no significant change", 60)
    ] * SELF_COMPARISONS
    assert unchanged, f"the same deploy judged against itself {SELF_COMPARISONS} times: {judged}; shifts {shifts}"
