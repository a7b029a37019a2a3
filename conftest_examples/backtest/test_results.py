"""Results: a backtest's result downloads as JSON, named for the backtest, with every field, in under 5 s."""

from __future__ import annotations

from datetime import datetime
from email.message import Message
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("features")


# Named predicates: expect_json's failures name the one that did not hold.
def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_ratio(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def is_drawdown(value: object) -> bool:
    """A drawdown is a loss: a fraction from -1 to 0."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -1 <= value <= 0


def is_json_file(value: object) -> bool:
    return isinstance(value, str) and value.endswith(".json")


def is_timestamp(value: object) -> bool:
    try:
        return isinstance(value, str) and datetime.fromisoformat(value).tzinfo is not None
    except ValueError:
        return False


PERFORMANCE = {
    "total_return": is_number,
    "sharpe_ratio": is_number,
    "max_drawdown": is_drawdown,
    "total_trades": is_count,
    "win_rate": is_ratio,
}


def expect_result_download(http: SmokeClient, backtest_id: str) -> Any:
    """Fetch a backtest's result and check it as the checklist says; return the parsed result."""
    __tracebackhide__ = True
    path = f"/api/backtest/result/{backtest_id}"
    response = expect_status(http.get(path, budget="5s"), 200)
    media_type = response.headers.get("content-type", "").partition(";")[0].strip()
    if media_type != "application/json":
        pytest.fail(f"GET {path} answered Content-Type {media_type!r}, expected application/json", pytrace=False)
    filename = f"backtest-result-{backtest_id}.json"
    header = response.headers.get("content-disposition", "")
    disposition = Message()
    disposition["content-disposition"] = header
    if (disposition.get_content_disposition(), disposition.get_filename()) != ("attachment", filename):
        pytest.fail(
            f'GET {path} answered Content-Disposition {header!r}, expected attachment; filename="{filename}"',
            pytrace=False,
        )
    expected = {
        "backtest_id": backtest_id,
        "status": "completed",
        "performance": PERFORMANCE,
        "results_file": is_json_file,
        "completed_at": is_timestamp,
    }
    return expect_json(response, expected)


def test_known_backtest_result_downloads(http: SmokeClient, known_backtest_id: str) -> None:
    """The known backtest's result downloads (GET /api/backtest/result/{id}; read-only, so it runs on production).

    200 in under 5 s, Content-Type application/json, a download named backtest-result-{id}.json, with
    backtest_id, status, performance (total_return, sharpe_ratio, max_drawdown, total_trades, win_rate),
    results_file and completed_at.
    """
    expect_result_download(http, known_backtest_id)


@pytest.mark.destructive
def test_new_backtest_result_downloads(http: SmokeClient, completed_backtest: str) -> None:
    """The result of the backtest just run downloads the same way, with every field (GET /api/backtest/result/{id})."""
    expect_result_download(http, completed_backtest)
