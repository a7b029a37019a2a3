"""smoke_user registers a throwaway user with a recognisable prefix and deletes it afterwards."""

from __future__ import annotations

import httpx
import pytest

from tests.apps.api import USER_EMAIL, USER_PASSWORD
from tests.fix_api import users_toml


def smoke_users(api_url: str) -> list[str]:
    token = httpx.post(f"{api_url}/api/v1/auth/login", json={"email": USER_EMAIL, "password": USER_PASSWORD}).json()[
        "access_token"
    ]
    users = httpx.get(
        f"{api_url}/api/v1/admin/users", params={"prefix": "smoke-"}, headers={"Authorization": f"Bearer {token}"}
    ).json()
    return [u["email"] for u in users]


CHECKS = """
import pytest

def test_register_and_login(smoke_user, http):
    assert smoke_user.username.startswith("smoke-") and smoke_user.username.endswith("@example.com")
    login = http.post("/api/v1/auth/login", json=smoke_user.credentials())
    assert login.status_code == 200
    print("created", smoke_user.username, smoke_user.password.reveal())

def test_marked_destructive(request, smoke_user):
    assert request.node.get_closest_marker("destructive") is not None
"""


def test_smoke_user_is_created_and_deleted(pytester: pytest.Pytester, api_url: str) -> None:
    """The user exists during the run, carries the prefix, and is gone after it; its password never shows."""
    before = set(smoke_users(api_url))
    pytester.makefile(".toml", deploysmoke=users_toml(api_url))
    pytester.makepyfile(test_users=CHECKS)
    result = pytester.runpytest("--deploy-target=t", "-rA")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["created smoke-*@example.com ***"])
    assert set(smoke_users(api_url)) == before


def test_smoke_user_never_on_production(pytester: pytest.Pytester, api_url: str) -> None:
    """On production the checks using smoke_user are destructive and do not run; with --allow-destructive the fixture still refuses."""
    pytester.makefile(".toml", deploysmoke=users_toml(api_url, extra="production = true"))
    pytester.makepyfile(test_users=CHECKS)
    result = pytester.runpytest("--deploy-target=t", "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["*2 destructive check(s) not run on production (by design): target 't' is production*"]
    )
    result = pytester.runpytest("--deploy-target=t", "-rs", "--allow-destructive")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        ["*smoke_user registers a throwaway user, which is never done on production target 't'*"]
    )


def test_failed_registration_is_reported(pytester: pytest.Pytester, api_url: str) -> None:
    """A register call that is refused fails with the status and the body."""
    pytester.makefile(
        ".toml",
        deploysmoke=users_toml(api_url).replace(
            'register_path = "/api/v1/auth/register"', 'register_path = "/status/409"'
        ),
    )
    pytester.makepyfile(test_users="def test_user(smoke_user):\n    pass\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "register POST /status/409 as smoke-*@example.com answered 405: Method Not Allowed; check [[]smoke_user] register_path*"
        ]
    )


def test_missing_section_skips(pytester: pytest.Pytester, api_url: str) -> None:
    """A target without [smoke_user] skips the check, naming what is missing."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\n')
    pytester.makepyfile(test_users="def test_user(smoke_user):\n    pass\n")
    result = pytester.runpytest("--deploy-target=t", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*target 't' has no [[]smoke_user] section with a register_path*"])
