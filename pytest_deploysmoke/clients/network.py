"""Network helpers the clients share: failures in words, a TLS context, and a free loopback port."""

from __future__ import annotations

import socket
import ssl


def describe_error(exc: BaseException) -> str:
    """Say what came back instead of an answer: ``connection refused``, ``timed out``, ...

    Works on httpx exceptions and on the OS errors beneath them; anything else is named by
    its type and message.
    """
    text = str(exc) or type(exc).__name__
    chain = [exc, *_causes(exc)]
    lowered = " ".join(str(e).lower() for e in chain)
    if any(isinstance(e, ssl.SSLCertVerificationError) for e in chain) or "certificate verify failed" in lowered:
        return "TLS verification failed (certificate not trusted for this host)"
    if any(isinstance(e, ssl.SSLError) for e in chain) or ("ssl" in lowered and "handshake" in lowered):
        return f"TLS handshake failed ({text})"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "connection refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "nodename nor servname" in lowered or ("name resolution" in lowered):
        return "DNS lookup failed"
    if (
        any(isinstance(e, TimeoutError) for e in chain)
        or "timed out" in lowered
        or (type(exc).__name__.endswith("Timeout"))
    ):
        return "timed out"
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in lowered:
        return "connection reset by peer"
    if "disconnected without sending a response" in lowered or "remoteprotocolerror" in lowered:
        return "server closed the connection without a response"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ssl_context(verify: bool) -> ssl.SSLContext:
    """The default TLS context; with *verify* false (``verify_tls = false``), one that checks no certificate."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
