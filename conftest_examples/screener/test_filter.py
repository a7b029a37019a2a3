"""The screener's filter: what it returns really satisfies the filter, by the indicator data the API itself serves."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http

pytestmark = pytest.mark.phase("features")

FILTER = "/api/screener/filter"
SYMBOLS = "/api/screener/symbols"
INDICATORS = "/api/screener/indicators"
RSI_UNDER_30 = {"conditions": [{"indicator": "rsi_14", "op": "<", "value": 30}]}
#: The filter and the indicators both read the screener's snapshot, renewed every 60 s; when it
#: is renewed between the two requests, they are asked again.
SNAPSHOT_TRIES = 3
SHOWN = 3  # symbols named per kind of mismatch; the rest are counted


def is_text(value: object) -> bool:
    return isinstance(value, str) and value != ""


def is_symbol_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(symbol, str) for symbol in value)


def is_indicator_table(value: object) -> bool:
    """Each symbol's indicators, with a numeric rsi_14."""
    return isinstance(value, dict) and all(
        isinstance(row, dict) and isinstance(row.get("rsi_14"), (int, float)) for row in value.values()
    )


def listed(rsi: dict[str, float], symbols: list[str]) -> str:
    shown = ", ".join(f"{symbol} (rsi_14 {rsi[symbol]:g})" for symbol in symbols[:SHOWN])
    return shown + (f" and {len(symbols) - SHOWN} more" if len(symbols) > SHOWN else "")


def screen_with_indicators(http: SmokeClient, timeout: float) -> tuple[list[str], dict[str, Any]]:
    """The filter's answer for RSI < 30 and every symbol's indicators, both from the same snapshot."""
    symbols = expect_json(expect_status(http.get(SYMBOLS, budget=timeout), 200), {"symbols": is_symbol_list})
    for _ in range(SNAPSHOT_TRIES):
        response = expect_status(http.post(FILTER, json=RSI_UNDER_30, budget=timeout), 200)
        screened = expect_json(response, {"as_of": is_text, "symbols": is_symbol_list})
        params = {"symbols": ",".join(symbols["symbols"])}
        response = expect_status(http.get(INDICATORS, params=params, budget=timeout), 200)
        indicators = expect_json(response, {"as_of": is_text, "indicators": is_indicator_table})
        if screened["as_of"] == indicators["as_of"]:
            return screened["symbols"], indicators["indicators"]
    pytest.fail(
        f"POST {FILTER} and GET {INDICATORS} answered from different snapshots {SNAPSHOT_TRIES} times "
        f"(last: {screened['as_of']} and {indicators['as_of']}); is the screener cache renewed on every request?",
        pytrace=False,
    )


# A POST that only reads: deploysmoke.toml lists it in read_only_requests, so the production guard
# lets this check send it on production too (see README.md).
@pytest.mark.rollback("data integrity")
def test_filter_results_satisfy_the_filter(http: SmokeClient, deploy_target: Target) -> None:
    """Every symbol the filter returns for RSI < 30 has an RSI under 30 by the API's own indicators; none is missing.

    POST /api/screener/filter, then GET /api/screener/indicators for every screened symbol.  The
    calls are held to the target's timeout only: the filter's speed is a performance check.
    """
    returned, indicators = screen_with_indicators(http, deploy_target.timeout)
    rsi = {symbol: float(row["rsi_14"]) for symbol, row in indicators.items()}
    unknown = sorted(set(returned) - rsi.keys())
    assert not unknown, f"POST {FILTER} returned symbols that GET {INDICATORS} does not know: {unknown}"
    wrong = sorted(symbol for symbol in returned if not rsi[symbol] < 30)
    left_out = sorted(symbol for symbol, value in rsi.items() if value < 30 and symbol not in returned)
    problems = []
    if wrong:
        problems.append(f"returned {len(wrong)} that do not satisfy it: {listed(rsi, wrong)}")
    if left_out:
        problems.append(f"left out {len(left_out)} that do: {listed(rsi, left_out)}")
    assert not problems, (
        f"POST {FILTER} for rsi_14 < 30 {'; and '.join(problems)} (by GET {INDICATORS}); "
        "the filter disagrees with the screener's own indicator data"
    )
