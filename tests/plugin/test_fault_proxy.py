"""The rehearsal proxy for real: mitmdump with the fault addon in front of a loopback service, seen by a client.

Each fault kind is checked from the client's side (what httpx or a WebSocket client gets), and
the fired-fault log is checked to say what fired.  The command line's own errors are one line.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import connect

from tests.doc_pages import DOCS, fenced_blocks
from tests.fix_proxy import FaultProxy, mitmdump_path
from tests.fix_servers import serve_in_thread

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

HEALTH = {"status": "ok", "version": "2.4.0", "deps": {"db": "ok"}}
STREAM_MESSAGES = 20


async def health(request: Request) -> JSONResponse:
    return JSONResponse(HEALTH, headers={"X-Frame-Options": "DENY"})


async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    for n in range(STREAM_MESSAGES):
        await websocket.send_json({"n": n})
        await asyncio.sleep(0.1)  # 2 s in all: longer than the silence a test waits through
    await websocket.close()


APP = Starlette(routes=[Route("/health", health), WebSocketRoute("/stream", stream)])


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, mitm_confdir: Path) -> Iterator[FaultProxy]:
    with serve_in_thread(APP, "fault-proxy-upstream") as upstream:
        proxy = FaultProxy(upstream, tmp_path_factory.mktemp("fault-proxy"), mitm_confdir)
        try:
            yield proxy
        finally:
            proxy.stop()


def get(proxy: FaultProxy, path: str = "/health") -> httpx.Response:
    with httpx.Client(base_url=proxy.url, timeout=10) as client:
        return client.get(path)


def read(proxy: FaultProxy, count: int, timeout: float = 5) -> list[Any]:
    """Up to *count* messages from /stream through the proxy; what ended it last (an exception) if it ended early."""
    got: list[Any] = []
    ws_url = proxy.url.replace("http://", "ws://") + "/stream"
    with connect(ws_url, open_timeout=10, close_timeout=2) as websocket:
        try:
            for _ in range(count):
                got.append(json.loads(websocket.recv(timeout=timeout)))
        except (ConnectionClosedError, TimeoutError) as exc:
            got.append(exc)
    return got


def test_no_fault_passes_everything_untouched(proxy: FaultProxy) -> None:
    proxy.set_faults([])
    response = get(proxy)
    assert (response.status_code, response.json(), response.headers["x-frame-options"]) == (200, HEALTH, "DENY")
    assert read(proxy, 3) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert proxy.fired() == []


def test_status_answers_in_the_services_place(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "GET /health", "kind": "status", "status": 502, "body": "bad gateway"}])
    response = get(proxy)
    assert (response.status_code, response.text) == (502, "bad gateway")
    (fired,) = proxy.fired()
    assert (fired["fault"], fired["kind"], fired["call"]) == ("status GET /health", "status", "GET /health")
    assert get(proxy, "/health?token=s3cr3t").status_code == 502  # the query is not matched ...
    assert proxy.fired()[-1]["call"] == "GET /health?..."  # ... nor logged: it can hold a secret
    assert get(proxy, "/nowhere").status_code == 404  # nor is another path


def test_delay_holds_the_request(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "delay", "seconds": 1.5}])
    started = time.monotonic()
    response = get(proxy)
    assert response.status_code == 200 and time.monotonic() - started >= 1.5
    assert proxy.fired()[0]["detail"] == "held 1.5 s"


def test_reset_drops_the_connection_without_an_answer(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "reset"}])
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        get(proxy)


def test_truncate_sends_half_the_body_and_closes(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "truncate"}])
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
        get(proxy)


def test_invalid_json_is_a_complete_answer_that_does_not_parse(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "invalid_json"}])
    response = get(proxy)
    assert response.status_code == 200 and len(response.content) == len(json.dumps(HEALTH, separators=(",", ":"))) // 2
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_json_fields_change_while_the_status_stays_200(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "json", "set": {"status": "degraded"}, "remove": ["version"]}])
    response = get(proxy)
    assert (response.status_code, response.json()) == (200, {"status": "degraded", "deps": {"db": "ok"}})
    assert proxy.fired()[0]["detail"] == "status='degraded', version removed"


def test_a_json_path_that_is_not_there_is_logged_as_not_fired(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "json", "remove": ["uptime"]}])
    assert get(proxy).json() == HEALTH
    assert proxy.fired() == []
    (entry,) = [entry for entry in proxy.entries() if entry["event"] == "not fired"]
    assert "no 'uptime'" in entry["detail"]


def test_headers_are_removed_and_added(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "headers", "remove": ["X-Frame-Options"], "set": {"Server": "x/1"}}])
    response = get(proxy)
    assert "x-frame-options" not in response.headers and response.headers["server"] == "x/1"


def test_rate_after_and_times_pick_the_same_calls_every_time(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "status", "rate": 0.5, "after": 2, "times": 2}])
    assert [get(proxy).status_code for _ in range(8)] == [200, 200, 200, 503, 200, 503, 200, 200]
    assert len(proxy.fired()) == 2


def test_ws_close_sends_the_code_after_n_messages(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "WS /stream", "kind": "ws_close", "code": 1011, "reason": "boom", "after": 1}])
    first, ended = read(proxy, 5)
    assert first == {"n": 0}
    assert isinstance(ended, ConnectionClosedError) and ended.rcvd is not None
    assert (ended.rcvd.code, ended.rcvd.reason) == (1011, "boom")
    assert proxy.fired()[0]["call"] == "WS /stream"


def test_the_rehearse_pages_stream_rules_close_after_one_message(proxy: FaultProxy) -> None:
    """docs/rehearse.md's stream rules file, as the page shows it."""
    (block,) = [block for block in fenced_blocks(DOCS / "rehearse.md", "toml") if "WS /stream" in block]
    proxy.set_faults(tomllib.loads(block)["fault"])
    first, ended = read(proxy, 5)
    assert first == {"n": 0} and isinstance(ended, ConnectionClosedError)
    assert ended.rcvd is not None and ended.rcvd.code == 1011


def test_ws_silence_keeps_the_connection_open_and_quiet(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "WS /stream", "kind": "ws_silence", "after": 2}])
    got = read(proxy, 4, timeout=1)
    assert got[:2] == [{"n": 0}, {"n": 1}] and isinstance(got[2], TimeoutError)


def test_ws_delay_holds_each_message(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "WS /stream", "kind": "ws_delay", "seconds": 0.5, "times": 2}])
    started = time.monotonic()
    assert read(proxy, 3) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert time.monotonic() - started >= 1.0
    assert [entry["detail"] for entry in proxy.fired()] == ["held message 1 for 0.5 s", "held message 2 for 0.5 s"]


def test_a_broken_rules_file_injects_nothing_and_says_why(proxy: FaultProxy) -> None:
    proxy.set_faults([{"match": "/health", "kind": "explode"}])
    assert get(proxy).status_code == 200
    (error,) = [entry for entry in proxy.entries() if entry["event"] == "error"]
    assert "kind is 'explode'" in error["detail"]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "pytest_deploysmoke.faults", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)


def test_the_command_refuses_a_bad_rules_file_in_one_line(tmp_path: Path) -> None:
    rules = tmp_path / "faults.toml"
    rules.write_text('[[fault]]\nmatch = "/x"\nkind = "delay"\n', encoding="utf-8")
    done = run_cli("--upstream", "http://127.0.0.1:9", "--faults", str(rules), "--mitmdump", mitmdump_path())
    assert done.returncode == 2
    assert (
        done.stderr == f"deploysmoke faults: {rules}: fault 1: kind 'delay' needs seconds (how long to hold each one)\n"
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--upstream", "ftp://x"), "--upstream 'ftp://x' is not an http(s) URL"),
        (("--upstream", "http://x", "--listen", "8080"), "--listen '8080' is not HOST:PORT"),
        (("--upstream", "http://x", "--mitmdump", "/nonexistent/mitmdump"), "is not an executable file"),
    ],
)
def test_the_commands_usage_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    rules = tmp_path / "faults.toml"
    rules.write_text("", encoding="utf-8")
    done = run_cli(*args, "--faults", str(rules))
    assert done.returncode == 2 and says in done.stderr and done.stderr.count("\n") == 1, done.stderr


def test_print_shows_the_mitmdump_command(tmp_path: Path) -> None:
    rules = tmp_path / "faults.toml"
    rules.write_text("", encoding="utf-8")
    done = run_cli("--upstream", "https://api.example.com/", "--faults", str(rules), "--print", "--", "--ssl-insecure")
    assert done.returncode == 0, done.stderr
    shown = done.stdout.split()
    assert shown[:3] == ["mitmdump", "--mode", "reverse:https://api.example.com"]
    assert "127.0.0.1" in shown and "8080" in shown and shown[-1] == "--ssl-insecure"
