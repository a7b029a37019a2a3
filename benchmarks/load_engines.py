"""Compare the load probe's engines with wrk, side by side in one run against the same endpoint.

Run it with::

    .venv/bin/python benchmarks/load_engines.py [--users 10] [--duration 10] [--rounds 2] [--workers 0]

It serves the stand-in app (``tests/apps/standin.py``; ``GET /health`` returns a small JSON body)
under uvicorn as ONE separate process on 127.0.0.1, then loads ``GET /health`` with, in turn,
each for the same users and duration:

- ``wrk -t1 -cUSERS -dDURATIONs --latency``: the baseline;
- ``builtin before (httpx)``: the built-in engine's request path before it moved to aiohttp,
  kept here only: USERS asyncio tasks on one ``httpx.AsyncClient`` set up as the engine's
  ``make_load_client`` set it up (USERS keep-alive connections, the target's timeout, no
  redirects, a ``traceparent`` per request), in a fresh thread, its CPU measured the same way;
- ``builtin``: ``load_probe(engine="builtin")``, the engine as it is (aiohttp);
- ``locust``: ``load_probe(engine="locust")``, and with ``--workers N`` also with N workers.

The probes run inside a throwaway pytest project (``python -m pytest -s`` subprocesses) whose
deploy target points at the server, exactly as a check would call them.  ``--rounds`` repeats
the whole sequence, so that another process's burst on a shared machine hits one round, not one
engine; each row's ratio is to the same round's wrk, and the summary gives each engine's median.
It prints req/s, the ratio to wrk's, p50, p99 and max, and each engine's client CPU and
``client_bound``.  Issue 19's goal: the built-in engine at 0.5x wrk's req/s or better.

Exit status: 0 when the benchmark ran (whatever the figures), 2 when it could not run
(wrk or Locust missing, the server did not start, a probe failed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
APPS = ROOT / "tests" / "apps"

PROBE_TEST = """
import json

def test_probe(load_probe):
    stats = load_probe(
        users={users}, duration="{duration}s", requests=["GET /health"], engine="{engine}", workers={workers}
    )
    print("RESULT " + json.dumps({{
        "count": stats.count, "errors": stats.errors, "rps": stats.rps, "p50": float(stats.p50),
        "p99": float(stats.p99), "max": float(stats.max), "cpu": stats.client_cpu, "bound": stats.client_bound,
        "describe": stats.describe(),
    }}))
"""


@dataclass(frozen=True)
class Row:
    """One engine's figures in one round."""

    engine: str
    rps: float
    p50: float
    p99: float
    max: float
    cpu: float = math.nan
    bound: bool | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(APPS), "standin:app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1):
                return process, url
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise SystemExit("load_engines: the uvicorn server did not start within 15 s") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wrk_ms(text: str) -> float:
    """``1.33ms``, ``304.41us``, ``1.20s`` -> ms."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise SystemExit(f"load_engines: cannot read wrk's time {text!r}")
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match[2]]


def run_wrk(url: str, users: int, duration: int) -> Row:
    argv = ["wrk", "-t1", f"-c{users}", f"-d{duration}s", "--latency", f"{url}/health"]
    print("$ " + " ".join(argv), flush=True)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    p50, p99 = (re.search(rf"\s{q}%\s+(\S+)", out) for q in (50, 99))
    if not (rps and latency and p50 and p99):
        raise SystemExit(f"load_engines: cannot read wrk's output:\n{out}")
    row = Row("wrk -t1", float(rps[1]), wrk_ms(p50[1]), wrk_ms(p99[1]), wrk_ms(latency[3]))
    print(f"  {row.rps:.0f} req/s, p50 {row.p50:.1f}, p99 {row.p99:.1f}, max {row.max:.1f} ms", flush=True)
    return row


def run_probe(url: str, users: int, duration: int, engine: str, workers: int) -> Row:
    with tempfile.TemporaryDirectory(prefix="load-engines-") as tmp:
        folder = Path(tmp)
        (folder / "deploysmoke.toml").write_text(f'[targets.bench]\nbase_url = "{url}"\ntimeout = 10.0\n')
        (folder / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
        (folder / "test_probe.py").write_text(
            PROBE_TEST.format(users=users, duration=duration, engine=engine, workers=workers)
        )
        argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-s", "--deploy-target=bench"]
        print(f"$ load_probe(users={users}, duration='{duration}s', engine='{engine}', workers={workers})", flush=True)
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, timeout=duration + 120)
    line = next((line for line in done.stdout.splitlines() if "RESULT " in line), None)
    if done.returncode != 0 or line is None:
        print(done.stdout[-3000:], done.stderr[-2000:], sep="\n")
        raise SystemExit(f"load_engines: the {engine} probe failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(line.split("RESULT ", 1)[1])
    print("  " + result["describe"], flush=True)
    name = engine + (f" +{workers} workers" if workers else "")
    return Row(name, result["rps"], result["p50"], result["p99"], result["max"], result["cpu"], result["bound"])


def run_httpx_before(url: str, users: int, duration: int) -> Row:
    """The built-in engine's request path before aiohttp: httpx's AsyncClient, in a thread of its own."""
    print(f"$ builtin before: {users} tasks on one httpx.AsyncClient for {duration} s", flush=True)
    outcome: list[Row] = []
    thread = threading.Thread(target=lambda: outcome.append(asyncio.run(_httpx_drive(url, users, duration))))
    thread.start()
    thread.join(timeout=duration + 60)
    if not outcome:
        raise SystemExit("load_engines: the httpx variant did not finish")
    row = outcome[0]
    print(f"  {row.rps:.0f} req/s, p50 {row.p50:.1f}, p99 {row.p99:.1f}, max {row.max:.1f} ms, cpu {row.cpu:.2f}")
    return row


async def _httpx_drive(url: str, users: int, duration: float) -> Row:
    import httpx

    from pytest_deploysmoke.clients.tracecontext import new_trace_id, traceparent
    from pytest_deploysmoke.perf.load.stats import judge_client
    from pytest_deploysmoke.perf.stats import LatencyHistogram

    histogram = LatencyHistogram()
    trace_id = new_trace_id()
    # As make_load_client built it: USERS keep-alive connections, the target's timeout, no redirects.
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    transport = httpx.AsyncHTTPTransport(verify=True, limits=limits)
    async with httpx.AsyncClient(transport=transport, base_url=url, timeout=10.0, follow_redirects=False) as client:

        async def user() -> None:
            while True:  # cancelled at the hard stop, as the engine's users are
                started = time.perf_counter()
                response = await client.request("GET", "/health", headers={"traceparent": traceparent(trace_id)})
                await response.aread()
                histogram.record((time.perf_counter() - started) * 1000)

        cpu_started, started = time.thread_time(), time.perf_counter()
        tasks = [asyncio.create_task(user()) for _ in range(users)]
        await asyncio.wait(tasks, timeout=duration)
        elapsed = time.perf_counter() - started
        cpu = (time.thread_time() - cpu_started) / elapsed
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    p50, p99 = histogram.percentiles((50, 99))
    bound, _ = judge_client(cpu, None)
    return Row("builtin before (httpx)", histogram.count / elapsed, p50, p99, histogram.max, cpu, bound)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per engine (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="Times the whole sequence runs (default 2)")
    parser.add_argument("--workers", type=int, default=0, help="Also run Locust with this many workers")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("load_engines: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    server, url = start_server()
    rounds: list[list[Row]] = []
    try:
        for _ in range(args.rounds):
            rows = [run_wrk(url, args.users, args.duration), run_httpx_before(url, args.users, args.duration)]
            rows.append(run_probe(url, args.users, args.duration, "builtin", 0))
            rows.append(run_probe(url, args.users, args.duration, "locust", 0))
            if args.workers:
                rows.append(run_probe(url, args.users, args.duration, "locust", args.workers))
            rounds.append(rows)
    finally:
        stop(server)
    print(f"\n{args.users} users x {args.duration} s, GET /health, one uvicorn process on loopback")
    print(f"{'engine':<24}{'req/s':>8}{'x wrk':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>9}  client")
    for rows in rounds:
        wrk = rows[0].rps
        for row in rows:
            client = "" if row.bound is None else f"cpu {row.cpu:.2f} core, client_bound={row.bound}"
            print(
                f"{row.engine:<24}{row.rps:>8.0f}{row.rps / wrk:>7.2f}{row.p50:>8.1f}{row.p99:>8.1f}{row.max:>9.1f}  "
                + client
            )
    print(
        "median x wrk over the rounds: "
        + ", ".join(
            f"{row.engine} {statistics.median(rows[i].rps / rows[0].rps for rows in rounds):.2f}"
            for i, row in enumerate(rounds[0])
            if i
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
