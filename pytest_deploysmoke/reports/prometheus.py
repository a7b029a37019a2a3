"""Metrics in Prometheus: the verdict and its figures pushed to a Pushgateway, or written for node_exporter.

:func:`metric_families` maps a :class:`~pytest_deploysmoke.results.verdict.Verdict` to Prometheus
metric families (pure: no pytest, no network); :func:`build_registry` puts them in a fresh
``CollectorRegistry``; :func:`push` and :func:`write_textfile` hand that registry to
prometheus_client's ``push_to_gateway`` and ``write_to_textfile``.  :class:`MetricsExport` is
the plugin object behind ``--deploy-pushgateway`` and ``--deploy-metrics``: it is registered
(and this module imported, with prometheus_client) only when one of them is given.

A Pushgateway that is down or refuses the push is one warning line, never a failed run: the
metrics report the verdict, they are not part of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from http.client import HTTPException
from typing import TYPE_CHECKING, Final
from urllib.parse import unquote, urlsplit, urlunsplit

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pytest_deploysmoke.config.redaction import redact_url
from pytest_deploysmoke.perf.rollback import endpoint_of, server_error
from pytest_deploysmoke.perf.stats import PERCENTILES, LatencyHistogram

if TYPE_CHECKING:
    from pytest_deploysmoke.results.records import CallRecord
    from pytest_deploysmoke.results.verdict import Verdict
    from pytest_deploysmoke.results.watch_log import WatchLog

#: The Pushgateway job every run pushes under; its group is ``{job="deploysmoke", target=<target>}``.
JOB: Final = "deploysmoke"
#: Seconds a push may take before it is given up (one warning line then).
PUSH_TIMEOUT: Final = 5.0
#: The ``quantile`` label of each percentile of :data:`~pytest_deploysmoke.perf.stats.PERCENTILES`.
QUANTILES: Final = tuple(f"{q / 100:g}" for q in PERCENTILES)

Redact = Callable[[str], str]


def _keep(text: str) -> str:
    return text


def metric_families(
    verdict: Verdict, redact: Redact = _keep, *, labels: Sequence[tuple[str, str]] = ()
) -> list[Metric]:
    """The metrics of *verdict*, every label value passed through *redact*.

    *labels* are added to every sample that does not carry them already: the file for
    node_exporter names the target on each metric, as the Pushgateway's grouping key does for
    pushed ones.  The watch window's metrics are there when the verdict has a watch log with
    intervals.
    """
    run = verdict.run
    version = run.reported_version or run.expected_version
    families: list[Metric] = []

    decided = GaugeMetricFamily(
        "deploysmoke_verdict",
        "The run's verdict: 1, labelled with the target, the version and the decision.",
        labels=("target", "version", "decision"),
    )
    decided.add_metric((redact(run.target), redact(version), verdict.decision), 1)
    families.append(decided)

    when = GaugeMetricFamily("deploysmoke_run_timestamp_seconds", "When the run ended (Unix time).")
    when.add_metric((), run.finished)
    took = GaugeMetricFamily("deploysmoke_run_duration_seconds", "How long the run took, watch window included.")
    took.add_metric((), run.duration)
    families += [when, took]

    checks = GaugeMetricFamily(
        "deploysmoke_check_duration_seconds",
        "How long each check took, labelled with its node id, phase and outcome.",
        labels=("check", "phase", "outcome"),
    )
    for check in verdict.checks:
        checks.add_metric((redact(check.nodeid), redact(check.phase), check.outcome), check.duration)
    families.append(checks)

    families += _endpoint_families(_endpoints(verdict, redact))
    if verdict.watch_log is not None and verdict.watch_log.intervals:
        families += _watch_families(verdict.watch_log, redact)
    if labels:
        for family in families:
            family.samples = [sample._replace(labels={**dict(labels), **sample.labels}) for sample in family.samples]
    return families


@dataclass(slots=True)
class _Endpoint:
    """One endpoint's calls over all the checks: how many, how many failed, and the latencies of the answered ones."""

    endpoint: str  # "GET /health": the records' action without its query
    calls: int = 0
    errors: int = 0
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)

    def quantiles(self) -> list[tuple[str, float]]:
        """``[("0.5", seconds), ("0.95", ...), ("0.99", ...)]``; empty when no call got an answer."""
        if not self.histogram.count:
            return []
        return [(q, ms / 1000) for q, ms in zip(QUANTILES, self.histogram.percentiles(PERCENTILES), strict=True)]


def _endpoints(verdict: Verdict, redact: Redact = _keep) -> list[_Endpoint]:
    """Each endpoint's figures from the checks' HTTP calls, in the order first called.

    Warm-up requests and calls the production guard blocked (never sent) are left out.  Every
    attempt counts, a retried one too.  An error is what the ``error_rate`` rollback rule counts:
    an attempt that got no answer, or a 5xx (a 4xx is often what a check asks for: 401 without a
    token).  An attempt that got no answer has no latency, as in the ``latency`` fixture's figures.
    """
    endpoints: dict[str, _Endpoint] = {}
    for call in _http_calls(verdict):
        endpoint = redact(endpoint_of(call.action))
        figures = endpoints.get(endpoint)
        if figures is None:
            figures = endpoints[endpoint] = _Endpoint(endpoint)
        figures.calls += 1
        figures.errors += server_error(call)
        if call.outcome.isdigit():  # an HTTP status: the call got an answer
            figures.histogram.record(call.ms)
    return list(endpoints.values())


def _http_calls(verdict: Verdict) -> Iterator[CallRecord]:
    for check in verdict.checks:
        for call in check.calls:
            if call.kind == "http" and not call.warmup and call.outcome != "blocked":
                yield call


def _endpoint_families(endpoints: Iterable[_Endpoint]) -> list[Metric]:
    latency = GaugeMetricFamily(
        "deploysmoke_endpoint_latency_seconds",
        "Each endpoint's latency percentiles over the checks' HTTP calls (warm-up left out).",
        labels=("endpoint", "quantile"),
    )
    requests = CounterMetricFamily(
        "deploysmoke_endpoint_requests", "HTTP calls the checks made to each endpoint.", labels=("endpoint",)
    )
    errors = CounterMetricFamily(
        "deploysmoke_endpoint_errors",
        "HTTP calls to each endpoint that got no answer or a 5xx.",
        labels=("endpoint",),
    )
    for figures in endpoints:
        for quantile, seconds in figures.quantiles():
            latency.add_metric((figures.endpoint, quantile), seconds)
        requests.add_metric((figures.endpoint,), figures.calls)
        errors.add_metric((figures.endpoint,), figures.errors)
    return [latency, requests, errors]


def _watch_families(log: WatchLog, redact: Redact) -> list[Metric]:
    """The whole window in a few series: totals are sums over its intervals, the p95 and the target's
    CPU and memory are the worst interval's (the figure a rollback rule would have tripped on)."""
    intervals = log.intervals
    requests = sum(interval.requests for interval in intervals)
    by_kind: dict[str, int] = {}
    for interval in intervals:
        for kind, times in interval.errors:
            by_kind[kind] = by_kind.get(kind, 0) + times
    failed = sum(by_kind.values())

    count = GaugeMetricFamily("deploysmoke_watch_intervals", "Intervals the watch window completed.")
    count.add_metric((), len(intervals))
    sent = CounterMetricFamily("deploysmoke_watch_requests", "HTTP probe requests over the watch window.")
    sent.add_metric((), requests)
    errors = CounterMetricFamily(
        "deploysmoke_watch_errors",
        "Failed HTTP probe requests over the watch window, by what they got (503, connection refused, ...).",
        labels=("kind",),
    )
    for kind, number in sorted(by_kind.items(), key=lambda pair: (-pair[1], pair[0])):
        errors.add_metric((redact(kind),), number)
    families: list[Metric] = [count, sent, errors]
    if requests:
        rate = GaugeMetricFamily(
            "deploysmoke_watch_error_rate", "Failed HTTP probe requests over all those sent in the window (0 to 1)."
        )
        rate.add_metric((), failed / requests)
        families.append(rate)

    worst_p95: dict[str, float] = {}
    for interval in intervals:
        for probe in interval.probes:
            if probe.p95_ms is not None:
                name = redact(probe.probe)
                worst_p95[name] = max(worst_p95.get(name, 0.0), probe.p95_ms / 1000)
    p95 = GaugeMetricFamily(
        "deploysmoke_watch_p95_seconds", "Each probe's highest p95 latency of any watch interval.", labels=("probe",)
    )
    for name, seconds in worst_p95.items():
        p95.add_metric((name,), seconds)
    families.append(p95)

    opens = CounterMetricFamily("deploysmoke_watch_ws_connects", "WebSocket opens the watch window tried.")
    opens.add_metric((), sum(interval.ws_connects for interval in intervals))
    ws_failed = CounterMetricFamily("deploysmoke_watch_ws_failures", "WebSocket opens in the window that failed.")
    ws_failed.add_metric((), sum(interval.ws_failures for interval in intervals))
    families += [opens, ws_failed]

    cpu = [interval.cpu for interval in intervals if interval.cpu is not None]
    if cpu:
        peak = GaugeMetricFamily(
            "deploysmoke_watch_target_cpu_ratio",
            "The target's highest CPU use of any watch interval, as a share of one core (metrics_url).",
        )
        peak.add_metric((), max(cpu))
        families.append(peak)
    memory = [interval.memory_bytes for interval in intervals if interval.memory_bytes is not None]
    if memory:
        resident = GaugeMetricFamily(
            "deploysmoke_watch_target_memory_bytes",
            "The target's highest resident memory at the end of any watch interval (metrics_url).",
        )
        resident.add_metric((), max(memory))
        families.append(resident)
    return families


class _Families(Collector):
    """A collector of metric families made once: a run's metrics do not change after the verdict."""

    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = tuple(families)

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def build_registry(
    verdict: Verdict, redact: Redact = _keep, *, labels: Sequence[tuple[str, str]] = ()
) -> CollectorRegistry:
    """A fresh registry holding only the metrics of *verdict* (see :func:`metric_families`)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Families(metric_families(verdict, redact, labels=labels)))
    return registry


def push(url: str, target: str, registry: CollectorRegistry, *, timeout: float = PUSH_TIMEOUT) -> str:
    """Push *registry* to the Pushgateway at *url* under job ``deploysmoke`` and group ``target``.

    The group's earlier metrics are replaced (``PUT``).  A user and password in *url* are sent as
    HTTP basic auth.  Returns "" when the push went through, else what went wrong in one line,
    for a warning: ``connection refused after 2 ms``.
    """
    from prometheus_client.exposition import basic_auth_handler, default_handler, push_to_gateway

    parts = urlsplit(url)
    handler = default_handler
    if parts.username is not None or parts.password is not None:
        username, password = unquote(parts.username or ""), unquote(parts.password or "")

        def handler(  # basic_auth_handler with the URL's credentials, as prometheus_client documents
            url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
        ) -> Callable[[], None]:
            return basic_auth_handler(url, method, timeout, headers, data, username, password)

        parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    gateway = urlunsplit(parts).rstrip("/")
    started = time.perf_counter()
    try:
        push_to_gateway(
            gateway, job=JOB, registry=registry, grouping_key={"target": target}, timeout=timeout, handler=handler
        )
    except (OSError, HTTPException, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
        return f"{_push_error(exc)} after {_elapsed(started)}"
    return ""


def _push_error(exc: Exception) -> str:
    """What came back instead of an accepted push: ``answered 400 Bad Request (pushed metrics are ...)``."""
    from urllib.error import HTTPError

    from pytest_deploysmoke.clients.network import describe_error, excerpt

    if isinstance(exc, HTTPError):
        try:
            body = exc.read().decode("utf-8", "replace").strip()
        except (OSError, HTTPException):  # the status says enough without its body
            body = ""
        said = f" ({excerpt(body.splitlines()[0], 200)})" if body else ""
        return f"answered {exc.code} {exc.reason}{said}"
    return describe_error(exc)


def _elapsed(started: float) -> str:
    from pytest_deploysmoke.perf.budgets import format_ms

    return format_ms(time.perf_counter() - started)


def write_textfile(path: str, registry: CollectorRegistry) -> str:
    """Write *registry* to *path* in the Prometheus text format, through a temporary file in the same
    folder renamed over it (node_exporter's textfile collector never reads half a file).

    Returns "" when written, else what went wrong in one line, for a warning.
    """
    from prometheus_client import write_to_textfile

    try:
        write_to_textfile(path, registry)
    except OSError as exc:
        return exc.strerror or str(exc)
    return ""


class MetricsExport:
    """Pushes the verdict's metrics (``--deploy-pushgateway``) and writes them (``--deploy-metrics``)
    once the verdict is decided, for every decision (controller only)."""

    def __init__(self, pushgateway: str | None, path: str | None, redact: Redact) -> None:
        self.pushgateway = pushgateway
        self.path = path
        self.redact = redact

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from pytest_deploysmoke.results.summary import get_verdict

        verdict = get_verdict(session.config)
        if verdict is None:
            return
        for line in self.export(verdict):
            _warn(session.config, line)

    def export(self, verdict: Verdict) -> list[str]:
        """Push and write *verdict*'s metrics; return a warning line for each that failed."""
        warnings = []
        target = verdict.run.target
        if self.pushgateway:
            problem = push(self.pushgateway, target, build_registry(verdict, self.redact))
            if problem:
                warnings.append(
                    f"deploysmoke: could not push metrics to {redact_url(self.pushgateway)}: {problem}; "
                    "the run's verdict stands"
                )
        if self.path:
            registry = build_registry(verdict, self.redact, labels=(("target", self.redact(target)),))
            problem = write_textfile(self.path, registry)
            if problem:
                warnings.append(
                    f"deploysmoke: could not write metrics to {self.path}: {problem}; the run's verdict stands"
                )
        return [self.redact(line) for line in warnings]


def _warn(config: pytest.Config, line: str) -> None:
    """One yellow line in the terminal (on stderr when the terminal reporter is off)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        import sys

        print(line, file=sys.stderr)
        return
    reporter.ensure_newline()
    reporter.write_line(line, yellow=True)
