"""A stand-in instrumented with the OpenTelemetry SDK: a server span per request, in the caller's trace.

Its middleware extracts the incoming W3C trace context with the SDK's own propagator and starts a
server span for each HTTP request and WebSocket open, exported to memory as it ends (before the
answer's last byte goes out, so a caller that got its answer finds the span).  ``GET /_spans``
lists the finished spans: what the service recorded, for a test to hold against the reports.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Span, SpanKind, format_span_id, format_trace_id
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket

EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider()  # this app's own, not the process-wide one
_PROVIDER.add_span_processor(SimpleSpanProcessor(EXPORTER))
TRACER = _PROVIDER.get_tracer("tests.apps.traced")
PROPAGATOR = TraceContextTextMapPropagator()
#: Requests /flaky has seen, per key: the first of each key answers 503, the next ones 200.
FLAKY_SEEN: dict[str, int] = {}


class ServerSpans:
    """ASGI middleware: one server span per request or WebSocket open, a child of the caller's traceparent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] == "/_spans":
            await self.app(scope, receive, send)
            return
        carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        context = PROPAGATOR.extract(carrier)
        method = scope.get("method", "WS")
        query = scope.get("query_string", b"").decode("latin-1")
        span = TRACER.start_span(f"{method} {scope['path']}", context=context, kind=SpanKind.SERVER)
        span.set_attribute("http.target", scope["path"] + (f"?{query}" if query else ""))
        span.set_attribute("http.traceparent", carrier.get("traceparent", ""))

        async def ending_send(message: Message) -> None:
            _end_on(span, message)
            await send(message)

        try:
            await self.app(scope, receive, ending_send)
        finally:
            if span.is_recording():
                span.end()


def _end_on(span: Span, message: Message) -> None:
    """End *span* just before the message that completes the answer (or accepts the WebSocket) goes out."""
    kind = message["type"]
    if kind == "http.response.start":
        span.set_attribute("http.status_code", message["status"])
    elif (kind == "http.response.body" and not message.get("more_body", False)) or kind in (
        "websocket.accept",
        "websocket.close",
    ):
        if span.is_recording():
            span.end()


def _span(span: ReadableSpan) -> dict[str, Any]:
    context, parent = span.context, span.parent
    assert context is not None
    return {
        "name": span.name,
        "trace_id": format_trace_id(context.trace_id),
        "span_id": format_span_id(context.span_id),
        "parent_span_id": format_span_id(parent.span_id) if parent is not None else None,
        "remote_parent": bool(parent is not None and parent.is_remote),
        **{key: value for key, value in (span.attributes or {}).items()},
    }


async def spans(request: Request) -> Response:
    return JSONResponse([_span(span) for span in EXPORTER.get_finished_spans()])


async def ok(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": "1.2.3"})


async def fail(request: Request) -> Response:
    return PlainTextResponse("the order service is down", status_code=500)


async def flaky(request: Request) -> Response:
    key = request.query_params.get("key", "")
    seen = FLAKY_SEEN[key] = FLAKY_SEEN.get(key, 0) + 1
    if seen == 1:
        return PlainTextResponse("upstream unavailable", status_code=503)
    return JSONResponse({"seen": seen})


PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Traced</title></head><body><h1>Orders</h1><p id="answer"></p>
<script>
fetch("/ok?from=page&" + location.search.slice(1)).then(r => r.json())
  .then(body => { document.getElementById("answer").textContent = body.status; });
</script></body></html>"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def ws_hello(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"type": "hello"})
    await websocket.close()


app = ServerSpans(
    Starlette(
        routes=[
            Route("/_spans", spans),
            Route("/health", ok),
            Route("/ok", ok),
            Route("/fail", fail),
            Route("/flaky", flaky),
            Route("/page", page),
            WebSocketRoute("/ws", ws_hello),
        ]
    )
)
