"""Load probe: virtual users for a bounded time, on the built-in asyncio engine or on Locust.

The ``load_probe`` fixture imports this module when a check first calls it.  The built-in engine
(asyncio and httpx in a fresh thread) measures its own CPU and event-loop lag while it runs, so
a figure the client limited is flagged as the client's, never reported as the server's.  The
Locust engine runs Locust in subprocesses (its gevent monkey-patching never enters pytest), from
a locustfile generated from the scenario, and reads its CSV statistics back.
"""

from __future__ import annotations

import asyncio
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import pytest

from pytest_deploysmoke.clients.network import free_port
from pytest_deploysmoke.expect import unchecked
from pytest_deploysmoke.perf.budgets import parse_duration
from pytest_deploysmoke.perf.latency import split_request
from pytest_deploysmoke.perf.stats import LatencyHistogram, LatencyStats, Millis, _ms_text
from pytest_deploysmoke.results.records import CallRecord, Measurement, record, record_measurement

if TYPE_CHECKING:
    import httpx

    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

Engine = Literal["builtin", "locust"]
ENGINES: Final = ("builtin", "locust")
#: Bounds of one probe: virtual users, run time, scenario size, Locust worker processes.
MAX_USERS: Final = 200
MAX_DURATION_S: Final = 3600.0
MAX_SCENARIO: Final = 50
MAX_REQUESTS: Final = 10_000_000
MAX_WORKERS: Final = 16
#: The client is the bottleneck from this fraction of one core (the built-in engine is one thread; a
#: 10-user run measured 0.89 of a core at 0.11x wrk's req/s, so 0.9 came too late) ...
CLIENT_CPU_LIMIT: Final = 0.8
#: ... or when its event loop wakes this late (p95, ms): requests waited for the client, not the server.
LOOP_LAG_LIMIT_MS: Final = 5.0
#: How often the lag sampler asks to be woken.
LAG_INTERVAL_S: Final = 0.01
#: Time Locust may take beyond the run time: start-up, workers connecting, stopping.
LOCUST_GRACE_S: Final = 60.0
LOCUST_EXTRA: Final = "pip install pytest-deploysmoke[load]"
HEADERS_ENV: Final = "DEPLOYSMOKE_LOAD_HEADERS"


@dataclass(frozen=True, slots=True)
class LoopLag:
    """How late the built-in engine's event loop woke a 10 ms timer during the run, in ms."""

    p95: float
    max: float
    samples: int

    def __str__(self) -> str:
        return f"p95 {_ms_text(self.p95)}, max {_ms_text(self.max)} ms"


@dataclass(frozen=True, slots=True, repr=False, kw_only=True)
class LoadStats(LatencyStats):
    """What one ``load_probe(...)`` run saw: the latency statistics plus the load and the client's limits.

    When ``client_bound`` is true the client, not the server, limited the run: ``rps`` is the
    client's ceiling, and the ms fields are upper bounds (their ``repr`` says so), since they
    include time the requests waited for the busy client.
    """

    rps: float  # answered and unanswered requests per second of the run
    users: int
    duration_s: float  # the run time asked for; elapsed_s is what it took
    engine: Engine
    workers: int = 0  # Locust worker processes (0: one process)
    scenario: tuple[str, ...] = ()
    client_cpu: float = math.nan  # fraction of one core the busiest load process used
    loop_lag_ms: LoopLag | None = None  # built-in engine only
    client_bound: bool = False
    client_note: str = ""

    def describe(self) -> str:
        """One line: the load, the latency statistics, and the client's own figures."""
        workers = f", {self.workers} workers" if self.workers else ""
        mean = f", mean {self.mean}" if self.count > self.unanswered else ""
        bound = "; latencies are upper bounds" if self.client_bound else ""
        return (
            f"{self.action} ({self.engine}{workers}): {_plural_requests(self.count)} in {self.elapsed_s:.2f} s, "
            f"{self.rps:.0f} req/s: {self.distribution}{mean}; {self.error_summary} ({self.error_rate:.1%}); "
            f"{self.client_note}{bound}"
        )

    def __repr__(self) -> str:
        return f"<LoadStats {self.describe()}>"


def _plural_requests(count: int) -> str:
    return "1 request" if count == 1 else f"{count} requests"


def judge_client(cpu: float, lag: LoopLag | None, *, warned: bool = False) -> tuple[bool, str]:
    """Whether the client was the bottleneck, and the note that says why (or why not)."""
    parts = [f"client {cpu:.2f} of a core" if not math.isnan(cpu) else "client CPU not measured"]
    if lag is not None:
        parts.append(f"event-loop lag {lag}")
    figures = ", ".join(parts)
    reasons = []
    if cpu >= CLIENT_CPU_LIMIT:
        reasons.append(f"CPU at or over {CLIENT_CPU_LIMIT:g} of a core")
    if lag is not None and lag.p95 > LOOP_LAG_LIMIT_MS:
        reasons.append(f"loop lag p95 over {LOOP_LAG_LIMIT_MS:g} ms")
    if warned:
        reasons.append("Locust warned of its CPU usage")
    if not reasons:
        return False, f"{figures}: not the bottleneck"
    return True, (
        f"CLIENT-BOUND ({figures}: {', '.join(reasons)}): the client, not the server, limited this run, "
        f"so req/s is the client's ceiling; use engine='locust' (and workers=N) for this load"
    )


@dataclass(slots=True)
class _Run:
    """What an engine measured, before it becomes LoadStats."""

    stats: LatencyStats
    rps: float
    client_cpu: float
    loop_lag: LoopLag | None = None
    warned: bool = False


@dataclass(slots=True)
class _Tally:
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    issued: int = 0


class LoadProbe:
    """What the ``load_probe`` fixture returns: call it to put a bounded load on the target."""

    def __init__(self, config: pytest.Config, target: Target, redactor: Redactor) -> None:
        self._config = config
        self._target = target
        self._redactor = redactor

    def __repr__(self) -> str:
        return f"<load_probe on target '{self._target.name}'>"

    def __call__(
        self,
        users: int = 10,
        duration: float | str = "20s",
        requests: Sequence[str] | None = None,
        *,
        engine: Engine = "builtin",
        max_requests: int | None = None,
        workers: int = 0,
    ) -> LoadStats:
        """Run *users* virtual users for *duration*, each sending *requests* in turn without pause.

        Args:
            users: Virtual users, 1 to 200.
            duration: The run time (``"20s"``; a number is seconds), at most an hour; a hard stop.
            requests: ``"/path"`` or ``"METHOD /path"`` strings (default: the target's health path).
            engine: ``"builtin"`` (asyncio + httpx in this process) or ``"locust"`` (subprocesses).
            max_requests: Stop after this many requests (built-in: in all; Locust: split over processes).
            workers: Locust worker processes under a master (``engine="locust"`` only), 0 to 16.

        Raises:
            ValueError: an argument is out of range.
        """
        __tracebackhide__ = True
        users = _whole("users", users, 1, MAX_USERS)
        duration_s = parse_duration(duration)
        if not 0 < duration_s <= MAX_DURATION_S:
            raise ValueError(
                f"load_probe(): duration must be over 0 and at most {MAX_DURATION_S:g} s, got {duration!r}"
            )
        if engine not in ENGINES:
            raise ValueError(f"load_probe(): engine must be one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
        if max_requests is not None:
            max_requests = _whole("max_requests", max_requests, 1, MAX_REQUESTS)
        workers = _whole("workers", workers, 0, MAX_WORKERS)
        if workers and engine != "locust":
            raise ValueError("load_probe(): workers= runs Locust worker processes; pass engine='locust' with it")
        texts = [f"GET {self._target.health_path}"] if requests is None else list(requests)
        if isinstance(requests, str) or not 1 <= len(texts) <= MAX_SCENARIO:
            raise ValueError(f"load_probe(): requests must be a list of 1 to {MAX_SCENARIO} requests, got {requests!r}")
        scenario = [split_request(text) for text in texts]
        self._guard(scenario)
        shown = tuple(self._redactor.redact(f"{method} {url}") for method, url in scenario)
        action = f"LOAD {users} users x {duration_s:g} s: {', '.join(shown)}"
        if engine == "builtin":
            run = self._run_builtin(scenario, action, users, duration_s, max_requests)
        else:
            run = self._run_locust(scenario, action, users, duration_s, max_requests, workers)
        stats = _load_stats(run, users=users, duration_s=duration_s, engine=engine, workers=workers, scenario=shown)
        outcome = f"{stats.count} req, {stats.errors} errors, {stats.rps:.0f} req/s"
        record(
            self._config,
            CallRecord(
                "http",
                action,
                outcome + (", client-bound" if stats.client_bound else ""),
                ok=stats.errors == 0,
                ms=float(stats.p95) if stats.count > stats.unanswered else 0.0,
            ),
        )
        record_measurement(self._config, Measurement.of(stats, engine=engine))
        return stats

    def _guard(self, scenario: list[tuple[str, str]]) -> None:
        """Refuse a write the check may not make before any request of the run is sent."""
        import httpx

        from pytest_deploysmoke.clients.http import guard_requests

        base = httpx.URL(self._target.base_url)
        guard_requests(self._config, self._target, [httpx.Request(m, base.join(u)) for m, u in scenario])

    # -- built-in engine ------------------------------------------------------------------------

    def _run_builtin(
        self, scenario: list[tuple[str, str]], action: str, users: int, duration_s: float, max_requests: int | None
    ) -> _Run:
        outcome: list[_Run] = []
        failure: list[BaseException] = []

        def main() -> None:
            try:
                outcome.append(asyncio.run(self._drive(scenario, action, users, duration_s, max_requests)))
            except BaseException as exc:  # handed to the check's thread below
                failure.append(exc)

        # A fresh thread: the check may be sync, or async with its own loop already running.
        thread = threading.Thread(target=main, name="deploysmoke-load", daemon=True)
        thread.start()
        thread.join(timeout=duration_s + self._target.timeout + 30)
        if thread.is_alive():
            raise unchecked(f"{action}: the built-in engine did not stop within 30 s of its run time")
        if failure:
            raise failure[0]
        return outcome[0]

    async def _drive(
        self, scenario: list[tuple[str, str]], action: str, users: int, duration_s: float, max_requests: int | None
    ) -> _Run:
        import httpx

        from pytest_deploysmoke.clients.http import make_load_client
        from pytest_deploysmoke.clients.network import describe_error

        tally = _Tally()
        lag = LatencyHistogram()

        async def user(index: int, client: httpx.AsyncClient) -> None:
            step = index
            while max_requests is None or tally.issued < max_requests:
                tally.issued += 1
                method, url = scenario[step % len(scenario)]
                step += 1
                started = time.perf_counter()
                try:
                    response = await client.request(method, url)
                except httpx.UnsupportedProtocol:
                    raise  # a wrong URL, not a failing service
                except httpx.TransportError as exc:
                    tally.unanswered += 1
                    tally.errors[self._redactor.redact(describe_error(exc))] += 1
                    continue
                tally.histogram.record((time.perf_counter() - started) * 1000)
                if response.status_code >= 400:
                    tally.errors[str(response.status_code)] += 1

        async def sample_lag() -> None:
            while True:  # cancelled when the run stops
                asked = time.perf_counter()
                await asyncio.sleep(LAG_INTERVAL_S)
                lag.record(max(0.0, (time.perf_counter() - asked - LAG_INTERVAL_S) * 1000))

        async with make_load_client(self._config, self._target, connections=users) as client:
            sampler = asyncio.create_task(sample_lag())
            cpu_started, started = time.thread_time(), time.perf_counter()
            tasks = [asyncio.create_task(user(i, client)) for i in range(users)]
            done, pending = await asyncio.wait(tasks, timeout=duration_s, return_when=asyncio.FIRST_EXCEPTION)
            elapsed = time.perf_counter() - started
            cpu = (time.thread_time() - cpu_started) / elapsed if elapsed > 0 else math.nan
            for task in (*pending, sampler):
                task.cancel()  # the hard stop: requests in flight are dropped, not counted
            await asyncio.gather(*pending, sampler, return_exceptions=True)
        for task in done:
            problem = None if task.cancelled() else task.exception()
            if problem is not None:
                raise problem  # a write the guard refused, a wrong URL: the check fails with it
        stats = LatencyStats.from_histogram(
            tally.histogram,
            action=action,
            errors=sum(tally.errors.values()),
            unanswered=tally.unanswered,
            concurrency=users,
            elapsed_s=elapsed,
            error_outcomes=tally.errors.items(),
        )
        loop_lag = LoopLag(lag.percentile(95), lag.max, lag.count) if lag.count else None
        return _Run(stats, stats.count / elapsed if elapsed > 0 else 0.0, cpu, loop_lag)

    # -- Locust engine --------------------------------------------------------------------------

    def _run_locust(
        self,
        scenario: list[tuple[str, str]],
        action: str,
        users: int,
        duration_s: float,
        max_requests: int | None,
        workers: int,
    ) -> _Run:
        __tracebackhide__ = True
        import importlib.util

        if importlib.util.find_spec("locust") is None:
            raise unchecked(
                f"{action}: engine='locust' needs Locust, which is not installed; install the extra: {LOCUST_EXTRA}"
            )
        run_s = max(1, math.ceil(duration_s))
        with tempfile.TemporaryDirectory(prefix="deploysmoke-locust-") as tmp:
            folder = Path(tmp)
            per_process = math.ceil(max_requests / max(1, workers)) if max_requests is not None else 0
            locustfile = folder / "locustfile.py"
            locustfile.write_text(locustfile_for(scenario, self._target.timeout, self._target.verify_tls, per_process))
            env = {**os.environ, HEADERS_ENV: json.dumps(dict(self._target.headers))}
            env.pop("PYTEST_CURRENT_TEST", None)
            base = [sys.executable, "-m", "locust", "-f", str(locustfile), "--loglevel", "WARNING"]
            master = [
                *base,
                "--headless",
                "-u",
                str(users),
                "-r",  # all users within 0.1 s (0.5 s for 50), under Locust's "spawn rate > 100" warning
                str(min(users * 10, 100)),
                "-t",
                f"{run_s}s",
                "--host",
                self._target.base_url,
                "--csv",
                str(folder / "run"),
                "--only-summary",
                "--exit-code-on-error",
                "0",
            ]
            worker_cmds: list[list[str]] = []
            if workers:
                port = free_port()
                master += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
                master += ["--expect-workers", str(workers), "--expect-workers-max-wait", "30"]
                worker = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
                worker_cmds = [worker for _ in range(workers)]
            cpu_files = _run_processes(master, worker_cmds, folder, env, action, run_s + LOCUST_GRACE_S)
            stats, rps = read_locust_csv(folder / "run", action, users, self._redactor, run_s)
        cpus = [entry for entry in cpu_files if entry.get("runner") != "MasterRunner"]
        cpu = max((float(entry["cpu"]) for entry in cpus), default=math.nan)
        warned = any(bool(entry.get("warned")) for entry in cpus)
        return _Run(stats, rps, cpu, None, warned)


def _load_stats(
    run: _Run, *, users: int, duration_s: float, engine: Engine, workers: int, scenario: tuple[str, ...]
) -> LoadStats:
    bound, note = judge_client(run.client_cpu, run.loop_lag, warned=run.warned)
    values = {f.name: getattr(run.stats, f.name) for f in fields(LatencyStats)}
    if bound:
        for name in ("min", "p50", "p95", "p99", "max", "mean"):
            ms: Millis = values[name]
            values[name] = Millis(float(ms), ms.label, f"upper bound, client-bound; {ms.summary}")
    return LoadStats(
        **values,
        rps=run.rps,
        users=users,
        duration_s=duration_s,
        engine=engine,
        workers=workers,
        scenario=scenario,
        client_cpu=run.client_cpu,
        loop_lag_ms=run.loop_lag,
        client_bound=bound,
        client_note=note,
    )


LOCUSTFILE = '''\
"""Generated by pytest-deploysmoke's load_probe: one user sends the scenario in turn, without pause."""

import json
import os
import time

from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser

HEADERS = json.loads(os.environ.get({headers_env!r}, "{{}}"))
SCENARIO = {scenario!r}
LIMIT = {limit!r}  # requests this process may send; 0: no limit
CPU = {{"cpu": time.process_time(), "wall": time.perf_counter()}}
SENT = [0]


@events.test_start.add_listener
def _started(environment, **kwargs):
    CPU.update(cpu=time.process_time(), wall=time.perf_counter())


@events.quitting.add_listener
def _quitting(environment, **kwargs):
    wall = time.perf_counter() - CPU["wall"]
    runner = environment.runner
    entry = {{
        "runner": type(runner).__name__,
        "cpu": (time.process_time() - CPU["cpu"]) / wall if wall > 0 else 0.0,
        "warned": bool(getattr(runner, "cpu_warning_emitted", False)),
    }}
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpu-%d.json" % os.getpid()), "w") as out:
        json.dump(entry, out)


class ScenarioUser(FastHttpUser):
    wait_time = constant(0)
    network_timeout = {timeout!r}
    connection_timeout = {timeout!r}
    insecure = {insecure!r}

    @task
    def scenario(self):
        for method, url in SCENARIO:
            if LIMIT and SENT[0] >= LIMIT:
                raise StopUser()
            SENT[0] += 1
            self.client.request(method, url, name=method + " " + url, headers=HEADERS)
'''


def locustfile_for(scenario: Sequence[tuple[str, str]], timeout: float, verify_tls: bool, limit: int) -> str:
    """The locustfile for *scenario*; the CPU files land beside it.  Headers come from the environment."""
    return LOCUSTFILE.format(
        headers_env=HEADERS_ENV,
        scenario=[list(pair) for pair in scenario],
        limit=limit,
        timeout=float(timeout),
        insecure=not verify_tls,
    )


def _run_processes(
    master: list[str], workers: list[list[str]], folder: Path, env: dict[str, str], action: str, timeout_s: float
) -> list[dict[str, Any]]:
    """Run the Locust master (or lone process) and its workers; stop every one by PID; return the CPU files."""
    __tracebackhide__ = True
    processes: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for index, argv in enumerate([master, *workers]):
            log = (folder / f"locust-{index}.log").open("wb")
            logs.append(log)
            processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder))
        deadline = time.monotonic() + timeout_s
        while processes[0].poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        timed_out = processes[0].returncode is None
        # Workers quit when their master does; give them a moment before stopping them.
        worker_deadline = time.monotonic() + 10
        while any(p.poll() is None for p in processes[1:]) and time.monotonic() < worker_deadline:
            time.sleep(0.05)
    finally:
        for process in processes:
            _stop(process)
        for log in logs:
            log.close()
    tail = _tail(folder / "locust-0.log")
    if timed_out:
        raise unchecked(f"{action}: Locust did not finish within {timeout_s:g} s and was stopped; its log ends: {tail}")
    if processes[0].returncode != 0:
        raise unchecked(f"{action}: Locust exited with status {processes[0].returncode}; its log ends: {tail}")
    entries = []
    for path in sorted(folder.glob("cpu-*.json")):
        try:
            entries.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return entries


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop *process* by its PID: terminate, then kill if it does not go within 5 s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


_STATUS_IN_ERROR = re.compile(r"(?:code=|\bstatus[ =:]|^\w+\(['\"])(\d{3})\b")


def _error_outcome(error: str) -> str:
    """Locust's failure text as the latency fixture names errors: the status, else the message."""
    match = _STATUS_IN_ERROR.search(error)
    return match.group(1) if match else error[:120]


def read_locust_csv(
    prefix: Path, action: str, users: int, redactor: Redactor, run_s: float
) -> tuple[LatencyStats, float]:
    """Read Locust's ``<prefix>_stats.csv`` (the Aggregated row) and ``_failures.csv`` into LatencyStats and req/s.

    Locust keeps times rounded (to 1 ms under 100 ms, 10 ms under 1 s, then 100 ms); its
    percentiles are its own, from those rounded times.  Its ``Requests/s`` is not used: it
    divides by the time from its stats start to the last request, which measured a second
    short of the run (3.0 s of a ``-t 4s`` run), overstating req/s by a quarter.  req/s here is
    the request count over *run_s*, the run time Locust was given, as wrk counts it.
    """
    with open(f"{prefix}_stats.csv", newline="") as stats_file:
        rows = [row for row in csv.DictReader(stats_file) if row.get("Name") == "Aggregated"]
    if not rows:
        raise ValueError(f"{prefix}_stats.csv has no Aggregated row")
    row = rows[0]
    outcomes: Counter[str] = Counter()
    failures_path = Path(f"{prefix}_failures.csv")
    if failures_path.exists():
        with failures_path.open(newline="") as failures_file:
            for failure in csv.DictReader(failures_file):
                outcomes[redactor.redact(_error_outcome(failure.get("Error", "")))] += int(
                    failure.get("Occurrences", 0)
                )
    count = int(row["Request Count"])
    errors = int(row["Failure Count"])
    rps = count / run_s if run_s > 0 else 0.0
    figures = {
        "min": _number(row.get("Min Response Time")),
        "p50": _number(row.get("50%")),
        "p95": _number(row.get("95%")),
        "p99": _number(row.get("99%")),
        "max": _number(row.get("Max Response Time")),
    }
    mean = _number(row.get("Average Response Time"))
    if not count:
        figures = dict.fromkeys(figures, math.nan)
        mean = math.nan
    spread = ", ".join(f"{name} {_ms_text(ms)}" for name, ms in figures.items())
    shown = sorted(outcomes.items(), key=lambda pair: (-pair[1], pair[0]))
    error_text = f"{errors} error" if errors == 1 else f"{errors} errors"
    if shown:
        error_text += (
            ": " + ", ".join(f"{outcome} x{n}" for outcome, n in shown[:4]) + (", ..." if len(shown) > 4 else "")
        )
    summary = f"of {count} (Locust): {spread}; {error_text}" if count else f"of 0: no answers; {error_text}"
    stats = LatencyStats(
        action=action,
        count=count,
        errors=errors,
        error_rate=errors / count if count else 0.0,
        warmup=0,
        min=Millis(figures["min"], "min", summary),
        p50=Millis(figures["p50"], "p50", summary),
        p95=Millis(figures["p95"], "p95", summary),
        p99=Millis(figures["p99"], "p99", summary),
        max=Millis(figures["max"], "max", summary),
        mean=Millis(mean, "mean", summary),
        concurrency=users,
        elapsed_s=run_s,
        error_outcomes=tuple(shown),
    )
    return stats, rps


def _number(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "", "N/A") else math.nan
    except ValueError:
        return math.nan


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"load_probe(): {name} must be a whole number from {low} to {high}, got {value!r}")
    return value
