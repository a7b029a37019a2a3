"""The mentoring API's own smoke fixtures: an expired token the API itself issued, and a mentor's id."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import pytest
from mentoring_api import jwt_payload, setting

from pytest_deploysmoke import Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http and authed_http


@pytest.fixture(scope="session")
def expired_token(deploy_target: Target) -> str:
    """A token for the smoke account that the API issued for a second, handed over once it has expired.

    The suite holds no signing key, so it cannot make an expired token itself; an edited ``exp``
    would only be a tampered token.  The login takes ``expires_in`` (1 to 3600 s), so the suite
    asks for a token living ``vars.short_token_seconds`` and waits until its ``exp`` is
    ``vars.expired_token_margin`` seconds past, by the runner's clock: set the margin above the
    server's clock skew and any leeway it allows on ``exp``.
    """
    auth = deploy_target.auth
    if auth is None or not auth.username or not auth.password:
        pytest.skip(f"target '{deploy_target.name}' has no [auth] username and password to log in for a short token")
    lifetime = setting(deploy_target, "short_token_seconds")
    margin = setting(deploy_target, "expired_token_margin")
    body = {auth.username_field: auth.username, auth.password_field: auth.password.reveal(), "expires_in": lifetime}
    # Plain httpx rather than the http fixture: the plugin exempts only its own login from the
    # production guard, and this login must run on production too (it writes nothing).
    response = httpx.post(
        deploy_target.base_url + auth.login_path,
        json=body,
        headers=dict(deploy_target.headers),
        timeout=deploy_target.timeout,
        verify=deploy_target.verify_tls,
    )
    what = f"login POST {auth.login_path} as {auth.username} with expires_in={lifetime}"
    if response.status_code != 200:
        pytest.fail(
            f"{what} answered {response.status_code}: {' '.join(response.text.split())[:300]}; "
            "the expired-token check needs a login that issues short-lived tokens (see README.md)",
            pytrace=False,
        )
    try:
        token: object = response.json()
    except ValueError:
        token = None
    for part in auth.token_path.split("."):
        token = token.get(part) if isinstance(token, dict) else None
    exp = jwt_payload(token).get("exp") if isinstance(token, str) else None
    if not isinstance(exp, (int, float)):
        pytest.fail(f"{what} answered 200 without a JWT with an exp claim at '{auth.token_path}'", pytrace=False)
    wait = exp + margin - time.time()
    if wait > lifetime + margin + deploy_target.timeout:
        pytest.fail(
            f"{what} gave a token that expires in {exp - time.time():.0f} s, not {lifetime} s; "
            "does the login honour expires_in?",
            pytrace=False,
        )
    time.sleep(max(wait, 0.0))
    return str(token)


@pytest.fixture(scope="session")
def mentor_id(authed_http: SmokeClient) -> int:
    """The id of the first mentor in the directory, for the checks on one mentor's profile."""
    mentors = expect_json(expect_status(authed_http.get("/api/v1/mentors"), 200))
    if not isinstance(mentors, list) or not mentors or not isinstance(mentors[0], dict) or "id" not in mentors[0]:
        pytest.fail(f"GET /api/v1/mentors answered no mentor with an id: {str(mentors)[:300]}", pytrace=False)
    return int(mentors[0]["id"])
