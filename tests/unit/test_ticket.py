"""The release-ticket Markdown: one task list per phase, the verdict in the heading, GFM only."""

from __future__ import annotations

import re
from typing import Any

from pytest_deploysmoke.reports.ticket import render_ticket
from pytest_deploysmoke.results.records import CallKind, CallRecord
from pytest_deploysmoke.results.verdict import CheckResult, RunInfo, Verdict, decide, phase_results

STARTED = 1736850725.0  # 2025-01-14 10:32:05 UTC
PHASES = ("preflight", "health", "features", "monitoring")
GATES = ("preflight", "health")


def run_info(**changes: Any) -> RunInfo:
    values: dict[str, Any] = {
        "target": "staging",
        "base_url": "https://staging.example.com",
        "production": False,
        "expected_version": "1.8.0",
        "reported_version": "1.8.0",
        "started": STARTED,
        "finished": STARTED + 4.5,
        "host": "ci-runner-3",
        "commit": "4b8499e",
    }
    values.update(changes)
    return RunInfo(**values)


def call(
    action: str, ms: float, outcome: str = "200", *, ok: bool = True, kind: CallKind = "http", **kw: Any
) -> CallRecord:
    return CallRecord(kind, action, outcome, ok=ok, ms=ms, **kw)


def check(title: str, phase: str, outcome: str = "passed", duration: float = 0.05, **kw: Any) -> CheckResult:
    name = "test_" + re.sub(r"\W+", "_", title.lower()).strip("_")
    return CheckResult(f"test_smoke.py::{name}", phase, title, outcome, duration, **kw)  # type: ignore[arg-type]  # test data


def verdict_of(*checks: CheckResult, run: RunInfo | None = None) -> Verdict:
    return decide(run or run_info(), phase_results(PHASES, GATES, checks), checks)


def test_go_ticket_is_one_checked_task_list_per_phase() -> None:
    """A GO run: the heading, a checked item per check with its time and slowest call, the tables."""
    verdict = verdict_of(
        check("The release version is known", "preflight", duration=0.0012),
        check(
            "GET /health answers 200 within 500 ms.",
            "health",
            duration=0.038,
            calls=(call("GET /health", 12.4, budget_ms=500.0),),
        ),
        check(
            "Items can be listed",
            "features",
            duration=0.051,
            calls=(call("GET /items", 20.1), call("GET /items?page=2", 31.4)),
        ),
        run=run_info(extra=(("pipeline", "https://ci.example/jobs/42"),)),
    )
    assert render_ticket(verdict) == (
        "## ✅ GO: staging, version 1.8.0 (reported 1.8.0), 2025-01-14 10:32:05 UTC\n"
        "\n"
        "**GO**: 3 passed in 4.50 s.\n"
        "\n"
        "### preflight (gate): passed\n"
        "\n"
        "- [x] The release version is known — 1.2 ms\n"
        "\n"
        "### health (gate): passed\n"
        "\n"
        "- [x] GET /health answers 200 within 500 ms. — 38 ms, `GET /health` 12 ms (budget 500 ms)\n"
        "\n"
        "### features: passed\n"
        "\n"
        "- [x] Items can be listed — 51 ms, slowest `GET /items?page=2` 31 ms\n"
        "\n"
        "No checks in this run: monitoring.\n"
        "\n"
        "### Response times\n"
        "\n"
        "Every call, slowest first.\n"
        "\n"
        "| Call | Status | Time | Budget | Check |\n"
        "| --- | --- | ---: | ---: | --- |\n"
        "| `GET /items?page=2` | 200 | 31 ms | — | Items can be listed |\n"
        "| `GET /items` | 200 | 20 ms | — | Items can be listed |\n"
        "| `GET /health` | 200 | 12 ms | 500 ms | GET /health answers 200 within 500 ms. |\n"
        "\n"
        "### Environment\n"
        "\n"
        "| Item | Value |\n"
        "| --- | --- |\n"
        "| Target | staging |\n"
        "| Base URL | `https://staging.example.com` |\n"
        "| Production | no |\n"
        "| Expected version | 1.8.0 |\n"
        "| Reported version | 1.8.0 |\n"
        "| Started | 2025-01-14 10:32:05 UTC |\n"
        "| Duration | 4.50 s |\n"
        "| Runner host | `ci-runner-3` |\n"
        "| Suite commit | `4b8499e` |\n"
        "| pipeline | https://ci.example/jobs/42 |\n"
    )


def test_go_with_warnings_names_reruns_retries_and_guarded_checks() -> None:
    """Warnings are listed under the heading, and each warned check says why on its own line."""
    verdict = verdict_of(
        check("Health answers", "health", reruns=1),
        check("Items answer", "features", calls=(call("GET /items", 8.0, attempt=2),)),
        check("An item can be created", "features", "skipped", guard_blocked=True, message="destructive check not run"),
        run=run_info(target="prod", production=True, reported_version=""),
    )
    lines = render_ticket(verdict).splitlines()
    assert lines[:12] == [
        "## ⚠️ GO with warnings: prod (production), version 1.8.0, 2025-01-14 10:32:05 UTC",
        "",
        "**GO with warnings**: 2 passed, 1 skipped in 4.50 s.",
        "",
        "**Warnings:**",
        "",
        "- Health answers passed only after 1 rerun(s) (test_smoke.py::test_health_answers)",
        "- Items answer passed only after retried calls (test_smoke.py::test_items_answer)",
        "",
        "**Not run on production (by design):**",
        "",
        "- An item can be created (`test_smoke.py::test_an_item_can_be_created`)",
    ]
    assert "- [x] Health answers — 50 ms; passed only after 1 rerun" in lines
    assert "- [x] Items answer — 50 ms, `GET /items` 8.0 ms; passed only after retried calls" in lines
    assert "- [ ] An item can be created — not run: destructive, and target 'prod' is production" in lines
    assert "| `GET /items` | 200 (attempt 2) | 8.0 ms | — | Items answer |" in lines
    assert "| Reported version | not reported |" in lines
    assert "**Why NO-GO:**" not in lines


def test_no_go_names_the_failed_gate_and_skips_later_phases_once() -> None:
    """A failed gate: NO-GO with the gate first, the failure's message, later phases' reason said once."""
    gate_reason = "gate 'health' failed (test_smoke.py::test_health_answers_200); later phases not run"
    verdict = verdict_of(
        check("Required variables are set", "preflight"),
        check(
            "Health answers 200",
            "health",
            "failed",
            message="GET /health answered 503 after 12 ms; expected 200\nbody: degraded",
            calls=(call("GET /health", 12.0, "503", ok=False, budget_ms=1000.0),),
        ),
        check("Items can be listed", "features", "skipped", message=gate_reason),
        check("Bubbles can be listed", "features", "skipped", message=gate_reason),
        run=run_info(reported_version="1.7.9"),
    )
    lines = render_ticket(verdict).splitlines()
    assert lines[0] == "## ❌ NO-GO: staging, version 1.8.0 (reported 1.7.9), 2025-01-14 10:32:05 UTC"
    assert lines[2] == "**NO-GO**: 1 passed, 1 failed, 2 skipped in 4.50 s."
    assert lines[4:10] == [
        "**Why NO-GO:**",
        "",
        "- gate 'health' failed (test_smoke.py::test_health_answers_200); later phases not run",
        "- Health answers 200 failed (test_smoke.py::test_health_answers_200): "
        "GET /health answered 503 after 12 ms; expected 200 body: degraded",
        "- version 1.7.9 answered, expected 1.8.0",  # no version check ran: the version read still decides
        "",
    ]
    health = lines.index("### health (gate): FAILED")
    assert lines[health + 2] == (
        "- [ ] Health answers 200 — **FAILED**: `GET /health answered 503 after 12 ms; expected 200 body: degraded`"
    )
    features = lines.index("### features: skipped")
    assert lines[features + 1 : features + 6] == [
        "",
        f"Skipped: {gate_reason}",
        "",
        "- [ ] Items can be listed",
        "- [ ] Bubbles can be listed",
    ]
    assert "| `GET /health` | **503** | 12 ms | 1.00 s | Health answers 200 |" in lines


def test_skips_with_different_reasons_are_listed_per_check() -> None:
    """Each skipped check keeps its own reason unless the whole phase shares one."""
    verdict = verdict_of(
        check("Items can be listed", "features", "skipped", message="no items on this target"),
        check("Bubbles can be listed", "features", "skipped", message="pg_dump is not installed"),
        check("Trades answer", "features", "skipped"),
    )
    lines = render_ticket(verdict).splitlines()
    assert "- [ ] Items can be listed — skipped: no items on this target" in lines
    assert "- [ ] Bubbles can be listed — skipped: pg_dump is not installed" in lines
    assert "- [ ] Trades answer — skipped" in lines


def test_pipes_backticks_and_markup_in_titles_and_messages_are_kept_literal() -> None:
    """Titles are escaped where Markdown would misread them; messages are code spans that fence their backticks."""
    title = "`GET /a|b` answers | fast, *really* [fast]"
    verdict = verdict_of(
        check(title, "features", calls=(call("GET /a|b", 5.0),)),
        check("# Not a heading", "features", "failed", message="expected ``ok``, got `fail`"),
        check("<b>Tags</b> & __dunder__ stay text", "features", "skipped", message="see `--deploy-phase`"),
    )
    lines = render_ticket(verdict).splitlines()
    assert r"- [x] \`GET /a|b\` answers | fast, \*really\* \[fast\] — 50 ms, `GET /a|b` 5.0 ms" in lines
    assert r"- [ ] \# Not a heading — **FAILED**: ``` expected ``ok``, got `fail` ```" in lines
    assert r"- [ ] \<b>Tags\</b> & \_\_dunder\_\_ stay text — skipped: see \`--deploy-phase\`" in lines
    assert r"| `GET /a\|b` | 200 | 5.0 ms | — | \`GET /a\|b\` answers \| fast, \*really\* \[fast\] |" in lines


def test_plain_text_is_not_escaped() -> None:
    """Single markers, underscores inside words and comparisons need no escaping, so the raw text stays readable."""
    verdict = verdict_of(check("SELECT COUNT(*) FROM summary_packs works; low <= open", "features"))
    assert "- [x] SELECT COUNT(*) FROM summary_packs works; low <= open — 50 ms" in render_ticket(verdict).splitlines()


def test_response_time_table_shows_the_ten_slowest_calls() -> None:
    """With many calls, the table keeps the ten slowest, slowest first, and says how many there were."""
    calls = tuple(call(f"GET /items/{n}", float(n)) for n in range(1, 26))
    lines = render_ticket(verdict_of(check("Items answer", "features", calls=calls))).splitlines()
    assert "The 10 slowest of 25 calls." in lines
    rows = [line for line in lines if line.startswith("| `GET /items/")]
    assert [row.split(" | ")[0] for row in rows] == [f"| `GET /items/{n}`" for n in range(25, 15, -1)]
    assert "- [x] Items answer — 50 ms, slowest `GET /items/25` 25 ms" in lines


def test_database_calls_and_budgets_overrun_are_marked() -> None:
    """Non-HTTP calls name their kind; a call over its budget says so in the item and the table."""
    verdict = verdict_of(
        check(
            "Runs can be counted",
            "features",
            calls=(call("SELECT count(*) FROM runs", 3.5, "ok", kind="db"),),
        ),
        check("Summary answers", "features", "failed", calls=(call("GET /summary", 1520.0, budget_ms=1000.0),)),
    )
    lines = render_ticket(verdict).splitlines()
    assert "- [x] Runs can be counted — 50 ms, db `SELECT count(*) FROM runs` 3.5 ms" in lines
    assert "- [ ] Summary answers — **FAILED**" in lines
    assert "| `GET /summary` | 200 | 1.52 s | 1.00 s, **over** | Summary answers |" in lines


def test_long_calls_and_titles_are_shortened_where_they_share_a_line() -> None:
    """A long SQL call is cut in the item and the table; a long title is cut in the table only."""
    sql = "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s"
    title = "Column users.ai_allowlisted exists and can be read by the smoke role (migration 021)."
    db_call = call(sql, 3.9, "1 rows", kind="db")
    lines = render_ticket(verdict_of(check(title, "features", calls=(db_call,)))).splitlines()
    short_sql = "`SELECT column_name FROM information_schema.columns WHERE table_schema =…`"
    assert f"- [x] {title} — 50 ms, db {short_sql} 3.9 ms" in lines
    assert (
        f"| db {short_sql} | 1 rows | 3.9 ms | — | "
        "Column users.ai_allowlisted exists and can be read by the smoke role (m… |"
    ) in lines


def test_run_without_calls_or_versions_leaves_those_parts_out() -> None:
    """No calls: no response-time table; no version or time: the heading says only what is known."""
    verdict = verdict_of(
        check("Config is valid", "preflight"),
        run=run_info(expected_version="", reported_version="2.0.0", started=0.0, finished=0.0, host="", commit=""),
    )
    text = render_ticket(verdict)
    assert text.splitlines()[0] == "## ✅ GO: staging, reported version 2.0.0"
    assert text.splitlines()[2] == "**GO**: 1 passed."
    assert "### Response times" not in text
    assert "| Expected version | not set |" in text
    assert "Started" not in text and "Runner host" not in text


def test_long_messages_are_cut_to_one_line() -> None:
    """A failure message longer than one line of a ticket is shortened, never spread over lines."""
    message = "expected JSON " + "x" * 1000
    lines = render_ticket(verdict_of(check("Big", "features", "failed", message=message))).splitlines()
    item = next(line for line in lines if line.startswith("- [ ] Big"))
    assert item.endswith("x…`") and len(item) < 360


def test_warmup_requests_are_neither_the_slowest_call_nor_a_response_time() -> None:
    """A cold warm-up request is left out of the check's line and of the response-time table."""
    calls = (call("GET /health", 900.0, warmup=True), call("GET /health", 12.0))
    text = render_ticket(verdict_of(check("Health answers", "health", calls=calls)))
    assert "- [x] Health answers — 50 ms, `GET /health` 12 ms" in text.splitlines()
    assert "900" not in text
