"""A stand-in that publishes its version every way a service does, and can roll out a new one.

It answers with ``old`` until it has served ``after`` requests, then with ``new``: a rolling deploy
whose last old instance goes away after a known number of answers (counted, never timed).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class Rollout:
    """Which version answers: ``old`` for the first ``after`` requests, then ``new`` (never, without one)."""

    old: str
    new: str | None = None
    after: int = 0
    served: int = 0

    def version(self) -> str:
        self.served += 1
        return self.new if self.new is not None and self.served > self.after else self.old


def versioned_app(rollout: Rollout) -> Starlette:
    """The app: its version in a health JSON, a header, a nested JSON, OpenAPI documents and a page."""

    async def health(request: Request) -> Response:
        version = rollout.version()
        return JSONResponse({"status": "ok", "version": version}, headers={"X-App-Version": version})

    async def bare_health(request: Request) -> Response:
        rollout.version()
        return JSONResponse(True)

    async def meta(request: Request) -> Response:
        version = rollout.version()
        return JSONResponse({"build": {"version": version, "commit": "4b8499e"}}, headers={"X-Build": version})

    async def openapi(request: Request) -> Response:
        version = rollout.version()
        return JSONResponse({"openapi": "3.1.0", "info": {"title": "Versioned", "version": version}, "paths": {}})

    async def about(request: Request) -> Response:
        version = rollout.version()
        return HTMLResponse(f"<html><body><footer>build: v{version} (4b8499e)</footer></body></html>")

    async def items(request: Request) -> Response:
        return PlainTextResponse("[]", media_type="application/json")

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/healthz", bare_health),
            Route("/meta", meta),
            Route("/openapi.json", openapi),
            Route("/api/v2/openapi.json", openapi),
            Route("/about", about),
            Route("/items", items),
        ]
    )
