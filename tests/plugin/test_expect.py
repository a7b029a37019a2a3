"""expect_status, expect_json and poll_until in checks against the API stand-in."""

from __future__ import annotations

import socket
import socketserver
import struct
from collections.abc import Iterator

import pytest

from tests.fix_servers import socketserver_in_thread

CHECKS = """
import itertools
import pytest
from pytest_deploysmoke import expect_json, expect_status, poll_until

def test_status_ok(http):
    expect_status(http.get("/health"), 200)

def test_status_wrong(http):
    expect_status(http.get("/status/503"))

def test_json_ok(http):
    body = expect_json(http.get("/health"), {"status": "ok"})
    assert body["version"] == "2.0.1"

def test_json_differs(http):
    expect_json(http.get("/health"), {"status": "healthy", "version": "2.0.2"})

def test_json_malformed(http):
    expect_json(http.get("/malformed"))

def test_poll_until_flaky_endpoint(http):
    response = poll_until(lambda: http.get("/flaky?key=poll1&fail=2"), until=lambda r: r.status_code == 200, timeout="5s", every="50ms")
    assert response.status_code == 200

def test_poll_until_gives_up(http):
    counter = itertools.count(1)
    def progress():
        return {"progress": min(next(counter) * 10, 40)}
    poll_until(progress, until=lambda v: v["progress"] == 100, timeout=0.3, every=0.05)

def test_poll_until_keeps_the_exception(http):
    def refuse():
        raise ConnectionError("connection refused")
    poll_until(refuse, timeout=0.2, every=0.05)
"""


def test_helpers_against_the_stand_in(pytester: pytest.Pytester, api_url: str) -> None:
    """Each helper passes on a good response and fails with what was tried and what came back."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\ntimeout = 2.0\n')
    pytester.makepyfile(test_helpers=CHECKS)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=3, failed=5)
    result.stdout.fnmatch_lines(["GET /status/503 answered 503 in * ms, expected 2xx: *"])
    result.stdout.fnmatch_lines(
        [
            "GET /health JSON differs from what was expected: "
            "$.status: expected 'healthy', got 'ok'; $.version: expected '2.0.2', got '2.0.1'"
        ]
    )
    result.stdout.fnmatch_lines(["GET /malformed answered 200 in * ms with a body that is not valid JSON (*"])
    result.stdout.fnmatch_lines(
        [
            "poll_until(progress): condition not met after * attempts in 0.* s "
            "(timeout 0.3 s, every 0.05 s); last value: {'progress': 40}"
        ]
    )
    result.stdout.fnmatch_lines(
        ["poll_until(refuse): condition not met after * attempts*; last value: ConnectionError: connection refused"]
    )
    # One line each, as the library errors are: no source, no fixture arguments, no helper frames.
    result.stdout.no_fnmatch_line('*expect_status(http.get("/status/503"))*')
    result.stdout.no_fnmatch_line("*pytest_deploysmoke/expect.py*")
    result.stdout.no_fnmatch_line("*Target(*")


TYPED = """
from pytest_deploysmoke import expect_json

def test_types_match(http):
    expect_json(http.get("/health"), {"status": str, "version": str})

def test_types_differ(http):
    expect_json(http.get("/health"), {"status": str, "version": int})
"""


def test_expect_json_matches_by_type(pytester: pytest.Pytester, api_url: str) -> None:
    """A class as the expected value matches by type, and a mismatch names the field, the type and the value."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\ntimeout = 2.0\n')
    pytester.makepyfile(test_typed=TYPED)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["GET /health JSON differs from what was expected: $.version: expected int, got str '2.0.1'"]
    )


ORIGINS = """
from pytest_deploysmoke import expect_json, expect_status

def test_prefixed_base_url(http):
    expect_status(http.get("/503"))

def test_other_origin(http, api_url_port):
    expect_status(http.get(f"http://localhost:{api_url_port}/status/503"))

def test_other_origin_json(http, api_url_port):
    expect_json(http.get(f"http://localhost:{api_url_port}/health"), {"status": "down"})
"""


def test_a_call_is_named_by_its_path_and_by_its_url_elsewhere(pytester: pytest.Pytester, api_url: str) -> None:
    """Failures name a call by the path after base_url, and a call to another origin by its full URL."""
    port = api_url.rsplit(":", 1)[1]
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}/status"\ntimeout = 2.0\n')
    pytester.makeconftest(f"import pytest\n\n@pytest.fixture\ndef api_url_port():\n    return {port}\n")
    pytester.makepyfile(test_origins=ORIGINS)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(["GET /503 answered 503 in * ms, expected 2xx: *"])
    result.stdout.fnmatch_lines([f"GET http://localhost:{port}/status/503 answered 503 in * ms, expected 2xx: *"])
    result.stdout.fnmatch_lines([f"GET http://localhost:{port}/health JSON differs from what was expected: *"])
    result.stdout.no_fnmatch_line(f"*GET http://127.0.0.1:{port}*")


class _Resets(socketserver.BaseRequestHandler):
    """Reads a request and resets the connection (SO_LINGER 0): the client gets ECONNRESET, no answer."""

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.recv(65536)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


@pytest.fixture
def resets() -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Resets)
    server.daemon_threads = True
    with socketserver_in_thread(server) as url:
        yield url


POLL_ERRORS = """
from pytest_deploysmoke import poll_until

def test_reset(http):
    poll_until(lambda: http.get("/health"), timeout=0.2, every=0.05)

def test_status(http):
    poll_until(lambda: http.get("/health").raise_for_status(), timeout=0.2, every=0.05)
"""


def test_poll_until_names_the_call_its_last_attempt_failed_on(pytester: pytest.Pytester, resets: str) -> None:
    """poll_until's last value says what the HTTP call got, as every failure does, not the library's exception."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{resets}"\ntimeout = 2.0\n')
    pytester.makepyfile(test_poll=POLL_ERRORS)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        ["poll_until(<lambda>): condition not met after * attempts*; last value: GET /health: connection reset by peer"]
    )
    result.stdout.no_fnmatch_line("*ReadError*")
    result.stdout.no_fnmatch_line("*Errno*")


def test_poll_until_names_the_status_a_call_raised_for(pytester: pytest.Pytester, api_url: str) -> None:
    """An HTTPStatusError raised in poll_until's function reads as the status line of every failure."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\ntimeout = 2.0\n')
    pytester.makepyfile(test_poll=POLL_ERRORS.replace("/health", "/status/503"))
    result = pytester.runpytest("--deploy-target=t", "-k", "status")
    result.assert_outcomes(failed=1, deselected=1)
    result.stdout.fnmatch_lines(
        ["poll_until(<lambda>): condition not met after *; last value: GET /status/503 answered 503 in * ms"]
    )
    result.stdout.no_fnmatch_line("*HTTPStatusError*")
