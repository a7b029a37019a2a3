"""Features: the main screens' APIs answer for the smoke account, with the shapes the app expects."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http and authed_http

pytestmark = pytest.mark.phase("features")

DAY_MS = 86_400_000


# Named predicates: expect_json's failures name the one that did not hold.
def is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_ratio(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def is_list(value: object) -> bool:
    return isinstance(value, list)


def is_kline(candle: Any) -> bool:
    """A Binance kline: 12 fields, times in ms, prices as decimal strings, low <= open, close <= high."""
    if not isinstance(candle, list) or len(candle) != 12:
        return False
    open_time, open_, high, low, close, volume, close_time = candle[:7]
    if not all(isinstance(value, str) for value in (open_, high, low, close, volume)):
        return False
    o, h, lo, c = (float(value) for value in (open_, high, low, close))
    return isinstance(open_time, int) and close_time > open_time and 0 < lo <= min(o, c) <= max(o, c) <= h


def is_summary(value: Any) -> bool:
    return isinstance(value, dict) and {"total_trades", "win_rate", "pnl"} <= value.keys()


def test_trades_summary_answers(authed_http: SmokeClient) -> None:
    """Trades summary answers within 1 s (GET /api/v1/trades/summary)."""
    response = expect_status(authed_http.get("/api/v1/trades/summary", budget="1s"), 200)
    expect_json(response, {"total_trades": is_count, "win_rate": is_ratio, "pnl": is_number})


def test_klines_have_five_daily_candles(http: SmokeClient) -> None:
    """Market chart data answers 5 daily BTCUSDT candles in the Binance kline format."""
    params = {"symbol": "BTCUSDT", "interval": "1d", "limit": 5}
    candles = expect_json(expect_status(http.get("/api/v1/market/klines", params=params), 200), [is_kline] * 5)
    steps = {later[0] - earlier[0] for earlier, later in itertools.pairwise(candles)}
    assert steps == {DAY_MS}, f"the candles are not one day apart: open times {[c[0] for c in candles]}"


def test_bubbles_list_answers(authed_http: SmokeClient) -> None:
    """Chart bubbles list answers (GET /api/v1/bubbles)."""
    expect_json(expect_status(authed_http.get("/api/v1/bubbles"), 200), is_list)


@pytest.mark.destructive
def test_bubble_can_be_created_and_listed(authed_http: SmokeClient) -> None:
    """A chart bubble can be created and then appears in the list (POST, then GET /api/v1/bubbles)."""
    note = f"smoke check {uuid.uuid4().hex[:8]}"
    response = authed_http.post("/api/v1/bubbles", json={"symbol": "BTCUSDT", "note": note})
    created = expect_json(expect_status(response, 201), {"id": is_count, "symbol": "BTCUSDT", "note": note})
    listed = expect_json(expect_status(authed_http.get("/api/v1/bubbles"), 200), is_list)
    assert created["id"] in [bubble["id"] for bubble in listed], f"bubble {created['id']} is not in the list"


@pytest.mark.destructive  # a POST, so it stays off production
def test_ai_review_answers_with_the_allowlist_policy(authed_http: SmokeClient) -> None:
    """AI review answers a non-allowlisted user with the policy response, not a 5xx (POST /api/v1/ai/review)."""
    me = expect_json(expect_status(authed_http.get("/api/v1/users/me"), 200))
    if me.get("ai_allowlisted"):
        pytest.skip("the smoke account is AI-allowlisted, so it cannot see the policy response")
    response = authed_http.post("/api/v1/ai/review", json={"range": "30d"})
    expect_json(expect_status(response, 403), {"error": "ai_not_allowlisted"})


@pytest.mark.destructive
def test_exchange_sync_returns_a_run_id(sync_run: str) -> None:
    """An exchange sync request returns a run_id (POST /api/v1/exchange/sync)."""
    assert sync_run


@pytest.mark.destructive
def test_summary_pack_is_generated_from_the_sync_run(ready_pack: dict[str, Any], sync_run: str) -> None:
    """A 30-day summary pack is generated from the sync run and becomes ready (POST /api/v1/packs/generate)."""
    assert ready_pack["source_run_id"] == sync_run
    assert is_summary(ready_pack["summary"]), f"the ready pack has no summary: {ready_pack}"


@pytest.mark.destructive
def test_latest_pack_is_the_new_one(authed_http: SmokeClient, ready_pack: dict[str, Any]) -> None:
    """The latest 30-day pack is the one just generated, or newer (GET /api/v1/packs/latest?range=30d)."""
    response = authed_http.get("/api/v1/packs/latest", params={"range": "30d"})
    latest = expect_json(expect_status(response, 200), {"pack_id": is_text, "range": "30d"})
    # Another smoke run (or pytest-xdist worker) with the same account may have generated one since.
    if latest["pack_id"] != ready_pack["pack_id"]:
        newer = datetime.fromisoformat(latest["created_at"]) >= datetime.fromisoformat(ready_pack["created_at"])
        assert newer, f"the latest pack {latest} is older than the one just generated ({ready_pack['pack_id']})"


@pytest.mark.destructive
def test_pack_can_be_read_by_id(authed_http: SmokeClient, ready_pack: dict[str, Any]) -> None:
    """The pack can be read by its id (GET /api/v1/packs/{pack_id})."""
    response = authed_http.get(f"/api/v1/packs/{ready_pack['pack_id']}")
    expected = {"pack_id": ready_pack["pack_id"], "status": "ready", "range": "30d", "summary": is_summary}
    expect_json(expect_status(response, 200), expected)
