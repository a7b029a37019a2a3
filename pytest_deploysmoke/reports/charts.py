"""Charts for the HTML report: each endpoint's latency and the watch window over time, as inline SVG (no pytest).

Every function here takes plain typed data and returns one ``<svg>`` element as a string, drawn
with pygal, which is imported only when a chart is drawn (``benchmarks/chart_libraries.py``
compares it with leather and matplotlib).  The SVG needs no JavaScript and references no URL:
pygal's own script and comments are taken out, and its styles travel inside the element.
Text goes in as data, so pygal's XML writer escapes it; the caller redacts it (*redact*).
"""

from __future__ import annotations

import datetime
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from pytest_deploysmoke.perf.compare import shift_text
from pytest_deploysmoke.perf.rollback import endpoint_of, nearest_rank

if TYPE_CHECKING:
    from pygal.style import Style

    from pytest_deploysmoke.perf.compare import EndpointComparison
    from pytest_deploysmoke.perf.distributions import EndpointDistribution
    from pytest_deploysmoke.results.records import CallRecord
    from pytest_deploysmoke.results.watch_log import ProbeFigures, WatchInterval, WatchLog

#: The call kinds that get a latency chart: HTTP requests and WebSocket steps, each named by its
#: action.  A database or Redis call is named by its statement or key, which rarely repeats
#: enough to make a distribution.
CHARTED_KINDS: Final = ("http", "ws")
#: Bucket edges per decade, in ms (1, 1.5, 2, 3, 5, 7, 10, 15, ...): about equal steps on a log
#: scale, each a round number.
LADDER: Final = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
#: The edges the latency axis is labelled at (1, 2, 5, 10, 20, 50, ... ms), when two of them are in range.
_AXIS_MARKS: Final = (1.0, 2.0, 5.0)
#: The fastest time a bucket tells apart: 1 µs (a call timed at 0 ms falls in the first bucket).
_FLOOR_MS: Final = 0.001
#: Labels on the latency axis at most (past that, powers of ten only).
_MAX_MARKS: Final = 6
#: Intervals labelled on a watch chart's time axis at most (the others keep their tick).
_TIME_LABELS: Final = 8

_BLUE, _GREY, _DARK, _AMBER, _RED = "#4a7bd0", "#6b6b6b", "#222222", "#d08a00", "#c62828"
_GREEN = "#2e7d32"
#: The colour of the "now" curve of a compared endpoint, by its verdict (the baseline's is grey).
_VERDICT_COLOURS: Final = {"regression": _RED, "improvement": _GREEN}
#: Colours of the watch window's probes, in turn; each probe's rollback line has its colour.
_PROBE_COLOURS: Final = ("#00897b", "#8e24aa", "#ef6c00", "#3949ab", "#6d4c41", "#c2185b", "#7cb342", "#546e7a")
#: Legend entries per row, under each chart.
_LEGEND_COLUMNS: Final = 2
_LEGEND_ROW: Final = 18  # pygal's legend row: 1.5 x its 12 px box
_MARGIN: Final = 20  # pygal's default margin
_DASHED: Final[dict[str, object]] = {"width": 3, "dasharray": "8, 5"}
_DOTTED: Final[dict[str, object]] = {"width": 3, "dasharray": "2, 4"}
_SOLID: Final[dict[str, object]] = {"width": 3.5}


def _same(text: str) -> str:
    return text


@dataclass(frozen=True, slots=True)
class EndpointLatency:
    """One endpoint's measured calls: what its latency chart draws."""

    endpoint: str  # the calls' action without its query: "GET /health", "connect /ws/prices"
    ms: tuple[float, ...]  # each answered call's time, in call order
    unanswered: int = 0  # calls that got no answer (refused, timed out): counted in the title, not drawn
    target_ms: float | None = None  # the tightest budget target its calls carried
    limit_ms: float | None = None  # the tightest budget limit its calls carried

    @property
    def calls(self) -> int:
        """Every measured call, answered or not."""
        return len(self.ms) + self.unanswered

    @property
    def p50_ms(self) -> float | None:
        """The answered calls' median (nearest rank), None without one."""
        return nearest_rank(self.ms, 50.0) if self.ms else None

    @property
    def p95_ms(self) -> float | None:
        """The answered calls' 95th percentile (nearest rank), None without one."""
        return nearest_rank(self.ms, 95.0) if self.ms else None


@dataclass(frozen=True, slots=True)
class Bucket:
    """Calls that took from ``low_ms`` up to, not including, ``high_ms``."""

    low_ms: float
    high_ms: float
    count: int


def _answered(call: CallRecord) -> bool:
    """Whether *call* got an answer whose time is a latency: an HTTP status, or a WebSocket step that succeeded.

    A load probe's one record for its whole run (its outcome ``120 req, 0 errors, ...``) is no call.
    """
    if call.kind == "http":
        return len(call.outcome) == 3 and call.outcome.isdigit()
    return call.ok


def _no_answer(call: CallRecord) -> bool:
    """Whether *call* was sent and got no answer (refused, timed out); a blocked call or a load summary was not."""
    if call.kind == "http":
        return not call.ok and call.outcome != "blocked" and " req, " not in call.outcome
    return not call.ok


def endpoint_latencies(calls: Iterable[CallRecord]) -> tuple[EndpointLatency, ...]:
    """Each endpoint the *calls* reached (HTTP and WebSocket), most calls first, then by name.

    Warm-up requests are left out, as every rule leaves them out; a call that got no answer is
    counted, not drawn; the budget lines are the tightest target and limit the calls carried.
    """
    times: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    targets: dict[str, float] = {}
    limits: dict[str, float] = {}
    for call in calls:
        if call.warmup or call.kind not in CHARTED_KINDS:
            continue
        key = endpoint_of(call.action)
        if _answered(call):
            times.setdefault(key, []).append(call.ms)
        elif _no_answer(call):
            missed[key] = missed.get(key, 0) + 1
            times.setdefault(key, [])
        else:
            continue
        if call.target_ms is not None:
            targets[key] = min(targets.get(key, math.inf), call.target_ms)
        if call.budget_ms is not None:
            limits[key] = min(limits.get(key, math.inf), call.budget_ms)
    found = [
        EndpointLatency(key, tuple(ms), missed.get(key, 0), targets.get(key), limits.get(key))
        for key, ms in times.items()
    ]
    return tuple(sorted(found, key=lambda endpoint: (-endpoint.calls, endpoint.endpoint)))


def _edge(ms: float, *, above: bool) -> float:
    """The ladder's edge at or below *ms*, or (*above*) the first one over it."""
    ms = max(ms, _FLOOR_MS)
    decade = math.floor(math.log10(ms))
    edges = [float(f"{step}e{power}") for power in (decade - 1, decade, decade + 1) for step in LADDER]
    if above:
        return min(edge for edge in edges if edge > ms)
    return max(edge for edge in edges if edge <= ms * (1 + 1e-12))


def latency_buckets(ms: Sequence[float]) -> tuple[Bucket, ...]:
    """Log-spaced buckets (edges 1, 1.5, 2, 3, 5, 7 x 10^k ms) from the fastest call's to past the slowest's.

    Empty buckets between them are kept, so the gaps show; no calls, no buckets.
    """
    if not ms:
        return ()
    edges = [_edge(min(ms), above=False)]
    top = max(max(ms), _FLOOR_MS)  # calls timed at 0 ms still fill the first bucket
    while edges[-1] <= top:
        edges.append(_edge(edges[-1], above=True))
    counts = [0] * (len(edges) - 1)
    for value in ms:
        low, high = 0, len(counts) - 1
        while low < high:  # the last bucket whose low edge is at or below the value
            middle = (low + high + 1) // 2
            if edges[middle] <= max(value, _FLOOR_MS):
                low = middle
            else:
                high = middle - 1
        counts[low] += 1
    return tuple(Bucket(edges[i], edges[i + 1], count) for i, count in enumerate(counts))


def ms_label(ms: float) -> str:
    """``0.5 ms``, ``12 ms``, ``1.5 s``: a time as the charts label it."""
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:.2g} ms" if ms < 10 else f"{ms:.0f} ms"


def latency_chart(endpoint: EndpointLatency, *, redact: Callable[[str], str] = _same) -> str:
    """*endpoint*'s latency distribution: a histogram on a log scale, p50 and p95, its budget's target and limit.

    Without an answered call it is a figure that says ``no samples``.
    """
    counts = f"n {len(endpoint.ms)}"
    if endpoint.unanswered:
        counts += f", {endpoint.unanswered} without an answer (not drawn)"
    title = f"{redact(endpoint.endpoint)} \u00b7 {counts}"
    buckets = latency_buckets(endpoint.ms)
    if not buckets:
        return _draw("XY", title, [], no_data="no samples", x_title="time per call (log scale)", y_title="calls")
    marks: list[tuple[str, float | None, dict[str, object], str]] = [
        ("p50", endpoint.p50_ms, _DOTTED, _GREY),
        ("p95", endpoint.p95_ms, _DASHED, _DARK),
        ("target", endpoint.target_ms, _SOLID, _AMBER),
        ("limit", endpoint.limit_ms, _SOLID, _RED),
    ]
    top = float(max(bucket.count for bucket in buckets))
    outline = []  # each bucket's top; pygal's fill takes it down to the axis at both ends
    for bucket in buckets:
        outline += [(_log(bucket.low_ms), float(bucket.count)), (_log(bucket.high_ms), float(bucket.count))]
    series = [_Series("calls per bucket", outline, _BLUE, {"width": 1}, fill=True)]
    series += [
        _Series(f"{name} {ms_label(ms)}", [(_log(ms), 0.0), (_log(ms), top)], colour, stroke)
        for name, ms, stroke, colour in marks
        if ms is not None
    ]
    low, high = _latency_axis(
        min(buckets[0].low_ms, *(ms for _, ms, _, _ in marks if ms is not None)),
        max(buckets[-1].high_ms, *(ms for _, ms, _, _ in marks if ms is not None)),
    )
    return _draw(
        "XY",
        title,
        series,
        no_data="no samples",
        x_title="time per call (log scale)",
        y_title="calls",
        xrange=(_log(low), _log(high)),
        x_labels=_log_marks(low, high),
        y_labels=_count_marks(int(top)),
    )


def comparison_chart(row: EndpointComparison, *, redact: Callable[[str], str] = _same) -> str:
    """A compared endpoint's two latency distributions, baseline and now, as cumulative curves on a log scale.

    Each curve is the share of the side's answered requests at or under each time (a step at each
    histogram bucket's top), with a dotted line at the side's median.  The baseline is grey; now is
    red for a regression, green for an improvement, blue otherwise.  Without a latency on either
    side it is a figure that says ``no samples``.
    """
    shift = "" if row.shift_pct is None else f" \u00b7 p50 {shift_text(row.shift_pct)}"
    title = f"{redact(row.endpoint)} \u00b7 {row.verdict}{shift}"
    sides = [
        ("baseline", row.baseline_distribution, _GREY),
        ("now", row.now_distribution, _VERDICT_COLOURS.get(row.verdict, _BLUE)),
    ]
    drawn = [(name, part, colour) for name, part, colour in sides if part is not None and part.buckets]
    axis = {"x_title": "time per request (log scale)", "y_title": "% of requests at or under"}
    if not drawn:
        return _draw("XY", title, [], no_data="no samples", **axis)
    series, medians = [], []
    for name, part, colour in drawn:
        median = part.percentile(50.0)
        series.append(_Series(f"{name} \u00b7 n {part.answered}", _cumulative(part), colour, {"width": 3}))
        if median is not None:
            at = [(_log(median), 0.0), (_log(median), 100.0)]
            medians.append(_Series(f"p50 {name} {ms_label(median)}", at, colour, _DOTTED))
    low, high = _latency_axis(
        min(part.buckets[0][0] for _, part, _ in drawn), max(part.buckets[-1][0] for _, part, _ in drawn)
    )
    return _draw(
        "XY",
        title,
        [*series, *medians],
        no_data="no samples",
        xrange=(_log(low), _log(high)),
        x_labels=_log_marks(low, high),
        y_labels=[0.0, 25.0, 50.0, 75.0, 100.0],
        **axis,
    )


def _cumulative(part: EndpointDistribution) -> list[tuple[float, float]]:
    """*part*'s share of answered requests at or under each bucket's top, in percent: a step per bucket."""
    total, seen = part.answered, 0
    points = []
    for ms, count in part.buckets:
        points.append((_log(ms), seen / total * 100))
        seen += count
        points.append((_log(ms), seen / total * 100))
    return points


def watch_p95_chart(log: WatchLog, *, redact: Callable[[str], str] = _same, max_probes: int = 6) -> str:
    """The watch window's p95 per interval: all HTTP probes together, each probe, and each probe's rollback line.

    An interval without an answer is a gap in its line.  At most *max_probes* probes are drawn one
    by one (the first ones the window names); all of them count in the overall line.
    """
    names = log.probe_names()
    shown = names[:max_probes]
    title = "p95 per interval"
    if len(names) > len(shown):
        title += f" (probes drawn: {len(shown)} of {len(names)})"
    series = [_Series("all HTTP probes p95", [interval.p95_ms for interval in log.intervals], _BLUE, {"width": 4})]
    for index, probe in enumerate(shown):
        colour = _PROBE_COLOURS[index % len(_PROBE_COLOURS)]
        figures = [_figures(interval, probe) for interval in log.intervals]
        p95s = [f.p95_ms if f else None for f in figures]
        series.append(_Series(f"{redact(probe)} p95", p95s, colour, {"width": 2.5}))
        limits = [f.p95_limit_ms if f else None for f in figures]
        if any(limit is not None for limit in limits):
            highest = max(limit for limit in limits if limit is not None)
            series.append(_Series(f"{redact(probe)} rollback over {ms_label(highest)}", limits, colour, _DASHED))
    if not any(value is not None for value in series[0].values):  # not one answer: no line is measured
        series = []
    return _draw(
        "Line",
        title,
        series,
        no_data="no answers in the window" if log.intervals else "no intervals measured",
        x_title="interval start (UTC)",
        y_title="ms",
        value_formatter=ms_label,
        **_time_axis(log),
    )


def watch_error_rate_chart(log: WatchLog) -> str:
    """The watch window's HTTP error rate per interval, with the ``error_rate`` rollback threshold.

    An interval without a request is a gap in the line.
    """
    rates = [None if interval.error_rate is None else interval.error_rate * 100 for interval in log.intervals]
    series = [_Series("error rate", rates, _RED, {"width": 4})]
    if log.max_error_rate is not None:
        limit = log.max_error_rate * 100
        series.append(_Series(f"rollback over {limit:g} %", [limit] * len(log.intervals), _DARK, _DASHED))
    if all(rate is None for rate in rates):
        series = []
    return _draw(
        "Line",
        "HTTP error rate per interval",
        series,
        no_data="no requests in the window" if log.intervals else "no intervals measured",
        x_title="interval start (UTC)",
        y_title="% of requests",
        value_formatter=lambda value: f"{value:g} %",
        **_time_axis(log),
    )


@dataclass(frozen=True, slots=True)
class _Series:
    """One line (or filled outline) of a chart, with its legend label, colour and stroke."""

    label: str
    values: Sequence[float | None] | Sequence[tuple[float, float]]
    colour: str
    stroke: dict[str, object]
    fill: bool = False


def import_pygal() -> ModuleType:
    """pygal, imported without the import hook it puts on ``sys.meta_path``.

    pygal adds a finder for its map plugins (which the charts do not draw) that has no
    ``find_spec``: on Python 3.10 and 3.11 every import that fails after it, anywhere in the
    process, then warns (ImportWarning), an error under ``-W error``.  Upstream:
    https://github.com/Kozea/pygal/pull/532 (open); once released, this can go.
    """
    import pygal

    sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "pygal"]
    return pygal


def _draw(kind: str, title: str, series: Sequence[_Series], *, no_data: str, **options: Any) -> str:
    """Render a pygal *kind* chart (``"XY"``, ``"Line"``) of *series*; without any, a figure that says *no_data*."""
    pygal = import_pygal()
    from pygal.etree import etree

    if not series:  # no scale is made up around the words
        options = {key: value for key, value in options.items() if not key.startswith(("x_labels", "y_labels"))}
        options.update(show_x_labels=False, show_y_labels=False)
    chart = getattr(pygal, kind)(
        title=title,
        style=_style([line.colour for line in series]),
        no_data_text=no_data,
        js=[],  # pygal's tooltips script is fetched from a URL: none
        disable_xml_declaration=True,  # the SVG goes inside an HTML page
        explicit_size=False,  # the page sizes it (width 100 %, height from the viewBox)
        width=420 if kind == "XY" else 640,
        height=340,
        include_x_axis=True,
        # a gap where an interval measured nothing; an XY chart has none (pygal pads its values to the
        # number of labels, and a fill would then end after the padding)
        allow_interruptions=kind == "Line",
        show_dots=False,
        legend_at_bottom=True,
        legend_at_bottom_columns=_LEGEND_COLUMNS,
        # pygal keeps room for len // columns legend rows, one short when the last row is not full
        margin_bottom=_MARGIN + _LEGEND_ROW * (len(series) % _LEGEND_COLUMNS != 0),
        truncate_legend=-1,
        truncate_label=-1,
        **options,
    )
    for line in series:
        chart.add(
            line.label,
            line.values,
            stroke_style=line.stroke,
            fill=line.fill,
            show_dots=kind == "Line" and line.stroke is not _DASHED,
        )

    def offline(root: Any) -> Any:
        # pygal's <script> (the config of a tooltips script we do not load) and its comments (URLs) go;
        # so do its legends' ids, the same in every chart, which one page must not repeat
        for parent in list(root.iter()):
            for child in list(parent):
                tag = child.tag if isinstance(child.tag, str) else ""
                if child.tag is etree.Comment or tag.rsplit("}", 1)[-1] == "script":
                    parent.remove(child)
                elif child.get("id", "").startswith("activate-serie"):
                    del child.attrib["id"]
        return root

    chart.add_xml_filter(offline)
    svg: str = chart.render(is_unicode=True)
    return svg


def _figures(interval: WatchInterval, probe: str) -> ProbeFigures | None:
    """The ProbeFigures of *probe* in *interval* (None when the interval has none)."""
    return next((figures for figures in interval.probes if figures.probe == probe), None)


def _time_axis(log: WatchLog) -> dict[str, object]:
    """The x axis of a watch chart: each interval's start, ``14:30:05`` UTC, at most eight of them labelled."""
    labels = [
        datetime.datetime.fromtimestamp(interval.start, tz=datetime.timezone.utc).strftime("%H:%M:%S")
        for interval in log.intervals
    ]
    every = max(1, math.ceil(len(labels) / _TIME_LABELS))
    return {"x_labels": labels, "x_labels_major_every": every, "show_minor_x_labels": every == 1}


def _log(ms: float) -> float:
    """*ms* on the latency axis: decades above 1 µs, so the axis' zero (where pygal draws a line) is out of sight."""
    return math.log10(max(ms, _FLOOR_MS) / _FLOOR_MS)


def _latency_axis(low_ms: float, high_ms: float) -> tuple[float, float]:
    """The latency axis' ends: one ladder step past what is drawn on each side, and at least a decade apart."""
    low, high = _edge(low_ms * 0.999, above=False), _edge(high_ms, above=True)
    while high / low < 10 * (1 - 1e-9):
        low, high = _edge(low * 0.999, above=False), _edge(high, above=True)
    return low, high


def _log_marks(low_ms: float, high_ms: float) -> list[dict[str, object]]:
    """The latency axis' labels from *low_ms* to *high_ms*: 1, 2, 5 x 10^k ms, or fewer when they would crowd."""
    edges = [low_ms]
    while edges[-1] < high_ms * (1 - 1e-9):
        edges.append(_edge(edges[-1], above=True))
    chosen = [edge for edge in edges if _mantissa(edge) in _AXIS_MARKS]
    if len(chosen) > _MAX_MARKS:  # powers of ten only, and every other one if still too many
        decades = [edge for edge in chosen if _mantissa(edge) == 1.0]
        chosen = decades[:: math.ceil(len(decades) / _MAX_MARKS)]
    return [{"value": _log(edge), "label": ms_label(edge)} for edge in chosen]


def _mantissa(ms: float) -> float:
    """1.5 for 150 ms: the ladder step of an edge."""
    return round(ms / 10.0 ** math.floor(math.log10(ms) + 1e-9), 6)


def _count_marks(top: int) -> list[float]:
    """Whole numbers from 0 to at least *top*, about five of them."""
    step = max(1, math.ceil(top / 5))
    magnitude = 10 ** math.floor(math.log10(step))
    step = next(nice * magnitude for nice in (1, 2, 5, 10) if nice * magnitude >= step)
    return [float(count) for count in range(0, max(top, 1) + step, step)]


def _style(colours: Sequence[str]) -> Style:
    from pygal.style import Style

    return Style(
        colors=tuple(colours),
        background="#ffffff",
        plot_background="#ffffff",
        foreground="#222222",
        foreground_strong="#111111",
        foreground_subtle="#666666",
        font_family="Helvetica, Arial, sans-serif",
        title_font_size=15,
        legend_font_size=12,
        label_font_size=11,
        major_label_font_size=11,
        no_data_font_size=22,
        opacity=".55",
        opacity_hover=".7",
        guide_stroke_color="#cccccc",
        major_guide_stroke_color="#bbbbbb",
        transition="0s",
        # pygal sets every line's width on the line itself, over the width given to its series
        # (stroke_style): inherit it from the series instead
        stroke_width="inherit",
        stroke_width_hover="inherit",
    )
