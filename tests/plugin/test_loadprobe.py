"""The load probe: bounded virtual users on the built-in engine and on Locust, against a server process."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fix_pytester import recorded_calls
from tests.fix_servers import APPS, free_port, stop_process


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The stand-in under uvicorn in its own process (a thread would share the GIL with the load)."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(APPS), "standin:app"]
    process = subprocess.Popen(
        [*argv, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the stand-in server did not start on {url} within 15 s") from None
                time.sleep(0.05)
        yield url
    finally:
        stop_process(process)


def target_toml(url: str, extra: str = "") -> str:
    return f'[targets.t]\nbase_url = "{url}"\ntimeout = 5.0\n{extra}\n'


def load_records(reprec: pytest.HookRecorder) -> list[dict[str, Any]]:
    return [call for call in recorded_calls(reprec) if call["action"].startswith("LOAD ")]


BUILTIN = """
import json, math

def test_health_load(load_probe):
    stats = load_probe(users=5, duration="2s", requests=["GET /health"])
    print("STATS", json.dumps({
        "count": stats.count, "errors": stats.errors, "rps": stats.rps, "users": stats.users,
        "duration_s": stats.duration_s, "engine": stats.engine, "cpu": stats.client_cpu,
        "lag": [stats.loop_lag_ms.p95, stats.loop_lag_ms.max, stats.loop_lag_ms.samples],
        "bound": stats.client_bound, "note": stats.client_note,
    }))
    assert stats.p50 <= stats.p95 <= stats.max
    assert "req/s" in stats.describe() and repr(stats).startswith("<LoadStats ")
"""


def _stats_line(result: pytest.RunResult) -> dict[str, Any]:
    line = next(line for line in result.stdout.lines if "STATS " in line)
    return dict(json.loads(line.split("STATS ", 1)[1]))


def test_builtin_engine_measures_load_and_its_own_client(pytester: pytest.Pytester, server_url: str) -> None:
    """5 users for 2 s: requests answered without errors, req/s, and the client's CPU and loop lag."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url))
    pytester.makepyfile(test_load=BUILTIN)
    result = pytester.runpytest("--deploy-target=t", "-s")
    result.assert_outcomes(passed=1)
    stats = _stats_line(result)
    assert stats["count"] > 0 and stats["errors"] == 0 and stats["rps"] > 0
    assert (stats["users"], stats["duration_s"], stats["engine"]) == (5, 2.0, "builtin")
    assert 0 <= stats["cpu"] and not math.isnan(stats["cpu"])
    assert stats["lag"][2] > 0 and stats["lag"][0] <= stats["lag"][1]
    assert isinstance(stats["bound"], bool) and "of a core" in stats["note"]


def test_one_aggregated_record_per_probe(pytester: pytest.Pytester, server_url: str) -> None:
    """Thousands of requests leave one call record: the load, the counts and the p95."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url))
    pytester.makepyfile(
        test_load='def test_x(load_probe):\n    load_probe(users=2, duration="1s", requests=["/health", "GET /items"])\n'
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = recorded_calls(reprec)
    assert len(calls) == 1
    (call,) = calls
    assert call["action"] == "LOAD 2 users x 1 s: GET /health, GET /items"
    assert call["outcome"].split(",")[1] == " 0 errors" and call["ok"] is True


def test_error_statuses_are_counted(pytester: pytest.Pytester, server_url: str) -> None:
    """Every answer of a /status/500 scenario is an error, named by its status."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url))
    pytester.makepyfile(
        test_load="""
def test_errors(load_probe):
    stats = load_probe(users=3, duration="1s", requests=["GET /status/500"])
    assert stats.count > 0 and stats.errors == stats.count and stats.error_rate == 1.0
    assert stats.error_outcomes == (("500", stats.count),)
"""
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    (call,) = load_records(reprec)
    assert call["ok"] is False


def test_writes_on_production_are_refused_before_sending(pytester: pytest.Pytester, server_url: str) -> None:
    """A POST in the scenario on production, from a check not marked destructive, fails before any request."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url, "production = true"))
    pytester.makepyfile(
        test_load='def test_write(load_probe):\n    load_probe(users=2, duration="1s", requests=["GET /health", "POST /items"])\n'
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(failed=1)
    (failure,) = reprec.getfailures()
    assert (
        str(failure.longrepr)
        == "POST /items blocked: target 't' is production and the test is not marked destructive (mark it destructive and pass --allow-destructive to let it write)"
    )
    assert [c["outcome"] for c in recorded_calls(reprec)] == ["blocked"]


def test_max_requests_bounds_the_run(pytester: pytest.Pytester, server_url: str) -> None:
    """max_requests=7 sends exactly seven requests, and the run ends early."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url))
    pytester.makepyfile(
        test_load="""
def test_capped(load_probe):
    stats = load_probe(users=4, duration="10s", max_requests=7)
    assert stats.count == 7 and stats.elapsed_s < 10
"""
    )
    pytester.inline_run("--deploy-target=t").assertoutcome(passed=1)


DISTRIBUTIONS = """
import json
from dataclasses import asdict

from pytest_deploysmoke.results.records import measurements_of


def test_endpoints(load_probe, request):
    stats = load_probe(
        users=3, duration="{duration}", requests=["GET /health", "GET /status/404", "GET /items?page=2", "/items?page=3"],
        engine="{engine}",
    )
    (measurement,) = measurements_of(request.node)
    print("STATS", json.dumps({{
        "count": stats.count, "errors": stats.errors, "unanswered": stats.unanswered, "bound": stats.client_bound,
        "distributions": [asdict(part) | {{"answered": part.answered}} for part in stats.distributions],
        "recorded": measurement.distributions == stats.distributions,
    }}))
"""


@pytest.mark.parametrize("engine", ["builtin", "locust"])
def test_each_endpoint_has_its_distribution(pytester: pytest.Pytester, server_url: str, engine: str) -> None:
    """Each endpoint of the scenario (its query left out) keeps its requests, errors and latencies; they add up to the run's."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url))
    pytester.makepyfile(test_load=DISTRIBUTIONS.format(engine=engine, duration="1s" if engine == "builtin" else "3s"))
    result = pytester.runpytest_subprocess("--deploy-target=t", "-s", timeout=90)
    result.assert_outcomes(passed=1)
    stats = _stats_line(result)
    parts = stats["distributions"]
    assert [part["endpoint"] for part in parts] == ["GET /health", "GET /status/404", "GET /items"]
    assert sum(part["requests"] for part in parts) == stats["count"]
    assert sum(part["errors"] for part in parts) == stats["errors"]
    health, missing, items = parts
    assert health["requests"] > 0 and health["errors"] == 0 and health["answered"] == health["requests"]
    assert missing["requests"] > 0 and missing["errors"] == missing["requests"] == missing["answered"]
    # Each user sends the scenario in turn: the two /items requests are one endpoint, twice the share.
    assert items["requests"] >= health["requests"] and items["errors"] == 0
    assert all(part["client_bound"] is stats["bound"] for part in parts)
    assert all(sum(count for _, count in part["buckets"]) == part["answered"] for part in parts)
    assert stats["recorded"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "users must be a whole number from 1 to 200, got 0"),
        ({"users": 201}, "users must be a whole number from 1 to 200, got 201"),
        ({"duration": "2h"}, "duration must be over 0 and at most 3600 s, got '2h'"),
        ({"engine": "wrk"}, "engine must be one of 'builtin', 'locust', got 'wrk'"),
        ({"workers": 2}, "workers= runs Locust worker processes; pass engine='locust' with it"),
        ({"requests": "/health"}, "requests must be a list of 1 to 50 requests"),
    ],
)
def test_bad_arguments_are_refused(pytester: pytest.Pytester, kwargs: dict[str, Any], message: str) -> None:
    """Out-of-range users, an unknown engine, workers without Locust: a ValueError naming the bound."""
    pytester.makefile(".toml", deploysmoke=target_toml("http://127.0.0.1:9"))
    pytester.makepyfile(test_load=f"def test_bad(load_probe):\n    load_probe(**{kwargs!r})\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*ValueError*{message}*"])


LOCUST = """
import json

def test_locust(load_probe):
    stats = load_probe(users=5, duration="3s", requests=["GET /health"], engine="locust", workers={workers})
    print("STATS", json.dumps({{"count": stats.count, "errors": stats.errors, "rps": stats.rps,
                               "engine": stats.engine, "workers": stats.workers, "cpu": stats.client_cpu}}))
"""


@pytest.mark.parametrize("workers", [0, 2])
def test_locust_engine_runs_in_subprocesses(pytester: pytest.Pytester, server_url: str, workers: int) -> None:
    """Locust, alone or as a master with two workers on loopback, reads its statistics back; gevent stays out."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url))
    pytester.makepyfile(test_load=LOCUST.format(workers=workers))
    result = pytester.runpytest_subprocess("--deploy-target=t", "-s", timeout=90)
    result.assert_outcomes(passed=1)
    stats = _stats_line(result)
    assert stats["count"] > 0 and stats["errors"] == 0
    # req/s is the count over the 3 s run Locust was given, not Locust's own figure (which divides by less).
    assert stats["rps"] == pytest.approx(stats["count"] / 3)
    assert (stats["engine"], stats["workers"]) == ("locust", workers)
    assert "gevent" not in sys.modules and "locust" not in sys.modules


def test_a_probe_that_measured_nothing_fails_the_check(pytester: pytest.Pytester, server_url: str) -> None:
    """Every request outlives the run (5 s answers, a 1 s run): no figure, so the check fails in one line."""
    pytester.makefile(".toml", deploysmoke=target_toml(server_url))
    pytester.makepyfile(
        test_load="def test_slow_load(load_probe):\n    load_probe(users=2, duration='1s', requests=['GET /slow?s=5'])\n"
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*LOAD 2 users x 1 s: GET /slow?s=5: no request finished within the run*"])
    result.stdout.fnmatch_lines(["deploysmoke verdict: NO-GO*"])
