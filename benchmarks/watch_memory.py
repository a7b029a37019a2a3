"""Show that a long watch window does not grow the runner: its memory at the start and at the end.

Run it with::

    .venv/bin/python benchmarks/watch_memory.py [--duration 120] [--every 2] [--samples 1000000]

Two measurements, in one run:

1. A real window.  The API stand-in (``tests/apps/api.py``) runs under uvicorn as a separate
   process on 127.0.0.1; a throwaway pytest project with one passing check runs
   ``pytest --deploy-target=t --deploy-watch=DURATION --deploy-watch-every=EVERY`` against it,
   with three probes (health, a GET, a WebSocket open).  Every 0.5 s the benchmark reads the
   pytest process's resident memory (VmRSS in /proc); it prints the RSS when the window's first
   line appears and at its last line, and the peak.  With ``--every 2`` a round of probes runs
   every 0.2 s (the floor), so a 120 s window sends 600 rounds: five times the rounds of the
   checklists' hour with a line every 15 minutes (4 intervals x 30 rounds).
2. The window's Python heap.  The same window runs in this process (``Watch.run`` on the same
   target, ``--heap-window`` seconds); tracemalloc measures the memory Python holds at the 5th,
   the middle and the last interval line, so allocator effects (fragmentation, zlib buffers of
   the WebSocket probes) that RSS includes are told apart from objects that pile up.  Each reading
   follows a ``gc.collect()``, so it counts what is still referenced.
3. The window's aggregates alone.  ``--samples`` probe samples are fed to the watch's ``Aggregate``
   (its running counters and fixed-size histograms) in-process; tracemalloc shows the memory the
   aggregate holds after 1,000 samples and after all of them.

Exit status: 0 when it ran, 2 when it could not (no /proc, the server did not start, pytest failed).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHECK = """
import pytest


@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float | None:
    """The process's resident memory in MiB, or None once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "uvicorn", "tests.apps.api:app", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(argv, cwd=ROOT)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("watch_memory: the stand-in did not start")


def real_window(duration: float, every: float) -> None:
    port = free_port()
    server = start_server(port)
    try:
        with tempfile.TemporaryDirectory(prefix="watch-memory-") as tmp:
            project = Path(tmp)
            (project / "deploysmoke.toml").write_text(
                f'[targets.t]\nbase_url = "http://127.0.0.1:{port}"\ntimeout = 5\n'
                '[targets.t.budgets]\n"GET /api/v1/items" = ["500ms", "1s"]\n'
                '[targets.t.watch]\nprobes = ["health", "GET /api/v1/items", "ws /ws/tickers/krw"]\n'
            )
            (project / "test_check.py").write_text(CHECK)
            (project / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
            argv = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--deploy-target=t"]
            argv += [f"--deploy-watch={duration:g}s", f"--deploy-watch-every={every:g}s"]
            process = subprocess.Popen(argv, cwd=project, stdout=subprocess.PIPE, text=True)
            readings: list[tuple[float, float]] = []
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    value = rss_mib(process.pid)
                    if value is not None:
                        readings.append((time.monotonic(), value))
                    stop.wait(0.5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            line_times: list[float] = []
            lines = []
            assert process.stdout is not None
            for line in process.stdout:
                lines.append(line.rstrip())
                if line.startswith("deploysmoke ") and "+" in line and "]:" in line:  # one interval's line
                    line_times.append(time.monotonic())
            code = process.wait(timeout=duration + 60)
            stop.set()
            sampler.join()
    finally:
        server.terminate()
        server.wait(timeout=10)
    if code != 0 or not line_times:
        print("\n".join(lines[-20:]))
        raise SystemExit(f"watch_memory: pytest exited with {code}")

    def at(moment: float) -> float:
        return min(readings, key=lambda reading: abs(reading[0] - moment))[1]

    intervals = [line for line in lines if line.startswith("deploysmoke ") and "]:" in line]
    summary = next(line for line in lines if "intervals:" in line)
    print(f"real window: {duration:g} s, a line every {every:g} s, {len(intervals)} interval lines")
    print(f"  {intervals[0]}")
    print(f"  {intervals[-1]}")
    print(f"  {summary}")
    marks = sorted({0, len(line_times) // 4, len(line_times) // 2, 3 * len(line_times) // 4, len(line_times) - 1})
    shown = ", ".join(f"line {index + 1}: {at(line_times[index]):.1f}" for index in marks)
    peak = max(value for _, value in readings)
    print(f"  runner RSS (MiB) at {shown}; peak {peak:.1f} ({len(readings)} readings, one every 0.5 s)")


def heap_window(duration: float, every: float) -> None:
    sys.path.insert(0, str(ROOT))
    from pytest_deploysmoke.config.parse import build_target, load_config
    from pytest_deploysmoke.perf.watch import Watch

    port = free_port()
    server = start_server(port)
    try:
        with tempfile.TemporaryDirectory(prefix="watch-heap-") as tmp:
            toml = Path(tmp) / "deploysmoke.toml"
            toml.write_text(
                f'[targets.t]\nbase_url = "http://127.0.0.1:{port}"\ntimeout = 5\n'
                '[targets.t.watch]\nprobes = ["health", "GET /api/v1/items", "ws /ws/tickers/krw"]\n'
            )
            target = build_target(load_config(toml), "t", os.environ)
        intervals = int(duration // every)
        marks = {5, *(intervals * quarter // 4 for quarter in (1, 2, 3, 4))}
        held: list[tuple[int, int]] = []

        def write(line: str, **markup: bool) -> None:
            if "]:" in line:
                index = int(line.split("[", 1)[1].split("/", 1)[0])
                if index in marks:
                    gc.collect()  # count what is still referenced, not garbage waiting for a collection
                    held.append((index, tracemalloc.get_traced_memory()[0]))

        tracemalloc.start()
        asyncio.run(Watch(target, duration, every, write).run())
        tracemalloc.stop()
    finally:
        server.terminate()
        server.wait(timeout=10)
    shown = ", ".join(f"line {index}: {size / 1024:.0f} KiB" for index, size in held)
    print(f"window in-process: {duration:g} s, a line every {every:g} s; Python heap (tracemalloc) at {shown}")


def aggregate_only(samples: int) -> None:
    sys.path.insert(0, str(ROOT))
    from pytest_deploysmoke.config.model import WatchProbe
    from pytest_deploysmoke.perf.watch import Aggregate, ProbeSample

    probes = [
        WatchProbe("http", "GET", "/health", health=True),
        WatchProbe("http", "GET", "/api/v1/items"),
        WatchProbe("ws", "WS", "/ws/tickers/krw"),
    ]
    rng = random.Random(7)
    made = [ProbeSample(probe, rng.lognormvariate(1.5, 0.6), rng.random() > 0.01) for probe in probes]
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    aggregate = Aggregate({"GET /api/v1/items": 500.0})
    figures = [(0, tracemalloc.get_traced_memory()[0] - base)]
    for index in range(1, samples + 1):
        sample = made[index % 3]
        aggregate.add(ProbeSample(sample.probe, rng.lognormvariate(1.5, 0.6), sample.ok), 0)
        if index in (1_000, samples):
            figures.append((index, tracemalloc.get_traced_memory()[0] - base))
    tracemalloc.stop()
    print(f"aggregate alone: {samples:,} samples ({aggregate.describe()})")
    for index, held in figures:
        print(f"  after {index:>9,} samples: {held / 1024:.1f} KiB held by the aggregate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0, help="the real window, seconds")
    parser.add_argument("--every", type=float, default=2.0, help="a line every this many seconds")
    parser.add_argument("--samples", type=int, default=1_000_000, help="samples fed to the aggregate alone")
    parser.add_argument("--heap-window", type=float, default=120.0, help="the in-process window, seconds")
    args = parser.parse_args()
    if not Path("/proc/self/status").exists():
        raise SystemExit("watch_memory: needs /proc (Linux) to read the runner's memory")
    os.chdir(ROOT)
    if args.duration > 0:
        real_window(args.duration, args.every)
    heap_window(args.heap_window, args.every)
    aggregate_only(args.samples)


if __name__ == "__main__":
    main()
