"""Auth: sign-up (off production only), login, and the logged-in user's profile."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from pytest_deploysmoke import SmokeUser, Target, expect_json, expect_status

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeClient  # the type of http and authed_http

pytestmark = pytest.mark.phase("auth")


def is_bool(value: object) -> bool:
    return isinstance(value, bool)


def is_user_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def smoke_account(target: Target) -> str:
    """The login name of the target's smoke account."""
    assert target.auth is not None and target.auth.username, f"target '{target.name}' has no [auth] username"
    return target.auth.username


def test_new_user_can_register(smoke_user: SmokeUser) -> None:
    """A test user can register (POST /api/v1/auth/register; never on production)."""
    assert is_user_id(smoke_user.id), f"register answered without a user id: {dict(smoke_user.response)}"


def test_new_user_can_log_in(smoke_user: SmokeUser, http: SmokeClient) -> None:
    """The new test user can log in (POST /api/v1/auth/login)."""
    response = http.post("/api/v1/auth/login", json=smoke_user.credentials("email", "password"))
    expect_json(expect_status(response, 200), {"token_type": "bearer"})


def test_smoke_account_can_log_in(jwt_claims: dict[str, Any], deploy_target: Target) -> None:
    """The smoke account can log in (POST /api/v1/auth/login) and gets a token of its own."""
    assert jwt_claims.get("email") == smoke_account(deploy_target)


def test_users_me_answers_for_the_smoke_account(authed_http: SmokeClient, deploy_target: Target) -> None:
    """GET /api/v1/users/me answers for the logged-in smoke account."""
    expected = {"id": is_user_id, "email": smoke_account(deploy_target), "ai_allowlisted": is_bool}
    expect_json(expect_status(authed_http.get("/api/v1/users/me"), 200), expected)
