"""expect_status, expect_json and poll_until: small helpers whose failures say what differed."""

from __future__ import annotations

from typing import Any

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


@pytest.mark.parametrize(
    ("actual", "expected", "differences"),
    [
        pytest.param({"count": 0, "items": []}, {"count": int, "items": list}, [], id="int-and-list"),
        pytest.param({"price": 3}, {"price": float}, [], id="a-whole-number-is-a-float"),
        pytest.param({"meta": {}, "name": "x"}, {"meta": dict, "name": str}, [], id="object-and-string"),
        pytest.param({"count": "0"}, {"count": int}, ["$.count: expected int, got str '0'"], id="string-for-int"),
        pytest.param(
            {"count": True}, {"count": int}, ["$.count: expected int, got bool True"], id="true-is-not-an-int"
        ),
        pytest.param({"name": None}, {"name": str}, ["$.name: expected str, got None"], id="null-for-string"),
        pytest.param([{"id": 1.5}], [{"id": int}], ["$[0].id: expected int, got float 1.5"], id="in-a-list"),
    ],
)
def test_a_class_matches_by_type(actual: Any, expected: Any, differences: list[str]) -> None:
    """``{"count": int}`` checks the type at that place; a mismatch names the field, the type and the value."""
    assert json_differences(actual, expected) == differences
