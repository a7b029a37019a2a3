"""Logins as services implement them, against the logins stand-in: each way through [auth], passing and failing."""

from __future__ import annotations

import base64

import pytest

from tests.apps import logins
from tests.apps.logins import API_KEY, CLIENT_ID, CLIENT_SECRET, PASSWORD, SHORT_CLIENT_ID, USERNAME
from tests.fix_logins import logins_toml
from tests.fix_pytester import recorded_calls, recorded_fixture_calls

FORM_LOGIN = f'login_path = "/form/token"\nbody = "form"\nusername = "{USERNAME}"\npassword = "{PASSWORD}"\n'
PASSWORD_GRANT = (
    f'grant = "password"\ntoken_url = "/form/token"\nusername = "{USERNAME}"\npassword = "{PASSWORD}"\n'
    f'scope = "read write"\nclient_id = "web"\nclient_auth = "body"\n'
)
CLIENT_CREDENTIALS = (
    f'grant = "client_credentials"\ntoken_url = "/oauth/token"\nclient_id = "{CLIENT_ID}"\n'
    f'client_secret = "{CLIENT_SECRET}"\nscope = "deploy:read"\naudience = "https://api.example.com"\n'
)
DJANGO_SESSION = (
    f'session = "cookie"\nlogin_path = "/accounts/login/"\nusername = "{USERNAME}"\npassword = "{PASSWORD}"\n'
    'csrf_cookie = "csrftoken"\ncsrf_field = "csrfmiddlewaretoken"\n'
)
EXPRESS_SESSION = (
    f'session = "cookie"\nbody = "json"\nlogin_path = "/express/login"\nusername = "{USERNAME}"\n'
    f'password = "{PASSWORD}"\ncsrf_header = "X-CSRF-Token"\n'
)
BASIC = f'scheme = "basic"\nusername = "{USERNAME}"\npassword = "{PASSWORD}"\n'
API_KEY_HEADER = f'header = "X-Api-Key"\ntoken = "{API_KEY}"\n'
TOKEN_HEADER = (
    f'login_path = "/header/login"\ntoken_header = "X-Auth-Token"\nusername = "{USERNAME}"\npassword = "{PASSWORD}"\n'
)


def run(pytester: pytest.Pytester, url: str, auth: str, checks: str, *args: str, extra: str = "") -> pytest.RunResult:
    pytester.makefile(".toml", deploysmoke=logins_toml(url, auth, extra))
    pytester.makepyfile(test_login="import asyncio\nimport time\n\nimport pytest\n\n" + checks)
    return pytester.runpytest("--deploy-target=t", "-rs", *args)


def shown(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


def obtained_secrets() -> list[str]:
    """Every token and session id the stand-in has handed out so far."""
    return [*logins.STATE.tokens, *logins.STATE.sessions]


def assert_hidden(result: pytest.RunResult, *values: str) -> None:
    output = shown(result)
    for value in values:
        assert value not in output


# --------------------------------------------------------------------------- JSON and form logins

ME_CHECKS = """
def test_me(authed_http):
    assert authed_http.get("/me").json()["user"] == "smoke"

@pytest.mark.asyncio
async def test_me_async(authed_ahttp):
    assert (await authed_ahttp.get("/me")).json()["user"] == "smoke"
"""


def test_form_login_like_fastapi_oauth2_password_form(pytester: pytest.Pytester, logins_url: str) -> None:
    """body = "form" posts the credentials as a form, as FastAPI's OAuth2PasswordRequestForm reads them."""
    checks = ME_CHECKS + 'def test_via(authed_http):\n    assert authed_http.get("/me").json()["via"] == "form"\n'
    result = run(pytester, logins_url, FORM_LOGIN, checks)
    result.assert_outcomes(passed=3)


def test_password_grant_sends_grant_type_scope_and_client(pytester: pytest.Pytester, logins_url: str) -> None:
    """grant = "password" posts grant_type=password, the scope and the client to token_url, as a form."""
    checks = """
def test_me(authed_http):
    assert authed_http.get("/me").json() == {"user": "smoke", "via": "form+grant", "scope": "read write", "client_id": "web"}
"""
    run(pytester, logins_url, PASSWORD_GRANT, checks).assert_outcomes(passed=1)


def test_json_login_at_a_form_endpoint_names_body_form(pytester: pytest.Pytester, logins_url: str) -> None:
    """A JSON login that a form endpoint answers 422 says what was sent and to set body = "form"."""
    auth = FORM_LOGIN.replace('body = "form"\n', "")
    result = run(pytester, logins_url, auth, ME_CHECKS)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "login POST /form/token (JSON body: username, password) as smoke answered 422: "
            '{"detail":[[]{"type":"missing","loc":[[]"body","username"],*; '
            "it found no username, password in the JSON body it was sent, as an endpoint that reads a form "
            '(OAuth2PasswordRequestForm) answers: set body = "form" in [[]targets.t.auth]'
        ]
    )
    assert_hidden(result, PASSWORD)


def test_form_login_with_a_wrong_password_points_at_the_credentials(pytester: pytest.Pytester, logins_url: str) -> None:
    """A 401 from a form login names the body sent, the answer and the credentials to check, never the password."""
    wrong = "wrong-pass-0q9w8e7r"
    result = run(pytester, logins_url, FORM_LOGIN.replace(PASSWORD, wrong), ME_CHECKS)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "login POST /form/token (form body: username, password) as smoke answered 401: "
            '{"detail":"Incorrect username or password"}; check [[]targets.t.auth] username and password'
        ]
    )
    assert_hidden(result, wrong)


def test_token_read_from_a_login_answer_header(pytester: pytest.Pytester, logins_url: str) -> None:
    """token_header reads the token from that header of the login answer; it is sent as a bearer token."""
    checks = (
        'def test_me(authed_http, auth_token):\n    assert authed_http.get("/me").json()["via"] == "token_header"\n'
    )
    run(pytester, logins_url, TOKEN_HEADER, checks).assert_outcomes(passed=1)


def test_token_header_missing_lists_the_headers_that_came(pytester: pytest.Pytester, logins_url: str) -> None:
    """A login answer without the token_header names the headers it had, and nothing of the token."""
    result = run(pytester, logins_url, TOKEN_HEADER.replace("X-Auth-Token", "X-Token"), ME_CHECKS)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "login POST /header/login (JSON body: username, password) as smoke answered 200 without a X-Token header "
            "(headers: content-length, content-type, date, server, x-auth-token); "
            "set token_header in [[]targets.t.auth] to the header that carries the token"
        ]
    )
    assert_hidden(result, PASSWORD, *obtained_secrets())


# --------------------------------------------------------------------------- OAuth2 client credentials


@pytest.mark.parametrize("client_auth", ["basic", "body"])
def test_client_credentials_authenticates_the_client(
    pytester: pytest.Pytester, logins_url: str, client_auth: str
) -> None:
    """grant = "client_credentials" gets a token from token_url, the client by HTTP Basic or in the body."""
    checks = f"""
def test_me(authed_http):
    assert authed_http.get("/me").json() == {{
        "user": "smoke-client", "via": "client_credentials/{client_auth}",
        "scope": "deploy:read", "audience": "https://api.example.com",
    }}

@pytest.mark.asyncio
async def test_me_async(authed_ahttp):
    assert (await authed_ahttp.get("/me")).status_code == 200
"""
    auth = CLIENT_CREDENTIALS + f'client_auth = "{client_auth}"\n'
    run(pytester, logins_url, auth, checks).assert_outcomes(passed=2)


def test_client_credentials_with_a_wrong_secret(pytester: pytest.Pytester, logins_url: str) -> None:
    """A refused client names the fields sent and how the client authenticated, never the secret."""
    wrong = "cc-wrong-1a2b3c4d5e6f"
    result = run(pytester, logins_url, CLIENT_CREDENTIALS.replace(CLIENT_SECRET, wrong), ME_CHECKS)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "token request POST /oauth/token (form body: grant_type, scope, audience; client smoke-client by HTTP Basic) "
            'answered 401: {"error":"invalid_client"}; '
            'check [[]targets.t.auth] client_id and client_secret, and client_auth ("basic" or "body")'
        ]
    )
    encoded = base64.b64encode(f"{CLIENT_ID}:{wrong}".encode()).decode()
    assert_hidden(result, wrong, encoded)


def test_expiring_token_is_renewed_on_the_check_that_needs_it(pytester: pytest.Pytester, logins_url: str) -> None:
    """A token past its expires_in is renewed before the next request, and the renewal is a call of that check."""
    auth = CLIENT_CREDENTIALS.replace(CLIENT_ID, SHORT_CLIENT_ID)
    checks = f"""
def test_first(authed_http):
    assert authed_http.get("/me").status_code == 200

def test_later_sync(authed_http):
    time.sleep({logins.SHORT_LIFETIME_S} + 0.3)  # the token has expired on the server
    assert authed_http.get("/me").status_code == 200

@pytest.mark.asyncio
async def test_later_async(authed_ahttp):
    await asyncio.sleep({logins.SHORT_LIFETIME_S} + 0.3)
    assert (await authed_ahttp.get("/me")).status_code == 200
"""
    pytester.makefile(".toml", deploysmoke=logins_toml(logins_url, auth))
    pytester.makepyfile(test_login="import asyncio\nimport time\n\nimport pytest\n\n" + checks)
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=3)
    assert [call["action"] for call in recorded_fixture_calls(reprec, "authed_http")] == ["POST /oauth/token"]
    for check in ("test_later_sync", "test_later_async"):
        actions = [call["action"] for call in recorded_calls(reprec, check)]
        assert actions == ["POST /oauth/token", "GET /me"], check


# --------------------------------------------------------------------------- session cookies

DJANGO_CHECKS = """
def test_me(authed_http):
    assert authed_http.get("/api/me").json() == {"user": "smoke", "via": "session"}

def test_write_sends_the_csrf_header(authed_http):
    assert authed_http.post("/api/notes", json={"text": "hi"}).status_code == 201

@pytest.mark.asyncio
async def test_write_async(authed_ahttp):
    assert (await authed_ahttp.post("/api/notes", json={})).status_code == 201

@pytest.mark.asyncio
async def test_websocket(ws_connect):
    async with ws_connect("/ws/me", auth=True) as ws:
        assert (await ws.recv_json()) == {"user": "smoke", "via": "session"}

def test_plain_http_is_not_logged_in(http):
    assert http.get("/api/me").status_code == 403

def test_no_token(auth_token):
    pass
"""


def test_django_style_session_login_with_csrf(pytester: pytest.Pytester, logins_url: str) -> None:
    """session = "cookie" GETs the login form for its CSRF token, logs in, and every authed client carries the
    session; writes send X-CSRFToken from the (rotated) csrftoken cookie; auth_token skips with the reason."""
    result = run(pytester, logins_url, DJANGO_SESSION, DJANGO_CHECKS)
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*target 't' logs in with a session cookie (session = \"cookie\"), which has no token; "
            "use authed_http, authed_ahttp or ws_connect(auth=True)"
        ]
    )


def test_session_login_with_a_wrong_password_says_no_cookie_was_set(pytester: pytest.Pytester, logins_url: str) -> None:
    """A login form shown again (Django's answer to wrong credentials) is a failed login, in one line."""
    wrong = "wrong-pass-0q9w8e7r"
    result = run(pytester, logins_url, DJANGO_SESSION.replace(PASSWORD, wrong), "def test_me(authed_http):\n    pass\n")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "login POST /accounts/login/ (form body: username, password, csrfmiddlewaretoken) as smoke answered 200: "
            "<!doctype html>*Please enter a correct username and password.* and set no session cookie; "
            "check [[]targets.t.auth] username and password (a login form shown again, or a redirect back to it, "
            "is how a cookie login says they are wrong)"
        ]
    )
    assert_hidden(result, wrong)


def test_session_login_without_its_csrf_token_points_at_csrf(pytester: pytest.Pytester, logins_url: str) -> None:
    """A login refused for its CSRF token says so, and names the keys that fetch the token."""
    auth = DJANGO_SESSION.replace('csrf_cookie = "csrftoken"\ncsrf_field = "csrfmiddlewaretoken"\n', "")
    result = run(pytester, logins_url, auth, "def test_me(authed_http):\n    pass\n")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "login POST /accounts/login/ (form body: username, password) as smoke answered 403: "
            "<h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p>; "
            "the service refused the CSRF token; check csrf_cookie, csrf_field and csrf_header in [[]targets.t.auth]"
        ]
    )


def test_express_style_session_with_the_csrf_token_in_a_header(pytester: pytest.Pytester, logins_url: str) -> None:
    """csrf_header alone reads the token from that header of the login page and sends it back in it."""
    checks = 'def test_write(authed_http):\n    assert authed_http.post("/express/items", json={}).status_code == 201\n'
    run(pytester, logins_url, EXPRESS_SESSION, checks).assert_outcomes(passed=1)


# --------------------------------------------------------------------------- HTTP Basic and API keys


def test_basic_scheme_sends_credentials_on_every_request(pytester: pytest.Pytester, logins_url: str) -> None:
    """scheme = "basic" sends HTTP Basic on every authed request, with no login call."""
    checks = """
def test_me(authed_http):
    response = authed_http.get("/basic/me")
    assert response.json() == {"user": "smoke", "via": "basic"}

@pytest.mark.asyncio
async def test_me_async(authed_ahttp):
    assert (await authed_ahttp.get("/basic/me")).status_code == 200
"""
    pytester.makefile(".toml", deploysmoke=logins_toml(logins_url, BASIC))
    pytester.makepyfile(test_login="import pytest\n\n" + checks)
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=2)
    assert [call["action"] for call in recorded_calls(reprec)] == ["GET /basic/me", "GET /basic/me"]
    assert recorded_fixture_calls(reprec, "authed_http") == []


def test_basic_scheme_with_a_wrong_password(pytester: pytest.Pytester, logins_url: str) -> None:
    """A refused Basic request fails the check in one line, without the password or its encoding."""
    wrong = "wrong-pass-0q9w8e7r"
    checks = (
        "from pytest_deploysmoke import expect_status\n\n"
        'def test_me(authed_http):\n    r = authed_http.get("/basic/me")\n    print(r.request.headers)\n'
        "    expect_status(r, 200)\n"
    )
    result = run(pytester, logins_url, BASIC.replace(PASSWORD, wrong), checks)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['GET /basic/me answered 401 in * ms, expected 200: {"detail":"Invalid credentials"}'])
    assert_hidden(result, wrong, base64.b64encode(f"{USERNAME}:{wrong}".encode()).decode())


def test_api_key_goes_in_its_own_header(pytester: pytest.Pytester, logins_url: str) -> None:
    """header = "X-Api-Key" sends the token in that header, without Bearer and without Authorization;
    auth_token is the key."""
    checks = f"""
def test_me(authed_http, auth_token):
    assert authed_http.get("/key/me").json() == {{"user": "key-holder", "via": "api_key"}}
    assert auth_token == "{API_KEY}"

@pytest.mark.asyncio
async def test_me_async(authed_ahttp):
    assert (await authed_ahttp.get("/key/me")).status_code == 200
"""
    run(pytester, logins_url, API_KEY_HEADER, checks).assert_outcomes(passed=2)


def test_wrong_api_key_is_never_shown(pytester: pytest.Pytester, logins_url: str) -> None:
    """A refused API key fails the check in one line; the key is masked even where the check prints it."""
    wrong = "api-key-wrong-9z8y7x6w"
    checks = (
        "from pytest_deploysmoke import expect_status\n\n"
        'def test_me(authed_http):\n    r = authed_http.get("/key/me")\n    print(dict(r.request.headers))\n'
        "    expect_status(r, 200)\n"
    )
    result = run(pytester, logins_url, API_KEY_HEADER.replace(API_KEY, wrong), checks)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ['GET /key/me answered 403 in * ms, expected 200: {"detail":"invalid or missing API key"}']
    )
    assert_hidden(result, wrong)


# --------------------------------------------------------------------------- secrets and the production guard

LEAKY_CHECK = """
def test_leak(authed_http):
    response = authed_http.{method}("{path}")
    print(response.request.headers, authed_http.cookies.items())
    assert False, str(response.request.headers)
"""


@pytest.mark.parametrize(
    ("auth", "method", "path"),
    [
        pytest.param(FORM_LOGIN, "get", "/me", id="form"),
        pytest.param(CLIENT_CREDENTIALS, "get", "/me", id="client-credentials"),
        pytest.param(DJANGO_SESSION, "post", "/api/notes", id="session"),
        pytest.param(BASIC, "get", "/basic/me", id="basic"),
        pytest.param(TOKEN_HEADER, "get", "/me", id="token-header"),
    ],
)
def test_obtained_credentials_never_show(
    pytester: pytest.Pytester, logins_url: str, auth: str, method: str, path: str
) -> None:
    """Tokens, session cookies, CSRF tokens, client secrets and Basic credentials are masked where a check prints them."""
    result = run(pytester, logins_url, auth, LEAKY_CHECK.format(method=method, path=path))
    result.assert_outcomes(failed=1)
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert_hidden(result, PASSWORD, CLIENT_SECRET, basic, *obtained_secrets())


@pytest.mark.parametrize(
    ("auth", "path"),
    [
        pytest.param(FORM_LOGIN, "/me", id="form"),
        pytest.param(PASSWORD_GRANT, "/me", id="password-grant"),
        pytest.param(CLIENT_CREDENTIALS, "/me", id="client-credentials"),
        pytest.param(DJANGO_SESSION, "/api/me", id="session"),
        pytest.param(TOKEN_HEADER, "/me", id="token-header"),
    ],
)
def test_the_login_passes_the_production_guard(
    pytester: pytest.Pytester, logins_url: str, auth: str, path: str
) -> None:
    """On a production target, the configured login is sent from a check not marked destructive, without
    read_only_requests, and is not recorded as a write; the check's own writes are still refused."""
    checks = f"""
def test_read(authed_http):
    assert authed_http.get("{path}").status_code == 200

def test_write_is_refused(authed_http):
    authed_http.post("/api/notes", json={{}})
"""
    pytester.makefile(".toml", deploysmoke=logins_toml(logins_url, auth, extra="production = true"))
    pytester.makepyfile(test_login=checks)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*POST /api/notes blocked: target 't' is production and the test is not marked destructive*"]
    )
    reprec = pytester.inline_run("--deploy-target=t", "-k", "test_read")
    logins_sent = [call for call in recorded_fixture_calls(reprec, "authed_http")]
    assert logins_sent and all(call["write"] is False and call["ok"] for call in logins_sent)


# --------------------------------------------------------------------------- the browser

UI = '[targets.t.ui]\nbrowser_path = "/usr/bin/chromium"\n'
PROFILE_CHECK = """
from pytest_deploysmoke import expect_renders

def test_profile(authed_ui_page):
    expect_renders(authed_ui_page, "#user", path="/accounts/profile/")
    assert authed_ui_page.text_content("#user") == "smoke"
"""


def run_ui(pytester: pytest.Pytester, url: str, auth: str) -> pytest.RunResult:
    pytester.makefile(".toml", deploysmoke=logins_toml(url, auth) + UI)
    pytester.makepyfile(test_login=PROFILE_CHECK)
    return pytester.runpytest_subprocess("--deploy-target=t", "-p", "no:cacheprovider", timeout=120)


def test_authed_ui_page_carries_the_session_cookie(pytester: pytest.Pytester, logins_url: str) -> None:
    """authed_ui_page puts the session's cookies into the browser: a logged-in page renders, not the login form."""
    result = run_ui(pytester, logins_url, DJANGO_SESSION)
    result.assert_outcomes(passed=1)
    assert_hidden(result, PASSWORD, *obtained_secrets())


def test_authed_ui_page_with_http_basic_says_what_to_do(pytester: pytest.Pytester, logins_url: str) -> None:
    """HTTP Basic cannot be handed to a page: the check fails in one line that names the setting to use."""
    result = run_ui(pytester, logins_url, BASIC)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*authed_ui_page: target 't' logs in with HTTP Basic, which cannot be handed to a page; "
            "give pytest-playwright's browser_context_args http_credentials instead"
        ]
    )
    assert_hidden(result, PASSWORD)
