"""Compare the charting libraries the HTML report could draw its charts with, side by side in one run.

Run it with::

    .venv/bin/python benchmarks/chart_libraries.py [--runs 7] [--renders 10] [--venv DIR]

The candidates are pygal (pure-Python SVG), leather (small SVG) and matplotlib (its SVG backend,
text kept as text: ``svg.fonttype = none``).  They are installed, by name with pip, into one
throwaway virtual environment (``--venv DIR`` keeps it there and reuses it on the next run), so
measuring them never changes the project's own environment.  For each candidate the script measures:

- installed size: the files its distribution and each dependency the plugin does not already
  need put on disk (their ``RECORD``, bytecode included); the plugin's own dependencies are read
  from this interpreter's metadata of ``pytest-deploysmoke`` (its core requirements, walked);
- cold import: ``import`` of what drawing needs, timed inside a fresh interpreter, the median of
  ``--runs`` runs, the candidates interleaved run by run so machine noise hits all of them alike;
- render: the report's charts for a realistic run (8 endpoints x 200 calls, each a log-bucketed
  histogram with p50, p95 and its budget's target and limit drawn as lines; a 16-interval watch
  window as p95 per interval for 3 probes with their rollback lines, and the error rate with
  its threshold), the median of ``--renders`` renders after a first one, in one process;
- the SVG: its size, whether it holds a ``<script>``, whether it references a URL (``href``,
  ``src``, ``url(...)``, ``@import``), whether the endpoints' names are in it as text, and how many
  charts have a ``viewBox`` (scale to the page's width rather than keep a fixed size and crop).

It then times the shipped code, :mod:`pytest_deploysmoke.reports.charts`, in this interpreter on
the same data.  Each column's ratio is to the best candidate in it.

Exit status: 0 when the benchmark ran, 2 when it could not (pip failed, a candidate failed to draw).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

PLUGIN = "pytest-deploysmoke"
ENDPOINTS = 8
SAMPLES = 200
INTERVALS = 16
PROBES = ("GET /health", "GET /api/markets", "GET /api/items")
LADDER = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)


@dataclass(frozen=True)
class Candidate:
    """A charting library: its distribution, what drawing imports, and code that draws the report's charts."""

    name: str
    distribution: str
    imports: str  # the statement a fresh interpreter times
    draw: str  # defines render(data) -> list[str], one SVG per chart


PYGAL = """
import math
import pygal
from pygal.style import Style

def _offline(root):
    from pygal.etree import etree
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag is etree.Comment or str(child.tag).endswith("script"):
                parent.remove(child)
    return root

def _chart(kind, title, colours, **options):
    style = Style(colors=tuple(colours), background="#fff", plot_background="#fff",
                  font_family="Helvetica, Arial, sans-serif", stroke_width="inherit")
    chart = getattr(pygal, kind)(title=title, style=style, js=[], disable_xml_declaration=True,
                                 explicit_size=False, legend_at_bottom=True, legend_at_bottom_columns=2,
                                 truncate_legend=-1, show_dots=False, allow_interruptions=True, **options)
    chart.add_xml_filter(_offline)
    return chart

def histogram(endpoint):
    edges, counts, top = endpoint["edges"], endpoint["counts"], max(endpoint["counts"])
    lines = [(f"{n} {v:g} ms", v, c, d) for n, v, c, d in endpoint["lines"]]
    chart = _chart("XY", endpoint["title"], ["#4a7bd0", *(c for _, _, c, _ in lines)], width=420, height=340,
                   x_labels=[{"value": math.log10(e), "label": f"{e:g} ms"} for e in edges[::2]])
    outline = [(math.log10(edges[0]), 0)]
    for low, high, count in zip(edges, edges[1:], counts):
        outline += [(math.log10(low), count), (math.log10(high), count)]
    outline.append((math.log10(edges[-1]), 0))
    chart.add("calls per bucket", outline, fill=True)
    for label, value, _, dashes in lines:
        chart.add(label, [(math.log10(value), 0), (math.log10(value), top)],
                  stroke_style={"width": 3, "dasharray": dashes})
    return chart.render(is_unicode=True)

def watch(window):
    colours = ["#4a7bd0"] + [c for c in ("#00897b", "#8e24aa", "#ef6c00") for _ in (0, 1)]
    p95 = _chart("Line", "p95 per interval", colours, width=640, height=340, x_labels=window["labels"])
    p95.add("all HTTP probes p95", window["overall"], stroke_style={"width": 4})
    for probe in window["probes"]:
        p95.add(probe["name"] + " p95", probe["p95"])
        p95.add(probe["name"] + " rollback", [probe["limit"]] * len(window["labels"]),
                stroke_style={"width": 3, "dasharray": "8, 5"})
    rate = _chart("Line", "HTTP error rate per interval", ["#c62828", "#222"], width=640, height=340,
                  x_labels=window["labels"])
    rate.add("error rate", window["error_rate"], stroke_style={"width": 4})
    rate.add("rollback", [window["max_error_rate"]] * len(window["labels"]),
             stroke_style={"width": 3, "dasharray": "8, 5"})
    return [p95.render(is_unicode=True), rate.render(is_unicode=True)]

def render(data):
    return [histogram(endpoint) for endpoint in data["endpoints"]] + watch(data["watch"])
"""

LEATHER = """
import math
import leather

def histogram(endpoint):
    edges, counts, top = endpoint["edges"], endpoint["counts"], max(endpoint["counts"])
    chart = leather.Chart(endpoint["title"])
    low = min([edges[0]] + [v for _, v, _, _ in endpoint["lines"]])
    high = max([edges[-1]] + [v for _, v, _, _ in endpoint["lines"]])
    chart.add_x_scale(math.log10(low), math.log10(high))
    chart.add_x_axis(ticks=[math.log10(e) for e in edges[::2]], tick_formatter=lambda v, i, n: f"{10 ** v:.3g} ms")
    outline = [(math.log10(edges[0]), 0)]
    for low, high, count in zip(edges, edges[1:], counts):
        outline += [(math.log10(low), count), (math.log10(high), count)]
    outline.append((math.log10(edges[-1]), 0))
    chart.add_line(outline, name="calls per bucket", stroke_color="#4a7bd0", width=2)
    for name, value, colour, dashes in endpoint["lines"]:
        chart.add_line([(math.log10(value), 0), (math.log10(value), top)], name=f"{name} {value:g} ms",
                       stroke_color=colour, width=3, stroke_dasharray=dashes)
    return chart.to_svg(width=420, height=340)

def watch(window):
    index = list(range(len(window["labels"])))
    p95 = leather.Chart("p95 per interval")
    p95.add_x_axis(ticks=index[::2], tick_formatter=lambda v, i, n: window["labels"][int(v)])
    p95.add_line(list(zip(index, window["overall"])), name="all HTTP probes p95", stroke_color="#4a7bd0", width=4)
    for probe, colour in zip(window["probes"], ("#00897b", "#8e24aa", "#ef6c00")):
        p95.add_line(list(zip(index, probe["p95"])), name=probe["name"] + " p95", stroke_color=colour)
        p95.add_line([(0, probe["limit"]), (index[-1], probe["limit"])], name=probe["name"] + " rollback",
                     stroke_color=colour, stroke_dasharray="8, 5")
    rate = leather.Chart("HTTP error rate per interval")
    rate.add_x_axis(ticks=index[::2], tick_formatter=lambda v, i, n: window["labels"][int(v)])
    rate.add_line(list(zip(index, window["error_rate"])), name="error rate", stroke_color="#c62828", width=4)
    rate.add_line([(0, window["max_error_rate"]), (index[-1], window["max_error_rate"])], name="rollback",
                  stroke_color="#222", stroke_dasharray="8, 5")
    return [p95.to_svg(width=640, height=340), rate.to_svg(width=640, height=340)]

def render(data):
    return [histogram(endpoint) for endpoint in data["endpoints"]] + watch(data["watch"])
"""

MATPLOTLIB = """
import io
import matplotlib
from matplotlib.figure import Figure
from matplotlib.backends.backend_svg import FigureCanvasSVG

matplotlib.rcParams["svg.fonttype"] = "none"  # text as text, not as paths: readable, and far smaller

def _svg(figure):
    FigureCanvasSVG(figure)
    out = io.StringIO()
    figure.savefig(out, format="svg")
    return out.getvalue()

def histogram(endpoint):
    figure = Figure(figsize=(4.2, 3.4), layout="constrained")
    axes = figure.add_subplot()
    axes.stairs(endpoint["counts"], endpoint["edges"], fill=True, color="#4a7bd0", alpha=0.55, label="calls per bucket")
    for name, value, colour, dashes in endpoint["lines"]:
        axes.axvline(value, color=colour, linewidth=2, dashes=[float(d) for d in dashes.split(",")],
                     label=f"{name} {value:g} ms")
    axes.set_xscale("log")
    axes.set_title(endpoint["title"], fontsize=10)
    axes.set_xlabel("time per call (ms, log scale)")
    axes.set_ylabel("calls")
    axes.legend(fontsize=7)
    return _svg(figure)

def _gaps(values):
    return [float("nan") if v is None else v for v in values]

def watch(window):
    index = range(len(window["labels"]))
    figure = Figure(figsize=(6.4, 3.4), layout="constrained")
    axes = figure.add_subplot()
    axes.plot(index, _gaps(window["overall"]), linewidth=3, color="#4a7bd0", label="all HTTP probes p95")
    for probe, colour in zip(window["probes"], ("#00897b", "#8e24aa", "#ef6c00")):
        axes.plot(index, _gaps(probe["p95"]), color=colour, label=probe["name"] + " p95")
        axes.axhline(probe["limit"], color=colour, linestyle="--", label=probe["name"] + " rollback")
    axes.set_xticks(list(index)[::2], window["labels"][::2], rotation=30, fontsize=7)
    axes.set_title("p95 per interval")
    axes.legend(fontsize=7)
    rate = Figure(figsize=(6.4, 3.4), layout="constrained")
    rate_axes = rate.add_subplot()
    rate_axes.plot(index, _gaps(window["error_rate"]), linewidth=3, color="#c62828", label="error rate")
    rate_axes.axhline(window["max_error_rate"], color="#222", linestyle="--", label="rollback")
    rate_axes.set_xticks(list(index)[::2], window["labels"][::2], rotation=30, fontsize=7)
    rate_axes.set_title("HTTP error rate per interval")
    rate_axes.legend(fontsize=7)
    return [_svg(figure), _svg(rate)]

def render(data):
    return [histogram(endpoint) for endpoint in data["endpoints"]] + watch(data["watch"])
"""

CANDIDATES = (
    Candidate("pygal", "pygal", "import pygal", PYGAL),
    Candidate("leather", "leather", "import leather", LEATHER),
    Candidate(
        "matplotlib",
        "matplotlib",
        "import matplotlib.figure, matplotlib.backends.backend_svg",
        MATPLOTLIB,
    ),
)

# Run in the candidates' environment: the files of each distribution and of its dependencies.
SIZES = """
import json, sys
from importlib import metadata
from packaging.requirements import Requirement

def closure(name, skip):
    seen, todo = {}, [name]
    while todo:
        current = todo.pop()
        key = current.lower().replace("_", "-")
        if key in seen or key in skip:
            continue
        dist = metadata.distribution(current)
        size = sum(f.locate().stat().st_size for f in dist.files or () if f.locate().exists())
        seen[key] = (dist.version, size)
        for line in dist.requires or ():
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen

skip = set(json.loads(sys.argv[1]))
print(json.dumps({name: closure(name, skip) for name in sys.argv[2:]}))
"""

# Run in the candidates' environment: a first render, then the median of N, and facts about the SVG.
RENDER = """
import json, re, statistics, sys, time
data = json.load(open(sys.argv[1]))
renders = int(sys.argv[2])
namespace = {}
exec(open(sys.argv[3]).read(), namespace)
render = namespace["render"]
started = time.perf_counter()
svgs = render(data)
first = (time.perf_counter() - started) * 1000
times = []
for _ in range(renders):
    started = time.perf_counter()
    render(data)
    times.append((time.perf_counter() - started) * 1000)
text = "".join(svgs)
reference = re.compile(
    r"(?:href|src)\\s*=\\s*[\\"']\\s*(?:https?:)?//|url\\(\\s*[\\"']?\\s*(?:https?:)?//|@import", re.I
)
names = [endpoint["name"] for endpoint in data["endpoints"]]
print(json.dumps({
    "charts": len(svgs), "first_ms": first, "median_ms": statistics.median(times), "bytes": len(text.encode()),
    "scripts": len(re.findall(r"<script", text)), "urls": len(reference.findall(text)),
    "names_as_text": sum(1 for name in names if name.replace("<", "&lt;") in text),
    "scalable": sum(1 for svg in svgs if re.search(r"<svg[^>]*viewBox", svg)),
}))
"""


def realistic_data(seed: int = 18) -> dict[str, Any]:
    """8 endpoints x 200 calls (log-normal times), budgets on half of them; a 16-interval watch window."""
    rng = random.Random(seed)
    endpoints = []
    for index in range(ENDPOINTS):
        median = (2, 5, 12, 25, 40, 80, 150, 300)[index]
        ms = sorted(rng.lognormvariate(math.log(median), 0.45) for _ in range(SAMPLES))
        p50, p95 = ms[SAMPLES // 2 - 1], ms[math.ceil(0.95 * SAMPLES) - 1]
        lines = [("p50", p50, "#6b6b6b", "2, 4"), ("p95", p95, "#222222", "8, 5")]
        if index % 2:
            lines += [("target", median * 4.0, "#d08a00", "1, 0"), ("limit", median * 10.0, "#c62828", "1, 0")]
        edges = [_edge_below(ms[0])]
        while edges[-1] <= ms[-1]:
            edges.append(_edge_above(edges[-1]))
        counts = [sum(1 for value in ms if low <= value < high) for low, high in itertools.pairwise(edges)]
        name = f"GET /api/v1/endpoint-{index}"
        endpoints.append(
            {
                "name": name,
                "title": f"{name} \u00b7 n {SAMPLES}",
                "ms": ms,
                "edges": edges,
                "counts": counts,
                "lines": lines,
                "target": median * 4.0 if index % 2 else None,
                "limit": median * 10.0 if index % 2 else None,
            }
        )
    labels = [f"14:{30 + minute:02d}:00" for minute in range(INTERVALS)]
    probes = [
        {"name": name, "p95": [rng.uniform(5, 60) * (k + 1) for _ in labels], "limit": 200.0 * (k + 1)}
        for k, name in enumerate(PROBES)
    ]
    window = {
        "labels": labels,
        "overall": [max(probe["p95"][i] for probe in probes) for i in range(INTERVALS)],
        "probes": probes,
        "error_rate": [0.0 if i not in (9, 10) else 3.3 for i in range(INTERVALS)],
        "max_error_rate": 5.0,
    }
    window["probes"][1]["p95"][5] = None  # an interval without an answer: a gap
    return {"endpoints": endpoints, "watch": window}


def _ladder(ms: float) -> list[float]:
    decade = math.floor(math.log10(ms))
    return [float(f"{step}e{power}") for power in (decade - 1, decade, decade + 1) for step in LADDER]


def _edge_below(ms: float) -> float:
    return max(edge for edge in _ladder(ms) if edge <= ms)


def _edge_above(ms: float) -> float:
    return min(edge for edge in _ladder(ms) if edge > ms)


def plugin_dependencies(skip: set[str]) -> set[str]:
    """The distributions the plugin needs anyway: its core requirements, walked, without *skip* (the candidates)."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [PLUGIN]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen or name in skip:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for line in requires:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def environment(folder: Path) -> Path:
    """A virtual environment in *folder* with the candidates installed (reused when it already has them)."""
    python = folder / "bin" / "python"
    stamp = folder / ".chart-candidates"
    wanted = " ".join(sorted(candidate.distribution for candidate in CANDIDATES)) + " packaging"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"creating {folder} and installing {wanted} with pip ...", flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", *wanted.split()], check=False)
    if done.returncode != 0:
        raise SystemExit(2)
    stamp.write_text(wanted)
    return python


def cold_imports(python: Path, runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Each candidate's import, timed in a fresh interpreter; the candidates interleaved run by run."""
    samples: dict[str, list[float]] = {candidate.name: [] for candidate in CANDIDATES}
    for _ in range(runs + 1):  # the first round warms the disk cache and is dropped
        for candidate in CANDIDATES:
            code = (
                "import time; started = time.perf_counter(); "
                f"{candidate.imports}; print((time.perf_counter() - started) * 1000)"
            )
            done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                print(done.stderr, file=sys.stderr)
                raise SystemExit(2)
            samples[candidate.name].append(float(done.stdout.strip()))
    return {name: times[1:] for name, times in samples.items()}


def renders(python: Path, folder: Path, data_path: Path, count: int, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    results = {}
    for candidate in CANDIDATES:
        script = folder / f"draw_{candidate.name}.py"
        script.write_text(candidate.draw)
        argv = [str(python), "-c", RENDER, str(data_path), str(count), str(script)]
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            print(f"{candidate.name} failed to draw:\n{done.stderr[-3000:]}", file=sys.stderr)
            raise SystemExit(2)
        results[candidate.name] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def shipped(data: dict[str, Any], runs: int, count: int) -> dict[str, float] | None:
    """The shipped code on the same data, in this interpreter: pygal's import where a run makes it (the
    HTML writer already loaded, in a fresh interpreter, median of *runs*), and the render times."""
    code = (
        "import time, pytest_deploysmoke.reports.html; started = time.perf_counter(); import pygal; "
        "import pytest_deploysmoke.reports.charts; print((time.perf_counter() - started) * 1000)"
    )
    imports = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
        if done.returncode != 0:  # pygal is not installed here
            return None
        imports.append(float(done.stdout.strip()))
    from pytest_deploysmoke.reports import charts
    from pytest_deploysmoke.results.watch_log import ProbeFigures, WatchInterval, WatchLog

    endpoints = [
        charts.EndpointLatency(e["name"], tuple(e["ms"]), 0, e["target"], e["limit"]) for e in data["endpoints"]
    ]
    window = data["watch"]
    intervals = tuple(
        WatchInterval(
            index=i + 1,
            start=1_780_000_000.0 + 60 * i,
            seconds=60.0,
            requests=300,
            errors=(("503", round(window["error_rate"][i] * 3)),) if window["error_rate"][i] else (),
            ws_connects=0,
            ws_failures=0,
            probes=tuple(ProbeFigures(p["name"], 100, 0, None, p["p95"][i], p["limit"]) for p in window["probes"]),
            p95_ms=window["overall"][i],
        )
        for i in range(len(window["labels"]))
    )
    log = WatchLog(duration=960.0, every=60.0, planned=INTERVALS, intervals=intervals, max_error_rate=0.05)

    def draw() -> int:
        svgs = [charts.latency_chart(endpoint) for endpoint in endpoints]
        svgs += [charts.watch_p95_chart(log), charts.watch_error_rate_chart(log)]
        return len("".join(svgs).encode())

    started = time.perf_counter()
    size = draw()
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(count):
        started = time.perf_counter()
        draw()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "import_ms": float(done.stdout.strip()),
        "first_ms": first,
        "median_ms": statistics.median(times),
        "bytes": size,
    }


def ratio(value: float, best: float) -> str:
    return f"x{value / best:.1f}" if best > 0 else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().split("\n", 1)[0])
    parser.add_argument(
        "--runs", type=int, default=7, help="fresh interpreters per candidate for the import (default 7)"
    )
    parser.add_argument("--renders", type=int, default=10, help="timed renders per candidate (default 10)")
    parser.add_argument("--venv", type=Path, help="keep the candidates' environment in DIR and reuse it")
    args = parser.parse_args()

    temporary = Path(tempfile.mkdtemp(prefix="chart-libraries-"))
    try:
        python = environment(args.venv or temporary / "venv")
        # bytecode is written as on a user's machine; matplotlib's font cache goes in the throwaway folder
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["MPLCONFIGDIR"] = str(temporary / "mpl")
        names = [candidate.distribution for candidate in CANDIDATES]
        base = plugin_dependencies(set(names))
        sized = subprocess.run(
            [str(python), "-c", SIZES, json.dumps(sorted(base)), *names], capture_output=True, text=True, check=False
        )
        if sized.returncode != 0:
            print(sized.stderr, file=sys.stderr)
            return 2
        sizes: dict[str, dict[str, tuple[str, int]]] = json.loads(sized.stdout)
        data = realistic_data()
        data_path = temporary / "data.json"
        data_path.write_text(json.dumps(data))
        imports = cold_imports(python, args.runs, env)
        drawn = renders(python, temporary, data_path, args.renders, env)
        ours = shipped(data, args.runs, args.renders)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)

    print(f"\npython {sys.version.split()[0]}; {ENDPOINTS} endpoints x {SAMPLES} calls + a {INTERVALS}-interval window")
    print(f"import: median of {args.runs} fresh interpreters; render: median of {args.renders} after a first one")
    print("ratios: to the best candidate in the column\n")
    rows = {}
    for candidate in CANDIDATES:
        closure = sizes[candidate.distribution]
        rows[candidate.name] = {
            "size": sum(size for _, size in closure.values()) / 1e6,
            "dists": len(closure),
            "import": statistics.median(imports[candidate.name]),
            **drawn[candidate.name],
        }
    best = {key: min(row[key] for row in rows.values()) for key in ("size", "import", "median_ms", "bytes")}
    header = (
        f"{'library':<11}{'installed':>11}{'':>7}{'dists':>6}{'import':>10}{'':>7}"
        f"{'render':>10}{'':>7}{'first':>9}{'SVG':>9}{'':>7}{'script':>7}{'URLs':>6}{'names':>7}{'viewBox':>9}"
    )
    print(header)
    for name, row in rows.items():
        print(
            f"{name:<11}{row['size']:>9.1f}MB{ratio(row['size'], best['size']):>7}{row['dists']:>6}"
            f"{row['import']:>8.0f}ms{ratio(row['import'], best['import']):>7}"
            f"{row['median_ms']:>8.0f}ms{ratio(row['median_ms'], best['median_ms']):>7}{row['first_ms']:>7.0f}ms"
            f"{row['bytes'] / 1000:>7.0f}kB{ratio(row['bytes'], best['bytes']):>7}"
            f"{row['scripts']:>7}{row['urls']:>6}{row['names_as_text']:>5}/{ENDPOINTS}"
            f"{row['scalable']:>6}/{row['charts']}"
        )
    print()
    for candidate in CANDIDATES:
        closure = sizes[candidate.distribution]
        listed = ", ".join(
            f"{dist} {version} ({size / 1e6:.1f} MB)" for dist, (version, size) in sorted(closure.items())
        )
        print(f"{candidate.name}: {listed}")
    if ours is not None:
        print(
            "\nshipped (pytest_deploysmoke.reports.charts on pygal, this interpreter):"
            f" import {ours['import_ms']:.0f} ms with the HTML writer loaded,"
            f" render {ours['median_ms']:.0f} ms (first {ours['first_ms']:.0f} ms), SVG {ours['bytes'] / 1000:.0f} kB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
