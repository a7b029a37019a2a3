"""The backtest service's own smoke fixtures: the known backtest, and a backtest this run starts and follows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import Target, expect_json, expect_status, poll_until

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

#: What the smoke backtest runs on: two stocks over half a year.
SMOKE_BACKTEST = {"symbols": ["AAPL", "MSFT"], "start_date": "2024-01-02", "end_date": "2024-06-28"}
FINISHED = ("completed", "failed")


def is_backtest_id(value: object) -> bool:
    """A non-empty string id; named, so that expect_json's failure says which check failed."""
    return isinstance(value, str) and value != ""


def is_percent(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100


def is_finished(answer: dict[str, Any]) -> bool:
    return answer.get("status") in FINISHED


@pytest.fixture(scope="session")
def known_backtest_id(deploy_target: Target) -> str:
    """The id of a completed backtest that exists on the target (``vars.known_backtest_id``); read, never written."""
    known = deploy_target.vars.get("known_backtest_id")
    if not known:
        pytest.fail(
            f"target '{deploy_target.name}' has no vars.known_backtest_id; "
            "give the id of a completed backtest there (KNOWN_BACKTEST_ID for staging and prod)",
            pytrace=False,
        )
    return str(known)


@pytest.fixture(scope="session")
def started_backtest(http: SmokeClient) -> dict[str, Any]:
    """A backtest started by this smoke run (POST /api/backtest/start); it writes, so use it from destructive checks."""
    response = expect_status(http.post("/api/backtest/start", json=SMOKE_BACKTEST), 200)
    started: dict[str, Any] = expect_json(response, {"backtest_id": is_backtest_id})
    return started


@pytest.fixture(scope="session")
def follow_progress(http: SmokeClient, deploy_target: Target) -> Callable[[str], list[dict[str, Any]]]:
    """A function that polls a backtest's progress until it is completed or failed, and returns every answer.

    It polls ``GET /api/backtest/progress?backtest_id=...`` every 100 ms for up to the target's
    ``progress_within``; past that, ``poll_until`` fails the check with the last progress it saw.
    Each backtest is followed once per run: a later call gets the same answers, or the same failure
    at once, instead of waiting out the deadline again.
    """
    within = deploy_target.vars.get("progress_within", "60s")
    followed: dict[str, list[dict[str, Any]] | str] = {}  # backtest id -> its answers, or why polling gave up

    def poll(backtest_id: str) -> list[dict[str, Any]] | str:
        answers: list[dict[str, Any]] = []

        def backtest_progress() -> dict[str, Any]:
            response = http.get("/api/backtest/progress", params={"backtest_id": backtest_id})
            answer: dict[str, Any] = expect_json(expect_status(response, 200), {"progress": is_percent})
            answers.append(answer)
            return answer

        try:
            poll_until(backtest_progress, until=is_finished, timeout=within, every="100ms")
        except pytest.fail.Exception as exc:
            return str(exc)
        return answers

    def follow(backtest_id: str) -> list[dict[str, Any]]:
        __tracebackhide__ = True  # a failure shows the check's line, then poll_until's message
        if backtest_id not in followed:
            followed[backtest_id] = poll(backtest_id)
        outcome = followed[backtest_id]
        if isinstance(outcome, str):
            pytest.fail(outcome, pytrace=False)
        return outcome

    return follow


@pytest.fixture(scope="session")
def completed_backtest(started_backtest: dict[str, Any], follow_progress: Callable[[str], list[dict[str, Any]]]) -> str:
    """The id of ``started_backtest`` once its progress says "completed"; a destructive check's fixture."""
    backtest_id = str(started_backtest["backtest_id"])
    try:
        last = follow_progress(backtest_id)[-1]
    except pytest.fail.Exception as exc:
        gave_up = str(exc)
    else:
        gave_up = ""
    if gave_up:  # failed outside the handler: one line at the setup of each check that needs the result
        pytest.fail(f"backtest {backtest_id} did not complete, so it has no result to check: {gave_up}", pytrace=False)
    if last["status"] != "completed":
        pytest.fail(f"backtest {backtest_id} ended {last['status']!r}, not 'completed': {last}", pytrace=False)
    return backtest_id
