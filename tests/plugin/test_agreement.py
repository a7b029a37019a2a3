"""Every way a run ends gives one decision, and the exit code and every report agree on it (issue 14)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest

SCHEMA = Path(__file__).parents[2] / "pytest_deploysmoke" / "schemas" / "summary-1.schema.json"
DECISIONS = ("GO with warnings", "NO-GO", "ROLLBACK", "GO")  # longest first: "GO" is a prefix of one
DECISION_AT_START = re.compile(r"(GO with warnings|NO-GO|ROLLBACK|GO)\b")
TICKET_SYMBOLS = {"GO": "✅", "GO with warnings": "⚠️", "NO-GO": "❌", "ROLLBACK": "⏪"}
VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
BANNER_CLASSES = {"GO": "go", "GO with warnings": "warn", "NO-GO": "nogo", "ROLLBACK": "rollback"}

RUN_TIMEOUT = 120  # seconds a whole run may take (startup is a few seconds; the watch window 3 s)
MARKER_TIMEOUT = 60  # seconds to wait for an interrupted case's check to start
EXIT_AFTER_SIGNAL = 30  # seconds pytest may take to exit after SIGINT or SIGTERM
# pytest-randomly would reorder the checks; it is not a dependency, so only disable it when present.
NO_RANDOMLY = ("-p", "no:randomly") if importlib.util.find_spec("pytest_randomly") else ()

CONFTEST = """
import json
import pathlib

import pytest


@pytest.hookimpl(optionalhook=True)  # optional: the untouched run also loads it with the plugin off
def pytest_deploysmoke_verdict(config, verdict):
    hook_file = pathlib.Path(config.rootpath, "hook-verdict.json")
    hook_file.write_text(json.dumps({"decision": verdict.decision, "reasons": list(verdict.reasons)}), encoding="utf-8")
"""

PASSING = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_items(http):
    assert http.get("/items").json() == [{"id": 1}]
"""

SELF_SKIP = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_search(http):
    pytest.skip("search is off on this target")
"""

GATE_FAILS = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/status/503").status_code == 200

@pytest.mark.phase("features")
def test_items(http):
    assert http.get("/items").status_code == 200
"""

FEATURE_FAILS = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_items(http):
    assert http.get("/status/500").status_code == 200
"""

DATA_WRONG = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
@pytest.mark.rollback("data integrity")
def test_items_match_their_filter(http):
    items = http.get("/items").json()
    assert items == [], f"{len(items)} item(s) do not satisfy the filter"
"""

ALL_SKIP = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    pytest.skip("health is checked elsewhere")

@pytest.mark.phase("features")
def test_items(http):
    pytest.skip("items are off on this target")
"""

# The second check says it started (the test waits for that file), then hangs until interrupted.
HANGS = """
import pathlib
import time

import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_hangs(http):
    pathlib.Path(__file__).with_name("check-started").write_text("started", encoding="utf-8")
    time.sleep(60)

@pytest.mark.phase("features")
def test_items(http):
    assert http.get("/items").status_code == 200
"""

BROKEN_MODULE = "raise ImportError(\"cannot import name 'Client' from 'kifu_client'\")\n"

WORKER_DIES = """
import os

import pytest

@pytest.mark.phase("features")
def test_items(http):
    assert http.get("/items").status_code == 200

@pytest.mark.phase("features")
def test_worker_dies(http):
    os._exit(1)
"""

# A bug in a plugin: pytest stops with an INTERNALERROR after the first check.
PLUGIN_BUG = """

def pytest_runtest_logreport(report):
    if report.when == "call" and report.nodeid.endswith("test_health"):
        raise RuntimeError("a bug in a plugin's report hook")
"""


# One required and one optional manual item: an open required one is NO-GO, an open optional one changes nothing.
MANUAL_ITEMS = (
    '[manual.backup]\ntext = "Production DB backup taken"\nphase = "health"\nrequired = true\n'
    '[manual.rollback]\ntext = "Rollback plan shared"\n'
)


@dataclass(frozen=True)
class Ending:
    """One way a run ends, and what every report must say about it."""

    name: str
    decision: str
    modules: dict[str, str]
    args: tuple[str, ...] = ()
    exit_code: int | None = None  # the exact code, when the contract fixes one; None: any but 0 for NO-GO
    target: str = ""  # extra lines for [targets.s]
    tables: str = ""  # extra tables after [targets.s]
    interrupt: signal.Signals | None = None  # sent once the hanging check has started
    reason: str = ""  # a regex the JSON verdict's reasons (and rollback reasons) must match
    says: str = ""  # a word each report's verdict must show: "interrupted" or "partial"
    selection: tuple[int, int, str] | None = None  # a partial run: (selected, collected, narrowed by)
    not_ready: bool = False  # point the target at a port where nothing listens
    conftest: str = ""  # added to the project's conftest.py


ENDINGS = [
    Ending("go", "GO", {"test_checks.py": PASSING}, exit_code=0),
    Ending("go-with-warnings", "GO with warnings", {"test_checks.py": SELF_SKIP}, exit_code=0),
    Ending("no-go-gate", "NO-GO", {"test_checks.py": GATE_FAILS}, exit_code=1, reason=r"gate 'health' failed"),
    Ending("no-go-failure", "NO-GO", {"test_checks.py": FEATURE_FAILS}, exit_code=1, reason=r"test_items"),
    Ending(
        "rollback-rule", "ROLLBACK", {"test_checks.py": DATA_WRONG}, exit_code=1, reason=r"data integrity: .*filter"
    ),
    Ending(
        "rollback-watch",
        "ROLLBACK",
        {"test_checks.py": PASSING},
        args=("--deploy-watch=3s", "--deploy-watch-every=1s"),
        exit_code=1,
        target='health_path = "/status/503"\n',
        tables='[targets.s.watch]\nprobes = ["health"]\n[targets.s.rollback]\nhealth_consecutive_failures = 3\n',
        reason=r"health_consecutive_failures",
    ),
    Ending(
        "not-ready",
        "NO-GO",
        {"test_checks.py": PASSING},
        args=("--deploy-wait=1",),
        exit_code=1,
        reason=r"target 's' not ready: .*connection refused",
        not_ready=True,
    ),
    Ending(
        "nothing-selected",
        "NO-GO",
        {"test_checks.py": PASSING},
        args=("--deploy-phase=monitoring",),
        exit_code=5,
        reason=r"(?i)(nothing|no check).*(select|--deploy-phase)",
        says="partial",
        selection=(0, 2, "--deploy-phase"),
    ),
    Ending(
        "all-skipped", "NO-GO", {"test_checks.py": ALL_SKIP}, exit_code=None, reason=r"(?i)(nothing|no check).*skip"
    ),
    Ending(
        "sigint",
        "NO-GO",
        {"test_checks.py": HANGS},
        exit_code=2,
        interrupt=signal.SIGINT,
        reason=r"(?i)\binterrupted\b.*\b\d of 3\b",
        says="interrupted",
    ),
    Ending(
        "sigterm",
        "NO-GO",
        {"test_checks.py": HANGS},
        exit_code=2,
        interrupt=signal.SIGTERM,
        reason=r"(?i)\binterrupted\b.*\b\d of 3\b",
        says="interrupted",
    ),
    Ending(
        "collection-error",
        "NO-GO",
        {"test_checks.py": PASSING, "test_broken.py": BROKEN_MODULE},
        exit_code=2,
        reason=r"test_broken\.py",
    ),
    Ending(
        "xdist-worker-crash",
        "NO-GO",
        {"test_checks.py": WORKER_DIES},
        args=("-n", "2"),
        exit_code=1,
        reason=r"test_worker_dies",
    ),
    Ending(
        "internal-error",
        "NO-GO",
        {"test_checks.py": PASSING},
        exit_code=3,
        conftest=PLUGIN_BUG,
    ),
    Ending(
        "partial-k",
        "GO",
        {"test_checks.py": PASSING},
        args=("-k", "health"),
        exit_code=0,
        says="partial",
        selection=(1, 2, "-k"),
    ),
    Ending(
        "manual-required-open",
        "NO-GO",
        {"test_checks.py": PASSING},
        exit_code=1,
        tables=MANUAL_ITEMS,
        reason=r"manual item 'backup' not confirmed: Production DB backup taken; confirm it with --deploy-confirm backup",
    ),
    Ending(
        "manual-confirmed",
        "GO",
        {"test_checks.py": PASSING},
        args=("--deploy-confirm=backup=snapshot 03:00",),
        exit_code=0,
        tables=MANUAL_ITEMS,
    ),
]


# -- running pytest -----------------------------------------------------------------------


@dataclass
class Run:
    """What a pytest subprocess left behind."""

    returncode: int | None
    stdout: str
    stderr: str
    notes: list[str] = field(default_factory=list)  # what went wrong around the process itself

    def tail(self) -> str:
        out = "\n".join(self.stdout.splitlines()[-60:])
        err = "\n".join(self.stderr.splitlines()[-25:])
        return f"--- stdout (last 60 lines) ---\n{out}\n--- stderr (last 25 lines) ---\n{err}"


def _pytest_env() -> dict[str, str]:
    """The environment without anything that would pick a target or change pytest's options."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DEPLOYSMOKE_", "PYTEST_")) and key not in ("FORCE_COLOR", "NO_COLOR")
    }
    env["PY_COLORS"] = "0"
    env["COLUMNS"] = "200"  # long verdict lines stay on one line
    return env


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the run's process group (pytest and any xdist workers it started) if pytest still runs."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


def run_pytest(path: Path, args: list[str], interrupt: signal.Signals | None = None) -> Run:
    """Run ``python -m pytest *args`` in *path*; with *interrupt*, send it once the check has started."""
    stdout_path, stderr_path = path / "pytest-stdout.txt", path / "pytest-stderr.txt"
    notes: list[str] = []
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest", *args],
            cwd=path,
            env=_pytest_env(),
            stdout=out,
            stderr=err,
            start_new_session=True,  # its own process group, so the finally block can stop it all
        )
        try:
            if interrupt is not None:
                marker = path / "check-started"
                deadline = time.monotonic() + MARKER_TIMEOUT
                while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                if marker.exists() and process.poll() is None:
                    os.kill(process.pid, interrupt)
                    try:
                        process.wait(timeout=EXIT_AFTER_SIGNAL)
                    except subprocess.TimeoutExpired:
                        notes.append(f"pytest did not exit within {EXIT_AFTER_SIGNAL} s of {interrupt.name}; killed")
                else:
                    notes.append(
                        f"the hanging check never started within {MARKER_TIMEOUT} s (pytest "
                        f"{'exited with ' + str(process.returncode) if process.poll() is not None else 'still running'})"
                    )
            else:
                try:
                    process.wait(timeout=RUN_TIMEOUT)
                except subprocess.TimeoutExpired:
                    notes.append(f"pytest did not finish within {RUN_TIMEOUT} s; killed")
        finally:
            alive = process.poll() is None
            _stop_group(process)
    return Run(
        None if alive else process.returncode,
        stdout_path.read_text(encoding="utf-8", errors="replace"),
        stderr_path.read_text(encoding="utf-8", errors="replace"),
        notes,
    )


def make_project(path: Path, base_url: str, ending: Ending) -> None:
    (path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8")
    (path / "deploysmoke.toml").write_text(
        f'[targets.s]\nbase_url = "{base_url}"\n{ending.target}{ending.tables}', encoding="utf-8"
    )
    (path / "conftest.py").write_text(CONFTEST + ending.conftest, encoding="utf-8")
    for name, text in ending.modules.items():
        (path / name).write_text(text, encoding="utf-8")


# -- reading each report --------------------------------------------------------------------


def decision_at_start(text: str) -> str | None:
    """The decision *text* starts with ("GO with warnings: ..." -> "GO with warnings"), or None."""
    found = DECISION_AT_START.match(text)
    return found.group(1) if found else None


class Banner(HTMLParser):
    """Finds pytest-html's verdict banner: its classes, its decision and all its text."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False
        self.classes: list[str] = []
        self.decision: list[str] = []
        self.text: list[str] = []
        self._depth = 0  # open elements inside the banner section, itself included
        self._decision_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in VOID_ELEMENTS:
            return
        if self._depth:
            self._depth += 1
            if self._decision_depth:
                self._decision_depth += 1
            elif "deploysmoke-verdict__decision" in (values.get("class") or "").split():
                self._decision_depth = 1
        elif tag == "section" and values.get("id") == "deploysmoke-verdict" and not self.found:
            self.found, self._depth = True, 1
            self.classes = (values.get("class") or "").split()

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag not in VOID_ELEMENTS:
            self._depth -= 1
            if self._decision_depth:
                self._decision_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.text.append(data)
            if self._decision_depth:
                self.decision.append(data)


def check_reports(path: Path, run: Run, ending: Ending) -> list[str]:
    """Every disagreement between the run's reports, its exit code and what *ending* expects."""
    expected = ending.decision
    problems = list(run.notes)
    says = ending.says

    def missing(artifact: str) -> None:
        problems.append(f"{artifact}: MISSING (not written)")

    def compare(artifact: str, decision: str | None) -> None:
        if decision != expected:
            problems.append(f"{artifact}: says {decision!r}, expected {expected!r}")

    def must_say(artifact: str, text: str) -> None:
        if says and says not in text.lower():
            problems.append(f"{artifact}: does not say {says!r}: {text[:300]!r}")

    # The exit code.
    go = expected in ("GO", "GO with warnings")
    if run.returncode is None:
        problems.append("exit code: none, pytest had to be killed")
    else:
        if go != (run.returncode == 0):
            problems.append(f"exit code: {run.returncode} disagrees with {expected!r} (0 for GO, non-zero otherwise)")
        if ending.exit_code is not None and run.returncode != ending.exit_code:
            problems.append(f"exit code: {run.returncode}, expected {ending.exit_code}")

    # The terminal: exactly one verdict line, and the deploysmoke section around it.
    lines = re.findall(r"^deploysmoke verdict: (.*)$", run.stdout, re.MULTILINE)
    if not lines:
        missing("terminal verdict line")
    else:
        if len(lines) > 1:
            problems.append(f"terminal verdict line: printed {len(lines)} times")
        compare("terminal verdict line", decision_at_start(lines[-1]))
        # From the "=== deploysmoke: target 's' ===" separator of the summary (not the header) to the end.
        section_start = re.search(r"^=+ deploysmoke: target 's' =+$", run.stdout, re.MULTILINE)
        section = run.stdout[section_start.start() :] if section_start else lines[-1]
        must_say("terminal deploysmoke summary", section)

    # The JSON summary: valid against the shipped schema, the decision, its reasons, the selection.
    summary_path = path / "summary.json"
    if not summary_path.exists():
        missing("JSON summary (--deploy-json)")
    else:
        try:
            with summary_path.open(encoding="utf-8") as stream:
                summary: dict[str, Any] = json.load(stream)
        except ValueError as exc:
            problems.append(f"JSON summary: not JSON: {exc}")
            summary = {}
        try:
            jsonschema.validate(summary, json.loads(SCHEMA.read_text(encoding="utf-8")))
        except jsonschema.ValidationError as exc:
            problems.append(f"JSON summary: not valid against {SCHEMA.name}: {exc.message}")
        verdict = summary.get("verdict", {})
        compare("JSON summary verdict.decision", verdict.get("decision"))
        reasons = "\n".join([*verdict.get("reasons", []), *verdict.get("rollback", [])])
        if ending.reason and not re.search(ending.reason, reasons):
            problems.append(f"JSON summary: no reason matches {ending.reason!r}; reasons: {reasons!r}")
        if expected == "NO-GO" and not verdict.get("reasons"):
            problems.append("JSON summary: NO-GO without a reason")
        if says == "interrupted":
            must_say("JSON summary verdict.reasons", reasons)
            passed = [c.get("nodeid") for c in summary.get("checks", []) if c.get("outcome") == "passed"]
            if "test_checks.py::test_hangs" in passed:
                problems.append("JSON summary: checks[] says test_checks.py::test_hangs passed; it was interrupted")
        problems += check_selection(summary.get("selection"), ending)

    # The ticket: its first line is "## <symbol> <decision>: ...".
    ticket_path = path / "ticket.md"
    if not ticket_path.exists():
        missing("ticket (--deploy-ticket)")
    else:
        ticket = ticket_path.read_text(encoding="utf-8")
        heading = ticket.splitlines()[0] if ticket else ""
        found = re.match(r"## (\S+) (.*)$", heading)
        decision = decision_at_start(found.group(2)) if found else None
        compare(f"ticket heading {heading!r}", decision)
        if found and decision in TICKET_SYMBOLS and found.group(1) != TICKET_SYMBOLS[decision]:
            problems.append(f"ticket heading: symbol {found.group(1)} for {decision!r}")
        partial_heading = re.search(r"(?i)\bpartial\b", heading) is not None
        if partial_heading != (ending.selection is not None):
            problems.append(f"ticket heading: {'says' if partial_heading else 'does not say'} 'partial': {heading!r}")
        if says == "interrupted":
            must_say("ticket", ticket)

    # The HTML report: the banner's decision and colour.
    html_path = path / "report.html"
    if not html_path.exists():
        missing("HTML report (--html)")
    else:
        banner = Banner()
        banner.feed(html_path.read_text(encoding="utf-8"))
        if not banner.found:
            missing('HTML verdict banner (<section id="deploysmoke-verdict">)')
        else:
            compare("HTML banner decision", "".join(banner.decision).strip() or None)
            colour = f"deploysmoke-verdict--{BANNER_CLASSES[expected]}"
            if colour not in banner.classes:
                problems.append(f"HTML banner: classes {banner.classes}, expected {colour}")
            must_say("HTML banner", " ".join(banner.text))

    # The JUnit XML: the test suite's deploysmoke.verdict property.
    junit_path = path / "junit.xml"
    if not junit_path.exists():
        missing("JUnit XML (--junitxml)")
    else:
        try:
            root = ET.parse(junit_path).getroot()
        except ET.ParseError as exc:
            problems.append(f"JUnit XML: not XML: {exc}")
            root = ET.Element("testsuites")
        properties = [
            (prop.get("name", ""), prop.get("value", ""))
            for suite in root.iter("testsuite")
            for prop in suite.findall("properties/property")
            if prop.get("name", "").startswith("deploysmoke")
        ]
        values = [value for name, value in properties if name == "deploysmoke.verdict"]
        if not values:
            missing("JUnit testsuite property deploysmoke.verdict")
        else:
            compare("JUnit property deploysmoke.verdict", values[0] if len(set(values)) == 1 else repr(values))
        must_say("JUnit deploysmoke properties", " ".join(f"{name}={value}" for name, value in properties))

    # The verdict hook.
    hook_path = path / "hook-verdict.json"
    if not hook_path.exists():
        missing("pytest_deploysmoke_verdict hook (never called)")
    else:
        seen = json.loads(hook_path.read_text(encoding="utf-8"))
        compare("pytest_deploysmoke_verdict hook verdict.decision", seen.get("decision"))
        if says == "interrupted":
            must_say("pytest_deploysmoke_verdict hook verdict.reasons", "\n".join(seen.get("reasons", [])))
    return problems


def check_selection(selection: Any, ending: Ending) -> list[str]:
    """The JSON summary's ``selection``: required and partial for a narrowed run, never partial otherwise."""
    if ending.selection is None:
        if selection is not None and (not isinstance(selection, dict) or selection.get("partial") is not False):
            return [f"JSON summary: selection {selection!r} on a run that was not narrowed"]
        return []
    if not isinstance(selection, dict):
        return [f"JSON summary: no top-level 'selection' object on a narrowed run (got {selection!r})"]
    selected, collected, option = ending.selection
    problems = []
    if selection.get("partial") is not True:
        problems.append(f"JSON summary: selection.partial is {selection.get('partial')!r}, expected true")
    for key, value in (("selected", selected), ("collected", collected)):
        got = selection.get(key)
        if type(got) is not int or got != value:
            problems.append(f"JSON summary: selection.{key} is {got!r}, expected {value}")
    narrowed_by = selection.get("narrowed_by")
    if not isinstance(narrowed_by, list) or not any(option in str(entry) for entry in narrowed_by):
        problems.append(f"JSON summary: selection.narrowed_by is {narrowed_by!r}, expected a list naming {option}")
    return problems


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.usefixtures("sigint_reaches_children")
@pytest.mark.parametrize("ending", ENDINGS, ids=[ending.name for ending in ENDINGS])
def test_every_report_and_the_exit_code_agree(
    tmp_path: Path, standin_url: str, closed_port: int, ending: Ending
) -> None:
    """The terminal, JSON, ticket, HTML, JUnit and the verdict hook say the expected decision; the exit code agrees.

    Each case is a real ``python -m pytest`` subprocess against the stand-in with every report asked
    for.  GO and GO with warnings exit 0, NO-GO and ROLLBACK exit non-zero.  The failure lists every
    disagreement at once (a report that is missing is named), then the end of the run's output.
    """
    base_url = f"http://127.0.0.1:{closed_port}" if ending.not_ready else standin_url
    make_project(tmp_path, base_url, ending)
    args = [
        "--deploy-target=s",
        "-p",
        "no:cacheprovider",
        *NO_RANDOMLY,
        "--deploy-json=summary.json",
        "--deploy-ticket=ticket.md",
        "--html=report.html",
        "--self-contained-html",
        "--junitxml=junit.xml",
        *ending.args,
    ]
    run = run_pytest(tmp_path, args, ending.interrupt)
    problems = check_reports(tmp_path, run, ending)
    assert not problems, (
        f"{ending.name}: expected {ending.decision!r}, exit code {run.returncode}; {len(problems)} disagreement(s):\n"
        + "\n".join(f"  - {problem}" for problem in problems)
        + "\n"
        + run.tail()
    )


UNIT_TESTS = """
def test_passes():
    assert 1 + 1 == 2

def test_fails():
    assert "deploy" == "deplo"
"""


def _plain(stdout: str) -> list[str]:
    """The run's output without what differs between two runs: the plugin list and the timings."""
    lines = [line for line in stdout.splitlines() if not line.startswith("plugins: ")]
    return [re.sub(r" in \d+\.\d+s( \([0-9:.]+\))?", " in Ns", line) for line in lines]


def test_a_run_without_a_target_is_untouched(tmp_path: Path) -> None:
    """No --deploy-target: the exit code and the output are plain pytest's, and no deploy report is written."""
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n", encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "test_unit.py").write_text(UNIT_TESTS, encoding="utf-8")
    common = ["-p", "no:cacheprovider", *NO_RANDOMLY, "--junitxml=junit.xml", "-rA"]

    plain = run_pytest(tmp_path, [*common, "-p", "no:deploysmoke"])
    (tmp_path / "junit.xml").unlink()
    with_plugin = run_pytest(tmp_path, [*common, "--deploy-json=summary.json", "--deploy-ticket=ticket.md"])

    assert plain.returncode == pytest.ExitCode.TESTS_FAILED, plain.tail()
    assert "deploysmoke" not in plain.stdout, plain.tail()  # the baseline really ran without the plugin
    assert with_plugin.returncode == plain.returncode, with_plugin.tail()
    assert _plain(with_plugin.stdout) == _plain(plain.stdout), with_plugin.tail()
    assert with_plugin.stderr == plain.stderr
    for name in ("summary.json", "ticket.md", "hook-verdict.json"):
        assert not (tmp_path / name).exists(), f"{name} was written by a run without a target"
    names = {prop.get("name") for prop in ET.parse(tmp_path / "junit.xml").getroot().iter("property")}
    assert not any(str(name).startswith("deploysmoke") for name in names), names
