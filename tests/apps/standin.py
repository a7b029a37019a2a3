"""A small stand-in service for the plugin's own tests: health, items, slow and failing paths."""

from __future__ import annotations

import asyncio
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

VERSION = os.environ.get("STANDIN_VERSION", "1.2.3")


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": VERSION})


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"status {code}", status_code=code)


async def slow(request: Request) -> Response:
    await asyncio.sleep(float(request.query_params.get("s", "2")))
    return JSONResponse({"slept": True})


#: Requests /fails-every has seen, per key: each test uses its own key, so its count starts at 0.
FAILS_EVERY_SEEN: dict[str, int] = {}


async def fails_every(request: Request) -> Response:
    """503 on every n-th request of a key: a dependency failing a fixed share of requests, deterministically."""
    key = request.query_params.get("key", "")
    seen = FAILS_EVERY_SEEN[key] = FAILS_EVERY_SEEN.get(key, 0) + 1
    if seen % int(request.path_params["n"]) == 0:
        return PlainTextResponse("upstream unavailable", status_code=503)
    return JSONResponse({"seen": seen})


async def items(request: Request) -> Response:
    if request.method == "POST":
        return JSONResponse({"id": 1}, status_code=201)
    return JSONResponse([{"id": 1}])


ITEMS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>Items</title></head><body><h1>Items</h1><ul id="items"></ul>
<script>
fetch("/items").then(r => r.json()).then(items => {
  for (const item of items) {
    const li = document.createElement("li"); li.textContent = "item " + item.id;
    document.getElementById("items").append(li);
  }
});
</script></body></html>"""


async def items_page(request: Request) -> Response:
    """A screen that lists the items with the app's own API, for browser checks."""
    return HTMLResponse(ITEMS_PAGE)


app = Starlette(
    routes=[
        Route("/", items_page),
        Route("/health", health),
        Route("/status/{code:int}", status),
        Route("/slow", slow),
        Route("/fails-every/{n:int}", fails_every),
        Route("/items", items, methods=["GET", "POST"]),
    ]
)
