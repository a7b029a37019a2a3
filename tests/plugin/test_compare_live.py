"""--deploy-compare: the canary judged against the stable fleet, live, in the watch window.

Two API stand-ins on loopback: the stable one, and a canary whose ``/slow`` answers 16 ms later
(``/slow?s=0.04``: 56 ms where the stable one takes 40 ms, +40 %, inside any budget).  The run's
verdict reaches the test through a ``pytest_deploysmoke_verdict`` hook in the project's conftest,
which writes ``verdict.comparison`` and the window's log as JSON.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))
SLOW = "GET /slow"
WS = "WS /ws/tickers/krw"

CHECKS = """
import pytest


@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200
"""

VERDICT_HOOK = """
import dataclasses
import json
from pathlib import Path


def pytest_deploysmoke_verdict(config, verdict):
    comparison = verdict.comparison
    log = verdict.watch_log
    Path("verdict.json").write_text(json.dumps({
        "decision": verdict.decision,
        "baseline": comparison and comparison.baseline,
        "endpoints": [
            dataclasses.asdict(row, dict_factory=lambda items: {k: v for k, v in items if "distribution" not in k})
            for row in comparison.endpoints
        ] if comparison else None,
        "stopped": log and log.stopped,
        "planned": log and log.planned,
        "intervals": [
            [
                dataclasses.asdict(row, dict_factory=lambda items: {k: v for k, v in items if "distribution" not in k})
                for row in interval.comparison.endpoints
            ] if interval.comparison else None
            for interval in log.intervals
        ] if log else None,
        "identity": comparison and dataclasses.asdict(comparison.identity),
        "rollback": verdict.rollback,
        "charted": [
            (row.baseline_distribution.answered, row.now_distribution.answered) for row in comparison.endpoints
        ] if comparison else None,
    }))
"""


PROBES = '["health", "GET /slow?s=0.04", "ws /ws/tickers/krw"]'


def project(
    pytester: pytest.Pytester,
    canary: str,
    stable: str,
    *,
    every: str = "4s",
    extra: str = "",
    probes: str = PROBES,
    stable_keys: str = "",
) -> None:
    """A project whose target 'canary' watches /health, /slow?s=0.04 and a ticker stream; 'stable' is the fleet."""
    pytester.makefile(
        ".toml",
        deploysmoke=f"""
[targets.canary]
base_url = "{canary}"
{extra}
[targets.canary.watch]
every = "{every}"
probes = {probes}

[targets.stable]
base_url = "{stable}"
{stable_keys}
""",
    )
    pytester.makepyfile(test_checks=CHECKS, conftest=VERDICT_HOOK)


def verdict_of(pytester: pytest.Pytester) -> dict[str, Any]:
    """What the project's verdict hook wrote."""
    written: dict[str, Any] = json.loads((pytester.path / "verdict.json").read_text(encoding="utf-8"))
    return written


def rows_by_endpoint(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["endpoint"]: row for row in rows}


def test_slowed_endpoint_is_a_regression_that_stops_the_window(
    pytester: pytest.Pytester, api_url: str, slowed_api_url: str
) -> None:
    """A canary whose /slow is 40 % slower is judged a regression against the stable stand-in (at least 50
    samples a side), in the interval that saw it and over the window, which then stops before its end."""
    project(pytester, slowed_api_url, api_url)
    result = pytester.runpytest_subprocess(
        "--deploy-target=canary", "--deploy-compare=stable", "--deploy-watch=20s", "--deploy-json=summary.json"
    )
    out = result.stdout.str()
    verdict = verdict_of(pytester)
    assert verdict["baseline"] == "target 'stable' (live, same moments)"
    slow = rows_by_endpoint(verdict["endpoints"])[SLOW]
    assert (slow["verdict"], slow["rules"]) == ("regression", ["latency_regression"]), out
    assert slow["n_baseline"] >= 50 and slow["n_now"] >= 50
    assert 25 < slow["shift_pct"] < 70, slow  # 16 ms on 40 ms plus the same overhead on both sides
    assert slow["p_value"] < 0.02
    assert rows_by_endpoint(verdict["endpoints"])["GET /health"]["verdict"] != "regression"
    assert list(rows_by_endpoint(verdict["endpoints"])) == ["GET /health", SLOW, WS]
    assert verdict["identity"] == {"kind": "target", "target": "stable", "version": "", "started": None, "path": ""}
    # The two sides' distributions stay on each row, for the chart of the two.
    assert verdict["charted"][1] == [slow["n_baseline"], slow["n_now"]]
    assert verdict["decision"] == "ROLLBACK"
    assert [reason.split(" p50 ")[0] for reason in verdict["rollback"]] == ["latency_regression: GET /slow"], verdict
    summary = json.loads((pytester.path / "summary.json").read_text(encoding="utf-8"))
    jsonschema.validate(summary, SCHEMA)
    written = summary["comparison"]
    assert (written["baseline"]["kind"], written["baseline"]["target"]) == ("target", "stable")
    assert [row["verdict"] for row in written["endpoints"]] == [row["verdict"] for row in verdict["endpoints"]]

    # It stopped at the first interval whose own judgement (on enough samples) was a regression.
    assert verdict["stopped"] == "rollback"
    judged = verdict["intervals"]
    assert len(judged) < verdict["planned"] == 5
    last = rows_by_endpoint(judged[-1])[SLOW]
    assert last["verdict"] == "regression" and min(last["n_baseline"], last["n_now"]) >= 50
    assert all(rows_by_endpoint(rows)[SLOW]["verdict"] != "regression" for rows in judged[:-1])
    n = len(judged)
    result.stdout.fnmatch_lines(
        [
            "deploysmoke compare vs target 'stable': each round samples both targets at the same moments, "
            "the HTTP probes at most every 0.05 s",
            f"deploysmoke compare vs target 'stable' [[]{n}/5]: GET /slow p50 * -> * ms (+*%), p95 * -> * ms, "
            "p = *: regression (latency_regression)",
            "deploysmoke the canary regressed against target 'stable' in this interval and over the window so far "
            "(GET /slow): the window stops",
            "deploysmoke compare vs target 'stable', whole window: GET /slow p50 * -> * ms (+*%), *: regression*",
            f"deploysmoke watch window 20 s, {n} of 5 intervals: *; stopped early: the canary regressed; "
            "against target 'stable': regression GET /slow p50 +*%",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_regression_that_is_no_go_lets_the_window_run_to_its_end(
    pytester: pytest.Pytester, api_url: str, slowed_api_url: str
) -> None:
    """With on_regression = "no-go" a regression never stops the window: it runs to its end, and the verdict is
    NO-GO, its reason the regression."""
    compare = '[targets.canary.compare]\non_regression = "no-go"\n'
    project(pytester, slowed_api_url, api_url, probes='["health", "GET /slow?s=0.04"]', extra=compare)
    result = pytester.runpytest_subprocess(
        "--deploy-target=canary", "--deploy-compare=stable", "--deploy-watch=8s", "--deploy-watch-every=4s"
    )
    verdict = verdict_of(pytester)
    assert (verdict["stopped"], len(verdict["intervals"]), verdict["decision"]) == ("", 2, "NO-GO"), verdict
    assert rows_by_endpoint(verdict["endpoints"])[SLOW]["verdict"] == "regression"
    result.stdout.fnmatch_lines(["deploysmoke verdict: NO-GO: latency_regression: GET /slow p50 *"])
    result.stdout.no_fnmatch_line("*the window stops*")


def test_same_deploy_against_itself_is_no_regression(pytester: pytest.Pytester, api_url: str) -> None:
    """The stand-in compared with itself: every endpoint judged on enough samples, none a regression, the window
    runs to its end and the verdict is GO without a warning."""
    project(pytester, api_url, api_url, every="6s", probes='["health", "GET /slow?s=0.04"]')
    result = pytester.runpytest_subprocess("--deploy-target=canary", "--deploy-compare=stable", "--deploy-watch=6s")
    verdict = verdict_of(pytester)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert verdict["decision"] == "GO"
    rows = rows_by_endpoint(verdict["endpoints"])
    assert [row["verdict"] for row in rows.values() if row["verdict"] == "regression"] == []
    assert rows[SLOW]["verdict"] == "no significant change", rows[SLOW]
    for endpoint in ("GET /health", SLOW):
        assert min(rows[endpoint]["n_baseline"], rows[endpoint]["n_now"]) >= 50, rows[endpoint]
    assert verdict["stopped"] == ""
    result.stdout.fnmatch_lines(
        [
            "deploysmoke: rerun with --deploy-target=canary --deploy-watch=6s --deploy-compare=stable",
            "deploysmoke compare vs target 'stable' [[]1/1]: GET /slow p50 * -> * ms (*%), p95 *, p = *: "
            "no significant change",
            "deploysmoke watch window 6.0 s, 1 of 1 intervals: *; no rollback rule tripped; "
            "against target 'stable': no regression (*)",
        ]
    )


def test_each_target_is_sampled_with_its_own_headers(
    pytester: pytest.Pytester, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stable target's probes carry its headers and the canary's do not: /api/v1/users/me answers the stable
    target 200 and the canary 401, an error regression of the canary; the stable target's token is never shown."""
    from tests.apps.api import USER_EMAIL, make_jwt

    token = make_jwt(USER_EMAIL)
    monkeypatch.setenv("STABLE_TOKEN", token)
    project(
        pytester,
        api_url,
        api_url,
        probes='["GET /api/v1/users/me"]',
        stable_keys='headers = { Authorization = "Bearer ${STABLE_TOKEN}" }',
    )
    result = pytester.runpytest_subprocess("--deploy-target=canary", "--deploy-compare=stable", "--deploy-watch=4s")
    me = rows_by_endpoint(verdict_of(pytester)["endpoints"])["GET /api/v1/users/me"]
    assert (me["error_rate_baseline"], me["error_rate_now"]) == (0.0, 1.0), me
    assert me["verdict"] == "regression" and "error_regression" in me["rules"], me
    result.stdout.fnmatch_lines(
        ["*GET /api/v1/users/me p50 *, error rate 0% -> 100% (0 of * -> * of * requests), p = *: regression (*)"]
    )
    assert token not in result.stdout.str() + result.stderr.str()


def test_each_target_is_sampled_with_its_own_tls_settings(
    pytester: pytest.Pytester, standin_url: str, tls_url: str
) -> None:
    """A stable target over HTTPS with a certificate nothing trusts and verify_tls = false is sampled as well as
    the canary over HTTP: every one of its probes answered."""
    project(pytester, standin_url, tls_url, probes='["health", "GET /slow?s=0.04"]', stable_keys="verify_tls = false")
    pytester.runpytest_subprocess("--deploy-target=canary", "--deploy-compare=stable", "--deploy-watch=4s")
    rows = rows_by_endpoint(verdict_of(pytester)["endpoints"])
    for row in rows.values():
        assert row["error_rate_baseline"] == 0.0 and row["n_baseline"] >= 50, row


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (
            ("--deploy-compare=stabel", "--deploy-watch=20s"),
            "",
            "--deploy-compare 'stabel' is not defined in deploysmoke.toml; did you mean 'stable'? "
            "known targets: canary, stable",
        ),
        (
            ("--deploy-compare=canary", "--deploy-watch=20s"),
            "",
            "--deploy-compare 'canary' is the selected target (the canary); "
            "name the target of the stable fleet to judge it against",
        ),
        (
            ("--deploy-compare=stable",),
            "",
            "--deploy-compare judges the watch window's probes: give --deploy-watch=20s",
        ),
        (
            ("--deploy-compare=stable", "--deploy-watch=0s"),
            "",
            "--deploy-compare judges the watch window's probes: give --deploy-watch=20s",
        ),
        (
            ("--deploy-compare=launched", "--deploy-watch=20s"),
            '[targets.launched]\nbase_url = "http://127.0.0.1:{port}"\n'
            '[targets.launched.launch]\ncommand = "python -m http.server {port}"\n',
            "--deploy-compare 'launched' has [launch]: only the selected target is launched; "
            "give it the base_url of the running stable fleet",
        ),
        (
            ("--deploy-compare=stable", "--deploy-watch=20s", "--deploy-baseline=previous.json"),
            "",
            "--deploy-compare and --deploy-baseline each name the baseline to judge the run against; give one of them",
        ),
    ],
    ids=["unknown", "itself", "no-window", "window-off", "launched", "and-baseline"],
)
def test_bad_compare_is_one_usage_error_line(
    pytester: pytest.Pytester, closed_port: int, args: tuple[str, ...], extra: str, message: str
) -> None:
    """Each misuse of --deploy-compare is a usage error of one line saying what to fix, before any check runs."""
    project(pytester, f"http://127.0.0.1:{closed_port}", f"http://127.0.0.1:{closed_port}", extra=extra)
    result = pytester.runpytest("--deploy-target=canary", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [f"ERROR: {message}"]
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_without_scipy_compare_is_a_usage_error(pytester: pytest.Pytester, closed_port: int) -> None:
    """Without scipy (the compare extra), --deploy-compare says how to install it."""
    project(pytester, f"http://127.0.0.1:{closed_port}", f"http://127.0.0.1:{closed_port}")
    pytester.makeconftest("import sys\nsys.modules['scipy'] = None  # as if it were not installed\n")
    result = pytester.runpytest("--deploy-target=canary", "--deploy-compare=stable", "--deploy-watch=20s")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        "ERROR: --deploy-compare needs scipy: pip install 'pytest-deploysmoke[compare]'"
    ]


def test_compare_without_a_target_does_nothing(pytester: pytest.Pytester) -> None:
    """Without a deploy target the option is inert: the project's own tests run as they would without it."""
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest("--deploy-compare=stable")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("deploysmoke*")
    assert "--deploy-compare" not in result.stdout.str() + result.stderr.str()
