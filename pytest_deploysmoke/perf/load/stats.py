"""Load probe figures: LoadStats, the event-loop lag, and whether the client limited the run (no pytest)."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Final, Literal

from pytest_deploysmoke.perf.distributions import EndpointDistribution, Tally
from pytest_deploysmoke.perf.stats import LatencyHistogram, LatencyStats, Millis, ms_text

Engine = Literal["builtin", "locust"]
ENGINES: Final = ("builtin", "locust")

#: The client is the bottleneck from this fraction of one core (the built-in engine is one thread; a
#: 10-user run measured 0.89 of a core at 0.11x wrk's req/s, so 0.9 came too late) ...
CLIENT_CPU_LIMIT: Final = 0.8
#: ... or when its event loop wakes this late (p95, ms): requests waited for the client, not the server.
LOOP_LAG_LIMIT_MS: Final = 5.0


@dataclass(frozen=True, slots=True)
class LoopLag:
    """How late the built-in engine's event loop woke a 10 ms timer during the run, in ms."""

    p95: float
    max: float
    samples: int

    def __str__(self) -> str:
        return f"p95 {ms_text(self.p95)}, max {ms_text(self.max)} ms"


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
    #: One per endpoint of the scenario (``GET /path``, its query left out), in the scenario's order.
    distributions: tuple[EndpointDistribution, ...] = ()

    def describe(self) -> str:
        """One line: the load, the latency statistics, and the client's own figures."""
        workers = f", {self.workers} workers" if self.workers else ""
        mean = f", mean {self.mean}" if self.count > self.unanswered else ""
        bound = "; latencies are upper bounds" if self.client_bound else ""
        return (
            f"{self.action} ({self.engine}{workers}): {_plural_requests(self.count)} in {self.elapsed_s:.2f} s, "
            f"{self.rps:.0f} req/s: {self.distribution}{mean}; {self.errors_text} ({self.error_rate:.1%}); "
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


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """One load probe's run, as the engines take it: what to send, by how many users, for how long."""

    scenario: tuple[tuple[str, str], ...]  # (method, url) pairs, each user sends them in turn
    #: Each scenario request's endpoint (``GET /path``, redacted, its query left out), as the distributions group them.
    endpoints: tuple[str, ...]
    action: str  # "LOAD 10 users x 20 s: GET /health", as records and failures name the run
    users: int
    duration_s: float
    max_requests: int | None = None  # in all (the Locust engine splits it over its processes)
    workers: int = 0  # Locust worker processes under a master (0: one process)

    def __post_init__(self) -> None:
        if len(self.endpoints) != len(self.scenario):
            raise ValueError(f"a load plan names one endpoint per request: {self.endpoints!r} for {self.scenario!r}")


@dataclass(slots=True, eq=False, kw_only=True)  # compared and hashed by identity: steps share one
class EndpointTally(Tally):
    """One endpoint's counts while an engine runs, with the endpoint they are of."""

    endpoint: str

    def distribution(self) -> EndpointDistribution:
        return self.as_distribution(self.endpoint)


def step_tallies(plan: LoadPlan) -> tuple[EndpointTally, ...]:
    """One tally per scenario request, in order; requests to the same endpoint share theirs."""
    tallies: dict[str, EndpointTally] = {}
    return tuple(tallies.setdefault(endpoint, EndpointTally(endpoint=endpoint)) for endpoint in plan.endpoints)


def distributions_of(tallies: tuple[EndpointTally, ...]) -> tuple[EndpointDistribution, ...]:
    """Each endpoint's distribution once, in the order the scenario first names it."""
    return tuple(tally.distribution() for tally in dict.fromkeys(tallies))


def whole_run(tallies: tuple[EndpointTally, ...]) -> tuple[LatencyHistogram, int]:
    """The whole scenario's latencies (every endpoint's, each once) and its errors."""
    histogram = LatencyHistogram()
    endpoints = dict.fromkeys(tallies)
    for tally in endpoints:
        histogram.merge(tally.histogram)
    return histogram, sum(tally.errors for tally in endpoints)


@dataclass(slots=True)
class EngineRun:
    """What an engine measured, before it becomes LoadStats."""

    stats: LatencyStats
    rps: float
    client_cpu: float
    loop_lag: LoopLag | None = None
    warned: bool = False
    distributions: tuple[EndpointDistribution, ...] = ()


def load_stats(
    run: EngineRun, *, users: int, duration_s: float, engine: Engine, workers: int, scenario: tuple[str, ...]
) -> LoadStats:
    bound, note = judge_client(run.client_cpu, run.loop_lag, warned=run.warned)
    values = {f.name: getattr(run.stats, f.name) for f in fields(LatencyStats)}
    if bound:
        for name in ("min", "p50", "p95", "p99", "max", "mean"):
            ms: Millis = values[name]
            values[name] = Millis(float(ms), ms.label, f"upper bound, client-bound; {ms.summary}", ms.action)
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
        distributions=tuple(replace(part, client_bound=bound) for part in run.distributions),
    )
