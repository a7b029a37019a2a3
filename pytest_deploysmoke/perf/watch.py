"""Watch window: after the checks, sample the probes, print a line per interval, stop when a rollback rule trips.

RunSummary calls :func:`run_window` on the controller before it decides the verdict, so the
verdict carries the window's result and its log (a :class:`~pytest_deploysmoke.results.watch_log.WatchLog`:
each interval's figures, for the reports).  Memory is bounded whatever the window's length: each
interval, each probe within it and the whole window keep counters and a fixed-size
:class:`LatencyHistogram`, never the samples themselves; the log keeps one small record per interval.
With ``--deploy-compare`` each round also samples the probes on the stable target, at the same
moments, and a :class:`~pytest_deploysmoke.perf.canary.CanaryJudge` judges the canary against it.
This module imports httpx and websockets, so it is imported only when a watch window runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Final

import httpx
import pytest
import websockets

from pytest_deploysmoke.clients.network import describe_error, describe_open_error, ssl_context
from pytest_deploysmoke.perf.budgets import format_ms
from pytest_deploysmoke.perf.canary import CanaryJudge, judgement_line, summary_text
from pytest_deploysmoke.perf.distributions import EndpointDistribution, Tally, merge_by_endpoint
from pytest_deploysmoke.perf.rollback import EndpointFigures, Figures, endpoint_of, evaluate, not_evaluated, percent
from pytest_deploysmoke.perf.stats import LatencyHistogram
from pytest_deploysmoke.results.watch_log import (
    ProbeFigures,
    WatchInterval,
    WatchLog,
    format_duration,
    kinds_text,
)

if TYPE_CHECKING:
    from pytest_deploysmoke.config.model import Target, WatchProbe
    from pytest_deploysmoke.config.settings import RunSettings
    from pytest_deploysmoke.perf.compare import Comparison, EndpointComparison
    from pytest_deploysmoke.results.verdict import Decision

#: Rounds of probes per interval (one round samples every probe once, concurrently) ...
ROUNDS_PER_INTERVAL: Final = 30
#: ... but never closer together than this many seconds.
MIN_ROUND_GAP: Final = 0.2
#: With ``--deploy-compare`` the HTTP probes are sampled faster, on both targets, so that the judgement has
#: hundreds of samples in seconds: a round at most every this many seconds (20 a second) ...
COMPARE_ROUND_GAP: Final = 0.05
#: ... and at most this many rounds per interval, so that a long interval sends no more than it needs.
COMPARE_ROUNDS_PER_INTERVAL: Final = 600
#: How long a WebSocket probe waits, after the open, for the server to close it on it.
WS_HOLD: Final = 0.5
#: How long the metrics endpoint may take to answer.
METRICS_TIMEOUT: Final = 5.0
#: Kinds of error an aggregate tells apart (``"503"``, ``"connection refused"``); any further kind
#: counts as :data:`OTHER_KIND`, so that errors whose wording varies cannot grow it.
MAX_ERROR_KINDS: Final = 10
OTHER_KIND: Final = "other"


@dataclass(frozen=True, slots=True)
class WatchOutcome:
    """What the window decided: the rollback rules that tripped, and one line saying what it measured."""

    rollback: tuple[str, ...]
    line: str
    #: Ctrl-C or SIGTERM stopped the window: it did not watch as long as asked.
    interrupted: bool = False
    #: The rules that would have tripped in an interval with too few samples (a warning each).
    not_evaluated: tuple[str, ...] = ()
    #: Each interval's figures; None when the window did not run.
    log: WatchLog | None = None
    #: ``--deploy-compare``: the canary judged against the stable target over the whole window; None without.
    comparison: Comparison | None = None


@dataclass(frozen=True, slots=True)
class ProbeSample:
    """One probe's result: its time when it got an answer (or opened), whether it counts as good, and what it got."""

    probe: WatchProbe
    ms: float | None
    ok: bool
    #: What a failed probe got: the status (``"503"``), the error in the plugin's words (``"connection
    #: refused"``), or how a WebSocket closed (``"closed code 1011"``); "" when it is good.
    error: str = ""


def probe_name(probe: WatchProbe) -> str:
    """``GET /health``, ``WS /ws/tickers``: how the log and the reports name a probe."""
    return f"WS {probe.path}" if probe.kind == "ws" else probe.action


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
    #: What the failed HTTP probes and WebSocket probes got, by kind (at most MAX_ERROR_KINDS kinds each).
    error_kinds: Counter[str] = field(default_factory=Counter)
    ws_error_kinds: Counter[str] = field(default_factory=Counter)
    #: Per probe (by :func:`probe_name`); None where no probe is told apart.
    probes: dict[str, Tally] | None = None

    def add(self, sample: ProbeSample, streak: int) -> None:
        """Count *sample*; *streak* is the run of failed health probes up to and including it."""
        probe = sample.probe
        if self.probes is not None:
            name = probe_name(probe)
            tally = self.probes.get(name)
            if tally is None:
                tally = self.probes[name] = Tally()
            tally.add(sample.ms, error=not sample.ok)
        if probe.kind == "ws":
            self.ws_connects += 1
            self.ws_failures += not sample.ok
            if not sample.ok:
                _count(self.ws_error_kinds, sample.error or "failed")
        else:
            self.requests += 1
            self.errors += not sample.ok
            if not sample.ok:
                _count(self.error_kinds, sample.error or "error")
            if sample.ms is not None:
                self.histogram.record(sample.ms)
                endpoint = endpoint_of(probe.action)
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
        """``24 requests, 5 errors (20.8%: connection refused x3, 503 x2), p95 3.1 ms, WebSocket failures 0/8``."""
        rate = percent(self.errors / self.requests) if self.requests else "n/a"
        kinds = f": {kinds_text(self.error_kinds.most_common())}" if self.error_kinds else ""
        p95 = self.histogram.percentile(95.0)
        shown = "n/a" if math.isnan(p95) else format_ms(p95 / 1000)
        text = f"{self.requests} requests, {self.errors} errors ({rate}{kinds}), p95 {shown}"
        if self.ws_connects:
            text += f", WebSocket failures {self.ws_failures}/{self.ws_connects}"
            if self.ws_error_kinds:
                text += f" ({kinds_text(self.ws_error_kinds.most_common())})"
        return text


def _count(kinds: Counter[str], kind: str) -> None:
    """Count one error of *kind*, as :data:`OTHER_KIND` once MAX_ERROR_KINDS other kinds are counted."""
    if kind in kinds or len(kinds) < MAX_ERROR_KINDS:
        kinds[kind] += 1
    else:
        kinds[OTHER_KIND] += 1


def _percentile(histogram: LatencyHistogram, q: float) -> float | None:
    value = histogram.percentile(q)
    return None if math.isnan(value) else value


def run_window(
    config: pytest.Config, settings: RunSettings, prior: Decision | None, session: pytest.Session | None = None
) -> WatchOutcome:
    """Run the watch window after the checks, unless they already decided against the deploy
    (*prior*: ``"NO-GO"``, ``"ROLLBACK"``), and return its outcome."""
    from pytest_deploysmoke.config.settings import get_redactor

    write = _writer(config)
    redact = get_redactor(config).redact
    duration, every = settings.target.watch.duration, settings.target.watch.every
    if prior in ("NO-GO", "ROLLBACK"):
        line = f"watch window skipped: the checks already say {prior}"
        write(line, yellow=True)
        return WatchOutcome((), line)
    if session is not None and session.shouldstop:
        line = f"watch window skipped: the run was stopped ({session.shouldstop})"
        write(line, yellow=True)
        return WatchOutcome((), line)
    stable = settings.compare_target
    watch = Watch(settings.target, duration, every, write, redact=redact, stable=stable)
    probes = redact(", ".join(probe.action for probe in settings.target.watch.probes))
    write(
        f"watch window: {format_duration(duration)}, a line every {format_duration(every)}; probes: {probes}", bold=True
    )
    if stable is not None:
        write(
            f"compare vs target '{stable.name}': each round samples both targets at the same moments, "
            f"the HTTP probes at most every {watch.compare_gap:g} s",
            bold=True,
        )
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

    def __init__(
        self,
        target: Target,
        duration: float,
        every: float,
        write: Callable[..., None],
        *,
        redact: Callable[[str], str] = str,
        stable: Target | None = None,
    ) -> None:
        self.target = target
        #: ``--deploy-compare``: the stable target sampled beside the canary, and the judge of the two.
        self.stable = stable
        #: Each probe's endpoint, as the comparison names it: ``GET /x`` (its query left out), redacted.
        self.endpoints = {probe: endpoint_of(redact(probe_name(probe))) for probe in target.watch.probes}
        self.judge = None if stable is None else CanaryJudge(stable.name, target.compare, self.endpoints.values())
        self.gap = max(MIN_ROUND_GAP, every / ROUNDS_PER_INTERVAL)
        self.compare_gap = max(COMPARE_ROUND_GAP, min(every, duration) / COMPARE_ROUNDS_PER_INTERVAL)
        #: The endpoints whose regression stopped the window early.
        self.regressed: tuple[EndpointComparison, ...] = ()
        self.duration = duration
        self.every = every
        self.write = write
        self.redact = redact
        self.probes: Sequence[WatchProbe] = target.watch.probes
        self.health_action = next((p.action for p in self.probes if p.health), f"GET {target.health_path}")
        self.targets_ms = {
            action: budget.target * 1000 for action, budget in target.budgets.items() if budget.target is not None
        }
        #: The p95 over which p95_over_target trips, per endpoint with a budget target.
        self.p95_limits_ms = {action: target.rollback.p95_over_target * ms for action, ms in self.targets_ms.items()}
        #: The whole window; its per-probe tallies become the log's distributions (one fixed-size histogram each).
        self.total = Aggregate(self.targets_ms, probes={})
        self.intervals = math.ceil(duration / every)
        self.log: list[WatchInterval] = []
        self.done = 0
        self.streak = 0
        self.rollback: tuple[str, ...] = ()
        self.stopped = ""
        #: rule (and endpoint) -> its first "not evaluated" line and how many intervals said it
        self.unjudged: dict[str, tuple[str, int]] = {}

    async def run(self) -> None:
        """Sample interval after interval until the window ends, a rollback rule trips or the canary regresses."""
        target = self.target
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(_client(target))
            stable = None
            if self.stable is not None:
                stable = (await stack.enter_async_context(_client(self.stable)), self.stable)
            start = time.monotonic()
            end = start + self.duration
            metrics = await self._metrics(client)
            for index in range(1, self.intervals + 1):
                interval_end = min(start + index * self.every, end)
                interval = Aggregate(self.targets_ms, probes={probe_name(probe): Tally() for probe in self.probes})
                began_at, began = time.time(), time.monotonic()
                if stable is None:
                    await self._rounds(self.probes, self.gap, interval, interval_end, client)
                else:  # the WebSocket probes keep their pace: an open is held up to WS_HOLD
                    http = [probe for probe in self.probes if probe.kind != "ws"]
                    ws = [probe for probe in self.probes if probe.kind == "ws"]
                    await asyncio.gather(
                        self._rounds(http, self.compare_gap, interval, interval_end, client, stable),
                        self._rounds(ws, self.gap, interval, interval_end, client, stable),
                    )
                seconds = time.monotonic() - began
                reading = await self._metrics(client)
                self.done = index
                self.write(self._line(index, time.monotonic() - start, interval, metrics, reading))
                comparison = self._judge_interval(index)
                self.log.append(self._logged(index, began_at, seconds, interval, metrics, reading, comparison))
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
                if self.judge is not None and comparison is not None:
                    self.regressed = self.judge.stops(comparison)
                    if self.regressed:
                        names = ", ".join(row.endpoint for row in self.regressed)
                        self.write(
                            f"the canary regressed against target '{self.judge.stable}' in this interval and over "
                            f"the window so far ({self.redact(names)}): the window stops",
                            red=True,
                            bold=True,
                        )
                        self.stopped = "rollback"
                        return

    async def _rounds(
        self,
        probes: Sequence[WatchProbe],
        gap: float,
        interval: Aggregate,
        interval_end: float,
        client: httpx.AsyncClient,
        stable: tuple[httpx.AsyncClient, Target] | None = None,
    ) -> None:
        """Sample *probes* round after round, a round at most every *gap* seconds, until *interval_end*.

        With *stable* (``--deploy-compare``: its client and target) a round samples each probe on both targets at
        once; which target's requests go out first alternates, so that neither is always the second.
        """
        flip = False
        while probes and time.monotonic() < interval_end:
            round_start = time.monotonic()
            canary = [self._sample(client, self.target, probe) for probe in probes]
            if stable is None:
                samples, stable_samples = await asyncio.gather(*canary), []
            else:
                other = [self._sample(*stable, probe) for probe in probes]
                if flip:
                    both = await asyncio.gather(*other, *canary)
                    stable_samples, samples = both[: len(probes)], both[len(probes) :]
                else:
                    both = await asyncio.gather(*canary, *other)
                    samples, stable_samples = both[: len(probes)], both[len(probes) :]
                flip = not flip
            for sample in samples:
                if sample.probe.health:
                    self.streak = 0 if sample.ok else self.streak + 1
                interval.add(sample, self.streak)
                self.total.add(sample, self.streak)
            if self.judge is not None:
                for sample in samples:
                    self.judge.add("canary", self.endpoints[sample.probe], sample.ms, sample.ok)
                for sample in stable_samples:
                    self.judge.add("stable", self.endpoints[sample.probe], sample.ms, sample.ok)
            delay = min(round_start + gap, interval_end) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)

    def _judge_interval(self, index: int) -> Comparison | None:
        """With ``--deploy-compare``: the interval's judgement, a line per endpoint; None without."""
        if self.judge is None:
            return None
        judged = self.judge.end_interval()
        prefix = f"compare vs target '{self.judge.stable}' [{index}/{self.intervals}]:"
        for row in judged.endpoints:
            self.write(f"{prefix} {self.redact(judgement_line(row))}", red=row.verdict == "regression")
        if not judged.endpoints:
            self.write(f"{prefix} no endpoint was measured on both targets", yellow=True)
        return judged

    def outcome(self) -> WatchOutcome:
        """The window's verdict input: tripped rules, a one-line account and the log of its intervals."""
        what = f"watch window {format_duration(self.duration)}, {self.done} of {self.intervals} intervals: "
        what += self.total.describe()
        if self.stopped == "rollback" and not self.regressed:
            what += "; stopped early: a rollback rule tripped"
        elif self.regressed:
            what += "; stopped early: the canary regressed"
        elif self.stopped:
            what += f"; stopped early: {self.stopped}"
        else:
            what += "; no rollback rule tripped"
        comparison = None
        if self.judge is not None:
            comparison = self.judge.so_far()
            stable = self.judge.stable
            for row in comparison.endpoints:
                self.write(f"compare vs target '{stable}', whole window: {self.redact(judgement_line(row))}")
            what += f"; against target '{stable}': {self.redact(summary_text(comparison))}"
        self.write(what, bold=True)
        unjudged = tuple(
            first + (f" (and in {times - 1} more interval{'s' if times > 2 else ''})" if times > 1 else "")
            for first, times in self.unjudged.values()
        )
        log = WatchLog(
            duration=self.duration,
            every=self.every,
            planned=self.intervals,
            intervals=tuple(self.log),
            stopped=self.stopped,
            max_error_rate=self.target.rollback.error_rate,
            distributions=self._distributions(),
        )
        return WatchOutcome(
            self.rollback,
            what,
            interrupted=self.stopped == "interrupted",
            not_evaluated=unjudged,
            log=log,
            comparison=comparison,
        )

    def _distributions(self) -> tuple[EndpointDistribution, ...]:
        """Each probe's figures over the whole window, by endpoint (a probe's query left out), names redacted."""
        return merge_by_endpoint(
            tally.as_distribution(endpoint_of(self.redact(name)), source="watch")
            for name, tally in (self.total.probes or {}).items()
        )

    def _logged(
        self,
        index: int,
        began_at: float,
        seconds: float,
        interval: Aggregate,
        before: MetricsReading | str | None,
        after: MetricsReading | str | None,
        comparison: Comparison | None = None,
    ) -> WatchInterval:
        """The log's record of one interval: its figures, per probe, and the target's CPU share and memory."""
        named = {probe_name(probe): probe for probe in self.probes}
        probes = []
        for name, tally in (interval.probes or {}).items():  # a probe listed twice is one
            probe = named[name]
            limit = None if probe.kind == "ws" else self.p95_limits_ms.get(endpoint_of(probe.action))
            probes.append(
                ProbeFigures(
                    probe=self.redact(name),
                    requests=tally.requests,
                    errors=tally.errors,
                    p50_ms=_percentile(tally.histogram, 50.0),
                    p95_ms=_percentile(tally.histogram, 95.0),
                    p95_limit_ms=limit,
                )
            )
        cpu, _ = _cpu(before, after)
        if cpu is not None and cpu < 0:
            cpu = None  # the counter went back: the target restarted during the interval
        return WatchInterval(
            index=index,
            start=began_at,
            seconds=seconds,
            requests=interval.requests,
            errors=tuple(interval.error_kinds.most_common()),
            ws_connects=interval.ws_connects,
            ws_failures=interval.ws_failures,
            probes=tuple(probes),
            p95_ms=_percentile(interval.histogram, 95.0),
            cpu=cpu,
            memory_bytes=after.rss_bytes if isinstance(after, MetricsReading) else None,
            ws_errors=tuple(interval.ws_error_kinds.most_common()),
            comparison=comparison,
        )

    def _line(
        self,
        index: int,
        elapsed: float,
        interval: Aggregate,
        before: MetricsReading | str | None,
        after: MetricsReading | str | None,
    ) -> str:
        clock = datetime.now().strftime("%H:%M:%S")
        line = f"{clock} +{format_duration(elapsed)} [{index}/{self.intervals}]: {interval.describe()}"
        if isinstance(after, str):
            line += f"; {after}"
        elif after is not None:
            share, spent = _cpu(before, after)
            if spent is not None:
                line += f", CPU {spent:.2f} s ({share:.0%})" if share is not None else f", CPU {spent:.2f} s"
            if after.rss_bytes is not None:
                line += f", RSS {after.rss_bytes / 2**20:.1f} MiB"
        return line

    async def _sample(self, client: httpx.AsyncClient, target: Target, probe: WatchProbe) -> ProbeSample:
        """Sample *probe* on *target* (through *client*, opened on it)."""
        if probe.kind == "ws":
            return await self._sample_ws(target, probe)
        started = time.perf_counter()
        try:
            response = await client.request(probe.method, probe.path)
        except (httpx.HTTPError, OSError) as exc:
            return ProbeSample(probe, None, ok=False, error=self.redact(describe_error(exc)))
        ms = (time.perf_counter() - started) * 1000
        ok = response.status_code < 400
        return ProbeSample(probe, ms, ok=ok, error="" if ok else str(response.status_code))

    async def _sample_ws(self, target: Target, probe: WatchProbe) -> ProbeSample:
        """Open the WebSocket on *target*; it fails when the open fails or the server closes it within WS_HOLD."""
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
        except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.InvalidURI) as exc:
            return ProbeSample(probe, None, ok=False, error=self.redact(describe_open_error(exc)))
        ms = (time.perf_counter() - started) * 1000
        error = ""
        try:
            await asyncio.wait_for(connection.recv(), WS_HOLD)
        except asyncio.TimeoutError:
            pass  # a quiet stream that stays open is fine
        except websockets.ConnectionClosed as exc:
            error = f"closed code {exc.rcvd.code}" if exc.rcvd is not None else "closed without a close frame"
        finally:
            await connection.close()
        return ProbeSample(probe, ms, ok=not error, error=error)

    async def _metrics(self, client: httpx.AsyncClient) -> MetricsReading | str | None:
        """The target's process CPU seconds and resident memory, or what went wrong reading them."""
        url = self.target.watch.metrics_url
        if url is None:
            return None
        try:
            response = await client.get(url, timeout=min(self.target.timeout, METRICS_TIMEOUT))
        except (httpx.HTTPError, OSError) as exc:
            return f"metrics: {describe_error(exc)}"
        if response.status_code != 200:
            return f"metrics: {url} answered {response.status_code}"
        try:
            cpu, rss = parse_process_metrics(response.text)
        except ValueError as exc:
            return f"metrics: {url} is not Prometheus text ({exc})"
        return MetricsReading(time.monotonic(), cpu, rss)


def _client(target: Target) -> httpx.AsyncClient:
    """The probes' HTTP client for *target*: its base_url, timeout, TLS verification and headers."""
    return httpx.AsyncClient(
        base_url=target.base_url,
        timeout=target.timeout,
        verify=target.verify_tls,
        headers=dict(target.headers),
        follow_redirects=False,
    )


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


def _cpu(before: MetricsReading | str | None, after: MetricsReading | str | None) -> tuple[float | None, float | None]:
    """(the target's CPU share of one core over the interval, its CPU seconds); None where unknown."""
    if not isinstance(before, MetricsReading) or not isinstance(after, MetricsReading):
        return None, None
    if before.cpu_seconds is None or after.cpu_seconds is None:
        return None, None
    spent = after.cpu_seconds - before.cpu_seconds
    wall = after.at - before.at
    return (spent / wall if wall > 0 else None), spent
