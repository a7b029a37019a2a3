"""Network failures in words: describe_error on real OS, ssl and httpx exceptions."""

from __future__ import annotations

import errno
import socket
import ssl

import httpx
import pytest

from pytest_deploysmoke.clients.network import describe_error
from pytest_deploysmoke.results.records import call_action


def chained(outer: BaseException, cause: BaseException) -> BaseException:
    """Return *outer* as raised ``from cause``."""
    try:
        raise outer from cause
    except BaseException as exc:
        return exc


def test_connection_refused_error_is_connection_refused() -> None:
    """An OS ConnectionRefusedError is described as 'connection refused'."""
    exc = ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    assert describe_error(exc) == "connection refused"


def test_httpx_connect_error_refused_is_connection_refused() -> None:
    """httpx's ConnectError with a refused message is described as 'connection refused'."""
    assert describe_error(httpx.ConnectError("[Errno 111] Connection refused")) == "connection refused"


def test_certificate_verify_error_is_tls_verification_failed() -> None:
    """ssl.SSLCertVerificationError is described as a TLS verification failure."""
    exc = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
    )
    assert describe_error(exc) == "TLS verification failed (certificate not trusted for this host)"


def test_certificate_verify_error_as_cause_is_tls_verification_failed() -> None:
    """An httpx error caused by a certificate failure is described as a TLS verification failure."""
    cause = ssl.SSLCertVerificationError(
        1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer"
    )
    exc = chained(httpx.ConnectError("connect failed"), cause)
    assert describe_error(exc) == "TLS verification failed (certificate not trusted for this host)"


def test_ssl_error_is_tls_handshake_failed() -> None:
    """Another ssl.SSLError is a TLS handshake failure quoting the error."""
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    assert describe_error(exc) == (
        "TLS handshake failed ([SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006))"
    )


def test_timeout_cause_is_timed_out() -> None:
    """A plain exception raised from a TimeoutError is described as 'timed out'."""
    exc = chained(Exception("request failed"), TimeoutError())
    assert describe_error(exc) == "timed out"


def test_timeout_in_implicit_context_is_timed_out() -> None:
    """A TimeoutError being handled when another error was raised is followed through __context__."""
    try:
        try:
            raise TimeoutError()
        except TimeoutError:
            raise RuntimeError("while waiting for the target")  # noqa: B904
    except RuntimeError as exc:
        implicit = exc
    assert describe_error(implicit) == "timed out"


def test_httpx_read_timeout_is_timed_out() -> None:
    """httpx.ReadTimeout is described as 'timed out'."""
    assert describe_error(httpx.ReadTimeout("timed out")) == "timed out"


def test_httpx_timeout_without_message_is_timed_out() -> None:
    """An httpx timeout with an empty message is recognised by its type."""
    assert describe_error(httpx.ConnectTimeout("")) == "timed out"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (socket.EAI_NONAME, "Name or service not known"),
        (socket.EAI_NONAME, "nodename nor servname provided, or not known"),
        (socket.EAI_AGAIN, "Temporary failure in name resolution"),
    ],
)
def test_dns_failure_is_dns_lookup_failed(code: int, message: str) -> None:
    """A getaddrinfo failure beneath an httpx ConnectError is described as 'DNS lookup failed'."""
    cause = socket.gaierror(code, message)
    exc = chained(httpx.ConnectError(str(cause)), cause)
    assert describe_error(exc) == "DNS lookup failed"


def test_connection_reset_is_reset_by_peer() -> None:
    """ConnectionResetError is described as 'connection reset by peer'."""
    exc = chained(httpx.ReadError("read failed"), ConnectionResetError(errno.ECONNRESET, "reset"))
    assert describe_error(exc) == "connection reset by peer"


def test_server_disconnect_is_closed_without_response() -> None:
    """httpx's RemoteProtocolError for a silent disconnect names the closed connection."""
    exc = httpx.RemoteProtocolError("Server disconnected without sending a response.")
    assert describe_error(exc) == "server closed the connection without a response"


def test_other_exception_is_named_by_type_and_message() -> None:
    """An unrecognised exception is named by its type and message."""
    assert describe_error(ValueError("unexpected status line")) == "ValueError: unexpected status line"


def test_cyclic_exception_chain_terminates() -> None:
    """A chain whose causes loop back is walked once and described."""
    first = RuntimeError("first")
    second = RuntimeError("second")
    first.__cause__ = second
    second.__cause__ = first
    assert describe_error(first) == "RuntimeError: first"


@pytest.mark.parametrize(
    ("url", "base", "name"),
    [
        ("http://127.0.0.1:8000/health", "http://127.0.0.1:8000", "GET /health"),
        ("http://127.0.0.1:8000/items?page=2", "http://127.0.0.1:8000", "GET /items?page=2"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000", "GET /"),
        ("https://h.example/x", "https://h.example:443", "GET /x"),
        ("http://h.example/api/health", "http://h.example/api", "GET /health"),
        ("http://h.example/api", "http://h.example/api", "GET /"),
        ("http://h.example/apix/y", "http://h.example/api", "GET http://h.example/apix/y"),
        ("http://h.example/other", "http://h.example/api", "GET http://h.example/other"),
        ("https://other.example.com/x", "http://h.example", "GET https://other.example.com/x"),
        ("https://h.example/x", "http://h.example", "GET https://h.example/x"),
        ("http://h.example:8001/x", "http://h.example:8000", "GET http://h.example:8001/x"),
    ],
)
def test_call_action_names_the_path_on_the_target_and_the_url_elsewhere(url: str, base: str, name: str) -> None:
    """A call under base_url is named by the path after it; any other origin or path in full."""
    assert call_action("GET", url, base) == name


def test_a_body_cut_short_says_how_much_came() -> None:
    cut = httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body (received 25 bytes, expected 50)"
    )
    assert (
        describe_error(cut)
        == "server closed the connection before the whole body came (received 25 bytes, expected 50)"
    )
    chunked = httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body (incomplete chunked read)"
    )
    assert describe_error(chunked) == "server closed the connection before the whole body came"
