"""The latency fixture against the API stand-in: real samples, warm-ups, errors, budgets and bad arguments."""

from __future__ import annotations

import pytest

from tests.fix_pytester import recorded_calls, without_trace

# -- the fixture against the API stand-in -----------------------------------------------------------


def target_toml(url: str, extra: str = "") -> str:
    return f'[targets.t]\nbase_url = "{url}"\ntimeout = 5.0\n{extra}\n'


KNOWN_SLEEP = """
import json

def test_known_sleep(latency):
    stats = latency("/slow?s=0.05", samples=20)
    print(stats.describe())
    # The stand-in sleeps 50 ms per request, so no request can be faster.  The upper bound catches a unit
    # mix-up (50 s, 0.05 ms), not a slow machine: no load takes a 50 ms sleep to 5 s.
    assert (stats.count, stats.warmup, stats.errors, stats.error_rate) == (20, 1, 0, 0.0)
    assert stats.min >= "50ms"
    assert "50ms" <= stats.p50 < "5s"
    assert stats.min <= stats.p50 <= stats.p95 <= stats.p99 <= stats.max
    assert stats.concurrency == 1 and stats.elapsed_s > 0
"""


def test_known_sleep_gives_its_distribution(pytester: pytest.Pytester, api_url: str) -> None:
    """20 samples of a 50 ms sleep: min and p50 at least 50 ms, in milliseconds, percentiles in order."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(test_perf=KNOWN_SLEEP)
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = recorded_calls(reprec, "test_known_sleep")
    assert len(calls) == 21  # the warm-up request is recorded like every call
    assert {(c["action"], c["outcome"]) for c in calls} == {("GET /slow?s=0.05", "200")}


def test_warmup_is_excluded_and_counted(pytester: pytest.Pytester, api_url: str) -> None:
    """warmup=3 sends three requests first; the statistics cover only the measured ones."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_perf="""
        def test_warm(latency):
            stats = latency("/health", samples=5, warmup=3)
            assert (stats.count, stats.warmup) == (5, 3)

        def test_cold(latency):
            stats = latency("/health", samples=2, warmup=0)
            assert (stats.count, stats.warmup) == (2, 0)
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=2)
    assert len(recorded_calls(reprec, "test_warm")) == 8
    assert len(recorded_calls(reprec, "test_cold")) == 2


def test_errors_are_counted(pytester: pytest.Pytester, api_url: str, closed_port: int) -> None:
    """A 500 is an error unless ok_statuses says otherwise; a refused connection is one too, without a latency."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_perf=f"""
        import math

        def test_server_errors(latency):
            stats = latency("/status/500", samples=5)
            assert (stats.count, stats.errors, stats.error_rate, stats.unanswered) == (5, 5, 1.0, 0)
            assert stats.error_outcomes == (("500", 5),)
            assert stats.p95 < "5s"  # a 500 still came back, with a latency

        def test_not_found_is_fine_when_expected(latency):
            stats = latency("/status/404", samples=3, ok_statuses=(404,))
            assert stats.errors == 0

        def test_client_errors_count_by_default(latency):
            assert latency("/status/404", samples=3).errors == 3

        def test_refused(latency):
            stats = latency("http://127.0.0.1:{closed_port}/health", samples=4, warmup=0)
            assert (stats.count, stats.errors, stats.unanswered) == (4, 4, 4)
            assert stats.error_outcomes == (("connection refused", 4),)
            assert math.isnan(stats.p95) and not stats.p95 < "1s"
        """
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=4)


def test_failed_p95_assert_shows_the_whole_distribution(pytester: pytest.Pytester, api_url: str) -> None:
    """`assert stats.p95 < "10ms"` fails with min, p50, p95, p99, max and the errors in the message."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_perf="""
        def test_fast(latency):
            stats = latency("/slow?s=0.05", samples=5)
            assert stats.p95 < "10ms"
        """
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E       AssertionError: assert * ms (GET /slow?s=0.05 p95 of 5: min *, p50 *, p95 *, p99 *, max *; 0 errors) < '10ms'",
            "E        +  where * = <LatencyStats GET /slow?s=0.05: 5 requests (+1 warm-up), concurrency 1, *>.p95",
        ]
    )


ERROR_ASSERTS = """
def test_errors(latency):
    stats = latency("/status/500", samples=3)
    assert stats.errors == 0

def test_errors_with_summary(latency):
    stats = latency("/status/500", samples=3)
    assert stats.errors == 0, stats.error_summary

def test_error_rate(latency):
    assert latency("/status/500", samples=3).error_rate < 0.01
"""


def test_failed_error_asserts_name_the_endpoint(pytester: pytest.Pytester, api_url: str) -> None:
    """A bare assert on errors or error_rate, and error_summary as its message, name the measured endpoint."""
    import json

    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(test_perf=ERROR_ASSERTS)
    result = pytester.runpytest("--deploy-target=t", "--deploy-json=summary.json")
    result.assert_outcomes(failed=3)
    reasons = json.loads((pytester.path / "summary.json").read_text())["verdict"]["reasons"]
    assert [without_trace(reason) for reason in reasons] == [
        "Errors failed (test_perf.py::test_errors): assert 3 (GET /status/500: 3 requests, 3 errors: 500 x3) == 0",
        "Errors with summary failed (test_perf.py::test_errors_with_summary): GET /status/500: 3 errors: 500 x3",
        "Error rate failed (test_perf.py::test_error_rate): assert 1.0 (GET /status/500: 3 requests, 3 errors: 500 x3) < 0.01",
    ]


def test_budget_applies_to_the_p95(pytester: pytest.Pytester, api_url: str) -> None:
    """budget= fails the check when the p95 is over it, with the distribution; under it passes."""
    # 5 samples are judged only with min_samples lowered to 5 (the default of 20 would warn instead).
    pytester.makefile(".toml", deploysmoke=target_toml(api_url, "[targets.t.rollback]\nmin_samples = 5"))
    pytester.makepyfile(
        test_perf="""
        def test_over(latency):
            latency("/slow?s=0.05", samples=5, budget="10ms")

        def test_under(latency):
            latency("/slow?s=0.05", samples=5, budget="5s")
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1, failed=1)
    (failure,) = reprec.getfailures()
    message = str(failure.longrepr)
    assert message.startswith("GET /slow?s=0.05: p95 "), message
    assert " ms is over the budget of 10 ms (p95 of 5: min " in message
    assert message.endswith("; 0 errors); is it slower since this deploy, or is the budget too tight?"), message


def test_per_call_budget_is_judged_after_the_run(pytester: pytest.Pytester, api_url: str) -> None:
    """A budget mark still applies to every measured request, but the check sees the whole run first."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_perf="""
        import pytest

        @pytest.mark.budget("10ms")
        def test_marked(latency):
            latency("/slow?s=0.05", samples=3)
        """
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "GET /slow?s=0.05 took * ms, over its budget of 10 ms (status 200); is it slower since this deploy, "
            "or is the budget too tight? (3 of 3 measured requests were over their per-call budget: "
            "min *, p50 *, p95 *, p99 *, max * ms; 0 errors)"
        ]
    )


def test_concurrency_sends_from_several_threads(pytester: pytest.Pytester, api_url: str) -> None:
    """concurrency=4 sends the samples from four threads; every request is still recorded."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_perf="""
        def test_parallel(latency):
            stats = latency("/slow", params={"s": "0.05"}, samples=20, warmup=4, concurrency=4)
            assert (stats.count, stats.warmup, stats.errors, stats.concurrency) == (20, 4, 0, 4)
            assert stats.min >= "50ms"
            assert stats.min <= stats.p50 <= stats.p95 <= stats.p99 <= stats.max
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    assert len(recorded_calls(reprec, "test_parallel")) == 24


SAMPLES = """
def test_default_samples(latency):
    print("samples:", latency("/health", warmup=0).count)
"""


def test_deploy_samples_overrides_the_config(pytester: pytest.Pytester, api_url: str) -> None:
    """The target's samples key sets the default; --deploy-samples wins, and the rerun line repeats it."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url, "samples = 3"))
    pytester.makepyfile(test_perf=SAMPLES)
    result = pytester.runpytest("--deploy-target=t", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*samples: 3"])
    result = pytester.runpytest("--deploy-target=t", "-s", "--deploy-samples=7")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["deploysmoke: rerun with --deploy-target=t --deploy-samples=7", "*samples: 7"])


def test_default_samples_is_twenty(pytester: pytest.Pytester, api_url: str) -> None:
    """Without samples anywhere, a measurement sends 20 requests."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(test_perf=SAMPLES)
    result = pytester.runpytest("--deploy-target=t", "-s")
    result.stdout.fnmatch_lines(["*samples: 20"])


@pytest.mark.parametrize(
    ("toml_extra", "args", "message"),
    [
        (
            "samples = 0",
            [],
            "deploysmoke.toml: [targets.t] samples is int 0; expected a whole number of requests from 1 to 10000",
        ),
        (
            'samples = "20"',
            [],
            "deploysmoke.toml: [targets.t] samples is '20'; expected a whole number of requests from 1 to 10000",
        ),
        ("", ["--deploy-samples=0"], "--deploy-samples is 0; expected a whole number from 1 to 10000"),
        ("", ["--deploy-samples=10001"], "--deploy-samples is 10001; expected a whole number from 1 to 10000"),
    ],
    ids=["zero-in-config", "string-in-config", "zero-option", "over-the-cap"],
)
def test_bad_samples_are_usage_errors(
    pytester: pytest.Pytester, toml_extra: str, args: list[str], message: str
) -> None:
    """samples out of 1..10000, in the config or on the command line, stops the run before any check."""
    pytester.makefile(".toml", deploysmoke=target_toml("http://127.0.0.1:9", toml_extra))
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=t", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('latency("/health", concurrency=17)', "latency(): concurrency must be a whole number from 1 to 16, got 17"),
        ('latency("/health", samples=10_001)', "latency(): samples must be a whole number from 1 to 10000, got 10001"),
        ('latency("/health", warmup=-1)', "latency(): warmup must be a whole number from 0 to 1000, got -1"),
        (
            'latency("/health", budget="fast")',
            "a duration must be seconds or a string like '100ms' or '1.5s', got 'fast'",
        ),
        (
            'latency("/health", ok_statuses="200")',
            "latency(): ok_statuses must be HTTP status codes such as (200, 404), got '200'",
        ),
    ],
    ids=["concurrency", "samples", "warmup", "budget", "ok_statuses"],
)
def test_bad_arguments_fail_before_sending(pytester: pytest.Pytester, api_url: str, call: str, message: str) -> None:
    """An argument out of range is a ValueError that names it, and nothing is sent."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(test_perf=f"def test_bad(latency):\n    {call}\n")
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(failed=1)
    (failure,) = reprec.getfailures()
    assert f"ValueError: {message}" in str(failure.longrepr)
    assert recorded_calls(reprec) == []


def test_time_cap_stops_a_run_that_retries(pytester: pytest.Pytester, api_url: str) -> None:
    """Requests that retry past the timeout hit the cap of samples x timeout, and the check says so."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\ntimeout = 0.2\nretries = 2\n')
    pytester.makepyfile(test_perf='def test_hanging(latency):\n    latency("/slow?s=1", samples=2, warmup=0)\n')
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "GET /slow?s=1: stopped after 1 of 2 measured requests (0 warm-up) at the time cap of 0.4 s "
            "(each request's timeout of 0.2 s times 2): no answers; 1 error: timed out x1; "
            "is the service hanging, or are retries adding up?"
        ]
    )


def test_writes_on_production_are_refused_once(pytester: pytest.Pytester, api_url: str) -> None:
    """A POST measured on production from a check not marked destructive is blocked at the first request."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url, "production = true"))
    pytester.makepyfile(
        test_perf='def test_write(latency):\n    latency("POST /api/v1/items", json={}, concurrency=4)\n'
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(failed=1)
    (failure,) = reprec.getfailures()
    assert str(failure.longrepr) == (
        "POST /api/v1/items blocked: target 't' is production and the test is not marked destructive (mark it destructive and pass --allow-destructive to let it write)"
    )
    assert [c["outcome"] for c in recorded_calls(reprec)] == ["blocked"]


def test_latency_needs_a_target(pytester: pytest.Pytester) -> None:
    """Without a deploy target a check using latency is skipped, as with http."""
    pytester.makepyfile(test_perf='def test_x(latency):\n    latency("/health")\n')
    result = pytester.runpytest("-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*no deploy target selected (use --deploy-target)*"])


def test_budget_with_no_answer_says_so(pytester: pytest.Pytester, closed_port: int) -> None:
    """A p95 budget on a service that answers nothing fails with the errors and the likely fix."""
    pytester.makefile(".toml", deploysmoke=target_toml(f"http://127.0.0.1:{closed_port}"))
    pytester.makepyfile(test_perf='def test_down(latency):\n    latency("/health", samples=3, budget="500ms")\n')
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "GET /health: none of 3 requests was answered, so the p95 budget of 500 ms cannot be met "
            "(3 errors: connection refused x3); is the service up and base_url right?"
        ]
    )
