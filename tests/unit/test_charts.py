"""The HTML report's charts and its Charts section, drawn from given calls and watch logs: each SVG parsed."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from pytest_deploysmoke.perf.compare import CompareSettings, Comparison, EndpointComparison, judge, shift_text
from pytest_deploysmoke.perf.distributions import EndpointDistribution
from pytest_deploysmoke.perf.stats import LatencyHistogram
from pytest_deploysmoke.reports.charts import (
    Bucket,
    EndpointLatency,
    comparison_chart,
    endpoint_latencies,
    latency_buckets,
    latency_chart,
    ms_label,
    watch_error_rate_chart,
    watch_p95_chart,
)
from pytest_deploysmoke.reports.html import CHARTED_ENDPOINTS, render_charts
from pytest_deploysmoke.results.records import CallRecord
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, Verdict
from pytest_deploysmoke.results.watch_log import ProbeFigures, WatchInterval, WatchLog

SVG = "{http://www.w3.org/2000/svg}"
START = 1_796_000_000.0  # 2026-12-01 00:53:20 UTC


@dataclass
class Drawn:
    """What a chart's SVG shows, read from its elements: title, legend, each series' points and dots."""

    root: ET.Element
    title: str = ""
    legend: list[str] = field(default_factory=list)
    lines: list[list[tuple[float, float]]] = field(default_factory=list)  # per series, its path's points
    dots: list[int] = field(default_factory=list)  # per series, its dots
    x_labels: list[str] = field(default_factory=list)
    no_data: str = ""


def read(svg: str) -> Drawn:
    """Parse one chart (it is XML: anything pygal did not escape would not parse)."""
    assert svg.startswith("<svg"), svg[:80]
    root = ET.fromstring(svg)
    drawn = Drawn(root)
    drawn.title = " ".join(text.text or "" for text in root.iter(f"{SVG}text") if "plot_title" in text.get("class", ""))
    for legend in root.iter(f"{SVG}g"):
        if "legend " in legend.get("class", "") + " ":
            drawn.legend.append("".join(legend.itertext()))
    plot = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "plot")
    overlay = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "plot overlay")
    for series in plot.findall(f"{SVG}g"):
        if series.get("class", "").startswith("series "):
            points = []
            for path in series.iter(f"{SVG}path"):
                numbers = [float(n) for n in path.get("d", "").replace("M", " ").replace("L", " ").split()]
                points += list(zip(numbers[::2], numbers[1::2], strict=True))
            drawn.lines.append(points)
    drawn.dots = [len(list(series.iter(f"{SVG}circle"))) for series in overlay.findall(f"{SVG}g")]
    for axis in root.iter(f"{SVG}g"):
        if axis.get("class", "").startswith("axis x"):
            drawn.x_labels = [text.text or "" for text in axis.iter(f"{SVG}text")]
    drawn.no_data = " ".join(text.text or "" for text in root.iter(f"{SVG}text") if text.get("class") == "no_data")
    return drawn


def http(action: str, ms: float, outcome: str = "200", **fields: object) -> CallRecord:
    ok = outcome.isdigit() and int(outcome) < 400
    return CallRecord("http", action, outcome, ok=ok, ms=ms, **fields)  # type: ignore[arg-type]  # test data


def interval(index: int, p95: float | None, probes: tuple[ProbeFigures, ...], **fields: object) -> WatchInterval:
    values: dict[str, object] = {"requests": 40, "errors": (), "ws_connects": 0, "ws_failures": 0, **fields}
    return WatchInterval(
        index=index,
        start=START + 60 * (index - 1),
        seconds=60.0,
        probes=probes,
        p95_ms=p95,
        **values,  # type: ignore[arg-type]  # test data
    )


# -- which calls make which endpoint -----------------------------------------------------------


def test_endpoints_group_calls_by_action_without_query_most_calls_first() -> None:
    """Calls group by method and path (the query left out); warm-ups, blocked calls, load summaries and
    database calls are no samples; a call without an answer is counted, not drawn."""
    calls = [
        http("GET /items?page=1", 12.0),
        http("GET /items?page=2", 14.0),
        http("GET /items", 90.0, warmup=True),
        http("GET /items", 3.0, "connection refused"),
        http("POST /orders", 40.0, "500"),
        http("DELETE /orders/1", 0.0, "blocked"),
        http("LOAD 10 users x 20 s: GET /health", 30.0, "200 req, 0 errors, 10 req/s"),
        CallRecord("db", "SELECT 1", "ok", ok=True, ms=1.0),
        CallRecord("ws", "connect /ws/prices", "ok", ok=True, ms=8.0),
        CallRecord("ws", "connect /ws/prices", "timed out", ok=False, ms=5000.0),
    ]
    found = endpoint_latencies(calls)
    assert [(e.endpoint, e.ms, e.unanswered) for e in found] == [
        ("GET /items", (12.0, 14.0), 1),
        ("connect /ws/prices", (8.0,), 1),
        ("POST /orders", (40.0,), 0),
    ]
    assert found[0].calls == 3


def test_endpoint_lines_are_its_tightest_budget_and_its_percentiles() -> None:
    """The target and limit drawn are the tightest its calls carried; p50 and p95 are nearest-rank."""
    calls = [http("GET /x", float(ms), target_ms=200.0, budget_ms=500.0) for ms in range(1, 20)]
    calls.append(http("GET /x", 20.0, target_ms=100.0, budget_ms=800.0))
    [endpoint] = endpoint_latencies(calls)
    assert (endpoint.target_ms, endpoint.limit_ms) == (100.0, 500.0)
    assert (endpoint.p50_ms, endpoint.p95_ms) == (10.0, 19.0)
    assert EndpointLatency("GET /y", ()).p95_ms is None


def test_buckets_are_log_spaced_round_and_count_every_call() -> None:
    """Edges step 1, 1.5, 2, 3, 5, 7 x 10^k from the fastest call to past the slowest; each call in one bucket."""
    ms = [1.2, 1.4, 2.5, 9.99, 10.0, 10.0, 31.0]
    buckets = latency_buckets(ms)
    assert [b.low_ms for b in buckets] == [1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0]
    assert buckets[-1] == Bucket(30.0, 50.0, 1)
    assert [b.count for b in buckets] == [2, 0, 1, 0, 0, 1, 2, 0, 0, 1]
    assert latency_buckets([]) == ()
    assert sum(b.count for b in latency_buckets([0.0, 0.0004, 0.2, 5e5])) == 4  # 0 ms, sub-µs and minutes
    assert latency_buckets([0.0, 0.0]) == (Bucket(0.001, 0.0015, 2),)  # every call timed at 0 ms


@pytest.mark.parametrize(
    ("ms", "label"), [(0.42, "0.42 ms"), (3.0, "3 ms"), (12.4, "12 ms"), (1500.0, "1.5 s"), (2000.0, "2 s")]
)
def test_ms_labels(ms: float, label: str) -> None:
    """Times read as the rest of the report writes them."""
    assert ms_label(ms) == label


# -- the latency chart ---------------------------------------------------------------------------


def test_latency_chart_draws_buckets_percentiles_and_budget_lines() -> None:
    """One outline point pair per bucket, and a vertical line each for p50, p95, the target and the limit."""
    endpoint = EndpointLatency("GET /items", (1.2, 1.4, 2.5, 9.99, 10.0, 10.0, 31.0), 0, 200.0, 500.0)
    drawn = read(latency_chart(endpoint))
    assert drawn.title == "GET /items \u00b7 n 7"
    assert drawn.legend == ["calls per bucket", "p50 10 ms", "p95 31 ms", "target 200 ms", "limit 500 ms"]
    outline, *marks = drawn.lines
    assert len(outline) == 2 * len(latency_buckets(endpoint.ms)) + 2  # each top, and the axis at both ends
    heights = {round(y, 3) for _, y in outline}
    assert len(heights) == 3  # the axis (and empty buckets), counts 1 and 2
    xs = [x for x, _ in outline]
    assert xs == sorted(xs)
    for line in marks:  # vertical, from the axis to the tallest bucket, ordered as their values
        (x0, y0), (x1, y1) = line
        assert x0 == x1 and y0 == max(y for _, y in outline) and y1 == min(y for _, y in outline)
    assert [line[0][0] for line in marks] == sorted(line[0][0] for line in marks)
    # the axis runs from the fastest call to the limit, marked at powers of ten: 1, 2, 5 x 10^k would crowd it
    assert drawn.x_labels == ["1 ms", "10 ms", "100 ms"]
    assert read(latency_chart(EndpointLatency("GET /one", (12.0,)))).x_labels == ["5 ms", "10 ms", "20 ms", "50 ms"]


def test_a_single_call_is_one_bar_on_an_axis_a_decade_wide() -> None:
    """One call is one closed bar, and the axis still spans a decade around it, so it reads as a time."""
    drawn = read(latency_chart(EndpointLatency("GET /one", (3.5,))))
    bar = drawn.lines[0]
    assert len(bar) == 4 and bar[0][1] == bar[-1][1] > bar[1][1] == bar[2][1]  # up, across, down to the axis
    assert drawn.x_labels == ["1 ms", "2 ms", "5 ms", "10 ms"]


def test_latency_chart_without_a_budget_draws_only_the_percentiles() -> None:
    """No budget on the calls, no budget line."""
    drawn = read(latency_chart(EndpointLatency("connect /ws/prices", (8.0, 9.0, 30.0))))
    assert drawn.legend == ["calls per bucket", "p50 9 ms", "p95 30 ms"]


def test_latency_chart_escapes_and_redacts_the_endpoint_name() -> None:
    """A name with markup is text in the SVG, and goes through the redactor first."""
    endpoint = EndpointLatency("GET /<script>alert(1)</script>/tok-SECRET", (5.0,))
    svg = latency_chart(endpoint, redact=lambda text: text.replace("tok-SECRET", "***"))
    drawn = read(svg)
    assert drawn.title == "GET /<script>alert(1)</script>/*** \u00b7 n 1"
    assert "tok-SECRET" not in svg and "<script>" not in svg
    assert not [element for element in drawn.root.iter() if element.tag == f"{SVG}script"]


def test_no_samples_is_a_figure_that_says_so() -> None:
    """An endpoint with no answered call gets a chart that says "no samples", with no scale made up."""
    drawn = read(latency_chart(EndpointLatency("GET /down", (), unanswered=3)))
    assert drawn.no_data == "no samples"
    assert drawn.title == "GET /down \u00b7 n 0, 3 without an answer (not drawn)"
    assert drawn.legend == [] and drawn.x_labels == []


# -- the watch window ----------------------------------------------------------------------------


def window(*intervals: WatchInterval, max_error_rate: float | None = 0.05) -> WatchLog:
    return WatchLog(duration=60.0 * len(intervals), every=60.0, planned=len(intervals), intervals=intervals,
                    max_error_rate=max_error_rate)  # fmt: skip


def test_watch_p95_chart_draws_each_probe_and_its_rollback_line() -> None:
    """One point per interval for all probes and for each probe, a gap where a probe had no answer, and each
    probe's p95 rollback threshold as a line of its own."""
    health = [ProbeFigures("GET /health", 20, 0, 3.0, p95, 400.0) for p95 in (5.0, 6.0, None, 7.0)]
    items = [ProbeFigures("GET /items", 20, 0, 20.0, p95) for p95 in (30.0, 45.0, 60.0, 35.0)]
    log = window(*(interval(i + 1, p95, (health[i], items[i])) for i, p95 in enumerate((30.0, 45.0, 60.0, 35.0))))
    drawn = read(watch_p95_chart(log))
    assert drawn.legend == [
        "all HTTP probes p95",
        "GET /health p95",
        "GET /health rollback over 400 ms",
        "GET /items p95",
    ]
    assert drawn.dots == [4, 3, 0, 4]  # the rollback line has no dots; /health has a gap
    # /health's line stops before its gap (the point after it stands alone, a dot); its threshold runs on
    assert len(drawn.lines[1]) == 2 and len(drawn.lines[2]) == 4
    assert len({round(y, 3) for _, y in drawn.lines[2]}) == 1  # the threshold is flat
    assert drawn.x_labels == ["00:53:20", "00:54:20", "00:55:20", "00:56:20"]


def test_watch_p95_chart_bounds_the_probes_it_draws() -> None:
    """Past six probes the rest are left out, and the title says how many were drawn."""
    probes = tuple(ProbeFigures(f"GET /p{n}", 10, 0, 1.0, 2.0) for n in range(8))
    drawn = read(watch_p95_chart(window(interval(1, 2.0, probes))))
    assert drawn.title == "p95 per interval (probes drawn: 6 of 8)"
    assert len(drawn.legend) == 7


def test_watch_error_rate_chart_draws_the_rate_and_its_threshold() -> None:
    """The rate per interval in percent, a gap where no request was sent, and the rollback threshold."""
    log = window(
        interval(1, 10.0, (), errors=()),
        interval(2, 10.0, (), errors=(("503", 3), ("connection refused", 1))),
        interval(3, None, (), requests=0),
        interval(4, 10.0, (), errors=()),
    )
    drawn = read(watch_error_rate_chart(log))
    assert drawn.title == "HTTP error rate per interval"
    assert drawn.legend == ["error rate", "rollback over 5 %"]
    assert drawn.dots == [3, 0]
    rate, threshold = drawn.lines
    assert len(rate) == 2 and len(threshold) == 4  # the line stops at the gap; the last interval is a dot
    top = min(y for _, y in rate)  # 10 % is the highest point, above the 5 % threshold
    assert top < threshold[0][1]


@pytest.mark.parametrize(
    ("log", "no_rate", "no_p95"),
    [
        (WatchLog(60.0, 60.0, 1, ()), "no intervals measured", "no intervals measured"),
        (WatchLog(60.0, 60.0, 1, (interval(1, None, (), requests=0),)), "no requests in the window",
         "no answers in the window"),
    ],
    ids=["no-interval", "no-request"],
)  # fmt: skip
def test_watch_charts_with_nothing_measured_say_so(log: WatchLog, no_rate: str, no_p95: str) -> None:
    """A window with nothing to draw is a figure that says why, never an error or an empty axis."""
    rate, p95 = read(watch_error_rate_chart(log)), read(watch_p95_chart(log))
    assert (rate.no_data, p95.no_data) == (no_rate, no_p95)
    assert rate.x_labels == p95.x_labels == []


def test_charts_need_no_script_and_reference_no_url() -> None:
    """No <script>, no comment, no href or src, no url() or @import: the SVG reads the same offline."""
    health = ProbeFigures("GET /health", 20, 0, 3.0, 5.0, 400.0)
    log = window(interval(1, 5.0, (health,)), interval(2, 6.0, (health,)))
    svgs = [
        latency_chart(EndpointLatency("GET /x", (1.0, 2.0), 0, 5.0, 9.0)),
        latency_chart(EndpointLatency("GET /y", ())),
        watch_p95_chart(log),
        watch_error_rate_chart(log),
        comparison_chart(compared("GET /z", 10.0, 14.0, 60)),
    ]
    for svg in svgs:
        assert "<!--" not in svg and "url(" not in svg and "@import" not in svg
        for element in ET.fromstring(svg).iter():
            assert element.tag != f"{SVG}script"
            assert not [name for name in element.attrib if name.endswith(("href", "src"))]
            assert not element.get("id", "").startswith("activate-serie")  # one page holds many charts


# -- the report's Charts section -----------------------------------------------------------------


class _Section(HTMLParser):
    """The Charts section's figures (by endpoint), watch figures and notes, read from its HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.endpoints: list[str] = []
        self.watch = 0
        self.notes: list[str] = []
        self._note = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        classes = (values.get("class") or "").split()
        if tag == "figure" and "deploysmoke-chart--watch" in classes:
            self.watch += 1
        elif tag == "figure":
            self.endpoints.append(values.get("data-endpoint") or "")
        self._note = tag == "p" and "deploysmoke-charts__note" in classes
        if self._note:
            self.notes.append("")

    def handle_endtag(self, tag: str) -> None:
        self._note = self._note and tag != "p"

    def handle_data(self, data: str) -> None:
        if self._note:
            self.notes[-1] += data


def section(*calls: CallRecord, watch_log: WatchLog | None = None) -> _Section:
    check = CheckResult("t.py::test_x", "health", "x", "passed", 0.1, calls=calls)
    run = RunInfo(target="staging", base_url="http://127.0.0.1:9", production=False)
    verdict = Verdict("GO", (), (), run, (), checks=(check,), watch_log=watch_log)
    parsed = _Section()
    parsed.feed(render_charts(verdict, lambda text: text.replace("s3cret", "***")))
    return parsed


def test_section_draws_the_endpoints_with_most_calls_and_names_the_others() -> None:
    """Twelve endpoints are drawn, most calls first; the rest are named with their counts, redacted."""
    calls = [http(f"GET /e{n:02d}", 5.0) for n in range(14) for _ in range(20 - n)]
    calls.append(http("GET /s3cret/<b>", 5.0))
    drawn = section(*calls)
    assert drawn.endpoints == [f"GET /e{n:02d}" for n in range(CHARTED_ENDPOINTS)]
    assert drawn.notes[-1] == (
        "12 of 15 endpoints drawn, those with the most calls; not drawn (calls): GET /e12 (8), GET /e13 (7),"
        " GET /***/<b> (1)"
    )
    assert drawn.watch == 0  # no watch window ran


def test_section_shows_the_watch_window_when_it_has_intervals() -> None:
    """A watch log with intervals adds its two charts; one without says the window measured nothing."""
    health = ProbeFigures("GET /health", 20, 0, 3.0, 5.0, 400.0)
    assert section(http("GET /x", 1.0), watch_log=window(interval(1, 5.0, (health,)))).watch == 2
    empty = section(watch_log=window())
    assert empty.watch == 0 and empty.endpoints == []
    assert empty.notes == [
        "No HTTP request or WebSocket step was recorded.",
        "The watch window ended before its first interval.",
    ]


# -- baseline and now ----------------------------------------------------------------------------


def sampled(endpoint: str, median_ms: float, n: int, seed: int) -> EndpointDistribution:
    """*n* lognormal latencies around *median_ms*, kept as a run keeps them (a histogram's buckets)."""
    histogram = LatencyHistogram()
    rng = random.Random(seed)
    for _ in range(n):
        histogram.record(median_ms * rng.lognormvariate(0, 0.3))
    return EndpointDistribution.of(endpoint, histogram, requests=n, errors=0)


def compared(endpoint: str, before_ms: float, after_ms: float, n: int = 300) -> EndpointComparison:
    return judge(sampled(endpoint, before_ms, n, 1), sampled(endpoint, after_ms, n, 2), CompareSettings())


def test_comparison_chart_draws_both_distributions_and_their_medians() -> None:
    """Baseline and now as two cumulative curves, each with a dotted median line; now is to the right when slower."""
    row = compared("GET /api/markets/krw", 12.0, 17.0)
    drawn = read(comparison_chart(row))
    assert row.verdict == "regression" and row.shift_pct is not None
    assert drawn.title == f"GET /api/markets/krw \u00b7 regression \u00b7 p50 {shift_text(row.shift_pct)}"
    assert drawn.legend[:2] == ["baseline \u00b7 n 300", "now \u00b7 n 300"]
    assert drawn.legend[2].startswith("p50 baseline ") and drawn.legend[3].startswith("p50 now ")
    before, after, before_p50, after_p50 = drawn.lines
    for curve, part in ((before, row.baseline_distribution), (after, row.now_distribution)):
        assert part is not None and len(curve) == 2 * len(part.buckets)  # a step at each bucket's top
        assert [x for x, _ in curve] == sorted(x for x, _ in curve)
        assert [y for _, y in curve] == sorted((y for _, y in curve), reverse=True)  # rising: SVG's y points down
    assert after_p50[0][0] > before_p50[0][0]
    assert {(x0 == x1) for (x0, _), (x1, _) in (before_p50, after_p50)} == {True}


def test_comparison_chart_with_one_side_empty_draws_the_other_and_with_none_says_so() -> None:
    """An endpoint not measured now shows the baseline alone; without any latency the figure says no samples."""
    before = sampled("GET /x", 10.0, 60, 3)
    one = judge(before, EndpointDistribution("GET /x", 0, 0), CompareSettings())
    drawn = read(comparison_chart(one))
    assert drawn.title == "GET /x \u00b7 not evaluated"
    assert drawn.legend[0] == "baseline \u00b7 n 60" and not [name for name in drawn.legend if name.startswith("now")]
    empty = EndpointDistribution("GET /y", 0, 0)
    assert read(comparison_chart(judge(empty, empty, CompareSettings()))).no_data == "no samples"


class _Figures(HTMLParser):
    """The comparison figures of the Charts section: each one's endpoint and verdict, and the notes."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[tuple[str, str]] = []
        self.headings: list[str] = []
        self._heading = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "figure" and "deploysmoke-chart--comparison" in (values.get("class") or ""):
            self.figures.append((values.get("data-endpoint") or "", values.get("data-verdict") or ""))
        self._heading = tag == "h3"
        if self._heading:
            self.headings.append("")

    def handle_endtag(self, tag: str) -> None:
        self._heading = False

    def handle_data(self, data: str) -> None:
        if self._heading:
            self.headings[-1] += data


def test_section_draws_each_compared_endpoint_regressions_first() -> None:
    """With a comparison, the Charts section draws each compared endpoint, regressions first, named and redacted."""
    rows = (
        compared("GET /same", 10.0, 10.0),
        compared("GET /s3cret", 10.0, 16.0),
        judge(EndpointDistribution("GET /gone", 0, 0), EndpointDistribution("GET /gone", 0, 0), CompareSettings()),
    )
    comparison = Comparison("prod 1.7.0 (s3cret.json)", CompareSettings(), rows)
    run = RunInfo(target="staging", base_url="http://127.0.0.1:9", production=False)
    verdict = Verdict("GO", (), (), run, (), checks=(), comparison=comparison)
    parsed = _Figures()
    parsed.feed(render_charts(verdict, lambda text: text.replace("s3cret", "***")))
    assert parsed.figures == [("GET /***", "regression"), ("GET /same", "no significant change")]
    assert "Baseline and now: prod 1.7.0 (***.json)" in parsed.headings
