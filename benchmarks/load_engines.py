"""Compare the load probe's engines with wrk, side by side in one run against the same endpoint.

Run it with::

    .venv/bin/python benchmarks/load_engines.py [--users 10] [--duration 10]

It serves the stand-in app (``tests/apps/standin.py``; ``GET /health`` returns a small JSON body)
under uvicorn as ONE separate process on 127.0.0.1, then loads ``GET /health`` with, in turn:
``wrk -t1 -cUSERS -dDURATIONs`` (the baseline), ``load_probe(engine="builtin")``,
``load_probe(engine="locust")`` and ``load_probe(engine="locust", workers=2)``, each for the same
users and duration.  The probes run inside a throwaway pytest project (``python -m pytest -s``
subprocesses) whose deploy target points at the server, exactly as a check would call them.
It prints req/s for each, its ratio to wrk's, and the built-in engine's client CPU, loop lag and
``client_bound``.  The issue's goal: the Locust engine at 0.9x wrk's req/s or better.

Exit status: 0 when the benchmark ran (whatever the figures), 2 when it could not run
(wrk or Locust missing, the server did not start, a probe failed).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
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
        "p95": float(stats.p95), "cpu": stats.client_cpu, "bound": stats.client_bound,
        "lag": None if stats.loop_lag_ms is None else [stats.loop_lag_ms.p95, stats.loop_lag_ms.max],
        "describe": stats.describe(),
    }}))
"""


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


def run_wrk(url: str, users: int, duration: int) -> float:
    argv = ["wrk", "-t1", f"-c{users}", f"-d{duration}s", f"{url}/health"]
    print("$ " + " ".join(argv), flush=True)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    print(out.rstrip(), flush=True)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit("load_engines: no Requests/sec line in wrk's output")
    return float(match.group(1))


def run_probe(url: str, users: int, duration: int, engine: str, workers: int) -> dict[str, Any]:
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
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=int, default=10, help="Seconds per engine (default 10)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("load_engines: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    server, url = start_server()
    try:
        wrk = run_wrk(url, args.users, args.duration)
        rows = [("wrk -t1", wrk, None)]
        for engine, workers in (("builtin", 0), ("locust", 0), ("locust", 2)):
            result = run_probe(url, args.users, args.duration, engine, workers)
            rows.append((f"{engine}" + (f" +{workers} workers" if workers else ""), result["rps"], result))
    finally:
        stop(server)
    print(f"\n{args.users} users x {args.duration} s, GET /health, one uvicorn process on loopback")
    print(f"{'engine':<22}{'req/s':>10}{'x wrk':>8}  {'p50 ms':>8}{'p95 ms':>8}  client")
    for name, rps, result in rows:
        if result is None:
            print(f"{name:<22}{rps:>10.0f}{1:>8.2f}")
            continue
        lag = f", loop lag p95 {result['lag'][0]:.1f} ms" if result["lag"] else ""
        client = f"cpu {result['cpu']:.2f} core{lag}, client_bound={result['bound']}"
        print(f"{name:<22}{rps:>10.0f}{rps / wrk:>8.2f}  {result['p50']:>8.1f}{result['p95']:>8.1f}  {client}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
