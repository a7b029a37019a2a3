"""Watch window: after the checks, sample the probes, print a line per interval, stop when a rollback rule trips.

RunSummary calls :func:`run_window` on the controller before it decides the verdict, so the
verdict carries the window's result.  Memory is bounded whatever the window's length: each
interval and the whole window keep counters and a fixed-size :class:`LatencyHistogram`, never
the samples themselves.  This module imports httpx and websockets, so it is imported only when
a watch window runs.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

import httpx
import pytest
import websockets

from pytest_deploysmoke.clients.network import ssl_context
from pytest_deploysmoke.perf.budgets import format_ms
from pytest_deploysmoke.perf.rollback import EndpointFigures, Figures, evaluate, not_evaluated, percent
from pytest_deploysmoke.perf.stats import LatencyHistogram

if TYPE_CHECKING:
    from pytest_deploysmoke.config.model import Target, WatchProbe
    from pytest_deploysmoke.config.settings import RunSettings
    from pytest_deploysmoke.results.verdict import Decision

#: Rounds of probes per interval (one round samples every probe once, concurrently) ...
ROUNDS_PER_INTERVAL: Final = 30
#: ... but never closer together than this many seconds.
MIN_ROUND_GAP: Final = 0.2
#: How long a WebSocket probe waits, after the open, for the server to close it on it.
WS_HOLD: Final = 0.5
#: How long the metrics endpoint may take to answer.
METRICS_TIMEOUT: Final = 5.0


@dataclass(frozen=True, slots=True)
class WatchOutcome:
    """What the window decided: the rollback rules that tripped, and one line saying what it measured."""

    rollback: tuple[str, ...]
    line: str
    #: Ctrl-C or SIGTERM stopped the window: it did not watch as long as asked.
    interrupted: bool = False
    #: The rules that would have tripped in an interval with too few samples (a warning each).
    not_evaluated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProbeSample:
    """One probe's result: its time when it got an answer (or opened), and whether it counts as good."""

    probe: WatchProbe
    ms: float | None
    ok: bool


@dataclass(frozen=True, slots=True)
class MetricsReading:
    """The target's own process figures from its Prometheus endpoint, at one moment."""

    at: float  # time.monotonic() when read
    cpu_seconds: float | None
    rss_bytes: float | None


@dataclass(slots=True)
class Aggregate:
    """Running figures of one interval or of the whole window: counters and fixed-size histograms only."""

    targets_ms: dict[str, float]  # endpoint action -> its budget's target, for the p95 rule
    requests: int = 0
    errors: int = 0
    ws_connects: int = 0
    ws_failures: int = 0
    health_streak: int = 0
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    endpoints: dict[str, LatencyHistogram] = field(default_factory=dict)

    def add(self, sample: ProbeSample, streak: int) -> None:
        """Count *sample*; *streak* is the run of failed health probes up to and including it."""
        probe = sample.probe
        if probe.kind == "ws":
            self.ws_connects += 1
            self.ws_failures += not sample.ok
        else:
            self.requests += 1
            self.errors += not sample.ok
            if sample.ms is not None:
                self.histogram.record(sample.ms)
                endpoint = probe.action.split("?", 1)[0]
                if endpoint in self.targets_ms:
                    if endpoint not in self.endpoints:
                        self.endpoints[endpoint] = LatencyHistogram()
                    self.endpoints[endpoint].record(sample.ms)
        if probe.health:
            self.health_streak = max(self.health_streak, streak)

    def figures(self, scope: str, health_action: str) -> Figures:
        """The figures the rollback rules are evaluated on."""
        return Figures(
            scope=scope,
            requests=self.requests,
            errors=self.errors,
            ws_connects=self.ws_connects,
            ws_failures=self.ws_failures,
            health_streak=self.health_streak,
            health_action=health_action,
            endpoints=tuple(
                EndpointFigures(action, histogram.count, histogram.percentile(95.0), self.targets_ms[action])
                for action, histogram in self.endpoints.items()
            ),
        )

    def describe(self) -> str:
        """``24 requests, 0 errors (0%), p95 3.1 ms, WebSocket failures 0/8``."""
        rate = percent(self.errors / self.requests) if self.requests else "n/a"
        p95 = self.histogram.percentile(95.0)
        shown = "n/a" if math.isnan(p95) else format_ms(p95 / 1000)
        text = f"{self.requests} requests, {self.errors} errors ({rate}), p95 {shown}"
        if self.ws_connects:
            text += f", WebSocket failures {self.ws_failures}/{self.ws_connects}"
        return text


def run_window(
    config: pytest.Config, settings: RunSettings, prior: Decision | None, session: pytest.Session | None = None
) -> WatchOutcome:
    """Run the watch window after the checks, unless they already decided against the deploy
    (*prior*: ``"NO-GO"``, ``"ROLLBACK"``), and return its outcome."""
    write = _writer(config)
    duration, every = settings.target.watch.duration, settings.target.watch.every
    if prior in ("NO-GO", "ROLLBACK"):
        line = f"watch window skipped: the checks already say {prior}"
        write(line, yellow=True)
        return WatchOutcome((), line)
    if session is not None and session.shouldstop:
        line = f"watch window skipped: the run was stopped ({session.shouldstop})"
        write(line, yellow=True)
        return WatchOutcome((), line)
    watch = Watch(settings.target, duration, every, write)
    probes = ", ".join(probe.action for probe in settings.target.watch.probes)
    write(f"watch window: {_duration(duration)}, a line every {_duration(every)}; probes: {probes}", bold=True)
    try:
        asyncio.run(watch.run())
    except KeyboardInterrupt:
        watch.stopped = "interrupted"
    return watch.outcome()


def _writer(config: pytest.Config) -> Callable[..., None]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def write(line: str, **markup: bool) -> None:
        if reporter is not None:
            reporter.write_line(f"deploysmoke {line}", **markup)
            reporter.flush()

    return write


class Watch:
    """One watch window on one target; :meth:`run` samples, :meth:`outcome` sums it up."""

    def __init__(self, target: Target, duration: float, every: float, write: Callable[..., None]) -> None:
        self.target = target
        self.duration = duration
        self.every = every
        self.write = write
        self.probes: Sequence[WatchProbe] = target.watch.probes
        self.health_action = next((p.action for p in self.probes if p.health), f"GET {target.health_path}")
        self.targets_ms = {
            action: budget.target * 1000 for action, budget in target.budgets.items() if budget.target is not None
        }
        self.total = Aggregate(self.targets_ms)
        self.intervals = math.ceil(duration / every)
        self.done = 0
        self.streak = 0
        self.rollback: tuple[str, ...] = ()
        self.stopped = ""
        #: rule (and endpoint) -> its first "not evaluated" line and how many intervals said it
        self.unjudged: dict[str, tuple[str, int]] = {}

    async def run(self) -> None:
        """Sample interval after interval until the window ends or a rollback rule trips."""
        target = self.target
        async with httpx.AsyncClient(
            base_url=target.base_url,
            timeout=target.timeout,
            verify=target.verify_tls,
            headers=dict(target.headers),
            follow_redirects=False,
        ) as client:
            start = time.monotonic()
            end = start + self.duration
            metrics = await self._metrics(client)
            for index in range(1, self.intervals + 1):
                interval_end = min(start + index * self.every, end)
                interval = Aggregate(self.targets_ms)
                gap = max(MIN_ROUND_GAP, self.every / ROUNDS_PER_INTERVAL)
                while time.monotonic() < interval_end:
                    round_start = time.monotonic()
                    samples = await asyncio.gather(*(self._sample(client, probe) for probe in self.probes))
                    for sample in samples:
                        if sample.probe.health:
                            self.streak = 0 if sample.ok else self.streak + 1
                        interval.add(sample, self.streak)
                        self.total.add(sample, self.streak)
                    delay = min(round_start + gap, interval_end) - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                reading = await self._metrics(client)
                self.done = index
                self.write(self._line(index, time.monotonic() - start, interval, metrics, reading))
                metrics = reading if isinstance(reading, MetricsReading) else metrics
                self.rollback = evaluate(target.rollback, interval.figures("the last interval", self.health_action))
                scope = f"interval {index} of {self.intervals}"
                for line in not_evaluated(target.rollback, interval.figures(scope, self.health_action)):
                    self.write(line, yellow=True)
                    rule = line.split(" not evaluated: ", 1)[0]
                    first, times = self.unjudged.get(rule, (line, 0))
                    self.unjudged[rule] = (first, times + 1)
                if self.rollback:
                    for reason in self.rollback:
                        self.write(f"ROLLBACK: {reason}", red=True, bold=True)
                    self.stopped = "rollback"
                    return

    def outcome(self) -> WatchOutcome:
        """The window's verdict input: tripped rules and a one-line account."""
        what = f"watch window {_duration(self.duration)}, {self.done} of {self.intervals} intervals: "
        what += self.total.describe()
        if self.stopped == "rollback":
            what += "; stopped early: a rollback rule tripped"
        elif self.stopped:
            what += f"; stopped early: {self.stopped}"
        else:
            what += "; no rollback rule tripped"
        self.write(what, bold=True)
        unjudged = tuple(
            first + (f" (and in {times - 1} more interval{'s' if times > 2 else ''})" if times > 1 else "")
            for first, times in self.unjudged.values()
        )
        return WatchOutcome(self.rollback, what, interrupted=self.stopped == "interrupted", not_evaluated=unjudged)

    def _line(
        self,
        index: int,
        elapsed: float,
        interval: Aggregate,
        before: MetricsReading | str | None,
        after: MetricsReading | str | None,
    ) -> str:
        clock = datetime.now().strftime("%H:%M:%S")
        line = f"{clock} +{_duration(elapsed)} [{index}/{self.intervals}]: {interval.describe()}"
        if isinstance(after, str):
            line += f"; {after}"
        elif after is not None:
            if isinstance(before, MetricsReading) and before.cpu_seconds is not None and after.cpu_seconds is not None:
                spent = after.cpu_seconds - before.cpu_seconds
                wall = after.at - before.at
                line += f", CPU {spent:.2f} s ({spent / wall:.0%})" if wall > 0 else f", CPU {spent:.2f} s"
            if after.rss_bytes is not None:
                line += f", RSS {after.rss_bytes / 2**20:.1f} MiB"
        return line

    async def _sample(self, client: httpx.AsyncClient, probe: WatchProbe) -> ProbeSample:
        if probe.kind == "ws":
            return await self._sample_ws(probe)
        started = time.perf_counter()
        try:
            response = await client.request(probe.method, probe.path)
        except (httpx.HTTPError, OSError):
            return ProbeSample(probe, None, ok=False)
        return ProbeSample(probe, (time.perf_counter() - started) * 1000, ok=response.status_code < 400)

    async def _sample_ws(self, probe: WatchProbe) -> ProbeSample:
        """Open the WebSocket; it fails when the open fails or the server closes it within WS_HOLD."""
        target = self.target
        url = target.ws_url + probe.path
        started = time.perf_counter()
        try:
            connection = await websockets.connect(
                url,
                additional_headers=dict(target.headers),
                open_timeout=target.timeout,
                close_timeout=1.0,
                ssl=ssl_context(target.verify_tls) if url.startswith("wss:") else None,
            )
        except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI):
            return ProbeSample(probe, None, ok=False)
        ms = (time.perf_counter() - started) * 1000
        ok = True
        try:
            await asyncio.wait_for(connection.recv(), WS_HOLD)
        except asyncio.TimeoutError:
            pass  # a quiet stream that stays open is fine
        except websockets.ConnectionClosed:
            ok = False
        finally:
            await connection.close()
        return ProbeSample(probe, ms, ok=ok)

    async def _metrics(self, client: httpx.AsyncClient) -> MetricsReading | str | None:
        """The target's process CPU seconds and resident memory, or what went wrong reading them."""
        url = self.target.watch.metrics_url
        if url is None:
            return None
        try:
            response = await client.get(url, timeout=min(self.target.timeout, METRICS_TIMEOUT))
        except (httpx.HTTPError, OSError) as exc:
            from pytest_deploysmoke.clients.network import describe_error

            return f"metrics: {describe_error(exc)}"
        if response.status_code != 200:
            return f"metrics: {url} answered {response.status_code}"
        try:
            cpu, rss = parse_process_metrics(response.text)
        except ValueError as exc:
            return f"metrics: {url} is not Prometheus text ({exc})"
        return MetricsReading(time.monotonic(), cpu, rss)


def parse_process_metrics(text: str) -> tuple[float | None, float | None]:
    """``process_cpu_seconds_total`` and ``process_resident_memory_bytes`` from Prometheus text.

    Raises:
        ValueError: *text* is not in the Prometheus text format.
    """
    from prometheus_client.parser import text_string_to_metric_families

    cpu = rss = None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "process_cpu_seconds_total":
                cpu = float(sample.value)
            elif sample.name == "process_resident_memory_bytes":
                rss = float(sample.value)
    return cpu, rss


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
