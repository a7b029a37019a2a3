"""Where the built-in load engine's time and its outliers come from: httpx and aiohttp against plain asyncio.

Run it with::

    .venv/bin/python benchmarks/client_stalls.py [--users 10] [--duration 5] [--rounds 2]

It serves the stand-in app (``tests/apps/standin.py``; ``GET /health`` answers a small JSON body)
under uvicorn as one separate process on 127.0.0.1, then, alternately in this one process (so
machine noise hits all alike), sends ``GET /health`` from USERS asyncio tasks for DURATION
seconds with:

- ``asyncio``: one ``asyncio.open_connection`` per task, the request written and the answer read
  by hand (HTTP/1.1 keep-alive, Content-Length): no client library at all, the ceiling of one
  Python process with one event loop;
- ``httpx``: one ``httpx.AsyncClient`` with USERS keep-alive connections, as the built-in engine
  (``perf/load/builtin.py``) did before it moved to aiohttp.  Each request carries httpcore's
  ``trace`` extension, which names the steps of a request as they happen; for every request
  over 100 ms the script notes how long it took to reach ``send_request_headers`` (waiting in
  httpcore's connection pool for a connection, before a byte was written) and whether it opened
  a new connection;
- ``aiohttp``: one ``aiohttp.ClientSession`` with USERS pooled connections, as the built-in
  engine now sends.

For each it prints req/s, the ratio to asyncio's, p50, p99 and max, how many requests took over
100 ms, and how many connections carried them; at how many moments the requests over 100 ms were
sent (one moment for many: the whole process waited, not one connection); for httpx, where its
slow requests' time went.
It answers issue 19's question about the built-in engine's ``max`` figure: a max of seconds with
a p99 of milliseconds, while wrk, on the same server, sees a max of a few ms.

Exit status: 0 when it ran (whatever the figures), 2 when the server did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
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
    #: When each request was sent, in seconds from the start, beside its latency.
    sent_s: list[float]
    #: httpx only: per request over SLOW_MS, (its ms, ms before its headers were written, whether it connected).
    slow: tuple[tuple[float, float, bool], ...] = ()

    def moments(self) -> str:
        """When the requests over SLOW_MS were sent: how many moments (sends 10 ms apart or less are one)."""
        sent = sorted(at for at, ms in zip(self.sent_s, self.latencies_ms, strict=True) if ms > SLOW_MS)
        if not sent:
            return ""
        moments = 1 + sum(1 for before, after in itertools.pairwise(sent) if after - before > 0.01)
        return f"  {self.client}'s {len(sent)} requests over {SLOW_MS:g} ms were sent at {moments} moment(s)"

    def where(self) -> str:
        """Where the slow requests' time went (httpx's trace), or "" without any."""
        if not self.slow:
            return ""
        total = sum(ms for ms, _, _ in self.slow)
        waiting = sum(wait for _, wait, _ in self.slow)
        connected = sum(1 for _, _, new in self.slow if new)
        worst, worst_wait, _ = max(self.slow)
        return (
            f"  httpx's {len(self.slow)} requests over {SLOW_MS:g} ms: {waiting / total:.0%} of their time before "
            f"their headers were written (in the pool), {connected} opened a connection; "
            f"the slowest, {worst:.0f} ms, waited {worst_wait:.0f} ms of it"
        )

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


async def note_step(steps: dict[str, float], name: str, info: object) -> None:
    """httpcore's trace callback: when each step of a request first happened."""
    steps.setdefault(name, time.perf_counter())


async def with_httpx(port: int, users: int, duration: float) -> Run:
    latencies: list[float] = []
    sent_at: list[float] = []
    streams: set[int] = set()
    slow: list[tuple[float, float, bool]] = []
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=users)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as client:
        started = time.perf_counter()

        async def user() -> None:
            while time.perf_counter() - started < duration:
                steps: dict[str, float] = {}
                sent = time.perf_counter()
                response = await client.get("/health", extensions={"trace": functools.partial(note_step, steps)})
                ms = (time.perf_counter() - sent) * 1000
                latencies.append(ms)
                sent_at.append(sent - started)
                streams.add(id(response.extensions["network_stream"]))
                if ms > SLOW_MS:
                    written = steps.get("http11.send_request_headers.started", sent)
                    slow.append((ms, (written - sent) * 1000, "connection.connect_tcp.started" in steps))

        await asyncio.gather(*(user() for _ in range(users)))
        return Run("httpx", latencies, time.perf_counter() - started, len(streams), sent_at, tuple(slow))


async def with_aiohttp(port: int, users: int, duration: float) -> Run:
    import aiohttp

    latencies: list[float] = []
    sent_at: list[float] = []
    connector = aiohttp.TCPConnector(limit=users)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        url = f"http://127.0.0.1:{port}/health"
        transports: set[int] = set()

        async def user() -> None:
            while time.perf_counter() - started < duration:
                sent = time.perf_counter()
                async with session.get(url, allow_redirects=False) as response:
                    if response.connection is not None:  # released once the body is read
                        transports.add(id(response.connection.transport))
                    await response.read()
                latencies.append((time.perf_counter() - sent) * 1000)
                sent_at.append(sent - started)

        await asyncio.gather(*(user() for _ in range(users)))
        return Run("aiohttp", latencies, time.perf_counter() - started, len(transports), sent_at)


async def with_asyncio(port: int, users: int, duration: float) -> Run:
    latencies: list[float] = []
    sent_at: list[float] = []
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
                sent_at.append(sent - started)
        finally:
            writer.close()

    await asyncio.gather(*(user() for _ in range(users)))
    return Run("asyncio", latencies, time.perf_counter() - started, users, sent_at)


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
            stalled = asyncio.run(with_httpx(port, args.users, args.duration))
            print(stalled.row(baseline), flush=True)
            now = asyncio.run(with_aiohttp(port, args.users, args.duration))
            print(now.row(baseline), flush=True)
            for line in (baseline.moments(), stalled.moments(), stalled.where(), now.moments()):
                if line:
                    print(line, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
