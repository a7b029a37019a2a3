"""Call records: every request, query and command a check makes, timed and redacted."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    import httpx

    from pytest_deploysmoke.perf.budgets import Budget
    from pytest_deploysmoke.perf.distributions import EndpointDistribution
    from pytest_deploysmoke.perf.stats import LatencyStats

CallKind = Literal["http", "ws", "db", "redis", "ui"]
_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def call_action(method: str, url: str, base_url: str) -> str:
    """``GET /health?x=1``: how the records and every failure name a call of *method* on *url* (not redacted).

    A URL under *base_url* (the same scheme, host and port, and within its path) is named by the
    path that follows base_url, with its query, as a check writes it: ``http.get("/health")`` on
    base_url ``http://h/api`` is ``GET /health``.  Any other URL (another origin, or outside
    base_url's path) is named in full, so a call elsewhere never reads as one to the target.
    """
    return f"{method} {shown_url(url, base_url)}"


def shown_url(url: str, base_url: str) -> str:
    """*url* as :func:`call_action` names it: the path after *base_url* with its query, else the whole URL."""
    try:
        sent, base = urlsplit(url), urlsplit(base_url)
        same_origin = (
            sent.scheme.lower() == base.scheme.lower()
            and sent.hostname == base.hostname
            and (sent.port or _DEFAULT_PORTS.get(sent.scheme.lower()))
            == (base.port or _DEFAULT_PORTS.get(base.scheme.lower()))
        )
    except ValueError:  # a port that is not a number: not the target's
        return url
    prefix = base.path.rstrip("/")
    if not same_origin or not (sent.path == prefix or sent.path.startswith(prefix + "/")):
        return url
    path = sent.path[len(prefix) :] or "/"
    return f"{path}?{sent.query}" if sent.query else path


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One call to the target: what was done, what came back, and how long it took."""

    kind: CallKind
    action: str  # "GET /health", "SELECT count(*) FROM runs", "PING", "connect /ws/tickers"
    outcome: str  # "200", "connection refused", "blocked", "ok"
    ok: bool
    ms: float
    budget_ms: float | None = None
    attempt: int = 1
    target_ms: float | None = None  # a two-level budget's target: over it only warns
    write: bool = False  # it wrote to the target (a POST, a Redis SET, a page's form post)
    warmup: bool = False  # a warm-up request of a measurement: no rule and no "slowest call" counts it
    #: This attempt failed and the call was sent again under the target's ``retries`` (what it got is ``outcome``).
    retried: bool = False
    #: The W3C trace id its ``traceparent`` header carried (32 hex digits; "" for calls that carry none).
    trace_id: str = ""

    @classmethod
    def budgeted(
        cls,
        kind: CallKind,
        action: str,
        outcome: str,
        *,
        ok: bool,
        ms: float,
        budget: Budget | None,
        attempt: int = 1,
        write: bool = False,
        warmup: bool = False,
        retried: bool = False,
        trace_id: str = "",
    ) -> CallRecord:
        """A record that carries *budget*'s limit and target (None: the call had no budget)."""
        return cls(
            kind,
            action,
            outcome,
            ok=ok,
            ms=ms,
            budget_ms=budget.limit_ms if budget else None,
            attempt=attempt,
            target_ms=budget.target_ms if budget else None,
            write=write,
            warmup=warmup,
            retried=retried,
            trace_id=trace_id,
        )

    @property
    def over_limit(self) -> bool:
        """Whether it took longer than its budget's limit (the check failed for it)."""
        return self.budget_ms is not None and self.ms > self.budget_ms

    @property
    def over_target(self) -> bool:
        """Whether it took longer than its budget's target (a two-level budget: the verdict warns)."""
        return self.target_ms is not None and self.ms > self.target_ms

    def as_dict(self) -> dict[str, Any]:
        """The record as plain JSON-able values."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Measurement:
    """A distribution a check measured (the ``latency`` fixture, ``load_probe``): the figures its line shows."""

    action: str  # "GET /api/markets", "LOAD 10 users x 20 s: GET /health"
    n: int  # measured requests, warm-up left out
    errors: int
    p50_ms: float | None  # None when no request was answered
    p95_ms: float | None
    p99_ms: float | None
    budget: str = ""  # "p95 budget 500 ms", or "" without one
    engine: str = "latency"  # "latency", or the load probe's engine: "builtin", "locust"
    #: "not evaluated: 9 samples < 20" when the p95 was over the budget on fewer samples than
    #: the target's ``min_samples``: the check was not failed for it, the verdict warns instead.
    not_evaluated: str = ""
    #: Each endpoint's latency buckets and counts (a load probe's scenario may reach several).
    distributions: tuple[EndpointDistribution, ...] = ()

    @classmethod
    def of(
        cls,
        stats: LatencyStats,
        *,
        budget: str = "",
        engine: str = "latency",
        not_evaluated: str = "",
        distributions: tuple[EndpointDistribution, ...] = (),
    ) -> Measurement:
        """The measurement of *stats* (its percentiles are None when nothing was answered)."""
        answered = stats.count > stats.unanswered
        return cls(
            action=stats.action,
            n=stats.count,
            errors=int(stats.errors),
            p50_ms=float(stats.p50) if answered else None,
            p95_ms=float(stats.p95) if answered else None,
            p99_ms=float(stats.p99) if answered else None,
            budget=budget,
            engine=engine,
            not_evaluated=not_evaluated,
            distributions=distributions,
        )

    def describe(self) -> str:
        """``GET /api/markets: n 20, 0 errors, p50 12 ms, p95 30 ms, p99 33 ms (p95 budget 500 ms)``."""
        from pytest_deploysmoke.perf.budgets import format_ms

        errors = "1 error" if self.errors == 1 else f"{self.errors} errors"
        spread = "no answers"
        if self.p50_ms is not None and self.p95_ms is not None and self.p99_ms is not None:
            percentiles = (("p50", self.p50_ms), ("p95", self.p95_ms), ("p99", self.p99_ms))
            spread = ", ".join(f"{name} {format_ms(ms / 1000)}" for name, ms in percentiles)
        notes = ", ".join(note for note in (self.budget, self.not_evaluated) if note)
        return f"{self.action}: n {self.n}, {errors}, {spread}" + (f" ({notes})" if notes else "")

    def as_dict(self) -> dict[str, Any]:
        """The measurement as plain JSON-able values."""
        return asdict(self)


@dataclass(slots=True)
class RecordLog:
    """The records of one check (setup, call and teardown), in call order."""

    records: list[CallRecord] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)


records_key = pytest.StashKey[RecordLog]()
#: The version the target's health endpoint reported during this check, when it did.
reported_version_key = pytest.StashKey[str]()
current_item_key = pytest.StashKey["pytest.Item | None"]()
#: The check's last HTTP response, for the one-line failure that names what came back.
last_response_key: pytest.StashKey[httpx.Response] = pytest.StashKey()


@dataclass(slots=True)
class FixtureLog:
    """Calls made while a fixture wider than one check sets up or cleans up, and cleanup that failed.

    They wait here until the next report carries them to the controller.
    """

    active: list[str] = field(default_factory=list)  # the fixtures now setting up or cleaning up, innermost last
    calls: dict[str, list[CallRecord]] = field(default_factory=dict)
    cleanup: list[str] = field(default_factory=list)

    def take(self) -> tuple[dict[str, list[CallRecord]], list[str]]:
        """The calls and cleanup lines kept so far, leaving none behind."""
        calls, cleanup = self.calls, self.cleanup
        self.calls, self.cleanup = {}, []
        return calls, cleanup


fixture_log_key = pytest.StashKey[FixtureLog]()


def fixture_log(config: pytest.Config) -> FixtureLog:
    """The run's fixture log, created on first use."""
    log = config.stash.get(fixture_log_key, None)
    if log is None:
        log = config.stash[fixture_log_key] = FixtureLog()
    return log


def enter_fixture(config: pytest.Config, name: str) -> None:
    """Record calls under fixture *name* until :func:`leave_fixture`, not under the running check."""
    fixture_log(config).active.append(name)


def leave_fixture(config: pytest.Config, name: str) -> None:
    """Stop recording under fixture *name* (no-op when it is not the innermost one)."""
    active = fixture_log(config).active
    if active and active[-1] == name:
        active.pop()


def note_cleanup_failure(config: pytest.Config, line: str) -> None:
    """Keep one line about cleanup that failed, for every report (it makes the verdict warn)."""
    fixture_log(config).cleanup.append(line)


def set_current_item(config: pytest.Config, item: pytest.Item | None) -> None:
    """Point recording at *item* (set around each test's run protocol)."""
    config.stash[current_item_key] = item


def current_item(config: pytest.Config) -> pytest.Item | None:
    """The check now running, or None outside of a check."""
    return config.stash.get(current_item_key, None)


def record(config: pytest.Config, call: CallRecord) -> None:
    """Keep *call* for the check now running, or for the wider fixture now setting up or cleaning up.

    Calls outside any check and any fixture are not kept.
    """
    keep(config, current_item(config), call)


def keep(config: pytest.Config, item: pytest.Item | None, call: CallRecord) -> None:
    """:func:`record` for a caller that already looked up the running check (*item*, or None)."""
    log = config.stash.get(fixture_log_key, None)
    if log is not None and log.active:  # a wider fixture's setup or cleanup: not the check's
        log.calls.setdefault(log.active[-1], []).append(call)
    elif item is not None:
        log_of(item).records.append(call)


def record_measurement(config: pytest.Config, measurement: Measurement) -> None:
    """Keep *measurement* for the check now running (none is kept outside of a check)."""
    item = current_item(config)
    if item is not None:
        log_of(item).measurements.append(measurement)


def measurements_of(item: pytest.Item) -> list[Measurement]:
    """Every measurement of *item* so far."""
    log = item.stash.get(records_key, None)
    return list(log.measurements) if log else []


def log_of(item: pytest.Item) -> RecordLog:
    """The item's record log, created on first use."""
    log = item.stash.get(records_key, None)
    if log is None:
        log = item.stash[records_key] = RecordLog()
    return log


def records_of(item: pytest.Item) -> list[CallRecord]:
    """Every call record of *item* so far."""
    log = item.stash.get(records_key, None)
    return list(log.records) if log else []
