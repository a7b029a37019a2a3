"""A hand-built comparison in every artifact: the shared table, the ticket, the HTML, the terminal, JUnit and JSON."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib.resources import files
from types import SimpleNamespace

import jsonschema
import pytest

from pytest_deploysmoke.perf.compare import (
    ERROR_RULE,
    BaselineIdentity,
    CompareSettings,
    Comparison,
)
from pytest_deploysmoke.reports.comparison import comparison_table, counts, terminal_lines
from pytest_deploysmoke.reports.html import render_comparison
from pytest_deploysmoke.reports.json_summary import render_json
from pytest_deploysmoke.reports.junit import verdict_properties
from pytest_deploysmoke.reports.terminal import write_summary
from pytest_deploysmoke.reports.ticket import render_ticket
from pytest_deploysmoke.results.summary import verdict_key
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, Verdict, decide, phase_results
from tests.comparisons import endpoint_row

SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))
START = 1_750_000_200.0  # 2025-06-15T15:10:00Z
LABEL = "prod 1.7.0 at 2025-06-14T09:00:00Z (reports/previous.json)"
IDENTITY = BaselineIdentity("run", "prod", "1.7.0", START - 108_000, "reports/previous.json")


ROWS = (
    endpoint_row("GET /api/markets/krw", "regression"),
    endpoint_row(
        "GET /api/orders",
        "regression",
        rules=(ERROR_RULE,),
        p50_now_ms=12.2,
        p95_now_ms=15.5,
        shift_pct=1.66,
        p_value=0.41,
        error_rate_baseline=0.0025,
        error_rate_now=0.05,
        errors_baseline=1,
        errors_now=19,
        error_p_value=2.5e-06,
    ),
    endpoint_row("GET /health", "improvement", p50_now_ms=7.0, p95_now_ms=9.0, shift_pct=-41.7, p_value=3e-20),
    endpoint_row(
        "GET /api/items", "no significant change", p50_now_ms=12.3, p95_now_ms=15.2, shift_pct=2.5, p_value=0.62
    ),
    endpoint_row(
        "GET /api/s3cret",
        "not evaluated",
        n_now=12,
        requests_now=12,
        p50_now_ms=None,
        p95_now_ms=None,
        shift_pct=None,
        p_value=None,
        error_p_value=None,
        note="12 samples now < 50",
    ),
)
COMPARISON = Comparison(LABEL, CompareSettings(), ROWS, IDENTITY, only_baseline=("GET /old",), only_now=("GET /new",))


def verdict_with(comparison: Comparison | None) -> Verdict:
    run = RunInfo(target="prod", base_url="https://api.example.com", production=True, started=START, finished=START + 1)
    checks = (CheckResult("t.py::test_health", "health", "Health answers", "passed", 0.1),)
    return decide(run, phase_results(("health",), ("health",), checks), checks, comparison=comparison)


def redact(text: str) -> str:
    return text.replace("s3cret", "***")


# -- the table every report shows ------------------------------------------------------------------


def test_table_has_a_row_per_endpoint_baseline_to_now() -> None:
    """n, p50, p95, error rate, the shift, the p-value, the verdict with its rules, and the note, per endpoint."""
    table = comparison_table(COMPARISON)
    assert table.lead == (
        f"Against {LABEL}: confidence 0.98 (p < 0.02), tolerance 25% and 2 ms on the median, at least 50 samples a side; "
        "a regression makes the verdict ROLLBACK."
    )
    assert table.header == (
        "Endpoint",
        "n (baseline → now)",
        "p50 ms",
        "p95 ms",
        "Error rate",
        "Shift (p50)",
        "p-value",
        "Verdict",
        "Note",
    )
    assert table.rows == (
        (
            "GET /api/markets/krw",
            "400 → 380",
            "12.0 → 17.1",
            "15.0 → 21.0",
            "0% → 0%",
            "+42%",
            "0.0001",
            "regression: latency_regression",
            "",
        ),
        (
            "GET /api/orders",
            "400 → 380",
            "12.0 → 12.2",
            "15.0 → 15.5",
            "0.2% → 5%",
            "+1.7%",
            "0.41",
            "regression: error_regression",
            "errors p = 2.5e-06 (Fisher's exact test)",
        ),
        ("GET /health", "400 → 380", "12.0 → 7.0", "15.0 → 9.0", "0% → 0%", "-42%", "3e-20", "improvement", ""),
        (
            "GET /api/items",
            "400 → 380",
            "12.0 → 12.3",
            "15.0 → 15.2",
            "0% → 0%",
            "+2.5%",
            "0.62",
            "no significant change",
            "",
        ),
        (
            "GET /api/s3cret",
            "400 → 12",
            "12.0 → —",
            "15.0 → —",
            "0% → 0%",
            "—",
            "—",
            "not evaluated",
            "12 samples now < 50",
        ),
    )
    assert table.verdicts == ("regression", "regression", "improvement", "no significant change", "not evaluated")
    assert table.notes == ("Not compared, measured only in the baseline: GET /old; only now: GET /new.",)
    assert [table.header[i] for i in table.numeric] == list(table.header[1:7])  # the figures, between name and verdict


def test_nothing_in_common_says_so_under_an_empty_table() -> None:
    """No row: the table's note says nothing was compared; the verdict warns (see test_verdict)."""
    table = comparison_table(Comparison(LABEL, CompareSettings(on_regression="no-go"), (), only_now=("GET /a",)))
    assert table.rows == ()
    assert table.lead.endswith("a regression makes the verdict NO-GO.")
    assert table.notes == (
        "Nothing was compared: the baseline and this run have no endpoint in common.",
        "Not compared, measured only now: GET /a.",
    )


def test_terminal_lines_count_the_verdicts_and_name_regressions_and_improvements() -> None:
    """A few lines: the counts, then each regression and improvement with its figures; not evaluated are warnings."""
    assert counts(COMPARISON) == "5 endpoints: 2 regression, 1 improvement, 1 no significant change, 1 not evaluated"
    assert terminal_lines(COMPARISON) == (
        ("summary", f"compared with {LABEL}: {counts(COMPARISON)}"),
        (
            "regression",
            "  regression GET /api/markets/krw: p50 12.0 -> 17.1 ms (+42%), p95 15.0 -> 21.0 ms, p = 0.0001",
        ),
        (
            "regression",
            "  regression GET /api/orders: p50 12.0 -> 12.2 ms (+1.7%), p95 15.0 -> 15.5 ms, p = 0.41; "
            "error rate 0.2% -> 5% (1 of 400 -> 19 of 380 requests), p = 2.5e-06",
        ),
        ("improvement", "  improvement GET /health: p50 12.0 -> 7.0 ms (-42%), p95 15.0 -> 9.0 ms, p = 3e-20"),
    )


# -- the ticket ---------------------------------------------------------------------------------------


def ticket_section(ticket: str) -> tuple[str, list[list[str]], str]:
    """The ticket's comparison section: its lead, its table's rows (header first) cell by cell, and what follows."""
    section = ticket.split("### Comparison with the baseline\n\n", 1)[1].split("\n### ", 1)[0]
    lead, _, rest = section.partition("\n\n")
    table, _, after = rest.partition("\n\n")
    rows = [
        [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        for line in table.splitlines()
    ]
    return lead, [rows[0], *rows[2:]], after.strip()


def plain(markdown: str) -> str:
    """*markdown* text as it reads: backslash escapes taken out."""
    return re.sub(r"\\(.)", r"\1", markdown)


def test_ticket_names_the_baseline_and_shows_the_table_regressions_in_bold() -> None:
    """The ticket's section: how it was judged, the shared table, regressions in bold; the reasons name them too."""
    ticket = render_ticket(verdict_with(COMPARISON))
    lead, rows, after = ticket_section(ticket)
    table = comparison_table(COMPARISON)
    assert plain(lead) == table.lead
    assert rows[0] == list(table.header)
    assert rows[1][0] == "`GET /api/markets/krw`" and rows[1][7] == "**regression: latency_regression**"
    assert [plain(cell) for cell in rows[3][1:]] == list(table.rows[2][1:])
    assert plain(after) == table.notes[0]
    assert ticket.startswith("## ⏪ ROLLBACK")
    why = ticket.split("**Why ROLLBACK:**\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [plain(line) for line in why] == [f"- {line}" for line in COMPARISON.regression_lines()]


def test_ticket_without_a_comparison_has_no_section() -> None:
    """No baseline asked for: no section."""
    assert "Comparison with the baseline" not in render_ticket(verdict_with(None))


# -- the HTML report ------------------------------------------------------------------------------------


class _Section(HTMLParser):
    """The comparison section's paragraphs, and each table row's class and cells."""

    def __init__(self) -> None:
        super().__init__()
        self.paragraphs: list[str] = []
        self.rows: list[tuple[str, list[str]]] = []
        self._in = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append((dict(attrs).get("class") or "", []))
        elif tag in ("td", "th"):
            self.rows[-1][1].append("")
        elif tag == "p":
            self.paragraphs.append("")
        self._in = tag

    def handle_endtag(self, tag: str) -> None:
        self._in = ""

    def handle_data(self, data: str) -> None:
        if self._in in ("td", "th"):
            self.rows[-1][1][-1] += data
        elif self._in == "p":
            self.paragraphs[-1] += data


def test_html_section_shows_the_table_redacted_with_rows_coloured_by_verdict() -> None:
    """The HTML section: the lead, the same cells (redacted, escaped), a class per verdict, the notes."""
    fragment = render_comparison(verdict_with(COMPARISON), redact)
    assert 'id="deploysmoke-comparison"' in fragment
    parsed = _Section()
    parsed.feed(fragment)
    table = comparison_table(COMPARISON)
    assert parsed.paragraphs == [table.lead, *table.notes]
    assert parsed.rows[0] == ("", list(table.header))
    assert [css for css, _ in parsed.rows[1:]] == [
        "deploysmoke-regression",
        "deploysmoke-regression",
        "deploysmoke-improvement",
        "deploysmoke-no-significant-change",
        "deploysmoke-not-evaluated",
    ]
    assert parsed.rows[5][1][0] == "GET /api/***"
    assert [cells for _, cells in parsed.rows[1:4]] == [list(cells) for cells in table.rows[:3]]
    assert render_comparison(verdict_with(None), redact) == ""


# -- JUnit ------------------------------------------------------------------------------------------


def test_junit_properties_name_the_baseline_the_counts_and_each_regression() -> None:
    """The <testsuite> gets the baseline, the counts and one property per regression line."""
    verdict = verdict_with(COMPARISON)
    properties = [(name, value) for name, value in verdict_properties(verdict) if "comparison" in name]
    assert properties == [
        ("deploysmoke.comparison.baseline", LABEL),
        ("deploysmoke.comparison", counts(COMPARISON)),
        *(("deploysmoke.comparison.regression", line) for line in COMPARISON.regression_lines()),
    ]
    assert ("deploysmoke.verdict", "ROLLBACK") in verdict_properties(verdict)
    assert not [name for name, _ in verdict_properties(verdict_with(None)) if "comparison" in name]


# -- the JSON summary ----------------------------------------------------------------------------------


def test_json_comparison_object_has_the_issues_names_and_validates() -> None:
    """``comparison``: the baseline's identity, the settings, and each endpoint with the issue's fields."""
    document = json.loads(render_json(verdict_with(COMPARISON)))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    comparison = document["comparison"]
    assert comparison["baseline"] == {
        "label": LABEL,
        "kind": "run",
        "target": "prod",
        "version": "1.7.0",
        "started": "2025-06-14T09:10:00.000Z",
        "path": "reports/previous.json",
    }
    assert comparison["settings"] == {
        "tolerance_pct": 25.0,
        "confidence": 0.98,
        "min_samples": 50,
        "min_shift_ms": 2.0,
        "endpoints": [],
        "on_regression": "rollback",
    }
    assert (comparison["only_baseline"], comparison["only_now"]) == (["GET /old"], ["GET /new"])
    assert comparison["endpoints"][0] == {
        "endpoint": "GET /api/markets/krw",
        "n_baseline": 400,
        "n_now": 380,
        "p50_baseline_ms": 12.0,
        "p50_now_ms": 17.1,
        "p95_baseline_ms": 15.0,
        "p95_now_ms": 21.0,
        "shift_pct": 42.5,
        "p_value": 0.0001,
        "error_rate_baseline": 0.0,
        "error_rate_now": 0.0,
        "verdict": "regression",
        "error_p_value": 1.0,
        "rules": ["latency_regression"],
        "note": None,
        "requests_baseline": 400,
        "requests_now": 380,
        "errors_baseline": 0,
        "errors_now": 0,
    }
    assert [entry["verdict"] for entry in comparison["endpoints"]] == [r.verdict for r in ROWS]
    unjudged = comparison["endpoints"][4]
    assert (unjudged["p_value"], unjudged["shift_pct"], unjudged["note"]) == (None, None, "12 samples now < 50")
    assert document["verdict"]["rollback"] == list(COMPARISON.regression_lines())


def test_json_comparison_is_null_without_one_and_a_live_baseline_has_no_file() -> None:
    """No comparison: null.  A live target as the baseline: its name, no version, time or file."""
    assert json.loads(render_json(verdict_with(None)))["comparison"] is None
    live = Comparison("stable", CompareSettings(), ROWS[:1], BaselineIdentity("target", "stable"))
    document = json.loads(render_json(verdict_with(live)))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["comparison"]["baseline"] == {
        "label": "stable",
        "kind": "target",
        "target": "stable",
        "version": None,
        "started": None,
        "path": None,
    }


@pytest.mark.parametrize(
    ("key", "value"),
    [("verdict", "worse"), ("rules", ["slower"]), ("shift_pct", "42%"), ("surprise", 1)],
)
def test_schema_rejects_what_the_writer_never_writes_in_a_row(key: str, value: object) -> None:
    """The comparison rows are as strict as the rest: an unknown verdict, rule, type or key fails."""
    document = json.loads(render_json(verdict_with(COMPARISON)))
    document["comparison"]["endpoints"][0][key] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(document)


# -- the terminal ---------------------------------------------------------------------------------------


class _Terminal:
    """What the summary writes: each line with its markup."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, bool]]] = []

    def write_sep(self, sep: str, title: str) -> None:
        self.lines.append((title, {}))

    def write_line(self, line: str, **markup: bool) -> None:
        self.lines.append((line, markup))


def test_terminal_block_shows_the_counts_and_regressions_in_red() -> None:
    """The summary's comparison lines: the counts plain, regressions red, improvements green, before the reasons."""
    config = SimpleNamespace(stash=pytest.Stash())
    config.stash[verdict_key] = verdict_with(COMPARISON)
    terminal = _Terminal()
    write_summary(terminal, config)  # type: ignore[arg-type]  # the summary reads only the stash
    shown = [(line, markup) for line, markup in terminal.lines if "compared with" in line or "  regression" in line]
    shown += [(line, markup) for line, markup in terminal.lines if "improvement GET" in line]
    assert shown == [
        (f"  compared with {LABEL}: {counts(COMPARISON)}", {}),
        (f"    {terminal_lines(COMPARISON)[1][1].strip()}", {"red": True, "bold": True}),
        (f"    {terminal_lines(COMPARISON)[2][1].strip()}", {"red": True, "bold": True}),
        (f"    {terminal_lines(COMPARISON)[3][1].strip()}", {"green": True}),
    ]
    rollback = [line for line, _ in terminal.lines if line.startswith("  ROLLBACK: ")]
    assert rollback == [f"  ROLLBACK: {line}" for line in COMPARISON.regression_lines()]
