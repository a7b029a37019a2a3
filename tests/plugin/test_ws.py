"""The ws_connect fixture against a real WebSocket server (uvicorn), with every failure mode."""

from __future__ import annotations

import pytest

from tests.apps.api import USER_EMAIL, USER_PASSWORD
from tests.fix_pytester import recorded_calls


def ws_toml(url: str) -> str:
    return (
        f'[targets.t]\nbase_url = "{url}"\ntimeout = 2.0\n'
        f'[targets.t.auth]\nlogin_path = "/api/v1/auth/login"\nusername = "{USER_EMAIL}"\n'
        f'password = "{USER_PASSWORD}"\nusername_field = "email"\n'
    )


def run(pytester: pytest.Pytester, api_url: str, body: str) -> pytest.RunResult:
    pytester.makefile(".toml", deploysmoke=ws_toml(api_url))
    pytester.makepyfile(test_ws="import pytest\n\n" + body)
    return pytester.runpytest("--deploy-target=t")


def test_first_matching_message_and_records(pytester: pytest.Pytester, api_url: str) -> None:
    """ws.first waits for a message that matches; the open and the first message are recorded."""
    pytester.makefile(".toml", deploysmoke=ws_toml(api_url))
    pytester.makepyfile(
        test_ws="""
        import pytest

        @pytest.mark.asyncio
        async def test_ticker(ws_connect):
            async with ws_connect("/ws/tickers/krw") as ws:
                ticker = await ws.first(lambda m: m.get("type") == "ticker", within=2)
                assert ticker["symbol"] == "KRW-BTC"
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = [(call["kind"], call["action"], call["outcome"]) for call in recorded_calls(reprec)]
    assert calls == [("ws", "connect /ws/tickers/krw", "open"), ("ws", "first message /ws/tickers/krw", "ok")]


def test_auth_sends_the_token(pytester: pytest.Pytester, api_url: str) -> None:
    """auth=True logs in and sends the bearer token with the handshake."""
    result = run(
        pytester,
        api_url,
        "@pytest.mark.asyncio\nasync def test_auth(ws_connect):\n"
        "    async with ws_connect('/ws/tickers/krw?auth=1', auth=True) as ws:\n"
        "        assert (await ws.recv_json())['type'] == 'hello'\n",
    )
    result.assert_outcomes(passed=1)


def test_closed_before_first_message(pytester: pytest.Pytester, api_url: str) -> None:
    """A stream the server closes at once fails with the close code and reason."""
    result = run(
        pytester,
        api_url,
        "@pytest.mark.asyncio\nasync def test_closed(ws_connect):\n"
        "    async with ws_connect('/ws/close-immediately') as ws:\n        await ws.recv()\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "WS /ws/close-immediately: closed by the server with code 1011 (upstream unavailable) "
            "after * ms, before the first message; the server's logs say why"
        ]
    )


def test_unauthorised_stream_closes_with_its_code(pytester: pytest.Pytester, api_url: str) -> None:
    """Without auth the stand-in closes with 4401, and the message says so."""
    result = run(
        pytester,
        api_url,
        "@pytest.mark.asyncio\nasync def test_closed(ws_connect):\n"
        "    async with ws_connect('/ws/tickers/krw?auth=1') as ws:\n        await ws.first()\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["WS /ws/tickers/krw?auth=1: closed by the server with code 4401*before the first message; *"]
    )


def test_silent_stream_times_out(pytester: pytest.Pytester, api_url: str) -> None:
    """A stream that never sends fails after the deadline with the count of messages seen."""
    result = run(
        pytester,
        api_url,
        "@pytest.mark.asyncio\nasync def test_silent(ws_connect):\n"
        "    async with ws_connect('/ws/silent') as ws:\n        await ws.first(within=0.3)\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["WS /ws/silent: no matching message within 0.3 s (0 messages received); is the stream publishing?"]
    )


def test_a_stream_that_goes_quiet_says_how_many_came_before(pytester: pytest.Pytester, api_url: str) -> None:
    """A wait that sees nothing on a connection that had messages counts those too: the stream went quiet."""
    result = run(
        pytester,
        api_url,
        "@pytest.mark.asyncio\nasync def test_quiet(ws_connect):\n"
        "    async with ws_connect('/ws/echo') as ws:\n"
        "        await ws.send_json({'n': 1})\n        await ws.first(within=5)\n        await ws.first(within=0.3)\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "WS /ws/echo: no matching message within 0.3 s (0 messages received in this wait, 1 before it); "
            "the stream went quiet after 1 messages: is it still publishing?"
        ]
    )


def test_no_match_shows_the_last_message(pytester: pytest.Pytester, api_url: str) -> None:
    """When messages arrive but none matches, the failure shows the last one."""
    result = run(
        pytester,
        api_url,
        "@pytest.mark.asyncio\nasync def test_nomatch(ws_connect):\n"
        "    async with ws_connect('/ws/tickers/krw') as ws:\n"
        "        await ws.first(lambda m: m.get('symbol') == 'KRW-DOGE', within=0.3)\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "WS /ws/tickers/krw: no matching message within 0.3 s (* messages received; last message: {*KRW-BTC*; check the condition, or wait longer with within="
        ]
    )


def test_refused_connection(pytester: pytest.Pytester, closed_port: int) -> None:
    """A WebSocket server that is not listening fails with 'connection refused'."""
    result = run(
        pytester,
        f"http://127.0.0.1:{closed_port}",
        "@pytest.mark.asyncio\nasync def test_open(ws_connect):\n"
        "    async with ws_connect('/ws/tickers/krw'):\n        pass\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["WS /ws/tickers/krw: connection refused after * ms; is the stream up and ws_url right?"]
    )


def test_handshake_refused(pytester: pytest.Pytester, api_url: str) -> None:
    """A path that is not a WebSocket endpoint fails with the HTTP status of the handshake."""
    result = run(
        pytester,
        api_url,
        "@pytest.mark.asyncio\nasync def test_open(ws_connect):\n    async with ws_connect('/ws/nope'):\n        pass\n",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["WS /ws/nope: handshake refused with HTTP 403 after * ms*"])


@pytest.mark.parametrize(
    ("opening", "action"),
    [
        ("async with ws_connect('/ws/tickers/krw', budget='0ms') as ws:\n        pass", "connect /ws/tickers/krw"),
        (
            "async with ws_connect('/ws/tickers/krw') as ws:\n        await ws.first(within=2, budget=('0ms', '0ms'))",
            "message /ws/tickers/krw",
        ),
    ],
    ids=["open", "first-message"],
)
def test_websocket_over_its_budget_fails(pytester: pytest.Pytester, api_url: str, opening: str, action: str) -> None:
    """budget= on the open or on ws.first holds that step to a limit: over it fails, naming the step."""
    result = run(pytester, api_url, f"@pytest.mark.asyncio\nasync def test_fast(ws_connect):\n    {opening}\n")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"*WS {action} took * ms, over its budget of 0.0 ms; is it slower since this deploy, or is the budget too tight?"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_websocket_budget_from_config_warns_over_its_target(pytester: pytest.Pytester, api_url: str) -> None:
    """[budgets] "WS /path" = [target, limit] applies to opens of that path; over the target is a warning."""
    toml = ws_toml(api_url) + '[targets.t.budgets]\n"WS /ws/tickers/krw" = ["0ms", "10s"]\n'
    pytester.makefile(".toml", deploysmoke=toml)
    pytester.makepyfile(
        test_ws="import pytest\n\n@pytest.mark.asyncio\nasync def test_open(ws_connect):\n"
        "    async with ws_connect('/ws/tickers/krw?x=1') as ws:\n        await ws.first(within=2)\n"
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    opened = recorded_calls(reprec)[0]
    assert (opened["action"], opened["target_ms"], opened["budget_ms"]) == ("connect /ws/tickers/krw?x=1", 0.0, 10000.0)
    result = pytester.runpytest("--deploy-target=t")
    result.stdout.fnmatch_lines(
        ["deploysmoke verdict: GO with warnings: Open: connect /ws/tickers/krw?x=1 took * ms, over its 0 ms target*"]
    )


def test_sent_messages_are_recorded(pytester: pytest.Pytester, api_url: str) -> None:
    """A message the check sends is a call of its own, between the open and what came back."""
    pytester.makefile(".toml", deploysmoke=ws_toml(api_url))
    pytester.makepyfile(
        test_ws="""
        import pytest

        @pytest.mark.asyncio
        async def test_subscribe(ws_connect):
            async with ws_connect("/ws/tickers/krw") as ws:
                await ws.send_json({"subscribe": ["KRW-BTC"]})
                await ws.first(lambda m: m.get("type") == "ticker", within=2)
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = [(call["kind"], call["action"], call["outcome"], call["ok"]) for call in recorded_calls(reprec)]
    assert calls == [
        ("ws", "connect /ws/tickers/krw", "open", True),
        ("ws", "send /ws/tickers/krw", "ok", True),
        ("ws", "first message /ws/tickers/krw", "ok", True),
    ]
