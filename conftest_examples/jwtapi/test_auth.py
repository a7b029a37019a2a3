"""Auth: the smoke account gets a fresh JWT, and the API refuses a missing, expired or tampered one."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from mentoring_api import PROTECTED_PATH, b64url_decode, b64url_encode, bearer, jwt_payload

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http and authed_http

pytestmark = pytest.mark.phase("auth")

YEAR = 365 * 86_400


def smoke_account(target: Target) -> str:
    """The login name of the target's smoke account."""
    assert target.auth is not None and target.auth.username, f"target '{target.name}' has no [auth] username"
    return str(target.auth.username)


def expect_refused(response: httpx.Response, how: str, fix: str) -> None:
    """Fail unless *response* is a 401, saying what was sent (*how*), what came back, and *fix*."""
    __tracebackhide__ = True
    if response.status_code != 401:
        body = " ".join(response.text.split())[:200] or "(empty body)"
        pytest.fail(
            f"GET {response.request.url.path} {how} answered {response.status_code}, expected 401: {body}; {fix}",
            pytrace=False,
        )


def test_smoke_account_gets_a_fresh_jwt(jwt_claims: dict[str, Any], deploy_target: Target) -> None:
    """The smoke account logs in (POST /api/v1/auth/login) and gets a JWT of its own that has not expired."""
    assert jwt_claims.get("email") == smoke_account(deploy_target), f"the token is for {jwt_claims.get('email')!r}"
    assert jwt_claims.get("exp", 0) > time.time(), "the fresh token has no exp in the future"


def test_fresh_token_is_accepted(authed_http: SmokeClient, deploy_target: Target) -> None:
    """GET /api/v1/me answers 200 with a fresh token, for the smoke account."""
    expect_json(expect_status(authed_http.get(PROTECTED_PATH), 200), {"email": smoke_account(deploy_target)})


def test_missing_token_is_refused(http: SmokeClient) -> None:
    """GET /api/v1/me answers 401 without a token."""
    expect_refused(http.get(PROTECTED_PATH), "without a token", "the endpoint is not protected; is auth applied to it?")


def test_expired_token_is_refused(http: SmokeClient, expired_token: str) -> None:
    """GET /api/v1/me answers 401 with an expired token (one the API issued for a second, used after it expired)."""
    ago = time.time() - jwt_payload(expired_token)["exp"]
    expect_refused(
        http.get(PROTECTED_PATH, headers=bearer(expired_token)),
        f"with a token that expired {ago:.1f} s ago",
        "the API accepts expired tokens: does it verify exp, and is its leeway under vars.expired_token_margin?",
    )


def changed_signature(token: str) -> str:
    """The token with one character in the middle of its signature changed (the last one may only hold padding)."""
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{header}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1 :]}"


def changed_payload(token: str) -> str:
    """The token with its exp a year later, under the old signature: what an attacker would try."""
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["exp"] = int(claims.get("exp", time.time())) + YEAR
    return f"{header}.{b64url_encode(json.dumps(claims).encode())}.{signature}"


def unsigned(token: str) -> str:
    """The token re-issued with ``alg: none`` and no signature, which a careless verifier accepts."""
    _, payload, _ = token.split(".")
    header = b64url_encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{payload}."


TAMPERINGS: dict[str, tuple[str, Callable[[str], str]]] = {
    "signature": ("a character of its signature changed", changed_signature),
    "payload": ("its exp moved a year on under the old signature", changed_payload),
    "alg-none": ("alg none and no signature", unsigned),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_tampered_token_is_refused(http: SmokeClient, auth_token: str, tampering: str) -> None:
    """GET /api/v1/me answers 401 with a tampered token: a changed signature, a changed payload, or alg none."""
    how, tamper = TAMPERINGS[tampering]
    expect_refused(
        http.get(PROTECTED_PATH, headers=bearer(tamper(auth_token))),
        f"with a tampered token ({how})",
        "the API does not verify token signatures; verify them with the server's key and a fixed algorithm",
    )
