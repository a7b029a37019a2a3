"""Network failures in words, and the helpers the clients share.

Every error a check can meet becomes one readable line here, in one place:
:func:`describe_error` says what came back instead of an answer (``connection refused``,
``timed out``), and :func:`translate` turns the exception a check raised into its one-line
failure.  Each client library's errors are recognised by their module, never imported for
this, so a run that did not use a library pays nothing for it.  Exceptions that are not
recognised are left alone, with their traceback.
"""

from __future__ import annotations

import json
import re
import ssl
import sys
from typing import Any

import pytest

from pytest_deploysmoke.errors import DeploySmokeError, unchecked
from pytest_deploysmoke.results.records import last_response_key, records_of, shown_url

EXCERPT_CHARS = 300


#: Set by the HTTP clients on every request they send: its name in failures (``GET /health``, see
#: :func:`~pytest_deploysmoke.results.records.call_action`), redacted.
ACTION_EXTENSION = "deploysmoke.action"

#: Set by the HTTP clients on a request that may write when a kept-alive connection closed under
#: it: it is not sent again, and its failure says so instead of suggesting an outage.
KEPT_ALIVE_CLOSED_EXTENSION = "deploysmoke.kept_alive_closed"


def describe_error(exc: BaseException) -> str:
    """Say what came back instead of an answer: ``connection refused``, ``timed out``, ...

    Works on httpx and aiohttp exceptions (the built-in load engine's client) and on the OS
    errors beneath them, in the same words whichever client met them; anything else is named
    by its type and message.
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
        # aiohttp's SocketTimeoutError and ConnectionTimeoutError are not TimeoutErrors before Python 3.11
        or (type(exc).__name__.endswith(("Timeout", "TimeoutError")))
    ):
        return "timed out"
    if any(isinstance(e, ConnectionResetError) for e in chain) or "reset by peer" in lowered:
        return "connection reset by peer"
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None and isinstance(exc, aiohttp.ClientError):
        return _describe_aiohttp(exc, aiohttp)
    if "complete message body" in lowered or "incomplete chunked read" in lowered:
        counts = re.search(r"received \d+ bytes, expected \d+", lowered)
        return BODY_CUT_SHORT + (f" ({counts[0]})" if counts else "")
    if "disconnected without sending a response" in lowered or "remoteprotocolerror" in lowered:
        return CLOSED_WITHOUT_ANSWER
    return _named(exc)


BODY_CUT_SHORT = "server closed the connection before the whole body came"
CLOSED_WITHOUT_ANSWER = "server closed the connection without a response"


def _describe_aiohttp(exc: BaseException, aiohttp: Any) -> str:
    """aiohttp's errors the OS errors beneath them did not name, in httpx's words (see describe_error)."""
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return CLOSED_WITHOUT_ANSWER
    if isinstance(exc, aiohttp.ClientPayloadError):
        counts = re.search(r"received (\d+) of (\d+) bytes", str(exc))
        return BODY_CUT_SHORT + (f" (received {counts[1]} bytes, expected {counts[2]})" if counts else "")
    if isinstance(exc, aiohttp.ClientResponseError) and exc.status == 400 and exc.message:
        return f"not a valid HTTP answer ({exc.message.splitlines()[0].rstrip(':')})"  # the parser's own words
    return _named(exc)


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def ssl_context(verify: bool) -> ssl.SSLContext:
    """The default TLS context; with *verify* false (``verify_tls = false``), one that checks no certificate."""
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def describe_open_error(exc: BaseException) -> str:
    """Say what came back instead of an open WebSocket: a refused handshake, a timeout, a network error."""
    websockets = sys.modules.get("websockets")
    if websockets is not None and isinstance(exc, websockets.InvalidStatus):
        return f"handshake refused with HTTP {exc.response.status_code}"
    asyncio = sys.modules.get("asyncio")  # its TimeoutError is the built-in one only from Python 3.11
    if isinstance(exc, TimeoutError) or (asyncio is not None and isinstance(exc, asyncio.TimeoutError)):
        return "timed out opening the connection"
    return describe_error(exc)


def describe(item: pytest.Item, exc: BaseException) -> str | None:
    """One line for a failure we recognise, or None to keep pytest's own report."""
    if isinstance(exc, DeploySmokeError):
        return str(exc)
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        return _describe_httpx(item, exc, httpx)
    if isinstance(exc, json.JSONDecodeError):
        return _describe_bad_json(item, exc)
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(exc, psycopg.Error):
        return _describe_sql(item, exc)
    redis = sys.modules.get("redis")
    if redis is not None and isinstance(exc, redis.RedisError):
        return _describe_redis(item, exc, redis)
    playwright = sys.modules.get("playwright._impl._errors")
    if playwright is not None and isinstance(exc, playwright.Error):
        return _describe_playwright(item, exc)
    return None


def _describe_playwright(item: pytest.Item, exc: Any) -> str:
    """``Page.goto: net::ERR_CONNECTION_REFUSED at http://...`` and its call log, as one line with a fix;
    with what went wrong on the check's page meanwhile, which is often why."""
    lines = [line.strip() for line in str(getattr(exc, "message", "") or exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    waiting = next((line.removeprefix("- ") for line in reversed(lines) if "waiting for" in line), "")
    if "Executable doesn't exist" in first or "playwright install" in " ".join(lines):
        return (
            "UI: Playwright's own Chromium is not installed and no browser path is set; install Debian's chromium "
            "(apt-get install chromium) and pass --deploy-browser-path=/usr/bin/chromium or set [ui] browser_path"
        )
    if "Sync API inside the asyncio loop" in first:
        return (
            "UI: Playwright's sync API cannot run inside a running asyncio loop; "
            "write the browser check as a plain def, not async def"
        )
    hint = ""
    if "ERR_CONNECTION_REFUSED" in first:
        hint = "is the service up and base_url right?"
    elif "Timeout" in first:
        hint = f"{waiting}; is the page slow, or is the selector wrong?" if waiting else "is the page slow?"
    elif "Target page, context or browser has been closed" in first:
        hint = "the browser went away; did it crash?"
    ui = sys.modules.get("pytest_deploysmoke.clients.browser")
    watch = item.stash.get(ui.page_watch_key, None) if ui is not None else None
    problems = watch.listing() if watch is not None else None
    return f"UI {first}" + (f"; {hint}" if hint else "") + (f"; {problems}" if problems else "")


def _last_call(item: pytest.Item, kind: str | None = None, *, failed: bool = False) -> Any:
    """The check's most recent call record of *kind* (any kind when None), or only a failed one."""
    return next(
        (
            call
            for call in reversed(records_of(item))
            if (kind is None or call.kind == kind) and not (failed and call.ok)
        ),
        None,
    )


def _describe_sql(item: pytest.Item, exc: BaseException) -> str:
    call = _last_call(item, "db")
    what = f"SQL {call.action}" if call else "SQL"
    message = " ".join(str(exc).split()) or type(exc).__name__
    hint = ""
    if "read-only transaction" in message:
        hint = "; the db fixture's session is read-only, so smoke checks cannot write to the database"
    elif "statement timeout" in message:
        hint = "; the statement ran past the target's timeout"
    return f"{what}: {message}{hint}"


def _describe_redis(item: pytest.Item, exc: BaseException, redis: Any) -> str:
    call = _last_call(item, "redis")
    what = f"redis {call.action}" if call else "redis"
    phrase = describe_error(exc)
    if isinstance(exc, redis.AuthenticationError) or "auth" in str(exc).lower():
        return f"{what}: {str(exc).rstrip('.')}; check the password in redis_url"
    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
        after = f" after {call.ms:.0f} ms" if call else ""
        return f"{what}: {phrase}{after}; is Redis up and redis_url right?"
    return f"{what}: {exc}"


def _describe_httpx(item: pytest.Item, exc: Any, httpx: Any) -> str:
    try:
        request = exc.request
    except RuntimeError:  # an HTTPError raised without a request
        return f"HTTP error: {exc}"
    what = request_name(request)
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{answered(exc.response)} ({exc.response.reason_phrase}): {excerpt(exc.response.text)}"
    phrase = describe_error(exc)
    failed_call = _last_call(item, failed=True)
    elapsed = failed_call.ms if failed_call is not None else None
    after = f" after {elapsed:.0f} ms" if elapsed is not None else ""
    if request.extensions.get(KEPT_ALIVE_CLOSED_EXTENSION):
        return (
            f"{what}: {phrase}{after}; the server closed a kept-alive connection before answering (not an "
            "outage); the request was not sent again, as it may write"
        )
    return f"{what}: {phrase}{after}" + (f"; {hint}" if (hint := _hint(item, phrase, str(request.url))) else "")


def _hint(item: pytest.Item, phrase: str, url: str) -> str | None:
    from pytest_deploysmoke.config.settings import get_target

    target = get_target(item.config)
    ours = target is not None and shown_url(url, target.base_url) != url  # a call to the target, not elsewhere
    if phrase == "connection refused":
        return "is the service up and base_url right?" if ours else "is the service up and the URL right?"
    if phrase == "timed out":
        limit = f"the target's timeout is {target.timeout:g} s; " if target else ""
        return f"{limit}is the service overloaded, or should timeout be raised?"
    if phrase == "DNS lookup failed":
        return "check the host name in base_url" if ours else "check the host name in the URL"
    if phrase.startswith("TLS verification failed"):
        return "check the certificate chain, or set verify_tls = false for a self-signed host"
    return None


def _describe_bad_json(item: pytest.Item, exc: json.JSONDecodeError) -> str | None:
    if "pytest_deploysmoke.clients.http" not in sys.modules:
        return None  # no plugin client has made a request, so there is no response to blame

    response = item.stash.get(last_response_key, None)
    if response is None or exc.doc != response.text:
        return None  # the bad JSON came from somewhere else; keep pytest's own report
    return (
        f"{answered(response)} with a body that is not valid JSON "
        f"({exc.msg} at line {exc.lineno} column {exc.colno}): {excerpt(response.text)}"
    )


def attempt_failure(exc: BaseException) -> str:
    """What an attempt got instead of a value, as the plugin's failure lines say it.

    An httpx error names its call and what came back (``GET /health: connection refused``,
    ``GET /health answered 503 in 4 ms``); another client library's network error says what
    came back (``connection refused``); any other exception is ``Type: message``.
    """
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return answered(exc.response)
    if httpx is not None and isinstance(exc, httpx.HTTPError):
        try:
            return f"{request_name(exc.request)}: {describe_error(exc)}"
        except RuntimeError:  # an HTTPError raised without a request
            return describe_error(exc)
    if _from_client_library(exc):
        return describe_error(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _from_client_library(exc: BaseException) -> bool:
    """Whether *exc* is an error of a client library the plugin drives (psycopg, redis, websockets)."""
    return type(exc).__module__.split(".")[0] in ("psycopg", "redis", "websockets")


def request_name(request: Any) -> str:
    """``GET /health``: how failures name an httpx *request*, as its call record does.

    A request a plugin client sent carries its name (see ``ACTION_EXTENSION``); one sent by
    another client is named by its method and full URL, as there is no target to be relative to.
    """
    return request.extensions.get(ACTION_EXTENSION) or f"{request.method} {request.url}"


def answered(response: Any) -> str:
    """``GET /path answered 503 in 12 ms``: what was tried, what came back, how long it took."""
    try:
        took = f" in {response.elapsed.total_seconds() * 1000:.0f} ms"
    except RuntimeError:  # a streamed response that was never closed has no elapsed time
        took = ""
    return f"{request_name(response.request)} answered {response.status_code}{took}"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The start of a response body on one line, marked when cut."""
    flat = " ".join(text.split())
    if not flat:
        return "(empty body)"
    return flat if len(flat) <= limit else flat[:limit] + " ..."


def translate(item: pytest.Item, exc: BaseException) -> BaseException | None:
    """The one-line failure to raise instead of *exc*, or None when we do not recognise it."""
    message = describe(item, exc)
    if message is None:
        return None
    from pytest_deploysmoke.config.settings import get_redactor

    return unchecked(get_redactor(item.config).redact(message))
