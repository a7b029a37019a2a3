"""One endpoint's measured latencies and errors as a bounded, mergeable record that two runs compare (no pytest).

An :class:`EndpointDistribution` is what the JSON summary keeps per endpoint (the method and
the path template, ``GET /api/markets/krw``) and per watch probe: the request and error counts
and the non-empty buckets of its :class:`~pytest_deploysmoke.perf.stats.LatencyHistogram`, at
most a few thousand pairs however many requests were sent.  A later run reads it back from that
file and compares its own distributions with it (:mod:`pytest_deploysmoke.perf.compare`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from pytest_deploysmoke.perf.stats import LatencyHistogram

#: Where a distribution was measured: the checks' own requests (one at a time, as a check sends
#: them), a load probe's (many users at once: they include the queueing a load causes), or the
#: watch window's probes.  Distributions of different sources are never merged or compared.
Source = Literal["checks", "load", "watch"]
SOURCES: Final = ("checks", "load", "watch")

#: A path segment that names one record rather than a route: a number, a UUID, a long hex digest,
#: or a long token of letters and digits (a ULID, a slug with an id): ``{id}`` in the template.
_ID_SEGMENT: Final = re.compile(
    r"\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{16,}"
    r"|(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}"
)


def path_template(endpoint: str) -> str:
    """``GET /api/packs/{id}`` for ``GET /api/packs/2b047d39-f41f-4a0d-b7f4-1c5c7b2029fa``: the route of an endpoint.

    Each run creates its own records, so the same route reached with another id is the same
    endpoint in both runs of a comparison: a segment that is a number, a UUID, a long hex digest
    or a long token of letters and digits becomes ``{id}``.
    """
    method, _, path = endpoint.partition(" ")
    segments = ["{id}" if _ID_SEGMENT.fullmatch(part) else part for part in path.split("/")]
    return f"{method} {'/'.join(segments)}"


@dataclass(frozen=True, slots=True)
class EndpointDistribution:
    """What one endpoint (or one watch probe) measured over a run: counts and its latency buckets.

    ``buckets`` are ``(ms, count)`` pairs, lowest first: each non-empty bucket's highest value and
    how many answered requests fell in it (:meth:`LatencyHistogram.buckets`).  The latencies are
    those of the requests that got an answer, whatever its status; ``errors`` counts the requests
    that got a status of 400 or more or no answer at all, out of ``requests``.
    """

    endpoint: str
    requests: int
    errors: int
    buckets: tuple[tuple[float, int], ...] = ()
    #: Measured while the load client, not the server, limited the run: its latencies are upper bounds.
    client_bound: bool = False
    source: Source = "checks"

    @property
    def key(self) -> str:
        """How a comparison names it: the endpoint, with its source unless the checks measured it
        (``GET /x``, ``GET /x (load)``, ``GET /x (watch)``)."""
        return self.endpoint if self.source == "checks" else f"{self.endpoint} ({self.source})"

    @classmethod
    def of(
        cls,
        endpoint: str,
        histogram: LatencyHistogram,
        *,
        requests: int,
        errors: int,
        client_bound: bool = False,
        source: Source = "checks",
    ) -> EndpointDistribution:
        """The distribution of *histogram*'s latencies, with the request and error counts beside it."""
        return cls(endpoint, requests, errors, histogram.buckets(), client_bound, source)

    @property
    def answered(self) -> int:
        """How many latencies the buckets hold (requests that got an answer)."""
        return sum(count for _, count in self.buckets)

    @property
    def error_rate(self) -> float | None:
        """``errors / requests``; None without requests."""
        return self.errors / self.requests if self.requests else None

    def histogram(self) -> LatencyHistogram:
        """A histogram holding these latencies again (in the same buckets)."""
        histogram = LatencyHistogram()
        for ms, count in self.buckets:
            histogram.record(ms, count)
        return histogram

    def percentile(self, q: float) -> float | None:
        """The *q*-th percentile in ms (within the histogram's 1 %); None without an answered request."""
        value = self.histogram().percentile(q) if self.buckets else math.nan
        return None if math.isnan(value) else value

    def merged(self, other: EndpointDistribution) -> EndpointDistribution:
        """This distribution and *other*'s (the same endpoint and source) as one."""
        histogram = self.histogram()
        histogram.merge(other.histogram())
        return EndpointDistribution.of(
            self.endpoint,
            histogram,
            requests=self.requests + other.requests,
            errors=self.errors + other.errors,
            client_bound=self.client_bound or other.client_bound,
            source=self.source,
        )


@dataclass(slots=True, eq=False)  # running counters: compared and hashed by identity
class Tally:
    """One endpoint's running figures while it is measured: counters and a fixed-size histogram.

    Whatever measures (the checks' calls, a load probe's engine, a watch probe, the canary and
    the stable target side by side), memory stays the same however many requests it counts.
    """

    requests: int = 0
    errors: int = 0  # a status of 400 or more, or no answer
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)

    def add(self, ms: float | None, *, error: bool) -> None:
        """Count one request: its time when it got an answer (None without), and whether it was an error."""
        self.requests += 1
        self.errors += error
        if ms is not None:
            self.histogram.record(ms)

    def as_distribution(
        self, endpoint: str, *, source: Source = "checks", client_bound: bool = False
    ) -> EndpointDistribution:
        """What it counted, as *endpoint*'s distribution."""
        return EndpointDistribution.of(
            endpoint,
            self.histogram,
            requests=self.requests,
            errors=self.errors,
            client_bound=client_bound,
            source=source,
        )


def merge_by_endpoint(distributions: Iterable[EndpointDistribution]) -> tuple[EndpointDistribution, ...]:
    """One distribution per endpoint and source (:attr:`EndpointDistribution.key`), in order of first
    appearance, each merging every part of it."""
    merged: dict[str, EndpointDistribution] = {}
    for distribution in distributions:
        seen = merged.get(distribution.key)
        merged[distribution.key] = distribution if seen is None else seen.merged(distribution)
    return tuple(merged.values())
