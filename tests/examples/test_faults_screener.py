"""The screener suite, proven from outside: each fault a real proxy injects between it and its stand-in is caught.

One stand-in and one proxy serve the module; each case swaps the proxy's rules and runs the whole
checklist through it (tests/fix_proxy.py).  The cases are the table "Faults from outside" in
docs/examples/screener.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fix_examples import replace_budgets
from tests.fix_proxy import Case, Rehearsal, rehearsal
from tests.fix_services import delete_keys

MARKETS_BUDGET = '"GET /api/markets/krw" = ["500ms", "1s"]'
TICKERS_BUDGET = '"GET /api/markets/krw/tickers" = ["500ms", "1s"]'
STREAM_BUDGET = '"WS /ws/tickers/krw" = ["100ms", "500ms"]'
#: The checklist's budgets, for the one target whose runs are about speed.
STRICT: dict[str, Any] = {
    "budgets": {
        "GET /api/markets/krw": ["500ms", "1s"],
        "GET /api/markets/krw/tickers": ["500ms", "1s"],
        "GET /api/screener/symbols": ["2s", "5s"],
        "POST /api/screener/filter": ["2s", "5s"],
        "WS /ws/tickers/krw": ["100ms", "500ms"],
    }
}
TICKERS = "GET /api/markets/krw/tickers"
STREAM = "WS /ws/tickers/krw"
AGREEMENT = "test_stream_agrees_with_rest_tickers"


def loosen(project: Path) -> None:
    """Budgets of seconds for the runs not about speed: the proxy adds its own milliseconds."""
    replace_budgets(
        project / "deploysmoke.toml",
        (MARKETS_BUDGET, '"GET /api/markets/krw" = ["10s", "20s"]'),
        (TICKERS_BUDGET, '"GET /api/markets/krw/tickers" = ["10s", "20s"]'),
        (STREAM_BUDGET, '"WS /ws/tickers/krw" = ["10s", "20s"]'),
    )
    replace_budgets(project / "test_health.py", ('budget="1s"', 'budget="10s"'))
    replace_budgets(
        project / "test_performance.py",
        ('budget=("100ms", "500ms")', 'budget=("10s", "20s")'),
        ('assert stats.p95 < "1s"', 'assert stats.p95 < "20s"'),
    )


@pytest.fixture(scope="module")
def screener(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mitm_confdir: Path) -> Iterator[Rehearsal]:
    workdir = tmp_path_factory.mktemp("screener-faults")
    prefix = f"screener-faults-{uuid.uuid4().hex[:10]}:"
    env = {"REDIS_URL": redis_url, "SCREENER_REDIS_PREFIX": prefix, "SCREENER_FAULTS": "", "APP_VERSION": ""}
    try:
        with rehearsal("screener", workdir, env, mitm_confdir, prepare=loosen, targets={"strict": STRICT}) as screener:
            yield screener
    finally:
        delete_keys(redis_url, prefix)


CASES = [
    pytest.param(
        Case(({"match": "GET /health", "kind": "status", "status": 503},), "test_health_answers_200", ("503",)),
        id="health-503",
    ),
    pytest.param(
        Case(
            ({"match": "GET /health", "kind": "json", "set": {"status": "degraded"}},),
            "test_health_answers_200",
            ("$.status", "degraded"),
        ),
        id="health-degraded-at-200",
    ),
    pytest.param(
        Case(
            ({"match": "GET /health", "kind": "json", "set": {"version": "2.3.9"}},),
            "test_health_reports_the_release_version",
            ("2.3.9",),
        ),
        id="health-old-version",
    ),
    pytest.param(
        Case(
            ({"match": "GET /health", "kind": "json", "set": {"feed.age_ms": 60000}},),
            "test_health_reports_redis_and_a_live_feed",
            ("$.feed.age_ms", "60000"),
        ),
        id="health-feed-stopped",
    ),
    pytest.param(
        # A REST ticker stamped in 2286: far from the stream's; this once crashed the check with an OverflowError.
        Case(
            ({"match": TICKERS, "kind": "json", "set": {"tickers.0.timestamp": 9_999_999_999_999}},),
            AGREEMENT,
            ("9999999999999 (REST)", "s apart where at most"),
            decision="ROLLBACK",
        ),
        id="tickers-timestamp-far-off",
    ),
    pytest.param(
        # A misplaced decimal point in one REST price.
        Case(
            ({"match": TICKERS, "kind": "json", "set": {"tickers.0.trade_price": 0.5}},),
            AGREEMENT,
            ("0.5 (REST)", "where at most"),
            decision="ROLLBACK",
        ),
        id="tickers-price-wrong",
    ),
    pytest.param(
        Case(
            ({"match": "POST /api/screener/filter", "kind": "json", "set": {"symbols": ["KRW-NOPE"]}},),
            "test_filter_results_satisfy_the_filter",
            ("KRW-NOPE",),
            decision="ROLLBACK",
        ),
        id="filter-returns-unknown-symbol",
    ),
    pytest.param(
        # The data check's rollback mark is for wrong data; a filter that does not answer is a NO-GO.
        Case(
            ({"match": "POST /api/screener/filter", "kind": "status", "status": 500},),
            "test_filter_results_satisfy_the_filter",
            ("/api/screener/filter", "500"),
        ),
        id="filter-500",
    ),
    pytest.param(
        Case(
            ({"match": "GET /api/markets/krw", "kind": "json", "set": {"0.market": "USDT-BTC"}},),
            "test_krw_markets_are_listed",
            ("USDT-BTC",),
        ),
        id="markets-not-krw",
    ),
    pytest.param(
        Case(
            ({"match": "GET /api/screener/symbols", "kind": "truncate", "times": 1},),
            "test_screener_cache_has_its_ttl",
            ("/api/screener/symbols",),
        ),
        id="symbols-truncated",
    ),
    pytest.param(
        Case(
            ({"match": TICKERS, "kind": "invalid_json"},),
            "test_polling_fallback_serves_every_market",
            ("/api/markets/krw/tickers", "not valid JSON"),
        ),
        id="tickers-invalid-json",
    ),
    pytest.param(
        Case(
            ({"match": "GET /api/markets/krw", "kind": "delay", "seconds": 2, "times": 1},),
            "test_markets_cache_has_its_ttl",
            ("/api/markets/krw", "1.00 s"),
            target="strict",
        ),
        id="markets-slow",
    ),
    pytest.param(
        # A third of the markets calls fail: the performance samples and the load probe's, over error_rate's 5%.
        Case(
            ({"match": "GET /api/markets/krw", "kind": "status", "status": 503, "rate": 0.34},),
            None,
            ("error_rate",),
            decision="ROLLBACK",
        ),
        id="markets-a-third-503",
    ),
    pytest.param(
        Case(
            ({"match": STREAM, "kind": "ws_close", "code": 1011, "after": 2},),
            "test_stream_delivers_several_updates",
            ("/ws/tickers/krw", "code 1011", "after 2 messages"),
        ),
        id="ws-close-1011-after-2",
    ),
    pytest.param(
        Case(
            ({"match": STREAM, "kind": "ws_silence", "after": 1},),
            "test_stream_delivers_several_updates",
            ("/ws/tickers/krw", "no matching message"),
        ),
        id="ws-silent-after-first-message",
    ),
    pytest.param(
        Case(
            ({"match": STREAM, "kind": "ws_delay", "seconds": 1},),
            "test_stream_delivers_several_updates",
            ("/ws/tickers/krw", "within"),
        ),
        id="ws-delay-1s",
    ),
    pytest.param(
        Case(
            ({"match": "/ws/tickers/krw", "kind": "status", "status": 403},),
            "test_stream_delivers_several_updates",
            ("/ws/tickers/krw", "403"),
        ),
        id="ws-refused-403",
    ),
]


def test_a_good_deploy_through_the_proxy_is_go(screener: Rehearsal) -> None:
    """The proxy itself changes nothing: with no fault, the suite's verdict is GO."""
    screener.assert_go()


@pytest.mark.parametrize("case", CASES)
def test_each_fault_is_caught(screener: Rehearsal, case: Case) -> None:
    screener.rehearse(case)
