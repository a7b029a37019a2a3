"""The file API suite, proven from outside: each fault a real proxy injects between it and its stand-in is caught.

One stand-in and one proxy serve the module; each case swaps the proxy's rules and runs the whole
suite through it (tests/fix_proxy.py).  The cases are the table in docs/examples/fileapi.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fix_examples import replace_budgets
from tests.fix_proxy import Case, Rehearsal, rehearsal
from tests.fix_servers import free_port
from tests.fix_services import created_database

#: The checklist's budgets, for the one target whose runs are about speed.
STRICT: dict[str, Any] = {"budgets": {"GET /health": ["100ms", "1s"], "GET /files": "500ms"}}


def loosen(project: Path) -> None:
    """Budgets of seconds for the runs not about speed: the proxy adds its own milliseconds."""
    replace_budgets(
        project / "deploysmoke.toml",
        ('"GET /health" = ["100ms", "1s"]', '"GET /health" = ["10s", "20s"]'),
        ('"GET /files" = "500ms"', '"GET /files" = "20s"'),
    )
    replace_budgets(project / "test_health.py", ('HEALTH_BUDGET = "100ms"', 'HEALTH_BUDGET = "10s"'))


@pytest.fixture(scope="module")
def fileapi(
    tmp_path_factory: pytest.TempPathFactory, pg_dsn: str, pg_admin_dsn: str, mitm_confdir: Path
) -> Iterator[Rehearsal]:
    workdir = tmp_path_factory.mktemp("fileapi-faults")
    with created_database(pg_dsn, pg_admin_dsn) as dsn:
        env = {
            "DATABASE_URL": dsn,
            "FILEAPI_DATA_DIR": str(workdir / "data"),
            "FILEAPI_ADMIN_PORT": str(free_port()),
            "SECRET_KEY": f"fileapi-faults-{uuid.uuid4().hex}",
            "FILEAPI_FAULTS": "",
            "APP_VERSION": "",
        }
        targets: dict[str, dict[str, Any]] = {"strict": STRICT, "retrying": {"retries": 2}}
        with rehearsal("fileapi", workdir, env, mitm_confdir, prepare=loosen, targets=targets) as fileapi:
            yield fileapi


CASES = [
    pytest.param(
        # The deploy never gets ready: every call answers 503 while the run waits for it.
        Case(
            ({"match": "*", "kind": "status", "status": 503},),
            None,
            ("not ready", "503"),
            args=("--deploy-wait=2",),
        ),
        id="never-ready",
    ),
    pytest.param(
        Case(({"match": "GET /health", "kind": "status", "status": 503},), "test_health_answers_200", ("503",)),
        id="health-503",
    ),
    pytest.param(
        Case(
            ({"match": "GET /health", "kind": "json", "set": {"status": "degraded"}},),
            "test_health_answers_200",
            ("degraded",),
        ),
        id="health-degraded-at-200",
    ),
    pytest.param(
        Case(
            ({"match": "GET /health", "kind": "json", "set": {"version": "2.3.9"}},), "deploysmoke::version", ("2.3.9",)
        ),
        id="health-old-version",
    ),
    pytest.param(
        # The latency samples lose their connections: 18 of the run's 43 requests, over error_rate's 5%.
        Case(
            ({"match": "GET /health", "kind": "reset", "after": 5},),
            "test_health_answers_200",
            ("GET /health", "closed the connection"),
            decision="ROLLBACK",
        ),
        id="health-reset-after-5",
    ),
    pytest.param(
        Case(({"match": "GET /files", "kind": "truncate"},), "test_files_list_answers", ("/files",)),
        id="files-truncated",
    ),
    pytest.param(
        Case(({"match": "GET /files", "kind": "invalid_json"},), "test_files_list_answers", ("/files",)),
        id="files-invalid-json",
    ),
    pytest.param(
        Case(
            ({"match": "GET /files", "kind": "delay", "seconds": 2},),
            "test_files_list_answers",
            ("GET /files", "500"),
            target="strict",
        ),
        id="files-slow",
    ),
    pytest.param(
        Case(
            ({"match": "GET /files", "kind": "status", "status": 503, "rate": 0.3},),
            # Every check passes on a retry, as in a real run with retries = 2; the retries themselves are the
            # finding (max_retried), and the failed attempts are over error_rate's 5%.
            None,
            ("GET /files needed a retry on", "max_retried 10%", "error_rate"),
            decision="ROLLBACK",
            target="retrying",
        ),
        id="files-30-percent-503-with-retries",
    ),
    pytest.param(
        Case(
            ({"match": "GET /info", "kind": "json", "set": {"debug": True}},),
            "test_service_reports_production_settings",
            ("debug",),
        ),
        id="info-debug-on",
    ),
    pytest.param(
        Case(
            ({"match": "GET /files/smoke/*", "kind": "headers", "remove": ["X-Checksum-SHA256"]},),
            "test_file_round_trip",
            ("X-Checksum-SHA256",),
        ),
        id="download-checksum-header-removed",
    ),
    pytest.param(
        # 10 of the run's ~46 requests fail: over the example's error_rate rule (5%), so ROLLBACK.
        Case(
            ({"match": "PUT /files/*", "kind": "status", "status": 500},),
            "test_file_round_trip",
            ("500",),
            decision="ROLLBACK",
        ),
        id="upload-500",
    ),
    pytest.param(
        # The round trip's own delete, and every cleanup delete: over error_rate's 5%, so ROLLBACK.
        Case(
            ({"match": "DELETE /files/*", "kind": "status", "status": 500},),
            "test_file_round_trip",
            ("DELETE", "500"),
            decision="ROLLBACK",
        ),
        id="delete-500",
    ),
    pytest.param(
        Case(({"match": "GET /docs", "kind": "status", "status": 404},), "test_docs_page_loads", ("404",)),
        id="docs-404",
    ),
    pytest.param(
        Case(
            ({"match": "*", "kind": "headers", "set": {"Server": "nginx/1.18.0"}},),
            "test_no_secrets_in_responses_or_headers",
            ("server header",),
        ),
        id="server-version-header-added",
    ),
]


def test_a_good_deploy_through_the_proxy_is_go(fileapi: Rehearsal) -> None:
    """The proxy itself changes nothing: with no fault, the suite's verdict is GO."""
    fileapi.assert_go()


@pytest.mark.parametrize("case", CASES)
def test_each_fault_is_caught(fileapi: Rehearsal, case: Case) -> None:
    fileapi.rehearse(case)
