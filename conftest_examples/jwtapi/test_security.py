"""Security: CORS for the web app's origins only, HSTS and the security headers, and an active rate limiter."""

from __future__ import annotations

import re
import time
from itertools import groupby
from typing import TYPE_CHECKING

import httpx
import pytest
from mentoring_api import CORS_PATH, HEADER_PATHS, RATE_LIMITED_PATH, setting

from pytest_deploysmoke import Target

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http and authed_http

pytestmark = pytest.mark.phase("security")

DAY = 86_400
MAX_AGE = re.compile(r"(?:^|;)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:;|$)", re.IGNORECASE)
FRAME_ANCESTORS = re.compile(r"(?:^|;)\s*frame-ancestors\s", re.IGNORECASE)


def preflight(http: SmokeClient, origin: str) -> httpx.Response:
    """A browser's CORS preflight for a GET with a bearer token from *origin*."""
    request_headers = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    response: httpx.Response = http.options(CORS_PATH, headers={"Origin": origin, **request_headers})
    return response


def listed(value: str | None) -> set[str]:
    """The items of a comma-separated header, lower-cased."""
    return {item.strip().lower() for item in (value or "").split(",") if item.strip()}


def shown(value: str | None) -> str:
    return "missing" if value is None else repr(value)


def test_preflight_from_allowed_origin_gets_cors_headers(http: SmokeClient, deploy_target: Target) -> None:
    """A CORS preflight from each allowed origin gets the right Access-Control-Allow-* headers."""
    credentials = "true" if setting(deploy_target, "cors_allow_credentials") else None
    problems = []
    for origin in setting(deploy_target, "cors_allowed_origins"):
        response = preflight(http, origin)
        got = response.headers
        wrong = []
        if response.status_code not in (200, 204):
            wrong.append(f"status {response.status_code}")
        wrong += origin_problems(got, origin, credentials)
        if "get" not in listed(got.get("access-control-allow-methods")):
            wrong.append(f"Access-Control-Allow-Methods {shown(got.get('access-control-allow-methods'))} without GET")
        if "authorization" not in listed(got.get("access-control-allow-headers")):
            headers = got.get("access-control-allow-headers")
            wrong.append(f"Access-Control-Allow-Headers {shown(headers)} without Authorization")
        if wrong:
            problems.append(f"{origin}: {', '.join(wrong)}")
    if problems:
        expected = "the origin itself, GET, Authorization" + (", credentials true" if credentials else "")
        pytest.fail(
            f"OPTIONS {CORS_PATH} preflight from {'; from '.join(problems)}; expected {expected}; "
            "check the API's CORS allowed origins, methods and headers",
            pytrace=False,
        )


def origin_problems(got: httpx.Headers, origin: str, credentials: str | None) -> list[str]:
    """What an answer to *origin* says wrong about the origin and credentials (empty: nothing)."""
    wrong = []
    if got.get("access-control-allow-origin") != origin:
        wrong.append(f"Access-Control-Allow-Origin {shown(got.get('access-control-allow-origin'))}")
    if got.get("access-control-allow-credentials") != credentials:
        wrong.append(f"Access-Control-Allow-Credentials {shown(got.get('access-control-allow-credentials'))}")
    return wrong


def test_get_from_allowed_origin_gets_cors_headers(authed_http: SmokeClient, deploy_target: Target) -> None:
    """A GET from each allowed origin gets Access-Control-Allow-Origin (and -Credentials) on the answer itself."""
    credentials = "true" if setting(deploy_target, "cors_allow_credentials") else None
    problems = []
    for origin in setting(deploy_target, "cors_allowed_origins"):
        got = authed_http.get(CORS_PATH, headers={"Origin": origin}).headers
        if wrong := origin_problems(got, origin, credentials):
            problems.append(f"{origin}: {', '.join(wrong)}")
    if problems:
        expected = "the origin itself" + (", credentials true" if credentials else "")
        pytest.fail(
            f"GET {CORS_PATH} from {'; from '.join(problems)}; expected {expected}; "
            "a good preflight is not enough: the browser hands the answer to the web app only with these headers on it",
            pytrace=False,
        )


def test_preflight_from_unknown_origin_is_refused(http: SmokeClient, deploy_target: Target) -> None:
    """A CORS preflight from an unknown origin does not get Access-Control-Allow-Origin for it."""
    origin = setting(deploy_target, "cors_unknown_origin")
    response = preflight(http, origin)
    allowed = response.headers.get("access-control-allow-origin")
    if allowed in (origin, "*"):
        with_credentials = response.headers.get("access-control-allow-credentials") == "true"
        pytest.fail(
            f"OPTIONS {CORS_PATH} preflight from unknown origin {origin} answered {response.status_code} "
            f"with Access-Control-Allow-Origin: {allowed}"
            + (", Access-Control-Allow-Credentials: true" if with_credentials else "")
            + "; any web site may call the API"
            + (" with its visitors' credentials" if with_credentials else "")
            + "; allow only the web app's origins (vars.cors_allowed_origins)",
            pytrace=False,
        )


def test_cors_never_allows_any_origin_with_credentials(http: SmokeClient, deploy_target: Target) -> None:
    """CORS never answers Access-Control-Allow-Origin: * together with Access-Control-Allow-Credentials: true."""
    origins = [*setting(deploy_target, "cors_allowed_origins"), setting(deploy_target, "cors_unknown_origin")]
    both = []
    for origin in origins:
        answers = {"OPTIONS": preflight(http, origin), "GET": http.get(CORS_PATH, headers={"Origin": origin})}
        for method, response in answers.items():
            got = response.headers
            if got.get("access-control-allow-origin") == "*" and got.get("access-control-allow-credentials") == "true":
                both.append(f"{method} from {origin}")
    if both:
        pytest.fail(
            f"{CORS_PATH} answered Access-Control-Allow-Origin: * with Access-Control-Allow-Credentials: true "
            f"to {', '.join(both)}; browsers refuse that, and it shows an allow-all CORS setting; "
            "list the allowed origins instead",
            pytrace=False,
        )


def test_hsts_is_at_least_180_days(authed_http: SmokeClient, deploy_target: Target) -> None:
    """Strict-Transport-Security is sent with a max-age of at least 180 days."""
    minimum = int(setting(deploy_target, "hsts_min_max_age"))
    problems = []
    for path in HEADER_PATHS:
        value = authed_http.get(path).headers.get("strict-transport-security")
        match = MAX_AGE.search(value or "")
        if value is None or match is None or int(match[1]) < minimum:
            problems.append(f"GET {path}: {shown(value)}")
    if problems:
        pytest.fail(
            f"Strict-Transport-Security is missing or too short: {'; '.join(problems)}; "
            f"expected max-age of at least {minimum} s ({minimum / DAY:g} days); "
            "set it in the app or at the TLS proxy in front of it",
            pytrace=False,
        )


def test_security_headers_are_set(authed_http: SmokeClient, deploy_target: Target) -> None:
    """X-Content-Type-Options, X-Frame-Options (or a CSP frame-ancestors) and Referrer-Policy are set."""
    expected: dict[str, list[str]] = setting(deploy_target, "security_headers")
    problems = []
    for path in HEADER_PATHS:
        got = authed_http.get(path).headers
        for name, allowed in expected.items():
            value = got.get(name)
            if name.lower() == "x-frame-options" and FRAME_ANCESTORS.search(got.get("content-security-policy", "")):
                continue  # CSP frame-ancestors supersedes X-Frame-Options
            if value is None or value.strip().lower() not in {a.lower() for a in allowed}:
                problems.append(f"GET {path}: {name} {shown(value)} (expected {' or '.join(allowed)})")
    if problems:
        pytest.fail(
            f"security headers missing or wrong: {'; '.join(problems)}; "
            "set them in the app or the proxy, or adapt vars.security_headers",
            pytrace=False,
        )


def runs(statuses: list[int]) -> str:
    """``200 x10, 429 x1``: the statuses in order, repeats counted."""
    return ", ".join(f"{status} x{len(list(group))}" for status, group in groupby(statuses))


# It spends the runner's search quota for a minute, and on production that of everyone behind its IP.
@pytest.mark.destructive
def test_burst_past_the_rate_limit_gets_429(authed_http: SmokeClient, deploy_target: Target) -> None:
    """Rate limiting is active: a burst just past the limit (11 against 10 a minute) gets 429 with Retry-After."""
    limit = int(setting(deploy_target, "rate_limit"))
    statuses: list[int] = []
    throttled = None
    started = time.monotonic()
    for _ in range(limit + 1):
        response = authed_http.get(RATE_LIMITED_PATH, params={"q": "postgresql"})
        statuses.append(response.status_code)
        if response.status_code == 429:
            throttled = response
            break
    what = (
        f"{len(statuses)} requests GET {RATE_LIMITED_PATH}?q=postgresql in {time.monotonic() - started:.1f} s "
        f"against a limit of {limit} a minute answered {runs(statuses)}"
    )
    if throttled is None or any(status not in (200, 429) for status in statuses):
        pytest.fail(
            f"{what}, expected 200s then a 429; is the rate limiter on, and does it reach its store (Redis)?",
            pytrace=False,
        )
    retry_after = throttled.headers.get("retry-after", "")
    if not retry_after.isdigit() or int(retry_after) < 1:
        pytest.fail(
            f"{what}, but the 429 has Retry-After {shown(throttled.headers.get('retry-after'))}; "
            "expected the seconds to wait, so clients can back off",
            pytrace=False,
        )
