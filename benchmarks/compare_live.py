"""How often ``--deploy-compare`` cries wolf, and how often it catches a 40 % slower endpoint, side by side.

Run it with::

    .venv/bin/python benchmarks/compare_live.py [--runs 20] [--slowed-runs 10] [--window 20s] [--every 5s]

The API stand-in (``tests/apps/api.py``) runs under uvicorn as a separate process on 127.0.0.1, and
a copy of it whose ``/slow`` answers 16 ms later (``slowed("/slow", 0.016)``: ``/slow?s=0.04`` takes
56 ms instead of 40 ms, +40 %) as another.  A throwaway pytest project with one passing check runs
``pytest --deploy-target=canary --deploy-compare=stable --deploy-watch=WINDOW --deploy-watch-every=EVERY``
with three probes (health, ``GET /slow?s=0.04``, a WebSocket open); its ``pytest_deploysmoke_verdict``
hook writes the comparison of the whole window and of each interval as JSON.

1. The same deploy: canary and stable are the same stand-in, ``--runs`` times.  Every regression
   is a false alarm; the line counts them over the window judgements and over the interval ones.
2. The slowed deploy: the canary is the slowed copy, ``--slowed-runs`` times.  Each run should
   judge ``GET /slow`` a regression and stop the window early; the line counts those that did.

Each run prints the samples per side, the shift of the median and the p-value of every endpoint.
Exit status: 0 when it ran, 2 when it could not (a server did not start, pytest wrote no verdict).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SLOWED_BY_S = 0.016

CHECK = """
import pytest


@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200
"""

VERDICT_HOOK = """
import json
from pathlib import Path


def figures(comparison):
    keep = ("endpoint", "verdict", "n_baseline", "n_now", "shift_pct", "p_value")
    return [{name: getattr(row, name) for name in keep} for row in comparison.endpoints]


def pytest_deploysmoke_verdict(config, verdict):
    log = verdict.watch_log
    intervals = [figures(interval.comparison) for interval in log.intervals]
    written = {"endpoints": figures(verdict.comparison), "intervals": intervals, "stopped": log.stopped}
    Path("verdict.json").write_text(json.dumps({**written, "planned": log.planned}))
"""

SERVE = """
import sys
import uvicorn
from tests.apps.api import app, slowed
served = slowed("/slow", float(sys.argv[2])) if float(sys.argv[2]) else app
uvicorn.run(served, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", lifespan="off")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(slower_by: float) -> tuple[subprocess.Popen[bytes], int]:
    """The API stand-in (its /slow *slower_by* seconds slower when not 0) in a process of its own; it and its port."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVE, str(port), str(slower_by)], cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return server, port
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(2)


def run_once(project: Path, canary: int, stable: int, window: str, every: str) -> dict[str, Any]:
    """One run of the project, canary and stable at these ports; what its verdict hook wrote."""
    (project / "deploysmoke.toml").write_text(
        f'[targets.canary]\nbase_url = "http://127.0.0.1:{canary}"\n'
        f'[targets.canary.watch]\nevery = "{every}"\n'
        'probes = ["health", "GET /slow?s=0.04", "ws /ws/tickers/krw"]\n'
        f'[targets.stable]\nbase_url = "http://127.0.0.1:{stable}"\n'
    )
    (project / "verdict.json").unlink(missing_ok=True)
    argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--deploy-target=canary"]
    argv += ["--deploy-compare=stable", f"--deploy-watch={window}"]
    done = subprocess.run(argv, cwd=project, capture_output=True, text=True, check=False)
    if not (project / "verdict.json").exists():
        print(done.stdout[-3000:], done.stderr[-2000:])
        raise SystemExit(2)
    written: dict[str, Any] = json.loads((project / "verdict.json").read_text())
    return written


def describe(row: dict[str, Any]) -> str:
    if row["verdict"] == "not evaluated":
        return f"{row['endpoint']}: not evaluated ({row['n_baseline']}/{row['n_now']})"
    return (
        f"{row['endpoint']}: {row['verdict']} (n {row['n_baseline']}/{row['n_now']}, "
        f"p50 {row['shift_pct']:+.1f}%, p {row['p_value']:.2g})"
    )


def series(name: str, runs: int, canary: int, stable: int, window: str, every: str, project: Path) -> None:
    window_alarms = interval_alarms = interval_judged = stopped = 0
    samples: list[int] = []
    for index in range(1, runs + 1):
        verdict = run_once(project, canary, stable, window, every)
        rows = verdict["endpoints"]
        window_alarms += any(row["verdict"] == "regression" for row in rows)
        for interval in verdict["intervals"]:
            interval_judged += sum(row["verdict"] != "not evaluated" for row in interval)
            interval_alarms += sum(row["verdict"] == "regression" for row in interval)
        stopped += verdict["stopped"] == "rollback"
        samples += [min(row["n_baseline"], row["n_now"]) for row in rows if row["endpoint"] == "GET /slow"]
        shown = "; ".join(describe(row) for row in rows)
        print(f"  {name} {index}: {len(verdict['intervals'])} of {verdict['planned']} intervals; {shown}", flush=True)
    print(
        f"{name}: {runs} runs of {window} (a line every {every}): a regression in {window_alarms} window judgements, "
        f"in {interval_alarms} of {interval_judged} evaluated interval judgements; stopped early {stopped} times; "
        f"GET /slow samples a side {min(samples)} to {max(samples)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--slowed-runs", type=int, default=10)
    parser.add_argument("--window", default="20s")
    parser.add_argument("--every", default="5s")
    args = parser.parse_args()
    stable, stable_port = start_server(0.0)
    slowed, slowed_port = start_server(SLOWED_BY_S)
    try:
        with tempfile.TemporaryDirectory(prefix="compare-live-") as tmp:
            project = Path(tmp)
            (project / "test_check.py").write_text(CHECK)
            (project / "conftest.py").write_text(VERDICT_HOOK)
            (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
            series("same deploy", args.runs, stable_port, stable_port, args.window, args.every, project)
            series("slowed deploy", args.slowed_runs, slowed_port, stable_port, args.window, args.every, project)
    finally:
        for server in (stable, slowed):
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
