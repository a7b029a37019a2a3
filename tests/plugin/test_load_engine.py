"""The built-in load engine on aiohttp, against real loopback servers: its failures in the http fixture's words."""

from __future__ import annotations

import httpx
import pytest

from pytest_deploysmoke.clients.network import describe_error
from pytest_deploysmoke.clients.tracecontext import Outgoing, new_trace_id
from pytest_deploysmoke.config.model import Target
from pytest_deploysmoke.config.redaction import Redactor
from pytest_deploysmoke.perf.load import builtin
from pytest_deploysmoke.perf.load.stats import EngineRun, LoadPlan
from tests.fix_servers import raw_answer_server


def run_engine(
    base_url: str, path: str, *, timeout: float = 5.0, verify_tls: bool = True, requests: int = 3
) -> EngineRun:
    """*requests* ``GET path`` requests from two users on the built-in engine, within 10 s."""
    target = Target("t", base_url, "ws://unused", timeout=timeout, verify_tls=verify_tls)
    plan = LoadPlan((("GET", path),), (f"GET {path}",), f"LOAD 2 users x 10 s: GET {path}", 2, 10.0, requests)
    return builtin.run(target, Redactor(), plan, Outgoing(new_trace_id()))


def httpx_says(url: str, *, timeout: float = 5.0, verify_tls: bool = True) -> str:
    """What the http fixture's client (httpx) meets on *url*, in the plugin's words."""
    try:
        httpx.get(url, timeout=timeout, verify=verify_tls)
    except httpx.TransportError as exc:
        return describe_error(exc)
    raise AssertionError(f"{url} answered")


@pytest.mark.parametrize(
    ("answer", "phrase"),
    [
        (b"", "server closed the connection without a response"),
        (
            b'HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{"a":',
            "server closed the connection before the whole body came (received 5 bytes, expected 50)",
        ),
    ],
    ids=["closed-without-answer", "body-cut-short"],
)
def test_a_broken_answer_reads_as_the_http_fixture_says_it(answer: bytes, phrase: str) -> None:
    """A connection closed before the answer, or in its body, is named in the http fixture's words."""
    with raw_answer_server(answer) as url:
        run = run_engine(url, "/x")
        assert httpx_says(f"{url}/x") == phrase
    assert run.stats.error_outcomes == ((phrase, 3),)
    assert (run.stats.count, run.stats.errors, run.stats.unanswered) == (3, 3, 3)


def test_an_answer_that_is_not_http_says_so() -> None:
    """Bytes that are not an HTTP answer are named with aiohttp's parser's own reason."""
    with raw_answer_server(b"SSH-2.0-OpenSSH_9.6\r\n\r\n") as url:
        run = run_engine(url, "/x")
    assert run.stats.error_outcomes == (("not a valid HTTP answer (Bad status line)", 3),)


def test_a_refused_connection_reads_as_the_http_fixture_says_it(closed_port: int) -> None:
    """Nothing listening: 'connection refused', as the http fixture says it."""
    url = f"http://127.0.0.1:{closed_port}"
    run = run_engine(url, "/health")
    assert httpx_says(f"{url}/health") == "connection refused"
    assert run.stats.error_outcomes == (("connection refused", 3),)


def test_a_request_past_the_timeout_reads_as_the_http_fixture_says_it(standin_url: str) -> None:
    """An answer slower than the target's timeout: 'timed out', as the http fixture says it, and no latency."""
    run = run_engine(standin_url, "/slow?s=2", timeout=0.2, requests=2)
    assert httpx_says(f"{standin_url}/slow?s=2", timeout=0.2) == "timed out"
    assert run.stats.error_outcomes == (("timed out", 2),)
    assert run.stats.unanswered == 2 and run.distributions[0].answered == 0


def test_an_error_status_is_an_answer_and_an_error(standin_url: str) -> None:
    """A 503 is answered (its latency counts) and an error named by its status."""
    run = run_engine(standin_url, "/status/503")
    assert run.stats.error_outcomes == (("503", 3),)
    assert (run.stats.count, run.stats.errors, run.stats.unanswered) == (3, 3, 0)
    (endpoint,) = run.distributions
    assert (endpoint.endpoint, endpoint.requests, endpoint.errors, endpoint.answered) == ("GET /status/503", 3, 3, 3)


def test_an_untrusted_certificate_fails_verification_unless_verify_tls_is_off(tls_url: str) -> None:
    """The target's TLS setting holds: an untrusted certificate is refused, and accepted with verify_tls = false."""
    refused = run_engine(tls_url, "/health")
    assert httpx_says(f"{tls_url}/health") == "TLS verification failed (certificate not trusted for this host)"
    assert refused.stats.error_outcomes == (("TLS verification failed (certificate not trusted for this host)", 3),)
    accepted = run_engine(tls_url, "/health", verify_tls=False)
    assert (accepted.stats.count, accepted.stats.errors) == (3, 0)


def test_a_url_the_engine_cannot_send_fails_in_one_line() -> None:
    """A scenario URL that is not http(s) fails before anything is sent, naming it."""
    with pytest.raises(pytest.fail.Exception) as caught:
        run_engine("http://127.0.0.1:9", "ftp://127.0.0.1/file")
    assert str(caught.value) == (
        "LOAD 2 users x 10 s: GET ftp://127.0.0.1/file: GET ftp://127.0.0.1/file is not an http:// or https:// URL; "
        "give a path on the target such as /health, or a full http(s) URL"
    )
