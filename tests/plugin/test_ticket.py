"""The release ticket a run writes (--deploy-ticket), parsed back: in-process and under xdist."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.fix_pytester import without_trace

_HEADING = re.compile(r"^## (?:✅|⚠️|❌) (?P<decision>GO|GO with warnings|NO-GO): (?P<about>.*)$")


_PHASE = re.compile(r"^### (?P<name>\S+)(?P<gate> \(gate\))?: (?P<outcome>passed|FAILED|skipped)")


_ITEM = re.compile(r"^- \[(?P<state>[ x])\] (?P<title>.+?)(?: — (?P<detail>.*))?$")


@dataclass
class Ticket:
    """What a person reads off the ticket: the decision, the reasons and each phase's items."""

    decision: str
    about: str
    reasons: list[str] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)  # name -> outcome, "(gate)" appended for gates
    items: dict[str, tuple[str, bool, str]] = field(default_factory=dict)  # title -> (phase, checked, detail)
    environment: dict[str, str] = field(default_factory=dict)


def parse_ticket(path: Path) -> Ticket:
    lines = path.read_text(encoding="utf-8").splitlines()
    heading = _HEADING.match(lines[0])
    assert heading, lines[0]
    ticket = Ticket(heading["decision"], heading["about"])
    section = ""
    for line in lines[1:]:
        if line.startswith("**"):
            section = line
        elif line.startswith("### "):
            phase = _PHASE.match(line)
            section = phase["name"] if phase else line[4:]
            if phase:
                ticket.phases[phase["name"]] = phase["outcome"] + (phase["gate"] or "")
        elif line.startswith("- ") and section == "**Why NO-GO:**":
            ticket.reasons.append(line[2:])
        elif (item := _ITEM.match(line)) and section in ticket.phases:
            ticket.items[item["title"]] = (section, item["state"] == "x", item["detail"] or "")
        elif line.startswith("| ") and section == "Environment" and not line.startswith(("| Item ", "| ---")):
            name, value = line.strip("| ").split(" | ", 1)
            ticket.environment[name] = value
    return ticket


CHECKS = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    \"\"\"GET /health answers 200.\"\"\"
    assert http.get("/health", budget="5s").status_code == 200

@pytest.mark.phase("features", checklist="Items can be listed")
def test_items(http):
    assert http.get("/items").status_code == 200
    assert http.get("/slow?s=0.05").status_code == 200

@pytest.mark.phase("features")
def test_teapot(http):
    \"\"\"The teapot answers 200.\"\"\"
    assert http.get("/status/418").status_code == 200, "GET /status/418 answered 418 | not 200"

@pytest.mark.destructive
def test_create(http):
    http.post("/items")
"""


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_deploy_ticket_is_written_from_the_run(pytester: pytest.Pytester, standin_url: str, xdist: list[str]) -> None:
    """--deploy-ticket writes the checklist: the verdict, each check's state, its slowest call, the environment."""
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.prod]\nbase_url = "{standin_url}"\nproduction = true\nversion = "1.2.3"\n',
    )
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-ticket=out/ticket.md", *xdist)
    result.assert_outcomes(passed=3, failed=1, skipped=1)  # deploysmoke::version too
    ticket = parse_ticket(pytester.path / "out" / "ticket.md")
    assert ticket.decision == "NO-GO"
    assert ticket.about.startswith("prod (production), version 1.2.3 (reported 1.2.3), ")
    assert [without_trace(reason) for reason in ticket.reasons] == [
        "The teapot answers 200. failed (test_checks.py::test_teapot): GET /status/418 answered 418 | not 200"
    ]
    assert ticket.phases == {"health": "passed (gate)", "features": "FAILED"}
    assert {title: (phase, checked) for title, (phase, checked, _) in ticket.items.items()} == {
        "The deployed version is 1.2.3": ("health", True),
        "GET /health answers 200.": ("health", True),
        "Items can be listed": ("features", True),
        "The teapot answers 200.": ("features", False),
        "Create": ("features", False),
    }
    assert re.fullmatch(
        r"[\d.]+ m?s, `GET /health` [\d.]+ m?s \(budget 5\.00 s\)", ticket.items["GET /health answers 200."][2]
    )
    assert re.fullmatch(r"[\d.]+ m?s, slowest `GET /slow\?s=0\.05` [\d.]+ m?s", ticket.items["Items can be listed"][2])
    teapot = ticket.items["The teapot answers 200."][2]
    assert without_trace(teapot) == "**FAILED**: `GET /status/418 answered 418 | not 200`"
    assert ticket.items["Create"][2] == "not run: destructive, and target 'prod' is production"
    assert ticket.environment["Base URL"] == f"`{standin_url}`"
    assert ticket.environment["Production"] == "yes"
    assert ticket.environment["Reported version"] == "1.2.3"
    assert ticket.environment["Version source"] == "JSON $.version of GET /health"


def test_failing_health_gate_gives_a_no_go_ticket_naming_the_gate(pytester: pytest.Pytester, standin_url: str) -> None:
    """A failed health gate: NO-GO in the heading, the gate as the first reason, later checks unchecked and skipped."""
    pytester.makefile(".toml", deploysmoke=f'[targets.staging]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(
        test_checks="""
import pytest

@pytest.mark.phase("health")
def test_health(http):
    \"\"\"GET /health answers 200.\"\"\"
    assert http.get("/status/503").status_code == 200

@pytest.mark.phase("features")
def test_items(http):
    \"\"\"Items can be listed.\"\"\"
    http.get("/items")

@pytest.mark.phase("features")
def test_more_items(http):
    \"\"\"More items can be listed.\"\"\"
    http.get("/items")
"""
    )
    result = pytester.runpytest("--deploy-target=staging", "--deploy-ticket=ticket.md")
    result.assert_outcomes(failed=1, skipped=2)
    ticket = parse_ticket(pytester.path / "ticket.md")
    assert ticket.decision == "NO-GO"
    assert ticket.reasons[0] == "gate 'health' failed (test_checks.py::test_health); later phases not run"
    assert ticket.phases == {"health": "FAILED (gate)", "features": "skipped"}
    assert ticket.items["GET /health answers 200."][:2] == ("health", False)
    assert ticket.items["GET /health answers 200."][2].startswith("**FAILED**: `")
    assert ticket.items["Items can be listed."] == ("features", False, "")
    assert ticket.items["More items can be listed."] == ("features", False, "")
    text = (pytester.path / "ticket.md").read_text(encoding="utf-8")
    assert "Skipped: gate 'health' failed (test_checks.py::test_health); later phases not run" in text.splitlines()


def test_no_ticket_without_the_option(pytester: pytest.Pytester, standin_url: str) -> None:
    """Without --deploy-ticket nothing is written."""
    pytester.makefile(".toml", deploysmoke=f'[targets.staging]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks="def test_ok(http):\n    http.get('/health')\n")
    pytester.runpytest("--deploy-target=staging").assert_outcomes(passed=1)
    assert not list(pytester.path.glob("*.md"))


def test_no_ticket_without_a_target(pytester: pytest.Pytester) -> None:
    """Without a deploy target the plugin is inert, and --deploy-ticket writes nothing."""
    pytester.makepyfile(test_unit="def test_ok():\n    pass\n")
    pytester.runpytest("--deploy-ticket=ticket.md").assert_outcomes(passed=1)
    assert not (pytester.path / "ticket.md").exists()
