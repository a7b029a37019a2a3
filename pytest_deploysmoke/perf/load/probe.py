"""The ``load_probe`` callable: checks its arguments, guards the scenario, runs an engine, records the result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import pytest

from pytest_deploysmoke.clients import tracecontext
from pytest_deploysmoke.errors import unchecked
from pytest_deploysmoke.perf.budgets import parse_duration
from pytest_deploysmoke.perf.latency import split_request
from pytest_deploysmoke.perf.load.stats import ENGINES, Engine, LoadPlan, LoadStats, load_stats
from pytest_deploysmoke.perf.rollback import endpoint_of
from pytest_deploysmoke.results.records import CallRecord, Measurement, call_action, record, record_measurement

if TYPE_CHECKING:
    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

#: Bounds of one probe: virtual users, run time, scenario size, Locust worker processes.
MAX_USERS: Final = 200
MAX_DURATION_S: Final = 3600.0
MAX_SCENARIO: Final = 50
MAX_REQUESTS: Final = 10_000_000
MAX_WORKERS: Final = 16


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
            engine: ``"builtin"`` (asyncio + aiohttp in this process) or ``"locust"`` (subprocesses).
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
        endpoints = self._guard(scenario)
        shown = tuple(self._redactor.redact(f"{method} {url}") for method, url in scenario)
        action = f"LOAD {users} users x {duration_s:g} s: {', '.join(shown)}"
        plan = LoadPlan(tuple(scenario), endpoints, action, users, duration_s, max_requests, workers)
        # Each request a span of its own in the check's trace, or the target's own traceparent as it is.
        trace = tracecontext.outgoing(self._config, tracecontext.header_in(self._target.headers))
        if engine == "builtin":
            from pytest_deploysmoke.perf.load import builtin

            run = builtin.run(self._target, self._redactor, plan, trace)
        else:
            from pytest_deploysmoke.perf.load import locust

            run = locust.run(self._target, self._redactor, plan, trace.trace_id)
        stats = load_stats(run, users=users, duration_s=duration_s, engine=engine, workers=workers, scenario=shown)
        if stats.count == 0:  # nothing sent, or no answer before the hard stop: no evidence, never a pass
            raise unchecked(
                f"{action}: no request finished within the run ({engine} engine measured nothing); "
                "give the run more time, or check that the target answers within it"
            )
        outcome = f"{stats.count} req, {stats.errors} errors, {stats.rps:.0f} req/s"
        record(
            self._config,
            CallRecord(
                "http",
                action,
                outcome + (", client-bound" if stats.client_bound else ""),
                ok=stats.errors == 0,
                ms=float(stats.p95) if stats.count > stats.unanswered else 0.0,
                trace_id=trace.trace_id,
            ),
        )
        record_measurement(self._config, Measurement.of(stats, engine=engine, distributions=stats.distributions))
        return stats

    def _guard(self, scenario: list[tuple[str, str]]) -> tuple[str, ...]:
        """Refuse a write the check may not make before any request of the run is sent; return each
        request's endpoint (``GET /path``, redacted, its query left out), as the call records name it."""
        import httpx

        from pytest_deploysmoke.clients.http import guard_requests, target_url

        requests = [httpx.Request(method, target_url(self._target, url)) for method, url in scenario]
        guard_requests(self._config, self._target, requests)
        base_url = self._target.base_url
        return tuple(endpoint_of(self._redactor.redact(call_action(r.method, str(r.url), base_url))) for r in requests)


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"load_probe(): {name} must be a whole number from {low} to {high}, got {value!r}")
    return value


#: The type of the ``load_probe`` fixture, for annotations: ``def test_x(load_probe: LoadProbeCall)``.
LoadProbeCall = LoadProbe
