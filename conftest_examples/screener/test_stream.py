"""Live prices: the ticker stream's updates, their agreement with the REST tickers, fresh tickers, the fallback."""

from __future__ import annotations

import itertools
import math
import time
from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import SmokeWebSocket, Target, WsConnect, expect_json, expect_status

if TYPE_CHECKING:
    import httpx

    from pytest_deploysmoke import AsyncSmokeClient, SmokeClient  # the types of ahttp and http

pytestmark = pytest.mark.phase("features")

TICKERS_WS = "/ws/tickers/krw"
TICKERS = "/api/markets/krw/tickers"
UPDATES = 5
UPDATES_WITHIN = 2.5  # seconds; the stream sends the current tick at once, then one every 250 ms: 1 s
#: Ticks are stamped when they are made, not when each price moved: half a second of slack.
TICK_SLACK_S = 0.5
#: The tickers cache keeps a tick for up to 3 s; with a tick every 250 ms and some clock skew
#: between the runner and the service, a good deploy's tickers are never older than this.
FRESH_WITHIN_S = 5.0
#: How long the same tick may be served: the tickers cache's 3 s TTL, and 1.5 s to spare.
SAME_TICK_AT_MOST_S = 4.5
#: A streamed tick and the REST tick of the same market, both stamped by the service: the REST one
#: comes from the 3 s tickers cache, the streamed ones from the time it took to read them (measured).
#: Further apart than that and 2 s to spare, one side's timestamps are wrong (or its data is stale).
TICKERS_CACHE_S = 3.0
APART_SPARE_S = 2.0
SHOWN = 3


def is_update(message: Any) -> bool:
    """A tick of the stream: every market's price at one moment."""
    if not isinstance(message, dict) or message.get("type") != "tickers":
        return False
    tickers = message.get("tickers")
    return isinstance(tickers, list) and bool(tickers) and all(is_ticker(ticker) for ticker in tickers)


def is_list(value: object) -> bool:
    return isinstance(value, list) and len(value) > 0


def is_ticker(value: Any) -> bool:
    """A ticker: a KRW market, its price, and the time of that price in milliseconds."""
    if not isinstance(value, dict):
        return False
    market, price, stamp = value.get("market"), value.get("trade_price"), value.get("timestamp")
    return (
        isinstance(market, str)
        and market.startswith("KRW-")
        and isinstance(price, (int, float))
        and price > 0
        and isinstance(stamp, int)
        and stamp > 1_600_000_000_000
    )


def tickers_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The tickers of a 200 answer of GET /api/markets/krw/tickers, each checked for its shape."""
    expect_status(response, 200)
    count = len(expect_json(response, {"tickers": is_list})["tickers"])
    tickers: list[dict[str, Any]] = expect_json(response, {"tickers": [is_ticker] * count})["tickers"]
    return tickers


def read_tickers(http: SmokeClient, deploy_target: Target) -> list[dict[str, Any]]:
    # A data check's calls are held to the target's timeout only: a slow answer is the
    # performance checks' finding, not a data integrity failure.
    return tickers_of(http.get(TICKERS, budget=deploy_target.timeout))


def possible_move(per_second: float, seconds: float) -> float:
    """How far a price may move in *seconds* at *per_second*, compounded; inf where that overflows a float."""
    try:
        return math.expm1(math.log1p(per_second) * seconds)
    except OverflowError:
        return math.inf


async def updates(ws: SmokeWebSocket, count: int, within: float) -> list[dict[str, Any]]:
    """The next *count* updates, all within *within* seconds."""
    deadline = time.monotonic() + within
    received: list[dict[str, Any]] = [await ws.first(is_update, within=within)]
    while len(received) < count:
        left = round(deadline - time.monotonic(), 1)  # rounded: the failure line shows it
        received.append(await ws.first(is_update, within=max(left, 0.1)))
    return received


@pytest.mark.asyncio
async def test_stream_delivers_several_updates(ws_connect: WsConnect) -> None:
    """The ticker stream delivers 5 updates within 2.5 s, each a newer tick (WebSocket /ws/tickers/krw)."""
    async with ws_connect(TICKERS_WS) as ws:
        received = await updates(ws, UPDATES, UPDATES_WITHIN)
    seqs = [update.get("seq") for update in received]
    assert all(isinstance(a, int) and isinstance(b, int) and a < b for a, b in itertools.pairwise(seqs)), (
        f"WS {TICKERS_WS}: the updates are not newer ticks one after another: seq {seqs}"
    )


@pytest.mark.asyncio
@pytest.mark.rollback("data integrity")
async def test_stream_agrees_with_rest_tickers(
    ws_connect: WsConnect, ahttp: AsyncSmokeClient, deploy_target: Target, max_price_move: float
) -> None:
    """The stream's prices agree with GET /api/markets/krw/tickers, allowing for how far prices move between them.

    Each streamed price is compared with the REST price of the same market.  They may differ by
    ``vars.max_price_move_per_second``, compounded over the time between their two timestamps
    (plus half a second for when ticks fall): the REST answer comes from a cache up to 3 s old.
    Timestamps further apart than that cache, the time the updates took and 2 s to spare are a
    disagreement of their own (a wrong clock or stale data), named with both timestamps.
    The stand-in moves each price by at most 0.04 % per 250 ms tick, under 0.2 % a second, so
    its 0.002 always holds for a good deploy, while a price from another market, a stale
    subscription or a misplaced decimal point is far outside it.  The calls are held to the
    target's timeout only: speed is the performance checks' finding.
    """
    rest = {ticker["market"]: ticker for ticker in tickers_of(await ahttp.get(TICKERS, budget=deploy_target.timeout))}
    started = time.monotonic()
    async with ws_connect(TICKERS_WS, budget=deploy_target.timeout) as ws:
        received = await updates(ws, UPDATES, UPDATES_WITHIN)
    apart_at_most = TICKERS_CACHE_S + (time.monotonic() - started) + TICK_SLACK_S + APART_SPARE_S
    problems = []
    disagreeing: set[str] = set()  # a market is named once, for its first update that disagrees
    for update in received:
        streamed = {ticker["market"]: ticker for ticker in update["tickers"]}
        if streamed.keys() != rest.keys():
            only_ws, only_rest = sorted(streamed.keys() - rest.keys()), sorted(rest.keys() - streamed.keys())
            problems.append(f"seq {update.get('seq')} streams {only_ws or 'no extra markets'}, lacks {only_rest}")
            continue
        for market, ticker in streamed.items():
            if market in disagreeing:
                continue
            apart_s = abs(ticker["timestamp"] - rest[market]["timestamp"]) / 1000
            if apart_s > apart_at_most:
                problems.append(
                    f"{market} stamped {ticker['timestamp']} (WS) vs {rest[market]['timestamp']} (REST), "
                    f"{apart_s:.6g} s apart where at most {apart_at_most:.1f} s is possible"
                )
                disagreeing.add(market)
                continue
            allowed = possible_move(max_price_move, apart_s + TICK_SLACK_S)
            moved = abs(ticker["trade_price"] / rest[market]["trade_price"] - 1)
            if moved > allowed:
                problems.append(
                    f"{market} {ticker['trade_price']:.8g} (WS) vs {rest[market]['trade_price']:.8g} (REST), "
                    f"{moved:.2%} apart over {apart_s:.1f} s where at most {allowed:.2%} is possible"
                )
                disagreeing.add(market)
    shown = "; ".join(problems[:SHOWN]) + (f"; and {len(problems) - SHOWN} more" if len(problems) > SHOWN else "")
    assert not problems, (
        f"WS {TICKERS_WS} and GET {TICKERS} disagree: {shown} "
        f"(at most {max_price_move:.2%} a second, vars.max_price_move_per_second)"
    )


@pytest.mark.rollback("data integrity")
def test_tickers_are_fresh(http: SmokeClient, deploy_target: Target) -> None:
    """Ticker data is fresh: tickers are under 5 s old, and a newer tick comes once the 3 s tickers cache expires.

    A ticker stamped more than 5 s in the future fails too: a wrong clock or a wrong unit.
    """
    first = read_tickers(http, deploy_target)
    now_ms = time.time() * 1000
    ages = {ticker["market"]: (now_ms - ticker["timestamp"]) / 1000 for ticker in first}
    old = {market: age for market, age in ages.items() if age > FRESH_WITHIN_S}
    assert not old, (
        f"GET {TICKERS} serves tickers older than {FRESH_WITHIN_S:g} s: "
        + ", ".join(f"{market} {age:.1f} s" for market, age in sorted(old.items()))
        + "; is the ticker feed stuck, or the runner's clock off?"
    )
    ahead = {market: -age for market, age in ages.items() if -age > FRESH_WITHIN_S}
    assert not ahead, (
        f"GET {TICKERS} serves tickers stamped more than {FRESH_WITHIN_S:g} s in the future: "
        + ", ".join(f"{market} {ahead_s:.6g} s ahead" for market, ahead_s in sorted(ahead.items()))
        + "; are the timestamps in milliseconds, and the service's clock (or the runner's) right?"
    )
    newest = max(ticker["timestamp"] for ticker in first)
    started = time.monotonic()
    while time.monotonic() - started < SAME_TICK_AT_MOST_S:
        time.sleep(0.25)
        if max(ticker["timestamp"] for ticker in read_tickers(http, deploy_target)) > newest:
            return
    pytest.fail(
        f"GET {TICKERS} served the same tick for {time.monotonic() - started:.1f} s "
        f"(now {time.time() - newest / 1000:.1f} s old), past the tickers cache's 3 s TTL: prices are stale; "
        "is the tickers cache written without its TTL?",
        pytrace=False,
    )


def test_polling_fallback_serves_every_market(http: SmokeClient, deploy_target: Target, krw_markets: set[str]) -> None:
    """Fallback: when the WebSocket is down, the polling endpoint GET /api/markets/krw/tickers serves every market.

    Clients poll it every second while /ws/tickers/krw is unreachable; it shares nothing with the
    stream but the feed, so it still serves when the stream does not (see the ws_refuse fault).
    """
    missing = sorted(krw_markets - {ticker["market"] for ticker in read_tickers(http, deploy_target)})
    assert not missing, f"GET {TICKERS} has no price for {', '.join(missing)}; clients polling it lose those markets"
