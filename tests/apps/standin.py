"""A small stand-in service for the plugin's own tests: health, items, slow and failing paths."""

from __future__ import annotations

import asyncio
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
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


async def items(request: Request) -> Response:
    if request.method == "POST":
        return JSONResponse({"id": 1}, status_code=201)
    return JSONResponse([{"id": 1}])


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/status/{code:int}", status),
        Route("/slow", slow),
        Route("/items", items, methods=["GET", "POST"]),
    ]
)
