"""The JWT API suite, proven from outside: each fault a real proxy injects between it and its stand-in is caught.

One stand-in and one proxy serve the module; each case swaps the proxy's rules and runs the whole
suite through it (tests/fix_proxy.py).  The cases are the table in docs/examples/jwtapi.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fix_proxy import Case, Rehearsal, case, rehearsal
from tests.fix_services import created_database, delete_keys

SMOKE_USER = "smoke@mentoring.example"  # the suite's default, which the stand-in seeds


@pytest.fixture(scope="module")
def jwtapi(
    tmp_path_factory: pytest.TempPathFactory, pg_dsn: str, pg_admin_dsn: str, redis_url: str, mitm_confdir: Path
) -> Iterator[Rehearsal]:
    workdir = tmp_path_factory.mktemp("jwtapi-faults")
    prefix = f"jwtapi-faults-{uuid.uuid4().hex[:10]}:"
    with created_database(pg_dsn, pg_admin_dsn) as dsn:
        env = {
            "DATABASE_URL": dsn,
            "REDIS_URL": redis_url,
            "RATE_LIMIT_PREFIX": prefix,
            "JWTAPI_FAULTS": "",
            "SMOKE_USER": SMOKE_USER,
            "SMOKE_PASSWORD": "",
            "JWT_SECRET": "",
            "APP_VERSION": "",
        }
        with rehearsal("jwtapi", workdir, env, mitm_confdir) as proxied:
            # Each run gets the search quota of a first run in its minute.
            proxied.before_each = lambda: delete_keys(redis_url, prefix)
            yield proxied


CASES = [
    case({"match": "GET /health", "kind": "status", "status": 503}, "test_health_answers_200", "503", id="health-503"),
    case(
        # The checks call /health 6 times (the version check, 3 health checks, HSTS and the security headers);
        # what fails after them is the watch window's to see: three failed health probes in a row.
        {"match": "GET /health", "kind": "status", "status": 503, "after": 6},
        None,
        "health_consecutive_failures",
        decision="ROLLBACK",
        args=("--deploy-watch=3s", "--deploy-watch-every=1s"),
        id="health-503-after-the-checks",
    ),
    case(
        {"match": "GET /health", "kind": "json", "set": {"dependencies.redis": "unavailable: ConnectionError"}},
        "test_health_reports_database_and_redis_ok",
        "redis",
        id="health-redis-down-at-200",
    ),
    case(
        {"match": "GET /health", "kind": "json", "set": {"version": "2.3.9"}},
        "deploysmoke::version",
        "2.3.9",
        id="health-old-version",
    ),
    case(
        # Only test_health_answers_200's call: the built-in version check asks /health first.
        {"match": "GET /health", "kind": "delay", "seconds": 2, "after": 1, "times": 1},
        "test_health_answers_200",
        "GET /health",
        "budget",
        id="health-slow",
    ),
    case(
        {"match": "POST /api/v1/auth/login", "kind": "status", "status": 502},
        "test_smoke_account_gets_a_fresh_jwt",
        "502",
        "/api/v1/auth/login",
        id="login-502",
    ),
    case(
        {"match": "POST /api/v1/auth/login", "kind": "json", "remove": ["access_token"]},
        "test_smoke_account_gets_a_fresh_jwt",
        "access_token",
        id="login-token-removed",
    ),
    case(
        {
            "match": "GET /api/v1/me",
            "kind": "status",
            "status": 200,
            "body": f'{{"id": 1, "email": "{SMOKE_USER}"}}',
            "content_type": "application/json",
        },
        "test_missing_token_is_refused",
        "200",
        "expected 401",
        id="me-answers-200-to-anyone",
    ),
    case(
        {"match": "GET /openapi.json", "kind": "json", "remove": ["paths./api/v1/mentors/{mentor_id}"]},
        "test_openapi_documents_every_checked_endpoint",
        "GET /api/v1/mentors/{mentor_id}",
        id="openapi-path-removed",
    ),
    case(
        {"match": "GET /openapi.json", "kind": "invalid_json"},
        "test_openapi_is_an_openapi_3_document",
        "/openapi.json",
        id="openapi-invalid-json",
    ),
    case({"match": "GET /docs", "kind": "status", "status": 404}, "test_swagger_ui_is_served", "404", id="docs-404"),
    case(
        {"match": "GET /redoc", "kind": "truncate"},
        "test_redoc_is_served",
        "/redoc",
        id="redoc-truncated",
    ),
    case(
        {"match": "*", "kind": "headers", "remove": ["Strict-Transport-Security"]},
        "test_hsts_is_at_least_180_days",
        "Strict-Transport-Security",
        "missing",
        id="hsts-removed",
    ),
    case(
        {"match": "GET /api/v1/mentors", "kind": "headers", "set": {"Strict-Transport-Security": "max-age=3600"}},
        "test_hsts_is_at_least_180_days",
        "max-age=3600",
        id="hsts-one-hour",
    ),
    case(
        {"match": "GET /docs", "kind": "headers", "remove": ["X-Frame-Options"]},
        "test_security_headers_are_set",
        "GET /docs: X-Frame-Options",
        id="docs-frame-options-removed",
    ),
    case(
        {"match": "OPTIONS /api/v1/mentors", "kind": "headers", "remove": ["Access-Control-Allow-Origin"]},
        "test_preflight_from_allowed_origin_gets_cors_headers",
        "Access-Control-Allow-Origin missing",
        id="cors-preflight-allow-origin-removed",
    ),
    case(
        # The preflight is fine; the answer itself lacks the header, so the browser withholds it from the web app.
        {"match": "GET /api/v1/mentors", "kind": "headers", "remove": ["Access-Control-Allow-Origin"]},
        "test_get_from_allowed_origin_gets_cors_headers",
        "GET /api/v1/mentors",
        "Access-Control-Allow-Origin missing",
        id="cors-get-allow-origin-removed",
    ),
    case(
        {"match": "/api/v1/mentors", "kind": "headers", "set": {"Access-Control-Allow-Origin": "*"}},
        "test_cors_never_allows_any_origin_with_credentials",
        "Access-Control-Allow-Origin: *",
        id="cors-any-origin-with-credentials",
    ),
    case(
        {"match": "GET /api/v1/mentors/search", "kind": "headers", "remove": ["Retry-After"]},
        "test_burst_past_the_rate_limit_gets_429",
        "Retry-After",
        id="search-429-without-retry-after",
    ),
    case(
        # Every cut answer is a failed call: 4 of the run's 34, over error_rate's 5%.
        {"match": "GET /api/v1/mentors", "kind": "truncate"},
        "test_read_endpoint_percentiles[/api/v1/mentors]",
        "/api/v1/mentors",
        "before the whole body came",
        decision="ROLLBACK",
        id="mentors-truncated",
    ),
    case(
        {"match": "GET /api/v1/mentors/[0-9]*", "kind": "status", "status": 500, "rate": 0.5},
        "test_read_endpoint_percentiles[/api/v1/mentors/{mentor_id}]",
        "GET /api/v1/mentors/",
        "500",
        decision="ROLLBACK",
        id="mentor-half-500",
    ),
    case(
        {"match": "GET /api/v1/mentors/[0-9]*", "kind": "status", "status": 500, "after": 5, "times": 1},
        "test_read_endpoint_percentiles[/api/v1/mentors/{mentor_id}]",
        "GET /api/v1/mentors/",
        "500",
        id="mentor-one-500",
    ),
    case(
        {"match": "GET /api/v1/me", "kind": "reset", "after": 10},
        "test_read_endpoint_percentiles[/api/v1/me]",
        "GET /api/v1/me",
        "closed the connection",
        decision="ROLLBACK",
        id="me-reset-after-10",
    ),
]


def test_a_good_deploy_through_the_proxy_is_go(jwtapi: Rehearsal) -> None:
    """The proxy itself changes nothing: with no fault, the suite's verdict is GO."""
    jwtapi.assert_go()


@pytest.mark.parametrize("case", CASES)
def test_each_fault_is_caught(jwtapi: Rehearsal, case: Case) -> None:
    jwtapi.rehearse(case)
