"""The run's per-endpoint distributions, from the checks' calls and the load probes, and their JSON form (no pytest).

What counts, endpoint by endpoint (``GET /items``: the method and the path template, the query left
out, and a segment that is an id as ``{id}``: ``GET /packs/{id}``, see
:func:`~pytest_deploysmoke.perf.distributions.path_template`):

- every HTTP request a check or a wide fixture sent to the target (``http``, ``ahttp``, the
  ``latency`` fixture's samples, each attempt of a retried call): it got an answer when its
  outcome is a status, and its time is kept then; it is an error when the status is 400 or more,
  or when no answer came (refused, timed out).  A 404 a check asked for is an error too: the
  figure is the share of requests that did not succeed, the same on both runs a comparison
  reads, not whether the check passed.
- each load probe's per-endpoint distributions (``Measurement.distributions`` of a measurement
  whose ``engine`` is not ``latency``): its requests are not call records, so they are counted
  from there, and the one call record the probe keeps for its whole run is left out.  They are
  kept apart from the checks' own requests to the same endpoint (``source`` ``"load"``): many
  users at once measure the queueing the load causes too, and how many of them a run gets
  depends on its throughput, so mixing them would move the checks' distribution from run to run.

Left out: warm-up requests, requests the production guard blocked (never sent), and calls to
another origin (their action names the whole URL: they measure another service).  The
``latency`` fixture's measurement adds nothing of its own: its requests are already calls.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pytest_deploysmoke.perf.distributions import EndpointDistribution, Tally, merge_by_endpoint, path_template
from pytest_deploysmoke.perf.rollback import endpoint_of

if TYPE_CHECKING:
    from pytest_deploysmoke.results.records import CallRecord, Measurement


def run_distributions(
    calls: Iterable[CallRecord], measurements: Iterable[Measurement]
) -> tuple[EndpointDistribution, ...]:
    """One distribution per endpoint over every call and load probe of the run, sorted by endpoint.

    The order does not depend on which check ran first, so a run under pytest-xdist gives the
    same list as one in a single process.
    """
    loads = [m for m in measurements if m.engine != "latency"]
    whole_runs = {m.action for m in loads}  # the load probe's one record of its run: not a request
    parts = [
        replace(part, source="load", endpoint=path_template(part.endpoint)) for m in loads for part in m.distributions
    ]
    tallies: dict[str, Tally] = {}
    for call in calls:
        if call.kind != "http" or call.warmup or call.outcome == "blocked" or call.action in whole_runs:
            continue
        endpoint = path_template(endpoint_of(call.action))
        if not endpoint.partition(" ")[2].startswith("/"):  # another origin, named by its whole URL
            continue
        answered = call.outcome.isdigit()
        error = not answered or int(call.outcome) >= 400
        tallies.setdefault(endpoint, Tally()).add(call.ms if answered else None, error=error)
    parts += [tally.as_distribution(endpoint) for endpoint, tally in tallies.items()]
    return tuple(sorted(merge_by_endpoint(parts), key=lambda part: (part.endpoint, part.source)))


def histogram_json(distribution: EndpointDistribution) -> list[list[float | int]]:
    """Its buckets as ``[[ms, count], ...]``, ms to the microsecond the histogram counts in (no bucket moves)."""
    return [[round(ms, 3), count] for ms, count in distribution.buckets]


def buckets_from_json(value: Any) -> tuple[tuple[float, int], ...]:
    """The buckets :func:`histogram_json` wrote, read back.

    Raises:
        ValueError: *value* is not a list of ``[ms, count]`` pairs with ms >= 0 and a count >= 1.
    """
    if not isinstance(value, list):
        raise ValueError("is not a list of [ms, count] pairs")
    buckets = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2):
            raise ValueError(f"holds {_json_text(pair)}, not an [ms, count] pair")
        ms, count = pair
        if isinstance(ms, bool) or not isinstance(ms, (int, float)) or not (math.isfinite(ms) and ms >= 0):
            raise ValueError(f"holds {_json_text(pair)}: ms must be a number >= 0")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"holds {_json_text(pair)}: a count must be a whole number >= 1")
        buckets.append((float(ms), count))
    return tuple(buckets)


def _json_text(value: Any, limit: int = 40) -> str:
    """*value* as JSON, cut to *limit* characters for a one-line message."""
    import json

    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
