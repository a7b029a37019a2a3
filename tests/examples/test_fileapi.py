"""The file API example through the plugin: green on a good deploy, each bad deploy caught, production guarded."""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.fix_examples import replace_budgets
from tests.fix_pytester import without_trace
from tests.fix_servers import free_port, start_standin, stop_process

FILEAPI = Path(__file__).parents[2] / "conftest_examples" / "fileapi"
# The stand-in's own secret: the plugin does not know it, so only the checks' care keeps it out of the output.
APP_SECRET = f"fileapi-test-secret-{uuid.uuid4().hex}"
PRODUCTION_SETTINGS = {"ENVIRONMENT": "production", "DEBUG": "false", "LOG_LEVEL": "WARNING"}
FILES_BUDGET, GENEROUS_FILES_BUDGET = '"GET /files" = "500ms"', '"GET /files" = "20s"'


@pytest.fixture
def fileapi(pytester: pytest.Pytester, fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The file API suite copied into a fresh project, with its own database, data directory and admin port."""
    shutil.copytree(FILEAPI, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("FILEAPI_DATA_DIR", str(pytester.path / "data"))
    monkeypatch.setenv("FILEAPI_ADMIN_PORT", str(free_port()))
    monkeypatch.setenv("SECRET_KEY", APP_SECRET)
    for name in ("FILEAPI_FAULTS", "APP_VERSION", *PRODUCTION_SETTINGS):
        monkeypatch.delenv(name, raising=False)
    # Budgets of seconds: no run here is about speed but slow_list's, which puts its own budget back.  A /health
    # p95 of 100 ms over 20 requests, or a 500 ms list, is a threshold a loaded machine breaks now and then.
    replace_budgets(
        pytester.path / "deploysmoke.toml",
        ('"GET /health" = ["100ms", "1s"]', '"GET /health" = ["10s", "20s"]'),
        (FILES_BUDGET, GENEROUS_FILES_BUDGET),
    )
    replace_budgets(pytester.path / "test_health.py", ('HEALTH_BUDGET = "100ms"', 'HEALTH_BUDGET = "10s"'))
    return pytester


def run_fileapi(fileapi: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    """Run the suite; return the result and the JSON summary it wrote."""
    summary = fileapi.path / "summary.json"
    result = fileapi.runpytest_subprocess("-m", "smoke", "-rfEs", f"--deploy-json={summary}", *args, timeout=120)
    assert summary.exists(), (
        f"the run wrote no summary (exit code {result.ret}): {result.stdout.str()}{result.stderr.str()}"
    )
    return result, json.loads(summary.read_text(encoding="utf-8"))


def checks_by_outcome(summary: dict[str, Any], outcome: str) -> dict[str, dict[str, Any]]:
    return {check["nodeid"]: check for check in summary["checks"] if check["outcome"] == outcome}


def writes(summary: dict[str, Any]) -> list[str]:
    """Every call of the run that could change the target: anything but GET, HEAD and OPTIONS."""
    return [
        call["action"]
        for check in summary["checks"]
        for call in check["calls"]
        if call["kind"] == "http" and call["action"].split(" ")[0] not in ("GET", "HEAD", "OPTIONS")
    ]


def assert_nothing_left(dsn: str, data_dir: Path) -> None:
    """No file is recorded in the database or stored on disk: the checks deleted what they uploaded."""
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT count(*) FROM files").fetchone()
    assert row is not None and row[0] == 0, f"{row} files left in the database"
    assert not data_dir.exists() or not any(data_dir.iterdir()), f"files left on disk: {list(data_dir.iterdir())}"


def assert_no_leak(result: pytest.RunResult) -> None:
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    assert APP_SECRET not in output


def test_good_deploy_passes_every_check_and_records_transfer_times(fileapi: pytest.Pytester, fresh_db: str) -> None:
    """On a good deploy every checklist item passes, phase by phase; uploads are timed, and deleted afterwards."""
    result, summary = run_fileapi(fileapi, "--deploy-target=local")
    result.assert_outcomes(passed=14)  # with deploysmoke::version: the target sets version
    result.stdout.fnmatch_lines(
        [
            "*preflight*PASSED*(gate)*1 passed*",
            "*health*PASSED*(gate)*5 passed*",
            "*settings*PASSED*3 passed*",
            "*files*PASSED*2 passed*",
            "*security*PASSED*3 passed*",
        ]
    )
    assert_no_leak(result)
    calls = {check["nodeid"]: check["calls"] for check in summary["checks"]}
    round_trip = [call for call in calls["test_files.py::test_file_round_trip"] if "/files/smoke/" in call["action"]]
    assert [call["action"].split(" ")[0] for call in round_trip] == ["PUT", "GET", "DELETE", "GET"]
    assert all(call["ms"] > 0 for call in round_trip)
    uploads = [call for call in calls["test_files.py::test_concurrent_uploads_succeed"] if call["action"][:3] == "PUT"]
    assert len(uploads) == 4 and all(call["outcome"] == "201" for call in uploads)
    assert_nothing_left(fresh_db, fileapi.path / "data")


# fault: (the check named for it, its failure line, other checks it fails too, the gate it fails or None)
FAULTS: dict[str, tuple[str, str, set[str], str | None]] = {
    "debug_on": (
        "test_settings.py::test_error_response_has_no_stack_trace_or_settings",
        "GET /files?limit=oops answered 500 with a stack trace and a settings dump "
        "(8 settings, including DATABASE_URL=***, SECRET_KEY=***) in its body; "
        "production error pages must not show the service's insides: set DEBUG=false and redeploy",
        {
            "test_settings.py::test_service_reports_production_settings",
            "test_settings.py::test_not_found_is_a_plain_404",
            "test_security.py::test_no_secrets_in_responses_or_headers",
        },
        None,
    ),
    "download_corrupt": (
        "test_files.py::test_file_round_trip",
        "GET /files/smoke/*/round-trip.bin returned 16384 bytes that differ from the 16384 uploaded "
        "(first difference at byte 8192; SHA-256 *... instead of *...); "
        "the service changes files on the way out: check its storage and anything that rewrites bodies",
        set(),
        None,
    ),
    "slow_list": (
        "test_health.py::test_files_list_answers",
        "GET /files took *.* s, over its budget of 500 ms (status 200); "
        "is it slower since this deploy, or is the budget too tight?",
        set(),
        "health",
    ),
    "admin_port_open": (
        "test_security.py::test_private_ports_refuse_the_runner",
        "127.0.0.1:{admin_port} accepted a TCP connection from the runner, but the target lists it as private "
        "(vars.private_ports); close the port, or firewall it off from outside",
        set(),
        None,
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_bad_deploy_is_caught_by_its_check(
    fileapi: pytest.Pytester, fresh_db: str, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Each fault switch fails the check written for it, in one readable line, and leaves no upload behind."""
    check, message, also_failed, gate = FAULTS[fault]
    monkeypatch.setenv("FILEAPI_FAULTS", fault)
    if fault == "slow_list":  # the suite's own 500 ms budget, against a list that takes 1.5 s
        replace_budgets(fileapi.path / "deploysmoke.toml", (GENEROUS_FILES_BUDGET, FILES_BUDGET))
    result, summary = run_fileapi(fileapi, "--deploy-target=local")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert set(checks_by_outcome(summary, "failed")) == {check, *also_failed}
    result.stdout.fnmatch_lines([f"*{check}*"])
    result.stdout.fnmatch_lines(["*" + message.format(admin_port=os.environ["FILEAPI_ADMIN_PORT"])])
    assert_no_leak(result)
    if gate is None:
        assert "later phases not run" not in result.stdout.str()
    else:
        result.stdout.fnmatch_lines([f"*gate '{gate}' failed ({check}); later phases not run*"])
        assert {check["phase"] for check in checks_by_outcome(summary, "skipped").values()} == {
            "settings",
            "files",
            "security",
        }
    assert_nothing_left(fresh_db, fileapi.path / "data")


def test_debug_deploy_is_named_by_each_check_without_the_secret(
    fileapi: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With DEBUG on, the settings, 404 and secrets checks each say what showed, in one line, and print no secret."""
    monkeypatch.setenv("FILEAPI_FAULTS", "debug_on")
    result, summary = run_fileapi(fileapi, "--deploy-target=local", "--deploy-phase=settings,security")
    messages = {
        nodeid: without_trace(check["message"]) for nodeid, check in checks_by_outcome(summary, "failed").items()
    }
    assert messages.pop("test_settings.py::test_service_reports_production_settings") == (
        'GET /info says debug is true; expected environment="production", debug=false, log_level="WARNING": '
        "the deploy does not run with production settings, "
        "so fix ENVIRONMENT, DEBUG and LOG_LEVEL in its environment and redeploy"
    )
    assert fnmatch.fnmatchcase(
        messages.pop("test_settings.py::test_not_found_is_a_plain_404"),
        "GET /fileapi-smoke-no-such-page-* answered 404 with a DEBUG = True notice and a list of 6 routes "
        "in its 360-byte body; a production 404 is a plain body: set DEBUG=false and redeploy",
    )
    assert messages.pop("test_security.py::test_no_secrets_in_responses_or_headers") == (
        "secrets in 1 of 7 responses: GET /files?limit=oops (500): "
        "a connection string with a password and a secret setting (SECRET_KEY=***) in the body; "
        "a response must never carry secrets: turn DEBUG off, and scrub error pages and headers"
    )
    assert set(messages) == {"test_settings.py::test_error_response_has_no_stack_trace_or_settings"}
    assert_no_leak(result)


@pytest.fixture
def standing_fileapi(fileapi: pytest.Pytester) -> Iterator[str]:
    """The stand-in started by hand in production mode, as a deployed service is: no [launch] on production."""
    port = free_port()
    env = {**os.environ, **PRODUCTION_SETTINGS, "ADMIN_PORT": os.environ["FILEAPI_ADMIN_PORT"]}
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "uvicorn", "fileapi_app.main:app", "--host", "127.0.0.1", "--port", str(port)]
    process = start_standin(argv, fileapi.path, env, f"{url}/health", fileapi.path / "standin.log")
    try:
        yield url
    finally:
        stop_process(process)


def add_production_target(fileapi: pytest.Pytester, url: str, *, smoke_prefix: str | None, database: bool) -> None:
    """Append a production = true target for the hand-started stand-in to the suite's deploysmoke.toml."""
    toml = fileapi.path / "deploysmoke.toml"
    text = toml.read_text(encoding="utf-8") + f'\n[targets.prodcopy]\nbase_url = "{url}"\nproduction = true\n'
    if database:
        text += 'database_url = "${DATABASE_URL}"\n'
    text += '[targets.prodcopy.vars]\nprivate_ports = "${FILEAPI_ADMIN_PORT}"\n'
    if smoke_prefix is not None:
        text += f'smoke_prefix = "{smoke_prefix}"\n'
    text += f'[targets.prodcopy.budgets]\n"GET /health" = ["10s", "20s"]\n{GENEROUS_FILES_BUDGET}\n'
    toml.write_text(text, encoding="utf-8")


def test_production_runs_no_destructive_check_and_writes_nothing(
    fileapi: pytest.Pytester, fresh_db: str, standing_fileapi: str
) -> None:
    """On a production = true target, the upload checks are listed as not run, and not one write is sent."""
    add_production_target(fileapi, standing_fileapi, smoke_prefix="smoke/", database=True)
    result, summary = run_fileapi(fileapi, "--deploy-target=prodcopy")
    result.assert_outcomes(passed=10, skipped=2)
    result.stdout.fnmatch_lines(
        ["*2 destructive check(s) not run on production (by design): target 'prodcopy' is production*"]
    )
    assert {check["phase"] for check in checks_by_outcome(summary, "skipped").values()} == {"files"}
    assert writes(summary) == []
    assert_no_leak(result)
    assert_nothing_left(fresh_db, fileapi.path / "data")


def test_production_uploads_only_under_its_smoke_prefix_when_allowed(
    fileapi: pytest.Pytester, fresh_db: str, standing_fileapi: str
) -> None:
    """With --allow-destructive, production uploads go only under the target's smoke_prefix, and are all deleted."""
    add_production_target(fileapi, standing_fileapi, smoke_prefix="smoke-checks/", database=True)
    result, summary = run_fileapi(fileapi, "--deploy-target=prodcopy", "--allow-destructive")
    result.assert_outcomes(passed=12)
    sent = writes(summary)
    assert {action.split(" ")[0] for action in sent} == {"PUT", "DELETE"}
    assert all(action.split(" ")[1].startswith("/files/smoke-checks/") for action in sent), sent
    assert_no_leak(result)
    assert_nothing_left(fresh_db, fileapi.path / "data")


def test_production_without_smoke_prefix_or_database_skips_those_checks(
    fileapi: pytest.Pytester, fresh_db: str, standing_fileapi: str
) -> None:
    """Without smoke_prefix, uploads never run on production, even when allowed; without database_url, nor does the
    database check: each is skipped with its reason, not failed."""
    add_production_target(fileapi, standing_fileapi, smoke_prefix=None, database=False)
    result, summary = run_fileapi(fileapi, "--deploy-target=prodcopy", "--allow-destructive")
    result.assert_outcomes(passed=9, skipped=3)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] test_files.py:*: target 'prodcopy' is production and names no smoke_prefix in its vars; "
            'uploads there go only under a dedicated prefix (add smoke_prefix = "smoke/")',
            "SKIPPED [[]1[]] *: target 'prodcopy' has no database_url",
        ]
    )
    assert writes(summary) == []
    assert_no_leak(result)
    assert_nothing_left(fresh_db, fileapi.path / "data")
