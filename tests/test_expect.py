"""expect_status, expect_json and poll_until: small helpers whose failures say what differed."""

from __future__ import annotations

import pytest

from pytest_deploysmoke.expect import json_differences


def test_json_differences_lists_every_path() -> None:
    """Subset matching reports each missing key and each differing value by its JSON path."""
    actual = {"status": "degraded", "services": {"database": "connected"}, "items": [1, 2], "ok": 1}
    expected = {
        "status": "healthy",
        "services": {"database": "connected", "python_worker": "ready"},
        "items": [1, 3],
        "ok": True,
        "version": lambda v: v.startswith("2."),
    }
    assert json_differences(actual, expected) == [
        "$.status: expected 'healthy', got 'degraded'",
        "$.services.python_worker: missing",
        "$.items[1]: expected 3, got 2",
        "$.ok: expected True, got 1",
        "$.version: missing",
    ]


def test_json_subset_accepts_extra_keys_and_numbers() -> None:
    """Extra keys are fine, and 1 equals 1.0."""
    assert json_differences({"a": 1, "b": 2.0, "c": [{"x": 1, "y": 2}]}, {"b": 2, "c": [{"x": 1}]}) == []


def test_predicate_that_fails_is_named() -> None:
    """A callable in expected is a predicate, named in the difference."""

    def starts_with_2(value: str) -> bool:
        return value.startswith("2.")

    assert json_differences({"version": "1.9.0"}, {"version": starts_with_2}) == [
        "$.version: '1.9.0' does not satisfy starts_with_2"
    ]


def test_list_length_mismatch() -> None:
    """Lists of different length say so instead of comparing items."""
    assert json_differences([1], [1, 2]) == ["$: expected 2 items, got 1"]


CHECKS = """
import itertools
import pytest
from pytest_deploysmoke import expect_json, expect_status, poll_until

def test_status_ok(http):
    expect_status(http.get("/health"), 200)

def test_status_wrong(http):
    expect_status(http.get("/status/503"))

def test_json_ok(http):
    body = expect_json(http.get("/health"), {"status": "ok"})
    assert body["version"] == "2.0.1"

def test_json_differs(http):
    expect_json(http.get("/health"), {"status": "healthy", "version": "2.0.2"})

def test_json_malformed(http):
    expect_json(http.get("/malformed"))

def test_poll_until_flaky_endpoint(http):
    response = poll_until(lambda: http.get("/flaky?key=poll1&fail=2"), until=lambda r: r.status_code == 200, timeout="5s", every="50ms")
    assert response.status_code == 200

def test_poll_until_gives_up(http):
    counter = itertools.count(1)
    def progress():
        return {"progress": min(next(counter) * 10, 40)}
    poll_until(progress, until=lambda v: v["progress"] == 100, timeout=0.3, every=0.05)

def test_poll_until_keeps_the_exception(http):
    def refuse():
        raise ConnectionError("connection refused")
    poll_until(refuse, timeout=0.2, every=0.05)
"""


def test_helpers_against_the_stand_in(pytester: pytest.Pytester, api_url: str) -> None:
    """Each helper passes on a good response and fails with what was tried and what came back."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\ntimeout = 2.0\n')
    pytester.makepyfile(test_helpers=CHECKS)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=3, failed=5)
    result.stdout.fnmatch_lines([f"GET {api_url}/status/503 answered 503 in * ms, expected 2xx: *"])
    result.stdout.fnmatch_lines(
        [
            f"GET {api_url}/health JSON differs from what was expected: "
            "$.status: expected 'healthy', got 'ok'; $.version: expected '2.0.2', got '2.0.1'"
        ]
    )
    result.stdout.fnmatch_lines([f"GET {api_url}/malformed answered 200 in * ms with a body that is not valid JSON (*"])
    result.stdout.fnmatch_lines(
        [
            "poll_until(progress): condition not met after * attempts in 0.* s "
            "(timeout 0.3 s, every 0.05 s); last value: {'progress': 40}"
        ]
    )
    result.stdout.fnmatch_lines(
        ["poll_until(refuse): condition not met after * attempts*; last value: ConnectionError: connection refused"]
    )
    # One line each, as the library errors are: no source, no fixture arguments, no helper frames.
    result.stdout.no_fnmatch_line('*expect_status(http.get("/status/503"))*')
    result.stdout.no_fnmatch_line("*pytest_deploysmoke/expect.py*")
    result.stdout.no_fnmatch_line("*Target(*")


def test_expect_data_checks_parsed_data_and_is_a_data_failure() -> None:
    """expect_data returns matching data; a difference fails in one line that the rollback mark counts as data."""
    from pytest_deploysmoke import expect_data
    from pytest_deploysmoke.errors import is_data_failure

    value = {"status": "completed", "performance": {"total_trades": 3}}
    assert expect_data(value, {"performance": {"total_trades": 3}}) is value
    with pytest.raises(pytest.fail.Exception) as excinfo:
        expect_data(value, {"performance": {"win_rate": 0.5}}, what="the result file")
    assert str(excinfo.value) == "the result file differs from what was expected: $.performance.win_rate: missing"
    assert is_data_failure(excinfo.value)
