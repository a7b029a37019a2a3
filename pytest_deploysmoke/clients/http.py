"""HTTP client: httpx clients whose every call is timed, guarded, retried and recorded.

The seam is the transport, as in httpx itself: :class:`TimedTransport` and
:class:`AsyncTimedTransport` are thin mirrored shells around one :class:`HttpProbe`, which holds
the logic both share (the production guard, budgets, retries, the ``traceparent`` header,
records).  This module imports httpx, so the fixtures import it only when a check asks for a client.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

import httpx
import pytest

from pytest_deploysmoke.clients import tracecontext
from pytest_deploysmoke.clients.network import ACTION_EXTENSION, KEPT_ALIVE_CLOSED_EXTENSION, describe_error
from pytest_deploysmoke.clients.version import read_answer
from pytest_deploysmoke.config.version_source import VersionSource
from pytest_deploysmoke.errors import BudgetExceeded
from pytest_deploysmoke.guard import ProductionGuard, get_guard
from pytest_deploysmoke.perf.budgets import Budget, Duration
from pytest_deploysmoke.phases import budget_of
from pytest_deploysmoke.results.records import (
    CallRecord,
    call_action,
    current_item,
    keep,
    last_response_key,
    record,
    reported_version_key,
)

if TYPE_CHECKING:
    from httpx._client import UseClientDefault
    from httpx._types import (
        AuthTypes,
        CookieTypes,
        HeaderTypes,
        QueryParamTypes,
        RequestContent,
        RequestData,
        RequestExtensions,
        RequestFiles,
        TimeoutTypes,
    )
    from typing_extensions import Unpack

    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

#: Request extension carrying a per-call budget (set by ``budget=`` on the client's methods).
BUDGET_EXTENSION = "deploysmoke.budget"
#: Request extension marking a measurement's warm-up request (set by the ``latency`` fixture).
WARMUP_EXTENSION = "deploysmoke.warmup"
#: Request extension that exempts the auth fixtures' login call from the production guard.
LOGIN_EXTENSION = "deploysmoke.login"
#: Statuses an idempotent request is retried on when the target sets ``retries``.
RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Set on a request sent again on a new connection after a kept-alive one closed under it (once per request).
RESENT_EXTENSION = "deploysmoke.resent"
#: The request's trace context (a ``tracecontext.Outgoing``), set when it is first sent; a redirect
#: or a re-send of the same request keeps its trace and takes a new span.
TRACE_EXTENSION = "deploysmoke.trace"
ACTION_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class HttpProbe:
    """What the sync and async transports share: guard, budget, retry and record decisions."""

    config: pytest.Config
    target: Target
    redactor: Redactor
    guard: ProductionGuard
    #: Where the target publishes its version: a check that GETs its path has its answer read.
    version_source: VersionSource
    # Checks repeat the same few URLs; remembering their redacted form keeps redaction off the
    # per-call cost (benchmarks/http_overhead.py).  The secret count is in the key because a
    # login registers a new secret mid-run.
    _actions: dict[tuple[str, str, int], str] = field(default_factory=dict, repr=False)
    # The origins this client has had an answer from: its pool may hold a kept-alive connection to them.
    _answered: set[tuple[bytes, bytes, int | None]] = field(default_factory=set, repr=False)

    def action(self, request: httpx.Request) -> str:
        """``GET /health?x=1`` for the target's own URLs, the full URL for others (redacted; see call_action)."""
        url = str(request.url)
        key = (request.method, url, self.redactor.secret_count)
        action = self._actions.get(key)
        if action is None:
            if len(self._actions) >= ACTION_CACHE_SIZE:
                self._actions.clear()
            action = self._actions[key] = self.redactor.redact(call_action(request.method, url, self.target.base_url))
        return action

    def check_write(self, request: httpx.Request) -> None:
        """Name the request for every failure about it, then refuse a write on production unless the
        running check may write; nothing is sent."""
        request.extensions[ACTION_EXTENSION] = self.action(request)
        if self.writes(request):
            self.guard.check_write("http", self.action(request))

    def writes(self, request: httpx.Request) -> bool:
        """Whether the request writes: not a safe method, not a declared read, not the login."""
        return self.guard.request_writes(request.method, request.url.path) and not request.extensions.get(
            LOGIN_EXTENSION
        )

    def budget(self, request: httpx.Request, item: pytest.Item | None = None) -> Budget | None:
        """The call's budget: ``budget=`` on the call, else the check's ``budget`` mark, else the
        target's ``[budgets]`` entry for ``METHOD /path``.  *item* is the running check, when known."""
        budget = request.extensions.get(BUDGET_EXTENSION)
        if budget is not None:
            return Budget.of(budget)
        if item is None:
            item = current_item(self.config)
        if item is None:
            return self._configured_budget(request)
        return budget_of(item) or self._configured_budget(request)

    def _configured_budget(self, request: httpx.Request) -> Budget | None:
        """The target's ``[targets.X.budgets]`` entry for this method and path, if any."""
        budgets = self.target.budgets
        if not budgets:
            return None
        return budgets.get(f"{request.method} {request.url.path}")

    def trace(self, request: httpx.Request) -> tracecontext.Outgoing:
        """The request's trace context: the running check's trace, or the ``traceparent`` its caller set."""
        trace = request.extensions.get(TRACE_EXTENSION)
        if trace is None:
            own = request.headers.get(tracecontext.TRACEPARENT)
            trace = request.extensions[TRACE_EXTENSION] = tracecontext.outgoing(self.config, own)
        return trace

    def stamp(self, request: httpx.Request) -> None:
        """Put the ``traceparent`` of one attempt on *request*: a new span id each time, unless the caller set it."""
        request.headers[tracecontext.TRACEPARENT] = self.trace(request).header()

    def attempts(self, request: httpx.Request) -> int:
        """How many times the request may be sent: retries apply to idempotent methods only."""
        return 1 + (self.target.retries if request.method in IDEMPOTENT_METHODS else 0)

    def resend_on_new_connection(
        self, request: httpx.Request, exc: httpx.TransportError, attempt: int, attempts: int
    ) -> bool:
        """Whether to send *request* once more, beyond its attempts, because a kept-alive connection closed under it.

        A server may close an idle kept-alive connection (uvicorn does after a 500) just as the
        next request goes out on it: the request fails before any byte of an answer, and the
        service is not down.  An idempotent request is sent again on a new connection, once;
        a request that may write is not, and is marked so its failure says what happened.
        """
        if attempt < attempts or request.extensions.get(RESENT_EXTENSION):
            return False
        closed = isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError))
        if not closed or _origin(request) not in self._answered:
            return False
        if request.method in IDEMPOTENT_METHODS:
            request.extensions[RESENT_EXTENSION] = True
            return True
        request.extensions[KEPT_ALIVE_CLOSED_EXTENSION] = True
        return False

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``: 0.1, 0.2, 0.4, ... at most 2 s."""
        return float(min(0.1 * 2 ** (attempt - 1), 2.0))

    def failed(self, request: httpx.Request, exc: Exception, elapsed: float, attempt: int, attempts: int) -> None:
        """Record a call that got no response (*attempts*: how many times it may be sent)."""
        budget = self.budget(request)
        record(
            self.config,
            CallRecord.budgeted(
                "http",
                self.action(request),
                describe_error(exc),
                ok=False,
                ms=elapsed * 1000,
                budget=budget,
                attempt=attempt,
                write=self.writes(request),
                warmup=bool(request.extensions.get(WARMUP_EXTENSION)),
                retried=attempt < attempts,
                trace_id=self.trace(request).trace_id,
            ),
        )

    def responded(
        self, request: httpx.Request, response: httpx.Response, elapsed: float, attempt: int, attempts: int
    ) -> bool:
        """Record a response and return whether to send the request again; raise BudgetExceeded when it
        came back over budget (it is not sent again then)."""
        item = current_item(self.config)  # looked up once: this runs on every call
        self._answered.add(_origin(request))
        budget = self.budget(request, item)
        action = self.action(request)
        overrun = budget.overrun(action, elapsed, f"status {response.status_code}") if budget is not None else None
        again = not overrun and attempt < attempts and response.status_code in RETRY_STATUSES
        # Calls outside a check and a fixture are not kept, but their budget still counts.
        call = CallRecord.budgeted(
            "http",
            action,
            str(response.status_code),
            ok=response.status_code < 400,
            ms=elapsed * 1000,
            budget=budget,
            attempt=attempt,
            write=self.writes(request),
            warmup=bool(request.extensions.get(WARMUP_EXTENSION)),
            retried=again,
            trace_id=self.trace(request).trace_id,
        )
        keep(self.config, item, call)
        if item is not None:
            item.stash[last_response_key] = response
            # Once per check: parsing every health body would cost a latency-sampling check dearly
            # (benchmarks/http_overhead.py).  A 503 body may still say which version is up.
            source = self.version_source
            if reported_version_key not in item.stash and request.url.path == source.path.partition("?")[0]:
                if request.method == "GET":
                    item.stash[reported_version_key] = read_answer(source, response).version
        if overrun:
            raise BudgetExceeded(overrun)
        return again


def _origin(request: httpx.Request) -> tuple[bytes, bytes, int | None]:
    return (request.url.raw_scheme, request.url.raw_host, request.url.port)


class TimedTransport(httpx.BaseTransport):
    """Times, guards, retries and records every request of a sync client."""

    def __init__(self, inner: httpx.BaseTransport, probe: HttpProbe) -> None:
        self._inner = inner
        self._probe = probe

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        probe = self._probe
        probe.check_write(request)
        attempt, attempts = 0, probe.attempts(request)
        while True:
            attempt += 1
            probe.stamp(request)
            started = time.perf_counter()
            response = None
            try:
                response = self._inner.handle_request(request)
                response.read()  # the body is part of the call's time, and can fail half-way
            except httpx.TransportError as exc:
                if response is not None:
                    response.close()
                probe.failed(request, exc, time.perf_counter() - started, attempt, attempts)
                # Only a request that got no byte back is a kept-alive connection closed under it.
                if response is None and probe.resend_on_new_connection(request, exc, attempt, attempts):
                    attempts += 1
                    continue  # at once: the pool dropped the closed connection, a new one opens
                if attempt >= attempts:
                    raise
            else:
                elapsed = time.perf_counter() - started
                # Read here, the body never streams through the client, which would set elapsed.
                response.elapsed = timedelta(seconds=elapsed)
                if not probe.responded(request, response, elapsed, attempt, attempts):
                    return response
                response.close()
            time.sleep(probe.backoff(attempt))

    def close(self) -> None:
        self._inner.close()


class AsyncTimedTransport(httpx.AsyncBaseTransport):
    """The async twin of TimedTransport; the decisions live in the shared HttpProbe."""

    def __init__(self, inner: httpx.AsyncBaseTransport, probe: HttpProbe) -> None:
        self._inner = inner
        self._probe = probe

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        probe = self._probe
        probe.check_write(request)
        attempt, attempts = 0, probe.attempts(request)
        while True:
            attempt += 1
            probe.stamp(request)
            started = time.perf_counter()
            response = None
            try:
                response = await self._inner.handle_async_request(request)
                await response.aread()
            except httpx.TransportError as exc:
                if response is not None:
                    await response.aclose()
                probe.failed(request, exc, time.perf_counter() - started, attempt, attempts)
                if response is None and probe.resend_on_new_connection(request, exc, attempt, attempts):
                    attempts += 1
                    continue  # as in the sync twin
                if attempt >= attempts:
                    raise
            else:
                elapsed = time.perf_counter() - started
                response.elapsed = timedelta(seconds=elapsed)  # as in the sync twin
                if not probe.responded(request, response, elapsed, attempt, attempts):
                    return response
                await response.aclose()
            await asyncio.sleep(probe.backoff(attempt))

    async def aclose(self) -> None:
        await self._inner.aclose()


class QueryOptions(TypedDict, total=False):
    """The keyword arguments of httpx's ``get``, ``head``, ``options`` and ``delete``, with httpx's types."""

    params: QueryParamTypes | None
    headers: HeaderTypes | None
    cookies: CookieTypes | None
    auth: AuthTypes | UseClientDefault | None
    follow_redirects: bool | UseClientDefault
    timeout: TimeoutTypes | UseClientDefault
    extensions: RequestExtensions | None


class RequestOptions(QueryOptions, total=False):
    """The keyword arguments of httpx's ``request``, ``post``, ``put`` and ``patch``: a body as well."""

    content: RequestContent | None
    data: RequestData | None
    files: RequestFiles | None
    json: Any | None


#: ``budget=`` on a call: ``"300ms"``, ``0.3`` (seconds), or ``("100ms", "500ms")`` (target, limit).
CallBudget: TypeAlias = Duration | tuple[Duration, Duration] | None


class SmokeClient(httpx.Client):
    """An ``httpx.Client`` whose methods also take ``budget="100ms"``; their other arguments are httpx's."""

    def request(
        self, method: str, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return super().request(method, url, **_with_budget(kwargs, budget))

    def get(self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]) -> httpx.Response:
        return self.request("GET", url, budget=budget, **kwargs)

    def head(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]
    ) -> httpx.Response:
        return self.request("HEAD", url, budget=budget, **kwargs)

    def options(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]
    ) -> httpx.Response:
        return self.request("OPTIONS", url, budget=budget, **kwargs)

    def post(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return self.request("POST", url, budget=budget, **kwargs)

    def put(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return self.request("PUT", url, budget=budget, **kwargs)

    def patch(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return self.request("PATCH", url, budget=budget, **kwargs)

    def delete(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]
    ) -> httpx.Response:
        return self.request("DELETE", url, budget=budget, **kwargs)


class AsyncSmokeClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose methods also take ``budget="100ms"``; their other arguments are httpx's."""

    async def request(
        self, method: str, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return await super().request(method, url, **_with_budget(kwargs, budget))

    async def get(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]
    ) -> httpx.Response:
        return await self.request("GET", url, budget=budget, **kwargs)

    async def head(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]
    ) -> httpx.Response:
        return await self.request("HEAD", url, budget=budget, **kwargs)

    async def options(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]
    ) -> httpx.Response:
        return await self.request("OPTIONS", url, budget=budget, **kwargs)

    async def post(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return await self.request("POST", url, budget=budget, **kwargs)

    async def put(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return await self.request("PUT", url, budget=budget, **kwargs)

    async def patch(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[RequestOptions]
    ) -> httpx.Response:
        return await self.request("PATCH", url, budget=budget, **kwargs)

    async def delete(
        self, url: httpx.URL | str, *, budget: CallBudget = None, **kwargs: Unpack[QueryOptions]
    ) -> httpx.Response:
        return await self.request("DELETE", url, budget=budget, **kwargs)


def _with_budget(options: RequestOptions, budget: CallBudget) -> RequestOptions:
    if budget is not None:
        Budget.of(budget)  # a bad budget fails at the call, with the value in the message
        options["extensions"] = {**(options.get("extensions") or {}), BUDGET_EXTENSION: budget}
    return options


def _client_options(
    target: Target,
    headers: dict[str, str] | None,
    auth: httpx.Auth | None = None,
    cookies: httpx.Cookies | None = None,
) -> dict[str, Any]:
    return {
        "base_url": target.base_url,
        "timeout": target.timeout,
        "verify": target.verify_tls,
        "headers": {**target.headers, **(headers or {})},
        "follow_redirects": False,
        "auth": auth,
        "cookies": cookies,
    }


def _make_probe(config: pytest.Config, target: Target) -> HttpProbe:
    """The probe the transports of a client on *target* share."""
    from pytest_deploysmoke.config.settings import get_redactor

    return HttpProbe(config, target, get_redactor(config), get_guard(config), target.version_source)


def make_client(
    config: pytest.Config,
    target: Target,
    headers: dict[str, str] | None = None,
    *,
    auth: httpx.Auth | None = None,
    cookies: httpx.Cookies | None = None,
) -> SmokeClient:
    """A sync client on *target*; every call goes through the timed transport.

    *auth* and *cookies* are the run's login, for the authed clients (see ``clients/auth.py``).
    """
    transport = TimedTransport(httpx.HTTPTransport(verify=target.verify_tls), _make_probe(config, target))
    return SmokeClient(transport=transport, **_client_options(target, headers, auth, cookies))


def make_async_client(
    config: pytest.Config,
    target: Target,
    headers: dict[str, str] | None = None,
    *,
    auth: httpx.Auth | None = None,
    cookies: httpx.Cookies | None = None,
) -> AsyncSmokeClient:
    """An async client on *target*; every call goes through the timed transport."""
    transport = AsyncTimedTransport(httpx.AsyncHTTPTransport(verify=target.verify_tls), _make_probe(config, target))
    return AsyncSmokeClient(transport=transport, **_client_options(target, headers, auth, cookies))


def target_url(target: Target, url: str) -> httpx.URL:
    """*url* as the clients on *target* send it: a path joined to base_url as httpx's ``base_url`` joins it
    (``/health`` on ``http://h/api`` is ``http://h/api/health``), a full URL as it is."""
    merged = httpx.URL(url)
    if merged.is_relative_url:
        base = httpx.URL(target.base_url)
        path = base.raw_path if base.raw_path.endswith(b"/") else base.raw_path + b"/"
        merged = base.copy_with(raw_path=path + merged.raw_path.lstrip(b"/"))
    return merged


def guard_requests(config: pytest.Config, target: Target, requests: list[httpx.Request]) -> None:
    """Refuse, before anything is sent, a scenario holding a write the running check may not make."""
    probe = _make_probe(config, target)
    for request in requests:
        probe.check_write(request)
