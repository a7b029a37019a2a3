"""Every way a run ends has a verdict that the artifacts and the exit code agree on; figures belong to their check."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.fix_api import users_toml
from tests.fix_servers import APPS

REPORTS = ("--deploy-json=r.json", "--deploy-ticket=r.md", "-p", "no:randomly")

TWO_CHECKS = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    '''GET /health answers.'''
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_items(http):
    '''GET /items answers.'''
    assert http.get("/items").status_code == 200
"""


def summary(pytester: pytest.Pytester) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    return document


def ticket_heading(pytester: pytest.Pytester) -> str:
    return (pytester.path / "r.md").read_text(encoding="utf-8").splitlines()[0]


def target(pytester: pytest.Pytester, url: str, extra: str = "") -> None:
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{url}"\ntimeout = 2.0\n{extra}\n')


def test_target_never_ready_is_no_go(pytester: pytest.Pytester) -> None:
    """--deploy-wait giving up is NO-GO naming what came back, in every artifact, and pytest exits 1."""
    target(pytester, "http://127.0.0.1:9")
    pytester.makepyfile(test_smoke=TWO_CHECKS)
    result = pytester.runpytest("--deploy-target=t", "--deploy-wait=0.5", *REPORTS)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    document = summary(pytester)
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["verdict"]["reasons"][0].startswith("target 't' not ready: GET /health gave ")
    assert "connection refused" in document["not_ready"]
    assert ticket_heading(pytester).startswith("## ❌ NO-GO (target not ready): t")
    result.stdout.fnmatch_lines(["deploysmoke verdict: NO-GO: target 't' not ready: GET *connection refused*"])


def test_launch_that_dies_is_no_go(pytester: pytest.Pytester) -> None:
    """A [launch] command that exits before the target answers is NO-GO, naming the command."""
    target(pytester, "http://127.0.0.1:9", '[targets.t.launch]\ncommand = "python -c \\"raise SystemExit(3)\\""\n')
    pytester.makepyfile(test_smoke=TWO_CHECKS)
    result = pytester.runpytest("--deploy-target=t", *REPORTS)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    reason = summary(pytester)["verdict"]["reasons"][0]
    assert reason.startswith("target 't' not ready: [launch] command ") and "exited with code 3" in reason


@pytest.mark.parametrize(
    ("args", "expected_exit", "why"),
    [
        (
            ["--deploy-phase=monitoring"],
            pytest.ExitCode.NO_TESTS_COLLECTED,
            "*--deploy-phase=monitoring*none of the 2*",
        ),
        (["-k", "nothing_matches"], pytest.ExitCode.NO_TESTS_COLLECTED, "*-k nothing_matches*none of the 2*"),
    ],
)
def test_nothing_selected_is_no_go(
    pytester: pytest.Pytester, standin_url: str, args: list[str], expected_exit: pytest.ExitCode, why: str
) -> None:
    """A selection that leaves no check is NO-GO, and the reason names what selected nothing."""
    target(pytester, standin_url)
    pytester.makepyfile(test_smoke=TWO_CHECKS)
    result = pytester.runpytest("--deploy-target=t", *args, *REPORTS)
    assert result.ret == expected_exit
    document = summary(pytester)
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["selection"]["selected"] == 0 and document["selection"]["collected"] == 2
    result.stdout.fnmatch_lines([f"deploysmoke verdict: NO-GO*nothing was checked: {why}"])


def test_every_check_skipped_is_no_go(pytester: pytest.Pytester, standin_url: str) -> None:
    """A run whose every check skipped itself checked nothing: NO-GO, exit 1."""
    target(pytester, standin_url)
    pytester.makepyfile(test_smoke="import pytest\n\ndef test_a():\n    pytest.skip('later')\n")
    result = pytester.runpytest("--deploy-target=t", *REPORTS)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert summary(pytester)["verdict"]["reasons"] == ["nothing was checked: all 1 selected checks were skipped"]


@pytest.mark.parametrize(
    ("args", "narrowed_by", "selected"),
    [
        (["-k", "items"], ["-k items"], 1),
        (["test_smoke.py::test_health"], ["node ids"], 1),
        (["--deselect", "test_smoke.py::test_items"], ["--deselect"], 1),
        (["--deploy-phase=health"], ["--deploy-phase=health"], 1),
    ],
)
def test_narrowed_run_is_partial_everywhere(
    pytester: pytest.Pytester, standin_url: str, args: list[str], narrowed_by: list[str], selected: int
) -> None:
    """A narrowed run says so in the JSON selection, the ticket heading and the terminal verdict line."""
    target(pytester, standin_url)
    pytester.makepyfile(test_smoke=TWO_CHECKS)
    result = pytester.runpytest("--deploy-target=t", *args, *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    document = summary(pytester)
    collected = 1 if "node ids" in narrowed_by else 2  # node ids narrow what pytest collects
    assert document["selection"] == {
        "partial": True,
        "selected": selected,
        "collected": collected,
        "narrowed_by": narrowed_by,
    }
    assert document["verdict"]["decision"] == "GO"
    assert "partial" in ticket_heading(pytester)
    result.stdout.fnmatch_lines(["deploysmoke verdict: GO (partial: *)"])


def test_whole_run_is_not_partial(pytester: pytest.Pytester, standin_url: str) -> None:
    """``-m smoke`` leaves out tests that are not checks: the run is whole, and its heading says nothing partial."""
    target(pytester, standin_url)
    pytester.makepyfile(test_smoke=TWO_CHECKS + "\ndef test_helper():\n    pass\n")
    result = pytester.runpytest("--deploy-target=t", "-m", "smoke", *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    assert summary(pytester)["selection"] == {"partial": False, "selected": 2, "collected": 2, "narrowed_by": []}
    assert "partial" not in ticket_heading(pytester)


def test_internal_error_is_no_go(pytester: pytest.Pytester, standin_url: str) -> None:
    """An INTERNALERROR raised by another plugin is NO-GO, and the reports are still written."""
    target(pytester, standin_url)
    pytester.makeconftest("def pytest_runtest_logfinish(nodeid):\n    raise RuntimeError('plugin broke')\n")
    pytester.makepyfile(test_smoke=TWO_CHECKS)
    result = pytester.runpytest("--deploy-target=t", *REPORTS)
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    reasons = summary(pytester)["verdict"]["reasons"]
    assert reasons[0].startswith("interrupted (internal error: RuntimeError: plugin broke)")
    assert ticket_heading(pytester).startswith("## ❌ NO-GO (interrupted after 1 of 2 checks)")


HELD_BACK = """
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.destructive
@pytest.mark.phase("features")
def test_create_item(http):
    '''An item can be created.'''
    assert http.post("/items", json={}).status_code == 201
"""


@pytest.mark.parametrize(("setting", "decision"), [("", "GO"), ('held_back = "warn"', "GO with warnings")])
def test_held_back_on_production_is_listed_not_warned(
    pytester: pytest.Pytester, standin_url: str, setting: str, decision: str
) -> None:
    """A destructive check held back on production is listed by design; it warns only with held_back = "warn"."""
    target(pytester, standin_url, f"production = true\n{setting}")
    pytester.makepyfile(test_smoke=HELD_BACK)
    result = pytester.runpytest("--deploy-target=t", *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    document = summary(pytester)
    assert document["verdict"]["decision"] == decision
    assert document["held_back"] == [{"nodeid": "test_smoke.py::test_create_item", "title": "An item can be created."}]
    ticket = (pytester.path / "r.md").read_text(encoding="utf-8")
    assert "**Not run on production (by design):**\n\n- An item can be created." in ticket
    result.stdout.fnmatch_lines(["*1 destructive check(s) not run on production (by design)*"])


def test_writes_to_production_are_listed(pytester: pytest.Pytester, standin_url: str) -> None:
    """A destructive check that ran on production is named with every write call it made, in every artifact."""
    target(pytester, standin_url, "production = true")
    pytester.makepyfile(test_smoke=HELD_BACK)
    result = pytester.runpytest("--deploy-target=t", "--allow-destructive", "--junitxml=r.xml", *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    writes = summary(pytester)["production_writes"]
    assert [(w["nodeid"], [c["action"] for c in w["calls"]]) for w in writes] == [
        ("test_smoke.py::test_create_item", ["POST /items"])
    ]
    assert "**Wrote to production (t):**" in (pytester.path / "r.md").read_text(encoding="utf-8")
    assert 'name="deploysmoke.production_write" value="test_smoke.py::test_create_item: POST /items"' in (
        pytester.path / "r.xml"
    ).read_text(encoding="utf-8")
    result.stdout.fnmatch_lines(["*WROTE TO PRODUCTION: test_smoke.py::test_create_item: POST /items*"])


WIDE_FIXTURE = """
import pytest

@pytest.fixture(scope="session")
def warmed(http):
    http.get("/status/200")
    yield
    http.get("/slow", params={"s": "0.3"})

@pytest.mark.phase("health")
def test_health(http, warmed):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_items(http, warmed):
    assert http.get("/items").status_code == 200
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]])
def test_wide_fixture_calls_belong_to_no_check(pytester: pytest.Pytester, standin_url: str, workers: list[str]) -> None:
    """A session fixture's setup and cleanup calls go to "setup and cleanup", never into a check's calls."""
    target(pytester, standin_url)
    pytester.makepyfile(test_smoke=WIDE_FIXTURE)
    result = pytester.runpytest("--deploy-target=t", *workers, *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    document = summary(pytester)
    assert {check["nodeid"]: [c["action"] for c in check["calls"]] for check in document["checks"]} == {
        "test_smoke.py::test_health": ["GET /health"],
        "test_smoke.py::test_items": ["GET /items"],
    }
    made = [c["action"] for f in document["setup_and_cleanup"] if f["fixture"] == "warmed" for c in f["calls"]]
    # once per process that used it: one without workers, one or two with two workers
    assert set(made) == {"GET /status/200", "GET /slow?s=0.3"}
    assert made.count("GET /status/200") == made.count("GET /slow?s=0.3")
    ticket = (pytester.path / "r.md").read_text(encoding="utf-8")
    assert "### Setup and cleanup" in ticket and "- `warmed`: `GET /status/200` 200" in ticket


def test_failed_cleanup_is_one_line_and_warns(pytester: pytest.Pytester, api_url: str) -> None:
    """A smoke user whose delete is refused is named, with how to purge it, in every artifact: GO with warnings."""
    config = users_toml(api_url).replace('delete_path = "/api/v1/users/{id}"', 'delete_path = "/nowhere/{id}"')
    pytester.makefile(".toml", deploysmoke=config)
    pytester.makepyfile(test_users="def test_user(smoke_user):\n    assert smoke_user.username\n")
    result = pytester.runpytest("--deploy-target=t", *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    document = summary(pytester)
    assert document["verdict"]["decision"] == "GO with warnings"
    (line,) = document["cleanup_failures"]
    assert line.startswith("smoke user smoke-") and "left behind: DELETE /nowhere/" in line and "answered 404" in line
    assert line.endswith("purge users whose name starts with 'smoke-'")
    assert line in document["verdict"]["warnings"]
    assert "Traceback" not in result.stdout.str()
    assert not any("DELETE" in c["action"] for check in document["checks"] for c in check["calls"])


SLOW_CHECK = """
import pathlib, time
import pytest

@pytest.mark.phase("health")
def test_health(http):
    assert http.get("/health").status_code == 200

@pytest.mark.phase("features")
def test_slow(http):
    pathlib.Path("started").write_text("x")
    try:
        time.sleep(60)
    finally:
        pathlib.Path("worker-stopped-cleanly").write_text("x")
"""


@pytest.mark.usefixtures("sigint_reaches_children")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_check_writes_marked_reports_and_stops_launch(
    pytester: pytest.Pytester, signum: signal.Signals
) -> None:
    """SIGTERM (a CI cancel) ends the run as Ctrl-C does: NO-GO reports saying so, and the launched service stopped."""
    standin = APPS / "standin.py"
    pytester.makefile(
        ".toml",
        deploysmoke=(
            '[targets.t]\nbase_url = "http://127.0.0.1:{port}"\n'
            f'[targets.t.launch]\ncommand = "{sys.executable} -m uvicorn standin:app --port {{port}}"\n'
            f'env = {{ PYTHONPATH = "{standin.parent}" }}\n'
        ),
    )
    pytester.makepyfile(test_smoke=SLOW_CHECK)
    pytester.makeconftest(
        "import os\n\ndef pytest_deploysmoke_verdict(config, verdict):\n"
        "    open('hook.txt', 'w').write(verdict.decision)\n"
    )
    launched: list[int] = []
    returncode, output = signal_once_started(pytester, ["--deploy-target=t"], signum, launched)
    assert launched, "the [launch] command was not running"
    assert returncode == pytest.ExitCode.INTERRUPTED, output
    name = signal.Signals(signum).name
    document = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert document["verdict"]["decision"] == "NO-GO"
    assert document["verdict"]["reasons"][0] == (
        f"interrupted ({name}) during test_smoke.py::test_slow after 1 of 2 checks"
    )
    assert (pytester.path / "hook.txt").read_text() == "NO-GO"
    assert ticket_heading(pytester).startswith("## ❌ NO-GO (interrupted after 1 of 2 checks)")
    for pid in launched:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid), f"launched process {pid} still runs"


def signal_once_started(
    pytester: pytest.Pytester, args: list[str], signum: signal.Signals, children: list[int] | None = None
) -> tuple[int, str]:
    """Run pytest in a subprocess, send *signum* once a check wrote ``started``; its exit code and output.

    *children*, when given, gets the PIDs of the run's child processes just before the signal.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", *args, *REPORTS],
        cwd=pytester.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while not (pytester.path / "started").exists():
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline, "the slow check never started"
            time.sleep(0.05)
        if children is not None:
            children += _children(process.pid)
        process.send_signal(signum)
        output = process.communicate(timeout=60)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, output


def _children(pid: int) -> list[int]:
    """The PIDs whose parent is *pid* (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _state(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}") / "status").read_text().lower()
    except OSError:
        return "zombie"


@pytest.mark.usefixtures("sigint_reaches_children")
def test_sigterm_under_xdist_interrupts_the_busy_worker(pytester: pytest.Pytester, standin_url: str) -> None:
    """Under pytest-xdist, SIGTERM reaches the worker in a long check as Ctrl-C would: it stops cleanly, not killed."""
    target(pytester, standin_url)
    pytester.makepyfile(test_smoke=SLOW_CHECK)
    returncode, output = signal_once_started(pytester, ["--deploy-target=t", "-n", "2"], signal.SIGTERM)
    assert returncode == pytest.ExitCode.INTERRUPTED, output
    # killed after execnet's timeouts, the worker would never reach the check's finally block
    assert (pytester.path / "worker-stopped-cleanly").exists(), output
    assert summary(pytester)["verdict"]["reasons"][0].startswith(
        "interrupted (SIGTERM) during test_smoke.py::test_slow"
    )
    assert ticket_heading(pytester).startswith("## ❌ NO-GO (interrupted after 1 of 2 checks)")


def test_last_failed_rerun_is_partial(pytester: pytest.Pytester, standin_url: str) -> None:
    """``--lf`` reruns part of the suite: its verdict says partial and names ``--lf``."""
    target(pytester, standin_url)
    pytester.makepyfile(test_smoke=TWO_CHECKS.replace('"/items"', '"/status/500"'))
    first = pytester.runpytest("--deploy-target=t", *REPORTS)
    assert first.ret == pytest.ExitCode.TESTS_FAILED
    assert summary(pytester)["selection"]["partial"] is False
    pytester.makepyfile(test_smoke=TWO_CHECKS)  # the fix is deployed; rerun what failed
    result = pytester.runpytest("--deploy-target=t", "--lf", *REPORTS)
    assert result.ret == pytest.ExitCode.OK
    # pytest's lfplugin narrows what it collects, as node ids do
    assert summary(pytester)["selection"] == {"partial": True, "selected": 1, "collected": 1, "narrowed_by": ["--lf"]}
    assert ticket_heading(pytester).startswith("## ✅ GO (partial: 1 of 1 checks, narrowed by --lf)")
