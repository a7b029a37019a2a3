"""The baseline run (``--deploy-baseline PATH``): a previous run's JSON summary, read and checked (no pytest).

:func:`read_baseline` reads the file at configure time into a frozen :class:`Baseline`: the
run's identity and its per-endpoint distributions, those of the checks and those of the watch
window kept apart.  :func:`judge_against` compares the run with it at the end: the checks'
distributions with the baseline's checks, the watch window's with the baseline's window
(in the :class:`~pytest_deploysmoke.perf.compare.Comparison` a watch probe's endpoint is named
``GET /health (watch)``), never one with the other, since the window samples at its own pace
after the checks.  A summary written before the distributions were added is read too: each
endpoint is then "not evaluated", with a note saying why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pytest_deploysmoke.perf.distributions import SOURCES, EndpointDistribution, Source
from pytest_deploysmoke.results.endpoints import buckets_from_json

if TYPE_CHECKING:
    from pytest_deploysmoke.perf.compare import CompareSettings, Comparison

#: The schema number of the summaries a baseline is read from (reports/json_summary.SCHEMA_VERSION).
READS_SCHEMA: Final = 1
#: How a watch probe's endpoint is named in a comparison, apart from the checks' same endpoint.
#: The note of every endpoint judged against a summary written without distributions.
NO_DISTRIBUTIONS: Final = (
    "not evaluated: the baseline was written without distributions (by a version before the JSON "
    "summary's endpoints); rerun the baseline deploy with --deploy-json to compare"
)
_FIX: Final = "give the JSON summary a previous run of this target wrote with --deploy-json"


class BaselineError(ValueError):
    """The baseline file cannot be used: what came back, and what to fix."""

    def __init__(self, problem: str, fix: str = _FIX) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}")


@dataclass(frozen=True, slots=True)
class Baseline:
    """A previous run of the same target, as its JSON summary recorded it."""

    #: The file, as given on the command line.
    path: str
    target: str
    #: The version it reported, else the one it expected; "" when neither is known.
    version: str
    #: When it started, in epoch seconds.
    started: float
    #: The checks' and the load probes' distributions (``source: "checks"`` and ``"load"``), one per endpoint each.
    endpoints: tuple[EndpointDistribution, ...]
    #: ``local 1.7.0 at 2026-12-01 10:00 UTC (reports/previous.json)``: how every report names it.
    label: str
    #: The watch window's distributions (``source: "watch"``), one per probe's endpoint.
    watch: tuple[EndpointDistribution, ...] = ()
    #: False for a summary written before the ``endpoints`` list existed.
    has_distributions: bool = True


def read_baseline(path: str, target: str) -> Baseline:
    """Read the JSON summary at *path* (relative to the current directory) as the baseline of *target*.

    Raises:
        BaselineError: the file is missing or unreadable, is not JSON, is not a pytest-deploysmoke
            summary of a schema this version reads, is a summary of another target, or holds an
            ``endpoints`` entry that is not one.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError("does not exist") from None
    except IsADirectoryError:
        raise BaselineError("is a directory") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BaselineError(f"cannot be read ({reason})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BaselineError(f"is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(document, dict) or _get(document, "tool", "name") != "pytest-deploysmoke":
        raise BaselineError("is not a pytest-deploysmoke JSON summary (no tool.name 'pytest-deploysmoke')")
    schema = document.get("schema")
    if schema != READS_SCHEMA:
        raise BaselineError(
            f"has schema {json.dumps(schema)}, and this version reads schema {READS_SCHEMA}",
            f"give a schema-{READS_SCHEMA} summary, or a pytest-deploysmoke that reads schema {json.dumps(schema)}",
        )
    name = _get(document, "target", "name")
    if not isinstance(name, str) or not name:
        raise BaselineError("names no target (target.name)")
    if name != target:
        raise BaselineError(
            f"is a summary of target '{name}', not '{target}'", f"give a summary of a previous run on '{target}'"
        )
    started = _started(document.get("started"))
    version = _get(document, "versions", "reported") or _get(document, "versions", "expected") or ""
    if not isinstance(version, str):
        raise BaselineError(f"has a version that is not text ({json.dumps(version)})")
    entries = document.get("endpoints")
    checks, watch = _distributions(entries) if entries is not None else ((), ())
    moment = datetime.fromtimestamp(started, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    label = " ".join(part for part in (name, version) if part) + f" at {moment} ({path})"
    return Baseline(path, name, version, started, checks, label, watch, has_distributions=entries is not None)


def judge_against(
    baseline: Baseline,
    checks: Sequence[EndpointDistribution],
    watch: Sequence[EndpointDistribution],
    settings: CompareSettings,
) -> Comparison:
    """This run's distributions (*checks*, and the watch window's *watch*) judged against *baseline*'s.

    Imports scipy (through :func:`~pytest_deploysmoke.perf.compare.compare`).
    """
    from pytest_deploysmoke.perf.compare import BaselineIdentity, compare

    now = [*checks, *watch]
    if baseline.has_distributions:
        before = [*baseline.endpoints, *baseline.watch]
    else:  # nothing to compare with: each endpoint of this run is judged against an empty one
        before = [replace(part, requests=0, errors=0, buckets=(), client_bound=False) for part in now]
    identity = BaselineIdentity("run", baseline.target, baseline.version, baseline.started, baseline.path)
    result = compare(before, now, settings, label=baseline.label, identity=identity)
    if not baseline.has_distributions:
        result = replace(result, endpoints=tuple(replace(row, note=NO_DISTRIBUTIONS) for row in result.endpoints))
    return result


def _get(document: Mapping[str, Any], *keys: str) -> Any:
    """``document[k1][k2]...``, or None where a level is missing or not an object."""
    value: Any = document
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _started(value: Any) -> float:
    """The summary's ``started`` (``2026-12-01T10:00:00.000Z``) in epoch seconds."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BaselineError(f"has no start time (started is {json.dumps(value)})") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def _distributions(entries: Any) -> tuple[tuple[EndpointDistribution, ...], tuple[EndpointDistribution, ...]]:
    """The ``endpoints`` list read back: (the checks' and load probes' distributions, the watch window's)."""
    if not isinstance(entries, list):
        raise BaselineError("has an 'endpoints' that is not a list")
    found: dict[Source, list[EndpointDistribution]] = {source: [] for source in SOURCES}
    for index, entry in enumerate(entries):
        where = f"endpoints[{index}]"
        if not isinstance(entry, dict):
            raise BaselineError(f"has an {where} that is not an object")
        source = entry.get("source")
        if source not in found:
            expected = ", ".join(f'"{name}"' for name in SOURCES)
            raise BaselineError(f"has {where}.source {json.dumps(source)}, expected one of {expected}")
        endpoint = entry.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise BaselineError(f"has {where}.endpoint {json.dumps(endpoint)}, not a 'METHOD /path'")
        requests, errors = _count(entry, "requests", where), _count(entry, "errors", where)
        try:
            buckets = buckets_from_json(entry.get("histogram"))
        except ValueError as exc:
            raise BaselineError(f"has {where}.histogram, which {exc}") from None
        client_bound = entry.get("client_bound", False) is True
        found[source].append(EndpointDistribution(endpoint, requests, errors, buckets, client_bound, source))
    return (*found["checks"], *found["load"]), tuple(found["watch"])


def _count(entry: Mapping[str, Any], key: str, where: str) -> int:
    count = entry.get(key)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise BaselineError(f"has {where}.{key} {json.dumps(count)}, not a whole number >= 0")
    return count
