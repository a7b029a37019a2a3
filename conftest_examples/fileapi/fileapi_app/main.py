"""The file API: uploads and downloads on PostgreSQL and disk, with fault switches for bad deploys.

Run it with ``uvicorn fileapi_app.main:app``; settings come from the environment (see ``settings.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fileapi_app.settings import Settings
from fileapi_app.storage import Storage

MAX_UPLOAD_BYTES = 16 * 1024 * 1024
MAX_KEY_LENGTH = 512
LIST_LIMIT = 100
SLOW_LIST_SECONDS = 1.5

log = logging.getLogger("fileapi")


@dataclass(slots=True)
class FileApi:
    """What the handlers share: the settings and the file store."""

    settings: Settings
    storage: Storage

    def fault(self, name: str) -> bool:
        """Whether the fault switch *name* is on."""
        return name in self.settings.faults


def fileapi(request: Request) -> FileApi:
    state: FileApi = request.app.state.fileapi
    return state


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def key_problem(key: str) -> str | None:
    """Why *key* cannot name a file, or None when it can."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return f"a key is 1 to {MAX_KEY_LENGTH} characters"
    if any(part in ("", ".", "..") for part in key.split("/")) or not key.isprintable():
        return "a key is printable, with no empty, '.' or '..' parts between its slashes"
    return None


# --------------------------------------------------------------------------- pages and status


HOME = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>File API</title></head>
<body><h1>File API</h1>
<p>Upload, download and list files. The <a href="/docs">API reference</a> has the details.</p>
</body></html>
"""

DOCS = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>File API reference</title></head>
<body><h1>File API reference</h1>
<table>
<tr><th>Request</th><th>Answer</th></tr>
<tr><td><code>GET /files?prefix=&amp;limit=</code></td><td>200: the files whose key starts with the prefix</td></tr>
<tr><td><code>PUT /files/{key}</code></td><td>201: the file's key, size and SHA-256 (body: the file's bytes)</td></tr>
<tr><td><code>GET /files/{key}</code></td>
<td>200: the file's bytes; its SHA-256 in <code>X-Checksum-SHA256</code></td></tr>
<tr><td><code>DELETE /files/{key}</code></td><td>204: the file is gone</td></tr>
<tr><td><code>GET /health</code></td><td>200: the service and its database are up</td></tr>
<tr><td><code>GET /info</code></td><td>200: the service's version and environment</td></tr>
</table>
</body></html>
"""


async def home(request: Request) -> Response:
    return HTMLResponse(HOME)


async def docs(request: Request) -> Response:
    return HTMLResponse(DOCS)


async def health(request: Request) -> Response:
    """Readiness: version, environment, and whether the database answers; 503 when it does not."""
    app = fileapi(request)
    database = await app.storage.probe()
    body = {
        "status": "ok" if database == "ok" else "degraded",
        "version": app.settings.version,
        "environment": app.settings.environment,
        "database": database,
    }
    return JSONResponse(body, status_code=200 if database == "ok" else 503)


async def info(request: Request) -> Response:
    """What the service says about itself: version and the settings it runs with."""
    settings = fileapi(request).settings
    return JSONResponse(
        {
            "service": "fileapi",
            "version": settings.version,
            "environment": settings.environment,
            "debug": settings.debug,
            "log_level": settings.log_level,
        }
    )


# --------------------------------------------------------------------------- files


async def list_files(request: Request) -> Response:
    app = fileapi(request)
    if app.fault("slow_list"):
        await asyncio.sleep(SLOW_LIST_SECONDS)
    prefix = request.query_params.get("prefix", "")
    # As in the service this stands in for, a limit that is not a number is an unhandled error (a 500).
    limit = int(request.query_params.get("limit", LIST_LIMIT))
    files = await app.storage.list(prefix, min(max(limit, 1), 1000))
    return JSONResponse({"files": [file.as_json() for file in files], "count": len(files)})


async def upload(request: Request) -> Response:
    app = fileapi(request)
    key: str = request.path_params["key"]
    if problem := key_problem(key):
        return error(422, "invalid_key", problem)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_UPLOAD_BYTES:
            return error(413, "too_large", f"a file is at most {MAX_UPLOAD_BYTES} bytes")
        chunks.append(chunk)
    stored = await app.storage.put(key, b"".join(chunks))
    receipt = hmac.new(app.settings.secret_key.encode(), f"{key}\n{stored.sha256}".encode(), hashlib.sha256)
    return JSONResponse({**stored.as_json(), "receipt": receipt.hexdigest()}, status_code=201)


async def download(request: Request) -> Response:
    app = fileapi(request)
    found = await app.storage.get(request.path_params["key"])
    if found is None:
        return error(404, "not_found", "no file with this key")
    stored, data = found
    if app.fault("download_corrupt") and data:
        middle = len(data) // 2
        data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
    headers = {"ETag": f'"{stored.sha256}"', "X-Checksum-SHA256": stored.sha256}
    return Response(data, media_type="application/octet-stream", headers=headers)


async def delete(request: Request) -> Response:
    if not await fileapi(request).storage.delete(request.path_params["key"]):
        return error(404, "not_found", "no file with this key")
    return Response(status_code=204)


# --------------------------------------------------------------------------- error pages


ROUTES = ("/", "/docs", "/health", "/info", "/files", "/files/{key}")


async def not_found(request: Request, exc: Exception) -> Response:
    """A plain 404; with DEBUG on, a page that lists every route, as debug 404 pages do."""
    if not fileapi(request).settings.debug:
        return PlainTextResponse("Not Found", status_code=404)
    lines = [
        "Page not found (404)",
        f"Request Method: {request.method}",
        f"Request URL: {request.url.path}",
        "The service tried these routes, in this order:",
        *(f"    {route}" for route in ROUTES),
        f"The current path, {request.url.path}, didn't match any of these.",
        "You're seeing this error because you have DEBUG = True in your settings.",
    ]
    return PlainTextResponse("\n".join(lines) + "\n", status_code=404)


async def server_error(request: Request, exc: Exception) -> Response:
    """A plain 500; with DEBUG on, the stack trace and a dump of the settings, as debug error pages do."""
    settings = fileapi(request).settings
    if not settings.debug:
        return PlainTextResponse("Internal Server Error", status_code=500)
    dump = "\n".join(f"{name} = {value!r}" for name, value in settings.dump().items())
    body = "".join(traceback.format_exception(exc)) + f"\nSettings:\n{dump}\n"
    return PlainTextResponse(body, status_code=500)


# --------------------------------------------------------------------------- the admin console


async def admin_console(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The internal admin console: meant for the private network only."""
    body = b"fileapi admin console\n"
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n")
    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    try:
        await writer.drain()
    finally:
        writer.close()


# --------------------------------------------------------------------------- the application


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """At start: read the settings, create the files table and the data directory; at stop: clean up."""
    settings = Settings.from_env()
    logging.basicConfig(level=settings.log_level, format="%(levelname)s:     fileapi: %(message)s")
    storage = Storage(settings.database_url, settings.data_dir)
    await storage.open()
    if settings.faults:
        log.warning("fault switches on: %s", ", ".join(sorted(settings.faults)))
    admin = None
    if "admin_port_open" in settings.faults:
        admin = await asyncio.start_server(admin_console, "127.0.0.1", settings.admin_port)
        log.warning("admin console listening on 127.0.0.1:%d", settings.admin_port)
    app.state.fileapi = FileApi(settings, storage)
    try:
        yield
    finally:
        if admin is not None:
            admin.close()
            await admin.wait_closed()
        await storage.close()


app = Starlette(
    routes=[
        Route("/", home),
        Route("/docs", docs),
        Route("/health", health),
        Route("/info", info),
        Route("/files", list_files),
        Route("/files/{key:path}", upload, methods=["PUT"]),
        Route("/files/{key:path}", download, methods=["GET"]),
        Route("/files/{key:path}", delete, methods=["DELETE"]),
    ],
    exception_handlers={404: not_found, Exception: server_error},
    lifespan=lifespan,
)
