"""The python worker: a process that runs queued backtests, reports their progress and writes their results.

The web app starts it with ``python -m backtest_app.worker`` and reads one line, ``ready``, from its
stdout; its log goes to stderr.  It takes jobs from the backtests table (so several workers could share
it), moves ``progress`` up in tenths, writes ``backtest-result-{id}.json`` under the data directory,
and only then marks the backtest ``completed``.  It exits when the web app that started it is gone.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable, Collection
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow

from backtest_app import database
from backtest_app.engine import Backtest, Request
from backtest_app.settings import STEP_SECONDS, Settings, SettingsError

IDLE_POLL = 0.1  # seconds between looks for a queued backtest
STUCK_AT = 30  # percent where the worker_stuck fault hangs

log = logging.getLogger("backtest.worker")


def result_path(data_dir: str | Path, backtest_id: str) -> Path:
    """Where the results file of *backtest_id* is written."""
    return Path(data_dir) / "results" / f"backtest-result-{backtest_id}.json"


def claim(connection: psycopg.Connection[DictRow]) -> dict[str, Any] | None:
    """Take the oldest queued backtest, marking it running; None when none is queued."""
    return connection.execute(
        "UPDATE backtests SET status = 'running', started_at = now() WHERE id = ("
        " SELECT id FROM backtests WHERE status = 'queued' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED"
        ") RETURNING id, symbols, start_date, end_date, initial_capital"
    ).fetchone()


def execute(
    connection: psycopg.Connection[DictRow],
    job: dict[str, Any],
    data_dir: str,
    *,
    pause: float = STEP_SECONDS,
    faults: Collection[str] = (),
    alive: Callable[[], bool] = lambda: True,
) -> None:
    """Run one claimed backtest to its end: progress in tenths, the results file, then ``completed``."""
    request = Request(tuple(job["symbols"]), job["start_date"], job["end_date"], job["initial_capital"])
    backtest = Backtest(request)
    for percent in backtest.run():
        time.sleep(pause)  # stands in for the heavy part of a real backtest
        if percent < 100:  # 100 % is only reported together with the result
            connection.execute("UPDATE backtests SET progress = %s WHERE id = %s", (percent, job["id"]))
        if "worker_stuck" in faults and percent >= STUCK_AT:
            log.warning("backtest %s hangs at %d%% (BACKTEST_FAULTS=worker_stuck)", job["id"], percent)
            while alive():
                time.sleep(0.2)
            return
    completed_at = datetime.now(timezone.utc)
    path = result_path(data_dir, job["id"])
    document: dict[str, Any] = {
        "backtest_id": job["id"],
        "status": "completed",
        "symbols": list(request.symbols),
        "start_date": request.start_date.isoformat(),
        "end_date": request.end_date.isoformat(),
        "initial_capital": request.initial_capital,
        "performance": backtest.performance(),
        "results_file": str(path),
        "completed_at": completed_at.isoformat(),
    }
    if "no_performance" in faults:
        del document["performance"]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(document, indent=2), encoding="utf-8")
    partial.replace(path)  # a reader sees the whole file or none
    connection.execute(
        "UPDATE backtests SET status = 'completed', progress = 100, results_file = %s, completed_at = %s WHERE id = %s",
        (str(path), completed_at, job["id"]),
    )
    log.info("backtest %s completed: %s", job["id"], path)


def seed(connection: psycopg.Connection[DictRow], backtest_id: str, data_dir: str) -> None:
    """Make *backtest_id* a completed backtest with its results file, as one left by an earlier release."""
    connection.execute(
        "INSERT INTO backtests (id, symbols, start_date, end_date, initial_capital, status, started_at) "
        "VALUES (%s, %s, %s, %s, %s, 'running', now()) "
        "ON CONFLICT (id) DO UPDATE SET status = 'running', progress = 0",
        (backtest_id, ["AAPL", "MSFT", "GOOGL"], date(2023, 1, 2), date(2023, 12, 29), 100_000.0),
    )
    job = connection.execute(
        "SELECT id, symbols, start_date, end_date, initial_capital FROM backtests WHERE id = %s", (backtest_id,)
    ).fetchone()
    assert job is not None  # inserted just above
    execute(connection, job, data_dir, pause=0)


def main() -> int:
    """Serve queued backtests until the parent process (the web app) goes away."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     worker: %(message)s", stream=sys.stderr)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        log.error("%s", exc)
        return 2
    parent = os.getppid()

    def alive() -> bool:
        return os.getppid() == parent

    with database.connect_sync(settings.database_url) as connection:
        print("ready", flush=True)
        while alive():
            job = claim(connection)
            if job is None:
                time.sleep(IDLE_POLL)
                continue
            log.info("backtest %s started", job["id"])
            try:
                execute(connection, job, settings.data_dir, faults=settings.faults, alive=alive)
            except Exception as exc:
                log.exception("backtest %s failed", job["id"])
                connection.execute(
                    "UPDATE backtests SET status = 'failed', error = %s WHERE id = %s",
                    (f"{type(exc).__name__}: {exc}", job["id"]),
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
