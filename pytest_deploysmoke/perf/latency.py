"""Latency sampling: one request sent N times through an HTTP client, summed up as LatencyStats.

The ``latency`` fixture imports this module when a check first calls it, so a run that never
measures latency pays nothing for it (nor for ``concurrent.futures``, imported only when
``concurrency > 1``).  Every request goes through the client's timed transport, so each one is
guarded and recorded like any other call.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from pytest_deploysmoke.clients.http import WARMUP_EXTENSION
from pytest_deploysmoke.clients.network import describe_error
from pytest_deploysmoke.config.model import MAX_SAMPLES
from pytest_deploysmoke.errors import BudgetExceeded, unchecked
from pytest_deploysmoke.perf.budgets import Budget, Duration, format_ms
from pytest_deploysmoke.perf.stats import LatencyHistogram, LatencyStats

if TYPE_CHECKING:
    import pytest

    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

#: The most threads one measurement sends from; beyond that it is a load test, not a measurement.
MAX_CONCURRENCY = 16
#: Requests sent before measuring (to open the connection and warm caches) unless ``warmup=`` says.
DEFAULT_WARMUP = 1
#: The most warm-up requests one measurement may send.
MAX_WARMUP = 1_000


@dataclass(frozen=True, slots=True)
class Sample:
    """One request's result: its time when it was answered, and what made it an error."""

    ms: float | None  # None: no answer at all
    error: str | None = None  # "500", "timed out": set when the request counts as an error
    over_budget: str | None = None  # the BudgetExceeded message when a per-call budget was blown


class Tally:
    """The measured samples so far, added from up to MAX_CONCURRENCY threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.histogram = LatencyHistogram()
        self.errors: Counter[str] = Counter()
        self.unanswered = 0
        self.over_budget = 0
        self.first_over_budget: str | None = None

    def add(self, sample: Sample) -> None:
        """Count *sample* in the distribution and the error counts."""
        with self._lock:
            if sample.ms is None:
                self.unanswered += 1
            else:
                self.histogram.record(sample.ms)
            if sample.error is not None:
                self.errors[sample.error] += 1
            if sample.over_budget is not None:
                self.over_budget += 1
                self.first_over_budget = self.first_over_budget or sample.over_budget


class Latency:
    """What the ``latency`` fixture returns: call it to measure one endpoint (see ``__call__``)."""

    def __init__(
        self,
        client: httpx.Client,
        target: Target,
        redactor: Redactor,
        default_samples: int,
        config: pytest.Config | None = None,
    ) -> None:
        self._client = client
        self._target = target
        self._redactor = redactor
        self._default_samples = default_samples
        self._config = config  # where each measurement is recorded for the reports (None: not recorded)

    def __repr__(self) -> str:
        return f"<latency on target '{self._target.name}': {self._default_samples} samples unless told>"

    def __call__(
        self,
        request: str,
        /,
        *,
        samples: int | None = None,
        warmup: int | None = None,
        concurrency: int = 1,
        budget: Duration | tuple[Duration, Duration] | None = None,
        ok_statuses: Collection[int] | None = None,
        client: httpx.Client | None = None,
        **request_kwargs: Any,
    ) -> LatencyStats:
        """Send *request* (``"/path"`` or ``"METHOD /path"``) *samples* times and return its statistics.

        Args:
            samples: Measured requests (default: ``--deploy-samples``, else the target's ``samples``).
            warmup: Requests sent first and left out of the statistics (default 1).
            concurrency: Threads sending at once, 1 to 16 (default 1: one after another).
            budget: A limit on the p95 (``"500ms"``; a number is seconds); over it fails the check.
            ok_statuses: Statuses that are not errors (default: every status below 400).
            client: The client to send with (default: ``http``; pass ``authed_http`` for a token).
            request_kwargs: Passed to ``client.request`` as they are (``params=``, ``json=``, ...).

        Raises:
            ValueError: an argument is out of range, or *budget* is not a duration.
        """
        __tracebackhide__ = True
        method, url = split_request(request)
        samples = _whole("samples", self._default_samples if samples is None else samples, 1, MAX_SAMPLES)
        warmup = _whole("warmup", DEFAULT_WARMUP if warmup is None else warmup, 0, MAX_WARMUP)
        concurrency = _whole("concurrency", concurrency, 1, MAX_CONCURRENCY)
        limit = Budget.of(budget) if budget is not None else None
        ok = _statuses(ok_statuses)
        sender = client if client is not None else self._client
        action = self._action(sender, method, url, request_kwargs.get("params"))

        # The transport records each warm-up request as one (``warmup``), so no rule counts it.
        extensions = {**(request_kwargs.get("extensions") or {}), WARMUP_EXTENSION: True}
        warm_kwargs = {**request_kwargs, "extensions": extensions}

        def send(warming: bool = False) -> Sample:
            started = time.perf_counter()
            try:
                response = sender.request(method, url, **(warm_kwargs if warming else request_kwargs))
            except BudgetExceeded as exc:  # a per-call budget (mark or [budgets]) is judged after the run
                return Sample((time.perf_counter() - started) * 1000, over_budget=str(exc))
            except httpx.UnsupportedProtocol:
                raise  # a wrong URL, not a failing service
            except httpx.TransportError as exc:
                return Sample(None, self._redactor.redact(describe_error(exc)))
            ms = (time.perf_counter() - started) * 1000
            status = response.status_code
            bad = status not in ok if ok is not None else status >= 400
            return Sample(ms, str(status) if bad else None)

        # Each request waits at most the timeout, so this only stops a run that retries or hangs.
        per_call = _timeout(request_kwargs.get("timeout"), self._target.timeout)
        cap_s = (warmup + samples) * per_call
        deadline = time.monotonic() + cap_s
        warm = _send_all(lambda: send(warming=True), warmup, concurrency, deadline, None)
        tally = Tally()
        started = time.perf_counter()
        sent = _send_all(send, samples, concurrency, deadline, tally)
        stats = LatencyStats.from_histogram(
            tally.histogram,
            action=action,
            errors=sum(tally.errors.values()),
            unanswered=tally.unanswered,
            warmup=warm,
            concurrency=concurrency,
            elapsed_s=time.perf_counter() - started,
            error_outcomes=tally.errors.items(),
        )
        unjudged = self._record(stats, limit)
        if sent < samples:
            raise unchecked(
                f"{action}: stopped after {sent} of {samples} measured requests ({warm} warm-up) at the time cap "
                f"of {cap_s:g} s (each request's timeout of {per_call:g} s times {warmup + samples}): "
                f"{stats.distribution}; {stats.errors_text}; is the service hanging, or are retries adding up?"
            )
        if limit is not None and not unjudged:
            check_p95(stats, limit)
        if tally.first_over_budget is not None:
            raise unchecked(
                f"{tally.first_over_budget} ({tally.over_budget} of {stats.count} measured requests were over "
                f"their per-call budget: {stats.distribution}; {stats.errors_text})"
            )
        return stats

    def _record(self, stats: LatencyStats, limit: Budget | None) -> str:
        """Record what was measured for the check's report line; return why the p95 budget was not applied.

        The p95 of fewer than the target's ``min_samples`` answers is close to their maximum: a
        budget over it then does not fail the check; the measurement says "not evaluated" and
        the verdict warns.  With no answer at all the budget still fails (a dead service).
        """
        from pytest_deploysmoke.results.records import Measurement, record_measurement

        answered = stats.count - stats.unanswered
        least = self._target.rollback.min_samples
        unjudged = ""
        if limit is not None and 0 < answered < least and float(stats.p95) > limit.limit * 1000:
            unjudged = f"not evaluated: {answered} samples < {least}"
        if self._config is not None:
            budget = f"p95 budget {format_ms(limit.limit)}" if limit is not None else ""
            record_measurement(self._config, Measurement.of(stats, budget=budget, not_evaluated=unjudged))
        return unjudged

    def _action(self, client: httpx.Client, method: str, url: str, params: Any) -> str:
        """``GET /slow?s=0.05`` for the target's own URLs, the full URL for others (redacted)."""
        from pytest_deploysmoke.results.records import call_action

        sent = str(client.build_request(method, url, params=params).url)
        return self._redactor.redact(call_action(method, sent, self._target.base_url))


def check_p95(stats: LatencyStats, budget: Budget) -> None:
    """Fail the check when the p95 of *stats* is over *budget*'s limit (or nothing answered)."""
    __tracebackhide__ = True
    if stats.count == stats.unanswered:
        raise unchecked(
            f"{stats.action}: none of {stats.count} requests was answered, so the p95 budget of "
            f"{format_ms(budget.limit)} cannot be met ({stats.errors_text}); is the service up and base_url right?"
        )
    if float(stats.p95) > budget.limit * 1000:
        raise unchecked(
            f"{stats.action}: p95 {stats.p95} is over the budget of {format_ms(budget.limit)} "
            f"(p95 {stats.p95.summary}); is it slower since this deploy, or is the budget too tight?"
        )


def split_request(request: str) -> tuple[str, str]:
    """``"POST /items"`` -> ``("POST", "/items")``; a bare path or URL is a ``GET``."""
    if not isinstance(request, str) or not request.strip():
        raise ValueError(f"latency() takes a path or 'METHOD /path', got {request!r}")
    method, space, rest = request.strip().partition(" ")
    if space and method.isalpha() and method.isupper():
        return method, rest.strip()
    return "GET", request.strip()


def _send_all(send: Callable[[], Sample], count: int, concurrency: int, deadline: float, tally: Tally | None) -> int:
    """Send *count* requests from up to *concurrency* threads; none is started past *deadline*.

    Returns how many were sent.  An exception other than the ones ``send`` turns into a sample
    (a write the guard blocked, a wrong URL) stops every thread and is raised here.
    """
    lock = threading.Lock()
    stop = threading.Event()
    sent = 0

    def worker() -> None:
        nonlocal sent
        while True:
            with lock:
                if sent >= count or stop.is_set() or time.monotonic() >= deadline:
                    return
                sent += 1
            try:
                sample = send()
            except BaseException:
                stop.set()
                raise
            if tally is not None:
                tally.add(sample)

    threads = min(concurrency, count)
    if threads <= 1:
        if count:
            worker()
        return sent
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="deploysmoke-latency") as pool:
        futures = [pool.submit(worker) for _ in range(threads)]
    for future in futures:
        future.result()
    return sent


def _whole(name: str, value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise ValueError(f"latency(): {name} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _statuses(statuses: Collection[int] | None) -> frozenset[int] | None:
    if statuses is None:
        return None
    if isinstance(statuses, (str, bytes)) or not all(type(s) is int and 100 <= s <= 599 for s in statuses):
        raise ValueError(f"latency(): ok_statuses must be HTTP status codes such as (200, 404), got {statuses!r}")
    return frozenset(statuses)


def _timeout(value: Any, default: float) -> float:
    """The per-request timeout in seconds: a number passed as ``timeout=``, else the target's."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, httpx.Timeout):
        parts = [t for t in (value.connect, value.read, value.write, value.pool) if t is not None]
        return float(max(parts)) if parts else default
    return default
