"""The HTML report's charts, end to end: a run against the stand-in, the report opened in Chromium without JavaScript.

Each report is opened in Debian's Chromium, headless, through Playwright with JavaScript disabled
in the browser context, offline: any request for something other than the report's own files
fails the test.  The charts' data are checked in tests/unit/test_charts.py.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.fix_browser import CHROMIUM, report_page

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaGFydHMifQ.c2lnbmF0dXJlLWNoYXJ0cy1zZWNyZXQ"

CHECKS = f"""
import pytest

@pytest.mark.phase("health")
@pytest.mark.budget("800ms", "2s")
def test_health(http):
    for _ in range(40):
        assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_items(http):
    for page in range(30):
        http.get("/items", params={{"page": page}}, budget=("1s", "3s"))
    for _ in range(12):
        http.get("/slow", params={{"s": "0.005"}})

@pytest.mark.phase("features")
def test_missing_page(http):
    http.get("/status/404/{JWT}")
"""

# What the page shows of the charts, measured in the rendered page: each figure's box and text.
CHART_FACTS = """
() => {
  const page = {width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight};
  const figures = [...document.querySelectorAll('#deploysmoke-charts figure.deploysmoke-chart')].map((figure) => {
    const svg = figure.querySelector('svg'), box = svg.getBoundingClientRect(), style = getComputedStyle(svg);
    const bars = [...svg.querySelectorAll('.series path')].map((path) => path.getBoundingClientRect().width);
    return {endpoint: figure.dataset.endpoint, text: figure.textContent, bars,
            box: {x: box.x + scrollX, y: box.y + scrollY, width: box.width, height: box.height},
            visible: style.visibility !== 'hidden' && style.display !== 'none'};
  });
  return {page, figures, rows: document.querySelectorAll('#results-table tbody.results-table-row').length,
          heading: document.querySelector('#deploysmoke-charts h2')?.textContent};
}
"""


class _References(HTMLParser):
    """Every URL the page would load: script and image sources, stylesheets, and url(...) in its styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "xlink:href", "data"):
            if values.get(name) and tag in ("script", "img", "link", "image", "use", "iframe", "object", "embed"):
                self.urls.append(str(values[name]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += re.findall(r"url\(\s*['\"]?([^'\")]+)", data) + re.findall(r"@import\s+['\"]?([^'\";]+)", data)


def loaded_urls(report: Path) -> list[str]:
    parser = _References()
    parser.feed(report.read_text(encoding="utf-8"))
    return parser.urls


def open_charts(report: Path, screenshot: Path) -> tuple[dict[str, Any], list[str]]:
    """Open *report* in Chromium with JavaScript off; return the charts' facts and every URL the page asked for."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `python3 tasks.py test` installs Debian's chromium", pytrace=False)
    requested: list[str] = []
    with report_page(report, javascript=False, requested=requested, height=900, timeout_ms=15_000) as page:
        section = page.locator("#deploysmoke-charts")
        section.wait_for(state="visible")
        section.screenshot(path=str(screenshot))
        facts: dict[str, Any] = page.evaluate(CHART_FACTS)
    return facts, requested


@pytest.mark.parametrize("mode", [["--self-contained-html"], []], ids=["self-contained", "with-assets"])
def test_charts_show_each_endpoint_without_javascript_and_offline(
    pytester: pytest.Pytester, standin_url: str, mode: list[str]
) -> None:
    """Each endpoint's latency chart is drawn in the report, visible and readable with JavaScript off, and the
    page loads nothing from the network."""
    pytester.makefile(".toml", deploysmoke=f'[targets.staging]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=staging", "--html=report.html", *mode)
    result.assert_outcomes(passed=3)
    report = pytester.path / "report.html"

    facts, requested = open_charts(report, pytester.path / "charts.png")

    assert facts["rows"] == 0, "JavaScript ran: pytest-html filled its results table"
    assert facts["heading"] == "Charts"
    figures = {figure["endpoint"]: figure for figure in facts["figures"]}
    assert list(figures) == ["GET /health", "GET /items", "GET /slow", "GET /status/404/***"]
    expected_n = {"GET /health": 40, "GET /items": 30, "GET /slow": 12, "GET /status/404/***": 1}
    page = facts["page"]
    for endpoint, figure in figures.items():
        box = figure["box"]
        assert figure["visible"] and box["width"] > 200 and box["height"] > 150, (endpoint, box)
        assert 0 <= box["x"] and box["x"] + box["width"] <= page["width"], (endpoint, box, page)
        assert 0 <= box["y"] and box["y"] + box["height"] <= page["height"], (endpoint, box, page)
        assert f"{endpoint} \u00b7 n {expected_n[endpoint]}" in figure["text"]  # its own title, its own count
        assert max(figure["bars"]) > 0, f"{endpoint}: nothing drawn"
    assert "target 800 ms" in figures["GET /health"]["text"] and "limit 2 s" in figures["GET /health"]["text"]
    assert "target 1 s" in figures["GET /items"]["text"] and "limit 3 s" in figures["GET /items"]["text"]
    assert "limit" not in figures["GET /slow"]["text"]

    assert [url for url in requested if not url.startswith("file:")] == []
    assert [url for url in loaded_urls(report) if re.match(r"(https?:)?//", url.strip())] == []
    assert JWT not in report.read_text(encoding="utf-8")
    assert (pytester.path / "charts.png").stat().st_size > 10_000


def test_charts_are_drawn_only_for_an_html_report(pytester: pytest.Pytester, standin_url: str) -> None:
    """pygal is imported by the run that writes an HTML report, and by no other run (no target, or no --html)."""
    pytester.makefile(".toml", deploysmoke=f'[targets.staging]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks="def test_health(http):\n    http.get('/health')\n")
    pytester.makeconftest(
        "import sys\n\ndef pytest_unconfigure(config):\n    print('pygal imported:', 'pygal' in sys.modules)\n"
    )
    runs = {
        "no target, --html": ["--html=plain.html"],
        "target, no --html": ["--deploy-target=staging"],
        "target, --html": ["--deploy-target=staging", "--html=report.html"],
    }
    imported = {}
    for name, args in runs.items():
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED), result.stdout.str()
        [line] = [line for line in result.outlines if line.startswith("pygal imported:")]
        imported[name] = line.endswith("True")
    assert imported == {"no target, --html": False, "target, no --html": False, "target, --html": True}
