"""auth_token, jwt_claims, authed_http and authed_ahttp against the JWT stand-in."""

from __future__ import annotations

import pytest

from tests.apps.api import USER_EMAIL, USER_PASSWORD
from tests.fix_pytester import recorded_calls, recorded_fixture_calls


def auth_toml(
    url: str, *, login_path: str = "/api/v1/auth/login", password: str = "${SMOKE_PASSWORD}", extra: str = ""
) -> str:
    return (
        f'[targets.t]\nbase_url = "{url}"\ntimeout = 2.0\n{extra}\n'
        f'[targets.t.auth]\nlogin_path = "{login_path}"\nusername = "{USER_EMAIL}"\n'
        f'password = "{password}"\nusername_field = "email"\n'
    )


@pytest.fixture
def smoke_password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SMOKE_PASSWORD", USER_PASSWORD)
    return USER_PASSWORD


CHECKS = """
import pytest

@pytest.mark.phase("auth")
def test_me(authed_http):
    assert authed_http.get("/api/v1/users/me").json()["email"] == "smoke@example.com"

@pytest.mark.phase("auth")
def test_claims(jwt_claims):
    assert jwt_claims["sub"] == "smoke@example.com"

@pytest.mark.phase("auth")
@pytest.mark.asyncio
async def test_me_async(authed_ahttp):
    assert (await authed_ahttp.get("/api/v1/users/me")).status_code == 200

@pytest.mark.phase("features")
def test_after_auth(http):
    assert http.get("/api/v1/users/me").status_code == 401
"""


def test_login_once_and_use_the_token(pytester: pytest.Pytester, api_url: str, smoke_password: str) -> None:
    """The login happens once per session, recorded under the fixture that first needed it (authed_http), not a
    check; the authed clients and auth_token share it."""
    pytester.makefile(".toml", deploysmoke=auth_toml(api_url))
    pytester.makepyfile(test_auth=CHECKS)
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=4)
    logins = [
        (fixture, call["action"])
        for fixture in ("authed_http", "auth_token", "_auth_session")
        for call in recorded_fixture_calls(reprec, fixture)
    ]
    assert logins == [("authed_http", "POST /api/v1/auth/login")]
    assert not [call for call in recorded_calls(reprec) if call["action"] == "POST /api/v1/auth/login"]


def test_failed_login_shows_status_and_redacted_body(
    pytester: pytest.Pytester, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong password fails the auth check with the status and a body that never shows the password."""
    # Not "wrong-password-...": 8 characters of a long secret are masked everywhere, the word "password" too.
    monkeypatch.setenv("SMOKE_PASSWORD", "wrong-pw-4711-xyz")
    pytester.makefile(".toml", deploysmoke=auth_toml(api_url))
    pytester.makepyfile(test_auth=CHECKS)
    result = pytester.runpytest("--deploy-target=t", "-rs")
    result.assert_outcomes(errors=3, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "login POST /api/v1/auth/login (JSON body: email, password) as smoke@example.com answered 401: "
            '{"detail":"invalid credentials","echo_password":"***"}; check [[]targets.t.auth] username and password',
        ]
    )
    result.stdout.fnmatch_lines(["*gate 'auth' failed (test_auth.py::test_me); later phases not run*"])
    assert "wrong-pw-4711-xyz" not in result.stdout.str() + result.stderr.str()


def test_expired_token_fails_clearly(pytester: pytest.Pytester, api_url: str, smoke_password: str) -> None:
    """A JWT that is already expired fails auth_token with when it expired."""
    pytester.makefile(".toml", deploysmoke=auth_toml(api_url, login_path="/api/v1/auth/login-expired"))
    pytester.makepyfile(test_auth="def test_me(auth_token):\n    pass\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "the bearer token is already expired (exp * UTC, * s ago); check the login endpoint (or the configured token) and the server's clock"
        ]
    )


def test_opaque_token_has_no_claims(pytester: pytest.Pytester, api_url: str, smoke_password: str) -> None:
    """A token that is not a JWT works for requests; jwt_claims skips with the reason."""
    pytester.makefile(".toml", deploysmoke=auth_toml(api_url, login_path="/api/v1/auth/login-opaque"))
    pytester.makepyfile(test_auth=CHECKS.replace('@pytest.mark.phase("auth")\ndef test_claims', "def test_claims"))
    result = pytester.runpytest("--deploy-target=t", "-rs")
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["*the target's token is not a JWT, so it has no claims to read*"])


def test_static_token_skips_login(pytester: pytest.Pytester, api_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured token is used as is, without a login call, and never shown."""
    import httpx

    token = httpx.post(f"{api_url}/api/v1/auth/login-opaque", json={}).json()["access_token"]
    monkeypatch.setenv("SMOKE_TOKEN", token)
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\n[targets.t.auth]\ntoken = "${{SMOKE_TOKEN}}"\n',
    )
    pytester.makepyfile(
        test_auth="def test_me(authed_http):\n    r = authed_http.get('/api/v1/users/me')\n"
        "    assert r.status_code == 200\n    print(r.request.headers)\n    assert False\n"
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    assert token not in result.stdout.str()
    result.stdout.fnmatch_lines(["*'authorization': '***'*"])


def test_missing_auth_section_skips_with_reason(pytester: pytest.Pytester, api_url: str) -> None:
    """A target without [auth] skips checks that need a token, saying what is missing."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{api_url}"\n')
    pytester.makepyfile(test_auth="def test_me(authed_http):\n    pass\n")
    result = pytester.runpytest("--deploy-target=t", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*target 't' has no [[]auth] section (login_path, username, password or token)*"])


def test_token_path_missing_names_keys(pytester: pytest.Pytester, api_url: str, smoke_password: str) -> None:
    """A token_path that is not in the login response lists the keys that are."""
    pytester.makefile(".toml", deploysmoke=auth_toml(api_url) + 'token_path = "data.jwt"\n')
    pytester.makepyfile(test_auth="def test_me(auth_token):\n    pass\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*answered 200 without a token at 'data.jwt' (top-level keys: access_token, data, token_type); set token_path to where the token is"
        ]
    )


def test_dotted_token_path(pytester: pytest.Pytester, api_url: str, smoke_password: str) -> None:
    """token_path follows dots into the login response."""
    pytester.makefile(".toml", deploysmoke=auth_toml(api_url) + 'token_path = "data.token"\n')
    pytester.makepyfile(
        test_auth="def test_me(authed_http):\n    assert authed_http.get('/api/v1/users/me').status_code == 200\n"
    )
    pytester.inline_run("--deploy-target=t").assertoutcome(passed=1)


def test_login_is_allowed_on_production(pytester: pytest.Pytester, api_url: str, smoke_password: str) -> None:
    """The login POST is the guard's one built-in exception on a production target."""
    pytester.makefile(".toml", deploysmoke=auth_toml(api_url, extra="production = true"))
    pytester.makepyfile(
        test_auth="def test_me(authed_http):\n    assert authed_http.get('/api/v1/users/me').status_code == 200\n"
    )
    pytester.inline_run("--deploy-target=t").assertoutcome(passed=1)
