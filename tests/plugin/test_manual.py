"""Manual checklist items through a run: the verdict, every artifact, --deploy-confirm and its usage errors."""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.doc_pages import fenced_blocks, read_page
from tests.fix_browser import report_page

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCHEMA = json.loads((files("pytest_deploysmoke") / "schemas" / "summary-1.schema.json").read_text(encoding="utf-8"))

CONFIG = """
phases = ["preflight", "health", "features"]

[manual.backup]
text = "Production DB backup taken"
phase = "preflight"
owner = "ops"
required = true

[manual.rollback]
text = "Rollback plan shared"

[targets.staging]
base_url = "{url}"
"""
OPTIONAL_ONLY = """
[manual.rollback]
text = "Rollback plan shared"
phase = "health"

[targets.staging]
base_url = "{url}"
"""
CHECKS = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    \"\"\"GET /health answers 200.\"\"\"
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_items(http):
    assert http.get("/items").status_code == 200
"""
BACKUP_REASON = (
    "manual item 'backup' not confirmed: Production DB backup taken (owner: ops); "
    "confirm it with --deploy-confirm backup"
)
REPORTS = ("--deploy-json=out/summary.json", "--deploy-ticket=out/ticket.md")


def project(pytester: pytest.Pytester, url: str, config: str = CONFIG) -> None:
    pytester.makefile(".toml", deploysmoke=config.replace("{url}", url))
    pytester.makepyfile(test_checks=CHECKS)


def summary(pytester: pytest.Pytester) -> dict[str, Any]:
    """The run's JSON summary, validated against the shipped schema."""
    document: dict[str, Any] = json.loads((pytester.path / "out" / "summary.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    return document


def ticket_section(pytester: pytest.Pytester, phase: str) -> list[str]:
    """The lines of the ticket's section of *phase*, heading first, without blank lines."""
    text = (pytester.path / "out" / "ticket.md").read_text(encoding="utf-8")
    [section] = [block for block in text.split("\n### ") if block.startswith(phase)]
    return [line for line in section.splitlines() if line]


def manual_in_browser(report: Path) -> list[dict[str, str]]:
    """Open the HTML report in headless Chromium; the manual items of its verdict banner as a reader sees them."""
    with report_page(report) as page:
        page.locator("#deploysmoke-verdict").wait_for(state="visible")
        items: list[dict[str, str]] = page.eval_on_selector_all(
            "#deploysmoke-verdict #deploysmoke-manual li",
            """items => items.map(li => ({
                id: li.dataset.manualId,
                phase: li.parentElement.previousElementSibling.innerText,
                text: li.innerText,
                visible: String(li.offsetParent !== null),
                className: li.className,
            }))""",
        )
    return items


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_unconfirmed_required_item_is_no_go_in_every_artifact(
    pytester: pytest.Pytester, standin_url: str, xdist: list[str]
) -> None:
    """An open required item: NO-GO with its text, ID and how to confirm it, in the terminal, JSON, ticket and exit code."""
    project(pytester, standin_url)
    result = pytester.runpytest("--deploy-target=staging", *REPORTS, *xdist)
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "  manual items: 0 of 2 confirmed; to do by hand: backup (required), rollback",
            f"  NO-GO: {BACKUP_REASON}",
            f"deploysmoke verdict: NO-GO: {BACKUP_REASON}",
        ]
    )
    document = summary(pytester)
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["verdict"]["reasons"] == [BACKUP_REASON]
    assert document["manual"] == [
        {
            "id": "backup",
            "text": "Production DB backup taken",
            "phase": "preflight",
            "owner": "ops",
            "required": True,
            "confirmed": False,
            "by": None,
            "at": None,
            "note": None,
        },
        {
            "id": "rollback",
            "text": "Rollback plan shared",
            "phase": "features",
            "owner": None,
            "required": False,
            "confirmed": False,
            "by": None,
            "at": None,
            "note": None,
        },
    ]
    ticket = (pytester.path / "out" / "ticket.md").read_text(encoding="utf-8")
    assert ticket.startswith("## ❌ NO-GO: staging")
    assert f"**Why NO-GO:**\n\n- {BACKUP_REASON}\n" in ticket
    # preflight has no check: it gets its section for its manual item
    assert ticket_section(pytester, "preflight") == [
        "preflight (gate): not run",
        "- [ ] Production DB backup taken — to do by hand (**required**; owner: ops); "
        "confirm with `--deploy-confirm backup`",
    ]
    assert ticket_section(pytester, "features")[-1] == (
        "- [ ] Rollback plan shared — to do by hand (optional); confirm with `--deploy-confirm rollback`"
    )


def test_unconfirmed_optional_item_is_listed_and_changes_nothing(pytester: pytest.Pytester, standin_url: str) -> None:
    """An open optional item is listed open in every artifact; the verdict stays GO, with no warning."""
    project(pytester, standin_url, OPTIONAL_ONLY)
    result = pytester.runpytest("--deploy-target=staging", *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["  manual items: 0 of 1 confirmed; to do by hand: rollback", "deploysmoke verdict: GO"]
    )
    document = summary(pytester)
    assert (document["verdict"]["decision"], document["verdict"]["warnings"]) == ("GO", [])
    assert [(item["id"], item["confirmed"]) for item in document["manual"]] == [("rollback", False)]
    assert ticket_section(pytester, "health") == [
        "health (gate): passed",
        "- [x] GET /health answers 200. — " + ticket_section(pytester, "health")[1].split(" — ", 1)[1],
        "- [ ] Rollback plan shared — to do by hand (optional); confirm with `--deploy-confirm rollback`",
    ]


def test_confirmation_records_who_when_and_note_in_every_artifact(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--deploy-confirm ID=NOTE: confirmed by the CI's user at the run's start, with the note, in JSON, ticket and HTML."""
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    project(pytester, standin_url)
    result = pytester.runpytest(
        "--deploy-target=staging",
        *REPORTS,
        "--deploy-confirm=backup=snapshot 2026-12-01 03:00",
        "--html=out/report.html",
        "--self-contained-html",
    )
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "deploysmoke: rerun with --deploy-target=staging --deploy-confirm=backup",
            "deploysmoke: manual items: backup confirmed by octocat; open: rollback",
            "*",
            "  manual items: 1 of 2 confirmed (backup); to do by hand: rollback",
            "deploysmoke verdict: GO",
        ]
    )
    document = summary(pytester)
    backup, rollback = document["manual"]
    assert (backup["confirmed"], backup["by"], backup["at"], backup["note"]) == (
        True,
        "octocat",
        document["started"],  # when: the run's start
        "snapshot 2026-12-01 03:00",
    )
    assert (rollback["confirmed"], rollback["by"], rollback["at"]) == (False, None, None)

    started = datetime.fromisoformat(document["started"].replace("Z", "+00:00")).astimezone(timezone.utc)
    at = started.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert ticket_section(pytester, "preflight")[1] == (
        f"- [x] Production DB backup taken — confirmed by octocat at {at}: snapshot 2026-12-01 03:00 (owner: ops)"
    )

    shown = manual_in_browser(pytester.path / "out" / "report.html")
    assert [(item["id"], item["phase"], item["visible"]) for item in shown] == [
        ("backup", "preflight", "true"),
        ("rollback", "features", "true"),
    ]
    assert shown[0]["text"] == (
        f"\u2611 Production DB backup taken \u2014 confirmed by octocat at {at}: snapshot 2026-12-01 03:00 (owner: ops)"
    )
    assert shown[1]["text"] == (
        "\u2610 Rollback plan shared \u2014 to do by hand (optional); confirm with --deploy-confirm rollback"
    )
    assert "deploysmoke-manual--confirmed" in shown[0]["className"]


PASSWORD = "dsnPl4nted-pw"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.c2lnbmF0dXJlLXZhbHVl"
BEARER = "tok-7f3a9c1e5b2d4a6f8e0c"


def test_a_secret_in_a_note_reaches_no_output_and_no_artifact(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A note holding the target's DSN password, a JWT and a bearer token is masked everywhere the note is shown."""
    monkeypatch.setenv("DB_PASSWORD", PASSWORD)
    config = CONFIG + 'database_url = "postgresql://smoke:${DB_PASSWORD}@127.0.0.1:9/app"\n'
    project(pytester, standin_url, config)
    note = f"dumped with {PASSWORD}; session {JWT}; Authorization: Bearer {BEARER}"
    result = pytester.runpytest(
        "--deploy-target=staging",
        *REPORTS,
        f"--deploy-confirm=backup={note}",
        "--html=out/report.html",
        "--self-contained-html",
        "--junitxml=out/junit.xml",
    )
    assert result.ret == pytest.ExitCode.OK
    outputs = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    outputs.update({path.name: path.read_text(encoding="utf-8") for path in (pytester.path / "out").iterdir()})
    for secret in (PASSWORD, JWT, BEARER, JWT[:20], BEARER[-10:]):
        leaks = [name for name, text in outputs.items() if secret in text]
        assert not leaks, f"{secret!r} appears in {leaks}"
    [backup, _] = summary(pytester)["manual"]
    assert backup["note"].startswith("dumped with ***; session ")  # the rest of the note is kept


def test_confirm_is_inert_without_a_target(pytester: pytest.Pytester, standin_url: str) -> None:
    """Without a target, --deploy-confirm (even of an unknown ID) changes nothing: no error, no report, no verdict."""
    project(pytester, standin_url)
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    plain = pytester.runpytest()
    confirmed = pytester.runpytest("--deploy-confirm=nope=a note", "--deploy-confirm=backup")
    assert confirmed.ret == plain.ret == pytest.ExitCode.OK
    assert confirmed.parseoutcomes() == plain.parseoutcomes()

    def mentions(result: pytest.RunResult) -> list[str]:
        return [line for line in result.outlines + result.errlines if "deploysmoke" in line]

    assert mentions(confirmed) == mentions(plain)  # pytest's list of plugins, and nothing from the plugin
    assert not any(line.startswith(("deploysmoke", "=")) and "deploysmoke" in line for line in mentions(confirmed))


def test_unknown_id_is_a_usage_error_with_did_you_mean(pytester: pytest.Pytester, standin_url: str) -> None:
    """An unknown --deploy-confirm ID is one usage-error line: the close ID and every known one."""
    project(pytester, standin_url)
    result = pytester.runpytest("--deploy-target=staging", "--deploy-confirm=bakup=done")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        "ERROR: --deploy-confirm 'bakup' is not a manual item of target 'staging'; did you mean 'backup'? "
        "known items: backup, rollback"
    ]
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_bad_item_is_a_usage_error_in_one_line(pytester: pytest.Pytester, standin_url: str) -> None:
    """A mistake in a [manual.ID] table stops the run before any check with one line naming the file and key."""
    project(pytester, standin_url, CONFIG.replace('phase = "preflight"', 'phase = "prefligt"'))
    result = pytester.runpytest("--deploy-target=staging")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        "ERROR: deploysmoke.toml: [manual.backup] phase is unknown phase 'prefligt'; did you mean 'preflight'? "
        "known phases: preflight, health, features"
    ]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_partial_run_with_a_required_item_open_is_no_go(pytester: pytest.Pytester, standin_url: str) -> None:
    """A required item counts whatever the selection: -k health (its item is in preflight) is still NO-GO for it."""
    project(pytester, standin_url)
    result = pytester.runpytest("--deploy-target=staging", *REPORTS, "-k", "health")
    result.assert_outcomes(passed=1, deselected=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [f"deploysmoke verdict: NO-GO (partial: 1 of 2 checks, narrowed by -k health): {BACKUP_REASON}"]
    )
    assert summary(pytester)["verdict"]["reasons"] == [BACKUP_REASON]


def test_open_required_item_means_no_watch_window(pytester: pytest.Pytester, standin_url: str) -> None:
    """The deploy is already NO-GO for the open item, so the watch window does not watch it."""
    project(pytester, standin_url)
    result = pytester.runpytest("--deploy-target=staging", "--deploy-watch=2s", "--deploy-watch-every=1s")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["  watch window skipped: the checks already say NO-GO"])


def test_show_config_lists_the_targets_items_with_their_phase(pytester: pytest.Pytester, standin_url: str) -> None:
    """--deploy-show-config shows the shared items under the target, a target's own in their place, each with its phase."""
    config = CONFIG + '[targets.staging.manual.backup]\ntext = "Staging snapshot taken"\n'
    project(pytester, standin_url, config)
    result = pytester.runpytest("--deploy-target=staging", "--deploy-show-config")
    assert result.ret == pytest.ExitCode.OK
    shown = tomllib.loads(result.stdout.str())["targets"]["staging"]["manual"]
    assert shown == {
        "backup": {"text": "Staging snapshot taken", "phase": "features"},
        "rollback": {"text": "Rollback plan shared", "phase": "features"},
    }


DOC = Path(__file__).parents[2] / "docs" / "manual.md"
_TIMES = re.compile(r"at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC|— [\d.]+ m?s, `GET /health` [\d.]+ m?s")


def test_doc_example_writes_the_ticket_and_verdict_the_page_shows(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/manual.md's project, run as the page says (by alice), writes its ticket sections and, on prod, its lines."""
    monkeypatch.setenv("GITHUB_ACTOR", "alice")
    page = read_page(DOC)
    for name, body in page.files.items():
        (pytester.path / name).write_text(body, encoding="utf-8")
    result = pytester.runpytest(*page.args, f"--deploy-base-url={standin_url}")
    result.assert_outcomes(**page.expect)
    assert result.ret == pytest.ExitCode.OK
    (shown_ticket,) = fenced_blocks(DOC, "markdown")
    written = (pytester.path / "ticket.md").read_text(encoding="utf-8")
    start = written.index("### preflight")
    written = written[start : written.index("### Response times")].strip() + "\n"
    assert _TIMES.sub("TIME", written) == _TIMES.sub("TIME", shown_ticket)

    args = [arg.replace("--deploy-target=staging", "--deploy-target=prod") for arg in page.args]
    on_prod = pytester.runpytest(*args, f"--deploy-base-url={standin_url}")
    assert on_prod.ret == pytest.ExitCode.TESTS_FAILED
    (shown_lines,) = [block for block in fenced_blocks(DOC, "text") if "deploysmoke verdict" in block]
    on_prod.stdout.fnmatch_lines(shown_lines.splitlines(), consecutive=True)
