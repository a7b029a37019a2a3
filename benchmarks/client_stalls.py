"""Where the built-in load engine's time and its outliers come from: httpx's async client against plain asyncio.

Run it with::

    .venv/bin/python benchmarks/client_stalls.py [--users 10] [--duration 5] [--rounds 2]

It serves the stand-in app (``tests/apps/standin.py``; ``GET /health`` answers a small JSON body)
under uvicorn as one separate process on 127.0.0.1, then, alternately in this one process (so
machine noise hits both alike), sends ``GET /health`` from USERS asyncio tasks for DURATION
seconds with:

- ``httpx``: one ``httpx.AsyncClient`` with USERS keep-alive connections, as the built-in engine
  (``perf/load/builtin.py``) does;
- ``asyncio``: one ``asyncio.open_connection`` per task, the request written and the answer read
  by hand (HTTP/1.1 keep-alive, Content-Length): no client library at all, the ceiling of one
  Python process with one event loop.

For each it prints req/s, their ratio, p50, p99 and max, how many requests took over 100 ms, and
how many connections carried them.  It answers issue 19's question about the built-in engine's
``max`` figure: a max of seconds with a p99 of milliseconds, while wrk, on the same server, sees
a max of a few ms.

Exit status: 0 when it ran (whatever the figures), 2 when the server did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx

APPS = Path(__file__).resolve().parent.parent / "tests" / "apps"
SLOW_MS = 100.0


@dataclass(frozen=True)
class Run:
    """What one client measured: each request's latency, and the connections it used."""

    client: str
    latencies_ms: list[float]
    seconds: float
    connections: int

    def row(self, baseline: Run | None) -> str:
        ordered = sorted(self.latencies_ms)
        rps = len(ordered) / self.seconds
        ratio = f"{rps / (len(baseline.latencies_ms) / baseline.seconds):.2f}" if baseline else "1.00"
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        slow = sum(1 for ms in ordered if ms > SLOW_MS)
        return (
            f"{self.client:<8} {rps:>7.0f} {ratio:>6} {statistics.median(ordered):>7.1f} {p99:>7.1f} "
            f"{ordered[-1]:>8.1f} {slow:>6} {self.connections:>6}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(APPS), "standin:app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return process, port
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit(2) from None
            time.sleep(0.1)


async def with_httpx(port: int, users: int, duration: float) -> Run:
    latencies: list[float] = []
    streams: set[int] = set()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
        started = time.perf_counter()

        async def user() -> None:
            while time.perf_counter() - started < duration:
                sent = time.perf_counter()
                response = await client.get("/health")
                latencies.append((time.perf_counter() - sent) * 1000)
                streams.add(id(response.extensions["network_stream"]))

        await asyncio.gather(*(user() for _ in range(users)))
        return Run("httpx", latencies, time.perf_counter() - started, len(streams))


async def with_asyncio(port: int, users: int, duration: float) -> Run:
    latencies: list[float] = []
    request = f"GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    started = time.perf_counter()

    async def user() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() - started < duration:
                sent = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - sent) * 1000)
        finally:
            writer.close()

    await asyncio.gather(*(user() for _ in range(users)))
    return Run("asyncio", latencies, time.perf_counter() - started, users)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n", 1)[0])
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    server, port = start_server()
    try:
        print(f"{args.users} users x {args.duration:g} s, GET /health, one uvicorn process on loopback")
        header = ("req/s", 7), ("x", 6), ("p50 ms", 7), ("p99 ms", 7), ("max ms", 8), (">100ms", 6), ("conns", 6)
        print(f"{'client':<8} " + " ".join(f"{name:>{width}}" for name, width in header))
        for _ in range(args.rounds):
            baseline = asyncio.run(with_asyncio(port, args.users, args.duration))
            print(baseline.row(None), flush=True)
            print(asyncio.run(with_httpx(port, args.users, args.duration)).row(baseline), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
