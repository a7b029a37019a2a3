"""The jwtapi example through the plugin: green on a good deploy, each bad deploy caught, prod untouched."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.fix_servers import free_port, start_standin, stop_process
from tests.fix_services import row_counts

JWTAPI = Path(__file__).parents[2] / "conftest_examples" / "jwtapi"
TABLES = ("users", "mentors")
SMOKE_PASSWORD = "smoke-Pw-4711-zq"  # the example's default, which the launched stand-in seeds
JWT_SECRET = "jwtapi-local-demo-secret-not-for-real-use"


@pytest.fixture
def rate_limit_prefix() -> str:
    """A Redis key prefix of this test's own, so runs in parallel never share a rate-limit window."""
    return f"jwtapi-test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def jwtapi(
    pytester: pytest.Pytester, fresh_db: str, redis_url: str, rate_limit_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """The jwtapi suite copied into a fresh project, pointed at its own database and rate-limit keys."""
    shutil.copytree(JWTAPI, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RATE_LIMIT_PREFIX", rate_limit_prefix)
    for name in ("JWTAPI_FAULTS", "SMOKE_USER", "SMOKE_PASSWORD", "JWT_SECRET", "APP_VERSION"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def run_jwtapi(jwtapi: pytest.Pytester, *args: str) -> pytest.RunResult:
    return jwtapi.runpytest_subprocess("--deploy-target=local", "-m", "smoke", "-rfEs", *args, timeout=120)


def rate_limit_keys(redis_url: str, prefix: str) -> list[str]:
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5, decode_responses=True)
    try:
        return sorted(client.scan_iter(match=f"{prefix}*"))
    finally:
        client.close()


def assert_readable(result: pytest.RunResult) -> None:
    """No traceback, no internal error, and no secret (password, signing key, JWT) in the output."""
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output and "INTERNALERROR" not in output
    for secret in (SMOKE_PASSWORD, JWT_SECRET, "eyJ"):
        assert secret not in output, f"{secret[:6]}... appears in the output"


def test_good_deploy_passes_every_check(jwtapi: pytest.Pytester, redis_url: str, rate_limit_prefix: str) -> None:
    """On a good deploy every checklist item passes, phase by phase, and the burst used the run's own key."""
    result = run_jwtapi(jwtapi)
    result.assert_outcomes(passed=26)  # with deploysmoke::version: the target sets version
    result.stdout.fnmatch_lines(
        [
            "*preflight*PASSED*(gate)*1 passed*",
            "*health*PASSED*(gate)*4 passed*",
            "*auth*PASSED*(gate)*7 passed*",
            "*docs*PASSED*4 passed*",
            "*security*PASSED*7 passed*",
            "*performance*PASSED*3 passed*",
            "deploysmoke verdict: GO",
        ]
    )
    assert_readable(result)
    assert rate_limit_keys(redis_url, rate_limit_prefix) == [f"{rate_limit_prefix}search:1"]


GATE_SKIPS = 14  # the docs, security and performance checks behind the auth gate

FAULTS = {
    "hsts_missing": (
        "test_security.py::test_hsts_is_at_least_180_days",
        "Strict-Transport-Security is missing or too short: GET /health: missing; GET /api/v1/mentors: missing; "
        "GET /docs: missing; expected max-age of at least 15552000 s (180 days); "
        "set it in the app or at the TLS proxy in front of it",
        None,
    ),
    "cors_any_origin": (
        "test_security.py::test_preflight_from_unknown_origin_is_refused",
        "OPTIONS /api/v1/mentors preflight from unknown origin https://evil.example answered 200 with "
        "Access-Control-Allow-Origin: https://evil.example, Access-Control-Allow-Credentials: true; "
        "any web site may call the API with its visitors' credentials; "
        "allow only the web app's origins (vars.cors_allowed_origins)",
        None,
    ),
    "rate_limit_off": (
        "test_security.py::test_burst_past_the_rate_limit_gets_429",
        "11 requests GET /api/v1/mentors/search?q=postgresql in * s against a limit of 10 a minute "
        "answered 200 x11, expected 200s then a 429; is the rate limiter on, and does it reach its store (Redis)?",
        None,
    ),
    "expired_token_accepted": (
        "test_auth.py::test_expired_token_is_refused",
        "GET /api/v1/me with a token that expired * s ago answered 200, expected 401: "
        '{"id":1,"email":"smoke@mentoring.example"}; the API accepts expired tokens: '
        "does it verify exp, and is its leeway under vars.expired_token_margin?",
        "auth",
    ),
    "openapi_missing_path": (
        "test_api_docs.py::test_openapi_documents_every_checked_endpoint",
        "GET /openapi.json does not document GET /api/v1/mentors/{mentor_id} (it has 5 paths: "
        "/api/v1/auth/login, /api/v1/me, /api/v1/mentors, /api/v1/mentors/search, /health); "
        "document every endpoint the API serves, or take the endpoint out of CHECKED_ENDPOINTS in mentoring_api.py",
        None,
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_each_bad_deploy_is_caught_by_its_check(
    jwtapi: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """Each fault switch fails the one check written for it, readably; a fault in a gate skips later phases."""
    check, message, gate = FAULTS[fault]
    monkeypatch.setenv("JWTAPI_FAULTS", fault)
    result = run_jwtapi(jwtapi)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"FAILED {check} - *"])
    result.stdout.fnmatch_lines([message])  # the FAILURES section: the one line, nothing above it
    assert_readable(result)
    if gate is None:
        result.assert_outcomes(passed=25, failed=1)
        assert "later phases not run" not in result.stdout.str()
    else:
        result.assert_outcomes(passed=26 - 1 - GATE_SKIPS, failed=1, skipped=GATE_SKIPS)
        result.stdout.fnmatch_lines([f"*gate '{gate}' failed ({check}); later phases not run*"])


@pytest.fixture
def standing_jwtapi(jwtapi: pytest.Pytester) -> Iterator[str]:
    """The stand-in started by hand, as a deployed service is (no [launch]), with its default CORS origins."""
    port = free_port()
    env = {
        **os.environ,
        "JWT_SECRET": "jwtapi-production-copy-secret-0123456789",
        "SMOKE_USER": "smoke@mentoring.example",
        "SMOKE_PASSWORD": SMOKE_PASSWORD,
    }
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "jwtapi_app.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = start_standin(argv, jwtapi.path, env, f"{url}/livez", jwtapi.path / "standin.log")
    try:
        yield url
    finally:
        stop_process(process)


def test_production_copy_runs_no_destructive_check_and_writes_nothing(
    jwtapi: pytest.Pytester, fresh_db: str, redis_url: str, rate_limit_prefix: str, standing_jwtapi: str
) -> None:
    """Against a production = true copy, the rate-limit burst is listed as not run, the CORS preflights
    (OPTIONS) and the short-lived login pass the guard, and neither a table nor Redis gains anything."""
    toml = jwtapi.path / "deploysmoke.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8")
        + f"""
[targets.prodcopy]
base_url = "{standing_jwtapi}"
production = true
version = "2.4.0"
timeout = 5

[targets.prodcopy.vars]
cors_allowed_origins = ["https://app.mentoring.example"]
cors_unknown_origin = "https://evil.example"
cors_allow_credentials = true
hsts_min_max_age = 15552000
rate_limit = 10
short_token_seconds = 1
expired_token_margin = 1

[targets.prodcopy.vars.security_headers]
X-Content-Type-Options = ["nosniff"]
X-Frame-Options = ["DENY", "SAMEORIGIN"]
Referrer-Policy = ["strict-origin-when-cross-origin"]

[targets.prodcopy.auth]
login_path = "/api/v1/auth/login"
username = "smoke@mentoring.example"
password = "{SMOKE_PASSWORD}"
username_field = "email"
""",
        encoding="utf-8",
    )
    before = row_counts(fresh_db, TABLES)
    result = jwtapi.runpytest_subprocess("--deploy-target=prodcopy", "-m", "smoke", "-rs", timeout=120)
    result.assert_outcomes(passed=24, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*auth*PASSED*(gate)*7 passed*",
            "*security*PASSED*6 passed, 1 skipped*",
            "*1 destructive check(s) not run on production (by design): target 'prodcopy' is production*",
            "*test_security.py::test_burst_past_the_rate_limit_gets_429*",
        ]
    )
    assert_readable(result)
    assert row_counts(fresh_db, TABLES) == before
    assert rate_limit_keys(redis_url, rate_limit_prefix) == []


@pytest.mark.parametrize(("target", "outcomes"), [("staging", {"passed": 26}), ("prod", {"passed": 25, "skipped": 1})])
def test_deploy_targets_pointed_at_a_standing_stand_in_are_go(
    jwtapi: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    standing_jwtapi: str,
    target: str,
    outcomes: dict[str, int],
) -> None:
    """staging and prod pointed at a stand-in started by hand are GO: its default CORS origins are every target's."""
    monkeypatch.setenv("JWTAPI_STAGING_URL", standing_jwtapi)
    monkeypatch.setenv("JWTAPI_PROD_URL", standing_jwtapi)
    monkeypatch.setenv("SMOKE_PASSWORD", SMOKE_PASSWORD)
    monkeypatch.setenv("RELEASE_VERSION", "2.4.0")
    result = jwtapi.runpytest_subprocess(f"--deploy-target={target}", "-m", "smoke", "-rfEs", timeout=120)
    result.assert_outcomes(**outcomes)
    result.stdout.fnmatch_lines(["*security*PASSED*", "deploysmoke verdict: GO"])
    assert_readable(result)
