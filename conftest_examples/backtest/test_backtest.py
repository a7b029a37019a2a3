"""A backtest runs: it starts at 0 %, its progress moves to 100 %, and it ends completed (never on production)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytestmark = [pytest.mark.phase("features"), pytest.mark.destructive]  # starting a backtest writes


def test_backtest_starts(started_backtest: dict[str, Any]) -> None:
    """POST /api/backtest/start answers 200 with a backtest id, at 0 %."""
    assert started_backtest.get("progress") == 0, f"a new backtest should be at 0 %: {started_backtest}"


def test_progress_moves_from_0_to_100_and_completes(
    started_backtest: dict[str, Any], follow_progress: Callable[[str], list[dict[str, Any]]]
) -> None:
    """GET /api/backtest/progress moves from 0 % to 100 % and ends in a completed state."""
    backtest_id = started_backtest["backtest_id"]
    answers = follow_progress(backtest_id)
    last, percents = answers[-1], [answer["progress"] for answer in answers]
    assert last["status"] == "completed", (
        f"backtest {backtest_id} ended {last['status']!r} at {last['progress']} %: "
        f"{last.get('error', 'no error given')}; the worker's logs say why"
    )
    assert last["progress"] == 100, f"backtest {backtest_id} is completed at {last['progress']} %, not 100 %"
    assert percents == sorted(percents), f"the progress of backtest {backtest_id} went backwards: {percents}"
    assert percents[0] < 100, f"the progress of backtest {backtest_id} was never seen under way: {percents}"
