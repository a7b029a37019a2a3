"""Durations and two-level budgets: "100ms" parsing, (target, limit) and how a budget is shown."""

from __future__ import annotations

import pytest

from pytest_deploysmoke.perf.budgets import Budget, budget_from_mark, format_ms, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("100ms", 0.1), ("1.5s", 1.5), ("2m", 120.0), (0.25, 0.25), (3, 3.0), (".5s", 0.5), (" 40 ms ", 0.04)],
)
def test_durations_parse(text: str | float, seconds: float) -> None:
    """Numbers are seconds; strings carry ms, s or m."""
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["fast", "-1s", "10 hours", True, -0.5])
def test_bad_durations_say_what_is_accepted(bad: object) -> None:
    """A value that is not a duration is refused with the accepted forms."""
    with pytest.raises(ValueError, match="a duration"):
        parse_duration(bad)  # type: ignore[arg-type]  # deliberately wrong


def test_two_level_budget() -> None:
    """(target, limit) keeps both; the target must not exceed the limit."""
    budget = Budget.of(("500ms", "1s"))
    assert (budget.target, budget.limit, budget.describe()) == (0.5, 1.0, "500 ms / 1.00 s")
    with pytest.raises(ValueError, match="target must not exceed its limit"):
        Budget.of(("2s", "1s"))
    assert budget_from_mark("500ms", "1s") == budget
    assert format_ms(0.0123) == "12 ms"
