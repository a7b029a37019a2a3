"""WebSocket: a timed client over ``websockets``, with a deadline on every open, receive and close."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from pytest_deploysmoke.clients import tracecontext
from pytest_deploysmoke.clients.network import describe_open_error, excerpt, ssl_context
from pytest_deploysmoke.errors import BudgetExceeded, WebSocketError
from pytest_deploysmoke.perf.budgets import Budget, Duration
from pytest_deploysmoke.phases import budget_of
from pytest_deploysmoke.results.records import CallRecord, call_action, current_item, record

if TYPE_CHECKING:
    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

EXCERPT_CHARS = 200


class SmokeWebSocket:
    """An open WebSocket: ``recv``, ``recv_json``, ``first(match, within=...)``, ``send``.

    Every wait has a deadline (the target's timeout unless given), and a close by the server
    becomes one readable failure with its close code and reason.
    """

    def __init__(self, connection: ClientConnection, config: pytest.Config, path: str, timeout: float) -> None:
        self.connection = connection
        self._config = config
        self._path = path
        self._timeout = timeout
        self._opened = time.perf_counter()
        self.received = 0

    async def recv(self, timeout: float | None = None) -> str | bytes:
        """The next message, waiting at most *timeout* seconds."""
        limit = self._timeout if timeout is None else timeout
        try:
            message = await asyncio.wait_for(self.connection.recv(), limit)
        except asyncio.TimeoutError:
            raise WebSocketError(
                f"WS {self._path}: no message within {limit:g} s ({self.received} received so far); "
                "is the stream publishing?"
            ) from None
        except websockets.ConnectionClosed as exc:
            raise WebSocketError(self._closed_message(exc)) from None
        if self.received == 0:
            elapsed = (time.perf_counter() - self._opened) * 1000
            record(self._config, CallRecord("ws", f"first message {self._path}", "ok", ok=True, ms=elapsed))
        self.received += 1
        return message

    async def recv_json(self, timeout: float | None = None) -> Any:
        """The next message, parsed as JSON."""
        message = await self.recv(timeout)
        try:
            return json.loads(message)
        except ValueError:
            raise WebSocketError(f"WS {self._path}: a message is not JSON: {_excerpt(message)}") from None

    async def first(
        self,
        match: Callable[[Any], bool] | None = None,
        *,
        within: float | None = None,
        parse_json: bool = True,
        budget: Duration | tuple[Duration, Duration] | None = None,
    ) -> Any:
        """The first message (parsed as JSON unless ``parse_json=False``) for which *match* is true.

        Fails when no such message arrives within *within* seconds, showing the last one seen.
        With *budget* (``"500ms"`` or ``("100ms", "500ms")``), the wait from this call to the
        matching message is recorded as ``message PATH`` and held to it like an HTTP call.
        """
        limit = self._timeout if within is None else within
        started = time.perf_counter()
        deadline = time.monotonic() + limit
        last: Any = None
        seen = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                earlier = self.received - seen  # messages of this connection before this wait
                counted = f"{seen} messages received" + (f" in this wait, {earlier} before it" if earlier else "")
                shown = f"; last message: {_excerpt(last)}" if seen else ""
                if seen:
                    hint = "check the condition, or wait longer with within="
                elif earlier:
                    hint = f"the stream went quiet after {earlier} messages: is it still publishing?"
                else:
                    hint = "is the stream publishing?"
                raise WebSocketError(
                    f"WS {self._path}: no matching message within {limit:g} s ({counted}{shown}); {hint}"
                )
            try:
                message = await (self.recv_json(remaining) if parse_json else self.recv(remaining))
            except WebSocketError as exc:
                if "no message within" in str(exc):
                    continue  # the deadline check above words it
                raise
            seen += 1
            last = message
            if match is None or match(message):
                if budget is not None:
                    _check_budget(
                        self._config, f"message {self._path}", Budget.of(budget), time.perf_counter() - started
                    )
                return message

    async def send(self, message: str | bytes) -> None:
        """Send one message; it is recorded as a call (``send /ws/path``), as every request is."""
        started = time.perf_counter()
        action = f"send {self._path}"
        try:
            await asyncio.wait_for(self.connection.send(message), self._timeout)
        except asyncio.TimeoutError:
            record(self._config, CallRecord("ws", action, "timed out", ok=False, ms=_since(started)))
            raise WebSocketError(
                f"WS {self._path}: sending took longer than {self._timeout:g} s; is the server reading?"
            ) from None
        except websockets.ConnectionClosed as exc:
            raise WebSocketError(self._closed_message(exc)) from None
        record(self._config, CallRecord("ws", action, "ok", ok=True, ms=_since(started)))

    async def send_json(self, value: Any) -> None:
        """Send *value* as a JSON text message."""
        await self.send(json.dumps(value))

    def _closed_message(self, exc: websockets.ConnectionClosed) -> str:
        elapsed = (time.perf_counter() - self._opened) * 1000
        frame = exc.rcvd
        how = f"code {frame.code}" + (f" ({frame.reason})" if frame.reason else "") if frame else "no close frame"
        when = "before the first message" if self.received == 0 else f"after {self.received} messages"
        record(self._config, CallRecord("ws", f"recv {self._path}", f"closed {how}", ok=False, ms=elapsed))
        return (
            f"WS {self._path}: closed by the server with {how} after {elapsed:.0f} ms, {when}; "
            "the server's logs say why"
        )


@asynccontextmanager
async def open_websocket(
    config: pytest.Config,
    target: Target,
    redactor: Redactor,
    path: str,
    *,
    auth_headers: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float | None = None,
    subprotocols: list[str] | None = None,
    budget: Duration | tuple[Duration, Duration] | None = None,
) -> AsyncIterator[SmokeWebSocket]:
    """Open ``ws_url + path`` with open, receive and close timeouts; record the open.

    *auth_headers* are the login's (a bearer token, the session cookie); they win over *headers*.
    The handshake carries a ``traceparent`` in the check's trace, unless the headers hold one.

    The open is held to *budget*, else the check's ``budget`` mark, else the target's
    ``[budgets]`` entry ``"WS /path"``: over the limit fails, over the target warns.
    """
    limit = target.timeout if timeout is None else timeout
    url = path if "://" in path else target.ws_url + path
    all_headers = {**target.headers, **(headers or {}), **(auth_headers or {})}
    trace = tracecontext.outgoing(config, tracecontext.header_in(all_headers))
    if not trace.kept:
        all_headers[tracecontext.TRACEPARENT] = trace.header()
    action = redactor.redact(f"connect {path}")
    shown = redactor.redact(call_action("WS", url, target.ws_url))
    started = time.perf_counter()
    try:
        connection = await websockets.connect(
            url,
            additional_headers=all_headers,
            open_timeout=limit,
            close_timeout=limit,
            subprotocols=subprotocols,  # type: ignore[arg-type]  # plain strings are valid subprotocols
            ssl=ssl_context(target.verify_tls) if url.startswith("wss:") else None,
        )
    except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        phrase = describe_open_error(exc)
        record(config, CallRecord("ws", action, phrase, ok=False, ms=elapsed, trace_id=trace.trace_id))
        raise WebSocketError(f"{shown}: {phrase} after {elapsed:.0f} ms; is the stream up and ws_url right?") from None
    opened = time.perf_counter() - started
    try:
        _check_budget(config, action, _open_budget(config, target, path, budget), opened, "open", trace.trace_id)
    except BudgetExceeded:
        await connection.close()
        raise
    socket = SmokeWebSocket(connection, config, path, limit)
    try:
        yield socket
    finally:
        await connection.close()


def _open_budget(
    config: pytest.Config, target: Target, path: str, budget: Duration | tuple[Duration, Duration] | None
) -> Budget | None:
    """``budget=`` on the call, else the check's ``budget`` mark, else ``[budgets] "WS /path"``."""
    if budget is not None:
        return Budget.of(budget)
    item = current_item(config)
    marked = budget_of(item) if item is not None else None
    return marked or target.budgets.get(f"WS {urlsplit(path).path}")


def _check_budget(
    config: pytest.Config,
    action: str,
    budget: Budget | None,
    elapsed: float,
    outcome: str = "ok",
    trace_id: str = "",
) -> None:
    """Record a timed WebSocket step; raise BudgetExceeded when it took longer than its budget's limit."""
    record(
        config,
        CallRecord.budgeted("ws", action, outcome, ok=True, ms=elapsed * 1000, budget=budget, trace_id=trace_id),
    )
    if budget is not None and (overrun := budget.overrun(f"WS {action}", elapsed)):
        raise BudgetExceeded(overrun)


def _excerpt(message: Any) -> str:
    if isinstance(message, str):
        return excerpt(message, EXCERPT_CHARS)
    if isinstance(message, bytes):
        return excerpt(repr(message), EXCERPT_CHARS)
    return excerpt(json.dumps(message, default=str), EXCERPT_CHARS)  # a parsed JSON message is shown as JSON


def _since(started: float) -> float:
    """Milliseconds since *started* (a ``time.perf_counter()`` reading)."""
    return (time.perf_counter() - started) * 1000
