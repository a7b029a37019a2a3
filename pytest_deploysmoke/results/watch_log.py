"""The watch window's log: each interval's figures, as every report shows them (no pytest, no httpx).

:mod:`pytest_deploysmoke.perf.watch` fills it while the window runs; the verdict carries it to
the writers (the JSON ``watch`` object, the ticket's monitoring table, the HTML table and chart,
the Prometheus metrics).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_deploysmoke.perf.compare import Comparison
    from pytest_deploysmoke.perf.distributions import EndpointDistribution


@dataclass(frozen=True, slots=True)
class ProbeFigures:
    """One probe's figures over one interval."""

    probe: str  # its action: "GET /health", "WS /ws/stream"
    requests: int  # HTTP requests sent, or WebSocket opens tried
    errors: int
    p50_ms: float | None  # None when nothing was answered
    p95_ms: float | None
    #: The p95 over which the ``p95_over_target`` rollback rule trips for it (budget target x factor), if any.
    p95_limit_ms: float | None = None


@dataclass(frozen=True, slots=True)
class WatchInterval:
    """What one interval of the watch window measured."""

    index: int  # 1-based
    start: float  # epoch seconds
    seconds: float  # how long it lasted
    requests: int  # HTTP probe requests
    #: What the failed probes got, by kind (``"503"``, ``"connection refused"``), most frequent first.
    errors: tuple[tuple[str, int], ...]
    ws_connects: int
    ws_failures: int
    probes: tuple[ProbeFigures, ...]
    p95_ms: float | None  # every HTTP probe together
    #: The target's CPU use over the interval, as a share of one core (0.12 is 12 %), from ``metrics_url``.
    cpu: float | None = None
    memory_bytes: float | None = None  # its resident memory at the interval's end
    #: What the failed WebSocket probes got, by kind (``"closed code 1011"``), most frequent first.
    ws_errors: tuple[tuple[str, int], ...] = ()
    #: The canary judged against the stable target over this interval (``--deploy-compare``); None otherwise.
    comparison: Comparison | None = None

    @property
    def error_count(self) -> int:
        """How many HTTP probe requests failed."""
        return sum(count for _, count in self.errors)

    @property
    def error_rate(self) -> float | None:
        """The HTTP probes' error rate (None without requests)."""
        return self.error_count / self.requests if self.requests else None


@dataclass(frozen=True, slots=True)
class WatchLog:
    """The whole window: its plan, its intervals, how it ended and the thresholds it was judged on."""

    duration: float
    every: float
    planned: int  # intervals planned
    intervals: tuple[WatchInterval, ...]
    #: ``""`` (ran to its end), ``"rollback"``, ``"interrupted"``.
    stopped: str = ""
    #: The ``error_rate`` rollback threshold (a fraction).
    max_error_rate: float | None = None
    #: Each probe's distribution over the whole window (by its endpoint, ``GET /health``, ``WS /ws/tickers``):
    #: what a later run's window is compared with.
    distributions: tuple[EndpointDistribution, ...] = ()

    def probe_names(self) -> list[str]:
        """Every probe of the window, in the order the intervals first name them (each lists every probe;
        the union guards an interval that lists none)."""
        names: dict[str, None] = {}
        for interval in self.intervals:
            names.update((figures.probe, None) for figures in interval.probes)
        return list(names)


def kinds_text(kinds: Iterable[tuple[str, int]]) -> str:
    """``connection refused x3, 503 x2``: what the failed probes got, in the order given."""
    return ", ".join(f"{kind} x{count}" for kind, count in kinds)


def format_duration(seconds: float) -> str:
    """``1 h``, ``15 min``, ``30 s``, ``2.0 s``: a window's length or interval as its lines say it."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
