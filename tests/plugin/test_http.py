"""The http and ahttp fixtures: recorded, redacted, guarded calls with readable failures."""

from __future__ import annotations

import socket
import socketserver
from collections.abc import Iterator

import pytest

from tests.fix_pytester import recorded_calls
from tests.fix_servers import raw_answer_server, socketserver_in_thread


def target_toml(url: str, extra: str = "", name: str = "t") -> str:
    return f'[targets.{name}]\nbase_url = "{url}"\ntimeout = 2.0\n{extra}\n'


def one_failure_line(result: pytest.RunResult) -> str:
    """The failure text of the only failed check (the line after its header)."""
    lines = result.stdout.lines
    start = next(i for i, line in enumerate(lines) if line.startswith("_____"))
    body = [line for line in lines[start + 1 :] if line.strip() and not line.startswith("[gw")]
    return body[0]


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_calls_are_recorded_with_status_and_time(pytester: pytest.Pytester, api_url: str, flavour: str) -> None:
    """Every request made through http/ahttp is kept for the check: method and path, status, ms."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    if flavour == "sync":
        body = (
            "def test_health(http):\n    assert http.get('/health').status_code == 200\n    http.get('/status/404')\n"
        )
    else:
        body = (
            "import pytest\n\n@pytest.mark.asyncio\nasync def test_health(ahttp):\n"
            "    assert (await ahttp.get('/health')).status_code == 200\n    await ahttp.get('/status/404')\n"
        )
    pytester.makepyfile(test_calls=body)
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = recorded_calls(reprec, "test_health")
    assert [(c["kind"], c["action"], c["outcome"], c["ok"]) for c in calls] == [
        ("http", "GET /health", "200", True),
        ("http", "GET /status/404", "404", False),
    ]
    assert all(isinstance(c["ms"], float) and c["ms"] > 0 for c in calls)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_connection_refused_is_one_line(pytester: pytest.Pytester, closed_port: int, flavour: str) -> None:
    """A refused connection fails the check with what was tried, what came back and the fix."""
    pytester.makefile(".toml", deploysmoke=target_toml(f"http://127.0.0.1:{closed_port}"))
    if flavour == "sync":
        body = "def test_health(http):\n    http.get('/health')\n"
    else:
        body = "import pytest\n\n@pytest.mark.asyncio\nasync def test_health(ahttp):\n    await ahttp.get('/health')\n"
    pytester.makepyfile(test_calls=body)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    line = one_failure_line(result)
    assert line.startswith("GET /health: connection refused after ")
    assert line.endswith(" ms; is the service up and base_url right?")
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.fnmatch_lines(["FAILED test_calls.py::test_health - Failed: GET /health: connection refused*"])


def test_timeout_names_the_target_timeout(pytester: pytest.Pytester, api_url: str) -> None:
    """A call slower than the target's timeout fails with the timeout in the message."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url).replace("timeout = 2.0", "timeout = 0.3"))
    pytester.makepyfile(test_calls="def test_slow(http):\n    http.get('/slow?s=2')\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    line = one_failure_line(result)
    assert line.startswith("GET /slow?s=2: timed out after ")
    assert line.endswith("; the target's timeout is 0.3 s; is the service overloaded, or should timeout be raised?")


def test_server_error_shows_status_and_redacted_excerpt(pytester: pytest.Pytester, api_url: str) -> None:
    """raise_for_status on a 500 shows the status and the start of the body, with passwords masked."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(test_calls="def test_boom(http):\n    http.get('/boom').raise_for_status()\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    line = one_failure_line(result)
    assert line.startswith("GET /boom answered 500 in ")
    assert line.endswith(" ms (Internal Server Error): Internal Server Error: db=postgresql://app:***@db/app")
    assert "leaked-pass" not in result.stdout.str()


def test_malformed_json_shows_the_body(pytester: pytest.Pytester, api_url: str) -> None:
    """response.json() on a truncated body says which call it was and shows the body."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(test_calls="def test_json(http):\n    http.get('/malformed').json()\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    line = one_failure_line(result)
    assert line.startswith("GET /malformed answered 200 in ")
    assert " ms with a body that is not valid JSON (" in line
    assert line.endswith('): {"status": "ok",')


WRITES = """
import pytest

def test_reader(http):
    http.post('/api/v1/items', json={})

@pytest.mark.destructive
def test_writer(http):
    assert http.post('/api/v1/items', json={}).status_code == 201

def test_get_is_fine(http):
    assert http.get('/api/v1/items').status_code == 200

@pytest.mark.asyncio
async def test_async_reader(ahttp):
    await ahttp.delete('/api/v1/items/1')
"""


def test_production_guard_blocks_writes_before_sending(pytester: pytest.Pytester, api_url: str) -> None:
    """On production a POST from a check not marked destructive fails before anything is sent."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url, "production = true", name="prod"))
    pytester.makepyfile(test_calls=WRITES)
    reprec = pytester.inline_run("--deploy-target=prod", "--allow-destructive")
    reprec.assertoutcome(passed=2, failed=2)
    failed = {r.nodeid.split("::")[1]: str(r.longrepr) for r in reprec.getfailures()}
    assert failed == {
        "test_reader": "POST /api/v1/items blocked: target 'prod' is production and the test is not marked destructive (mark it destructive and pass --allow-destructive to let it write)",
        "test_async_reader": "DELETE /api/v1/items/1 blocked: target 'prod' is production and the test is not marked destructive (mark it destructive and pass --allow-destructive to let it write)",
    }
    assert recorded_calls(reprec, "test_reader") == [
        {
            "kind": "http",
            "action": "POST /api/v1/items",
            "outcome": "blocked",
            "ok": False,
            "ms": 0.0,
            "budget_ms": None,
            "attempt": 1,
            "target_ms": None,
            "write": False,
            "warmup": False,
            "retried": False,
            "trace_id": "",  # a blocked call is never sent, so it carries no traceparent
        }
    ]


def test_read_only_requests_pass_the_guard(pytester: pytest.Pytester, api_url: str) -> None:
    """A POST the target declares read-only (a search, a GraphQL query) is sent on production; others are not."""
    toml = target_toml(api_url, "production = true", name="prod").replace(
        "production = true", 'production = true\nread_only_requests = ["POST /api/v1/items"]'
    )
    pytester.makefile(".toml", deploysmoke=toml)
    pytester.makepyfile(
        test_calls="def test_search(http):\n    assert http.post('/api/v1/items?q=x', json={}).status_code == 201\n\n"
        "def test_delete(http):\n    http.delete('/api/v1/items/1')\n"
    )
    reprec = pytester.inline_run("--deploy-target=prod")
    reprec.assertoutcome(passed=1, failed=1)
    (failure,) = reprec.getfailures()
    assert str(failure.longrepr) == (
        "DELETE /api/v1/items/1 blocked: target 'prod' is production and the test is not marked destructive (mark it destructive and pass --allow-destructive to let it write)"
    )


def test_writes_are_free_off_production(pytester: pytest.Pytester, api_url: str) -> None:
    """Off production every check may write."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_calls=WRITES.replace(
            "await ahttp.delete('/api/v1/items/1')",
            "assert (await ahttp.delete('/api/v1/items/1')).status_code == 204",
        )
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=4)


def test_budget_exceeded_names_call_time_and_budget(pytester: pytest.Pytester, api_url: str) -> None:
    """A call over its budget fails with the call, the measured time and the budget."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_calls="""
        import pytest

        def test_call_budget(http):
            http.get('/slow?s=0.3', budget='100ms')

        @pytest.mark.budget(0.1)
        def test_mark_budget(http):
            http.get('/health')
            http.get('/slow?s=0.3')

        def test_within_budget(http):
            http.get('/health', budget='2s')
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1, failed=2)
    for report in reprec.getfailures():
        message = str(report.longrepr)
        assert message.startswith("GET /slow?s=0.3 took "), message
        assert message.endswith(
            ", over its budget of 100 ms (status 200); is it slower since this deploy, or is the budget too tight?"
        ), message
    assert [c["budget_ms"] for c in recorded_calls(reprec, "test_mark_budget")] == [100.0, 100.0]


def test_bad_budget_value_is_a_clear_error(pytester: pytest.Pytester, api_url: str) -> None:
    """budget='fast' fails with the value and the accepted forms."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(test_calls="def test_x(http):\n    http.get('/health', budget='fast')\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ValueError: a duration must be seconds or a string like '100ms' or '1.5s', got 'fast'"]
    )


def test_retries_record_every_attempt(pytester: pytest.Pytester, api_url: str) -> None:
    """With retries = 2 an idempotent request is sent again on 503, and every attempt is recorded."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url, "retries = 2"))
    pytester.makepyfile(
        test_calls="def test_flaky(http):\n    assert http.get('/flaky?key=r1&fail=2').status_code == 200\n"
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = recorded_calls(reprec, "test_flaky")
    assert [(c["outcome"], c["attempt"], c["retried"]) for c in calls] == [
        ("503", 1, True),
        ("503", 2, True),
        ("200", 3, False),
    ]


def test_no_retries_by_default(pytester: pytest.Pytester, api_url: str) -> None:
    """Retries are off by default: the first 503 is what the check sees."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_calls="def test_flaky(http):\n    assert http.get('/flaky?key=r2&fail=1').status_code == 503\n"
    )
    pytester.inline_run("--deploy-target=t").assertoutcome(passed=1)


def test_target_headers_are_sent(pytester: pytest.Pytester, api_url: str) -> None:
    """The target's headers go with every request."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url, 'headers = { "X-Smoke-Run" = "1" }'))
    pytester.makepyfile(
        test_calls="def test_h(http):\n    assert http.get('/api/v1/echo-headers').json()['x-smoke-run'] == '1'\n"
    )
    pytester.inline_run("--deploy-target=t").assertoutcome(passed=1)


def test_untrusted_certificate_is_a_tls_failure(pytester: pytest.Pytester, tls_url: str) -> None:
    """A certificate the runner does not trust fails with 'TLS verification failed' and the fix."""
    pytester.makefile(".toml", deploysmoke=target_toml(tls_url))
    pytester.makepyfile(test_calls="def test_health(http):\n    http.get('/health')\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    line = one_failure_line(result)
    assert line.startswith("GET /health: TLS verification failed (certificate not trusted for this host) after ")
    assert line.endswith(" ms; check the certificate chain, or set verify_tls = false for a self-signed host")


def test_verify_tls_false_accepts_a_self_signed_host(pytester: pytest.Pytester, tls_url: str) -> None:
    """verify_tls = false lets a staging host with a self-signed certificate answer."""
    pytester.makefile(".toml", deploysmoke=target_toml(tls_url, "verify_tls = false"))
    pytester.makepyfile(test_calls="def test_health(http):\n    assert http.get('/health').status_code == 200\n")
    pytester.inline_run("--deploy-target=t").assertoutcome(passed=1)


def test_bad_json_from_elsewhere_is_not_blamed_on_the_last_response(pytester: pytest.Pytester, api_url: str) -> None:
    """A JSONDecodeError whose document is not the last response body keeps pytest's own report."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url))
    pytester.makepyfile(
        test_calls="import json\n\ndef test_x(http):\n    http.get('/health')\n    json.loads('{not json')\n"
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.no_fnmatch_line("*answered 200 with a body that is not valid JSON*")
    result.stdout.fnmatch_lines(["*json.decoder.JSONDecodeError: Expecting property name enclosed in double quotes*"])


def test_poll_until_does_not_retry_a_blocked_write(pytester: pytest.Pytester, api_url: str) -> None:
    """poll_until lets a production-guard refusal through at once instead of polling until the timeout."""
    pytester.makefile(".toml", deploysmoke=target_toml(api_url, "production = true"))
    pytester.makepyfile(
        test_calls="from pytest_deploysmoke import poll_until\n\n"
        "def test_x(http):\n    poll_until(lambda: http.post('/api/v1/items', json={}), timeout=2, every=0.5)\n"
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["POST /api/v1/items blocked: target 't' is production*"])
    result.stdout.no_fnmatch_line("*condition not met*")


class _ClosesKeptAlive(socketserver.BaseRequestHandler):
    """Answers the first request of each connection, keeping it alive, then closes it when the next
    request arrives on it, before any byte of an answer: the race a server that drops idle
    kept-alive connections (uvicorn after a 500) has with a client that reuses them."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        answered = 0
        buffer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                while len(buffer) < length:
                    buffer += sock.recv(65536)
                buffer = buffer[length:]
                if answered:
                    return  # closed under the request: no status line, no byte of an answer
                body = b'{"status": "ok"}'
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                    % (len(body), body)
                )
                answered += 1


@pytest.fixture
def closes_kept_alive() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ClosesKeptAlive)
    server.daemon_threads = True
    with socketserver_in_thread(server) as url:
        yield url


def test_a_kept_alive_connection_closed_under_a_read_is_not_an_outage(
    pytester: pytest.Pytester, closes_kept_alive: str
) -> None:
    """A GET on a connection the server closed is sent again once on a new one; both attempts are recorded."""
    pytester.makefile(".toml", deploysmoke=target_toml(closes_kept_alive))
    pytester.makepyfile(
        test_calls="def test_two(http):\n    http.get('/a')\n    assert http.get('/b').json() == {'status': 'ok'}\n"
    )
    result = pytester.inline_run("--deploy-target=t")
    result.assertoutcome(passed=1)
    calls = [(call["action"], call["outcome"], call["attempt"]) for call in recorded_calls(result)]
    assert calls == [
        ("GET /a", "200", 1),
        ("GET /b", "server closed the connection without a response", 1),
        ("GET /b", "200", 2),
    ]


def test_a_kept_alive_connection_closed_under_a_write_says_so(
    pytester: pytest.Pytester, closes_kept_alive: str
) -> None:
    """A POST is not sent again (it may write), and its failure says a kept-alive connection closed, not that the service is down."""
    pytester.makefile(".toml", deploysmoke=target_toml(closes_kept_alive))
    pytester.makepyfile(test_calls="def test_write(http):\n    http.get('/a')\n    http.post('/items', json={})\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*POST /items: server closed the connection without a response after * ms; "
            "the server closed a kept-alive connection before answering (not an outage); "
            "the request was not sent again, as it may write"
        ]
    )
    result.stdout.no_fnmatch_line("*is the service up*")


@pytest.fixture
def cuts_bodies() -> Iterator[str]:
    """Answers each request with a status line, headers that promise 50 bytes, 5 of them, and a close:
    a load balancer or a crashing worker cutting the body short."""
    with raw_answer_server(
        b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"a":'
    ) as url:
        yield url


CUT = "server closed the connection before the whole body came (received 5 bytes, expected 50)"


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_body_cut_short_is_recorded_and_retried(pytester: pytest.Pytester, cuts_bodies: str, flavour: str) -> None:
    """A body cut short is a failed attempt like any other: recorded, retried with ``retries``, and named."""
    pytester.makefile(".toml", deploysmoke=target_toml(cuts_bodies, "retries = 2"))
    if flavour == "sync":
        body = "def test_cut(http):\n    http.get('/files')\n"
    else:
        body = "import pytest\n\n@pytest.mark.asyncio\nasync def test_cut(ahttp):\n    await ahttp.get('/files')\n"
    pytester.makepyfile(test_calls=body)
    result = pytester.inline_run("--deploy-target=t")
    result.assertoutcome(failed=1)
    calls = [(call["action"], call["outcome"], call["attempt"]) for call in recorded_calls(result)]
    assert calls == [("GET /files", CUT, 1), ("GET /files", CUT, 2), ("GET /files", CUT, 3)]


def test_a_body_cut_short_is_not_sent_again_as_a_closed_kept_alive_connection(
    pytester: pytest.Pytester, cuts_bodies: str
) -> None:
    """Without retries a cut body fails at once: it is no kept-alive connection closed before an answer."""
    pytester.makefile(".toml", deploysmoke=target_toml(cuts_bodies))
    pytester.makepyfile(test_calls="def test_cut(http):\n    http.get('/a')\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*GET /a: {CUT} after * ms*"])
