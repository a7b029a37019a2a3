"""Fixture plugin: the example suites of conftest_examples/ copied into pytester projects.

The kifu suite's project and run, shared by the kifu and watch-window tests; replace_budgets(), which
gives the runs whose subject is not speed budgets no loaded machine can break; and
assert_slower_inside_budgets(), what a release slower than the last but inside every budget looks like.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import pytest

KIFU = Path(__file__).parent.parent / "conftest_examples" / "kifu"
SCHEMA = Path(__file__).parent.parent / "pytest_deploysmoke" / "schemas" / "summary-1.schema.json"
#: The kifu checklist's one required manual item, confirmed: the runs are about the checks, not the backup.
CONFIRM_BACKUP = "--deploy-confirm=backup=taken by the test setup"


@pytest.fixture
def kifu(pytester: pytest.Pytester, fresh_db: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The kifu suite copied into a fresh project, pointed at its own database and smoke account."""
    shutil.copytree(KIFU, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("REDIS_URL", redis_url)
    # A smoke account of its own, so the stand-in's login rate limit (per email, in Redis) never trips.
    monkeypatch.setenv("SMOKE_USER", f"smoke-{uuid.uuid4().hex[:8]}@kifu.example")
    monkeypatch.delenv("SMOKE_PASSWORD", raising=False)  # so the suite uses its default smoke password
    monkeypatch.delenv("KIFU_FAULTS", raising=False)
    monkeypatch.delenv("KIFU_ON_REGRESSION", raising=False)  # a regression is the example's ROLLBACK
    return pytester


def run_kifu(kifu: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the copied suite's smoke checks on its launched ``local`` target, in a subprocess, its backup confirmed."""
    return kifu.runpytest_subprocess(
        "--deploy-target=local", "-m", "smoke", "-rfEs", CONFIRM_BACKUP, *args, timeout=120
    )


def replace_budgets(path: Path, *changes: tuple[str, str]) -> None:
    """Replace each (as written, new) budget in the copied suite's file *path*; fail if one is not there.

    A run that is not about speed gets budgets of seconds where its servers answer in milliseconds, so that
    a loaded machine cannot fail it; the runs about speed keep the suite's budgets, with delays far above them.
    """
    text = path.read_text(encoding="utf-8")
    for written, new in changes:
        assert written in text, f"{path.name} no longer holds {written!r}: update the test that loosens it"
        text = text.replace(written, new)
    path.write_text(text, encoding="utf-8")


def read_summary(path: Path) -> dict[str, Any]:
    """The JSON summary a run wrote at *path*, validated against the shipped schema."""
    summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.validate(summary, json.loads(SCHEMA.read_text(encoding="utf-8")))
    return summary


#: How much higher a slowed endpoint's measured median must be than a good deploy's: the stand-ins'
#: "40 %" faults add 10 ms to 20 ms of server time, which loopback's few ms on both sides dilute.
SLOWER_P50 = 1.3
#: The fewest latencies a comparison with a baseline judges on either side (the issue's minimum, Kayenta's).
COMPARED_SAMPLES = 50


def endpoint_calls(summary: dict[str, Any], endpoint: str) -> list[dict[str, Any]]:
    """Every call of *endpoint* (``"GET /path"``, whatever its query) a run's JSON summary records, warm-ups too."""
    return [
        call for check in summary["checks"] for call in check["calls"] if call["action"].split("?", 1)[0] == endpoint
    ]


def latency_of(summary: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The one ``latency`` measurement of *endpoint* (``"GET /path"``, whatever its query) in a run's JSON summary."""
    found: list[dict[str, Any]] = [
        measurement
        for check in summary["checks"]
        for measurement in check["measurements"]
        if measurement["engine"] == "latency" and measurement["action"].split("?", 1)[0] == endpoint
    ]
    assert len(found) == 1, f"expected one latency measurement of {endpoint}, got {found}"
    return found[0]


def assert_slower_inside_budgets(good: dict[str, Any], slow: dict[str, Any], endpoint: str) -> None:
    """The slowed run passed every check, each call of *endpoint* within its target, yet its measured p50 moved.

    *good* and *slow* are the JSON summaries of a good deploy's run and a slowed one's: both measured
    *endpoint* over enough answers for a comparison, without an error, and the slowed median is at
    least SLOWER_P50 times the good one.
    """
    verdict = slow["verdict"]
    assert verdict["decision"] in ("GO", "GO with warnings") and not verdict["reasons"], verdict
    assert not [check["nodeid"] for check in slow["checks"] if check["outcome"] in ("failed", "error")]
    calls = endpoint_calls(slow, endpoint)
    over = [call for call in calls if not call["ok"] or call["target_ms"] is None or call["ms"] > call["target_ms"]]
    assert calls and not over, f"{endpoint}: {len(over)} of {len(calls)} calls failed or went over their target"
    before, after = latency_of(good, endpoint), latency_of(slow, endpoint)
    for measured in (before, after):
        assert measured["n"] >= COMPARED_SAMPLES and measured["errors"] == 0, measured
    assert after["p50_ms"] >= SLOWER_P50 * before["p50_ms"], f"{endpoint} p50: good {before}, slowed {after}"


def compared_row(summary: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The row of *endpoint* (its checks' requests, ``"GET /path"``) in a run's ``comparison.endpoints``."""
    rows: list[dict[str, Any]] = [row for row in summary["comparison"]["endpoints"] if row["endpoint"] == endpoint]
    assert len(rows) == 1, f"expected one comparison row of {endpoint}, got {summary['comparison']['endpoints']}"
    return rows[0]


def assert_unchanged_against_baseline(summary: dict[str, Any], endpoint: str) -> None:
    """A good deploy's run against a good run's baseline: *endpoint* compared on enough samples, no change."""
    row = compared_row(summary, endpoint)
    assert row["verdict"] == "no significant change", row
    assert min(row["n_baseline"], row["n_now"]) >= COMPARED_SAMPLES, row
    assert not summary["verdict"]["rollback"] and not summary["verdict"]["reasons"], summary["verdict"]


def assert_regression_against_baseline(
    result: pytest.RunResult, summary: dict[str, Any], endpoint: str, decision: str
) -> None:
    """A slowed run against a good run's baseline: *decision* (exit code 1), for *endpoint*'s latency, with its shift.

    Its comparison row is a regression of at least the tolerance (25 %), and the verdict's reason,
    in the JSON and on the terminal's verdict line, names ``latency_regression``, the endpoint and
    that shift (``+41%``).
    """
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    row = compared_row(summary, endpoint)
    assert row["verdict"] == "regression" and row["shift_pct"] >= 25, row
    verdict = summary["verdict"]
    assert verdict["decision"] == decision, verdict
    reasons = verdict["rollback"] if decision == "ROLLBACK" else verdict["reasons"]
    named = [reason for reason in reasons if reason.startswith(f"latency_regression: {endpoint} p50 ")]
    assert len(named) == 1, verdict
    shown = re.search(r" ms \(\+(\d+)%\), p95 ", named[0])  # the JSON's shift is to 0.1 %, the line's to 1 %
    assert shown and abs(int(shown[1]) - row["shift_pct"]) <= 0.5, (row["shift_pct"], named[0])
    result.stdout.fnmatch_lines([f"deploysmoke verdict: {decision}*{named[0]}*"])
