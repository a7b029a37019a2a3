"""The backtest API: start a backtest, follow its progress, download its result; with fault switches.

Run it with ``uvicorn backtest_app.main:app``; settings come from the environment (see ``settings.py``).
At start it creates its table in PostgreSQL, writes the seed backtest (``SEED_BACKTEST_ID``) and starts
the python worker (``worker.py``), which runs the backtests.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from backtest_app import database, worker
from backtest_app.settings import Settings

PACKAGE = Path(__file__).parent
PAGE = (PACKAGE / "page.html").read_text(encoding="utf-8")
#: Where the page's Download result link points, and where it points under the download_link_404 fault.
RESULT_LINK = 'const RESULT_PATH = "/api/backtest/result/";'
BROKEN_RESULT_LINK = 'const RESULT_PATH = "/api/backtest/download/";'
BACKTEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SYMBOL = re.compile(r"[A-Z][A-Z.]{0,9}")
MAX_SYMBOLS = 10
MAX_DAYS = 3660  # ten years

log = logging.getLogger("backtest")


@dataclass(slots=True)
class Worker:
    """The python worker process, and whether it has said ``ready``."""

    process: subprocess.Popen[bytes]
    ready: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, data_dir: str) -> Worker:
        env = {**os.environ, "BACKTEST_DATA_DIR": data_dir}
        argv = [sys.executable, "-m", "backtest_app.worker"]
        process = subprocess.Popen(argv, cwd=PACKAGE.parent, env=env, stdout=subprocess.PIPE)
        started = cls(process)
        threading.Thread(target=started.wait_ready, name="worker-ready", daemon=True).start()
        return started

    def wait_ready(self) -> None:
        assert self.process.stdout is not None  # started with stdout=PIPE
        if self.process.stdout.readline().strip() == b"ready":
            self.ready.set()

    def state(self) -> str:
        """``ready``, ``starting``, or how the process ended."""
        code = self.process.poll()
        if code is not None:
            return f"exited with code {code}"
        return "ready" if self.ready.is_set() else "starting"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@dataclass(slots=True)
class Service:
    """What the handlers share."""

    settings: Settings
    data_dir: str
    worker: Worker


def service(request: Request) -> Service:
    state: Service = request.app.state.service
    return state


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


# --------------------------------------------------------------------------- the page and health


async def page(request: Request) -> Response:
    """The stock selection page: pick stocks and dates, start a backtest, follow it, download the result.

    ``/?backtest_id=ID`` opens a backtest that already runs or ran (a link someone shared).
    """
    if service(request).settings.fault("download_link_404"):
        return HTMLResponse(PAGE.replace(RESULT_LINK, BROKEN_RESULT_LINK))
    return HTMLResponse(PAGE)


async def health(request: Request) -> Response:
    """Version, and whether the database and the python worker are there; 503 when one is not."""
    app = service(request)
    database_state = await database.probe(app.settings.database_url)
    worker_state = app.worker.state()
    healthy = database_state == "connected" and worker_state == "ready"
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "version": app.settings.version,
        "services": {"database": database_state, "python_worker": worker_state},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


# --------------------------------------------------------------------------- backtests


def read_request(body: Any) -> tuple[list[str], date, date, float] | str:
    """The fields of a start request, or what is wrong with it."""
    if not isinstance(body, dict):
        return "send a JSON object with symbols, start_date and end_date"
    symbols = body.get("symbols")
    if (
        not isinstance(symbols, list)
        or not 1 <= len(symbols) <= MAX_SYMBOLS
        or not all(isinstance(s, str) and SYMBOL.fullmatch(s) for s in symbols)
    ):
        return f"symbols must be a list of 1 to {MAX_SYMBOLS} stock symbols such as AAPL"
    try:
        start, end = date.fromisoformat(str(body.get("start_date"))), date.fromisoformat(str(body.get("end_date")))
    except ValueError:
        return "start_date and end_date must be dates such as 2024-01-02"
    if not 0 < (end - start).days <= MAX_DAYS:
        return "end_date must be after start_date, and at most ten years later"
    capital = body.get("initial_capital", 100_000)
    if not isinstance(capital, (int, float)) or isinstance(capital, bool) or capital <= 0:
        return "initial_capital must be a positive amount"
    return list(dict.fromkeys(symbols)), start, end, float(capital)


async def start_backtest(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    fields = read_request(body)
    if isinstance(fields, str):
        return error(422, "invalid_backtest", fields)
    backtest_id = f"bt_{uuid.uuid4().hex[:12]}"
    await database.fetch_one(
        service(request).settings.database_url,
        "INSERT INTO backtests (id, symbols, start_date, end_date, initial_capital) "
        "VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (backtest_id, *fields),
    )
    return JSONResponse({"backtest_id": backtest_id, "status": "queued", "progress": 0})


async def find(request: Request, backtest_id: str) -> dict[str, Any] | None:
    if not BACKTEST_ID.fullmatch(backtest_id):
        return None
    return await database.fetch_one(service(request).settings.database_url, database.SELECT_BACKTEST, (backtest_id,))


async def progress(request: Request) -> Response:
    """The progress of the backtest named by ``?backtest_id=``: a percentage and a state."""
    backtest_id = request.query_params.get("backtest_id", "")
    if not backtest_id:
        return error(422, "missing_backtest_id", "give the backtest as ?backtest_id=...")
    backtest = await find(request, backtest_id)
    if backtest is None:
        return error(404, "backtest_not_found", f"no backtest {backtest_id}")
    body = {"backtest_id": backtest_id, "status": backtest["status"], "progress": backtest["progress"]}
    if backtest["error"]:
        body["error"] = backtest["error"]
    return JSONResponse(body)


async def result(request: Request) -> Response:
    """The results file of a completed backtest, as a JSON download."""
    app = service(request)
    if app.settings.fault("result_404"):
        # As 2.0.1 shipped it: the route was not mounted, so the framework's own 404 answered.
        return PlainTextResponse("Not Found", status_code=404)
    backtest_id = request.path_params["backtest_id"]
    backtest = await find(request, backtest_id)
    if backtest is None:
        return error(404, "backtest_not_found", f"no backtest {backtest_id}")
    if backtest["status"] != "completed":
        return error(409, "backtest_not_completed", f"backtest {backtest_id} is {backtest['status']}; no result yet")
    path = Path(backtest["results_file"])
    try:
        content = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        return error(404, "result_file_missing", f"the results file of backtest {backtest_id} is gone")
    disposition = f'attachment; filename="backtest-result-{backtest_id}.json"'
    return Response(content, media_type="application/json", headers={"Content-Disposition": disposition})


# --------------------------------------------------------------------------- the application


def prepare(settings: Settings, data_dir: str) -> None:
    """Create the table, and the seed backtest when one is asked for."""
    with database.connect_sync(settings.database_url) as connection:
        database.create_schema(connection)
        if settings.seed_backtest_id:
            worker.seed(connection, settings.seed_backtest_id, data_dir)
            log.info("seed backtest %s is ready", settings.seed_backtest_id)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """At start: settings, table, seed backtest, python worker; at stop: the worker and a temporary data dir."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     backtest: %(message)s")
    settings = Settings.from_env()
    data_dir = settings.data_dir or tempfile.mkdtemp(prefix="backtest-data-")
    await asyncio.to_thread(prepare, settings, data_dir)
    if settings.faults:
        log.warning("fault switches on: %s", ", ".join(sorted(settings.faults)))
    state = Service(settings, data_dir, Worker.start(data_dir))
    app.state.service = state
    try:
        yield
    finally:
        state.worker.stop()
        if not settings.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


app = Starlette(
    routes=[
        Route("/", page),
        Route("/api/health", health),
        Route("/api/backtest/start", start_backtest, methods=["POST"]),
        Route("/api/backtest/progress", progress),
        Route("/api/backtest/result/{backtest_id}", result),
    ],
    lifespan=lifespan,
)
