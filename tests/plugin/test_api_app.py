"""The API stand-in (tests/apps/api.py) behaves as the connection-fixture tests expect."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.apps.api import ALGORITHM, USER_EMAIL, USER_PASSWORD, check_token

CREDENTIALS = {"email": USER_EMAIL, "password": USER_PASSWORD}


@pytest.fixture
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=5) as http:
        yield http


@pytest.fixture
def ws_url(api_url: str) -> str:
    return api_url.replace("http://", "ws://", 1)


def _token(client: httpx.Client, path: str = "/api/v1/auth/login") -> str:
    response = client.post(path, json=CREDENTIALS)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_health(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": "2.0.1"}


def test_login_issues_a_one_hour_jwt(client: httpx.Client) -> None:
    body = client.post("/api/v1/auth/login", json=CREDENTIALS).json()
    assert body["token_type"] == "bearer"
    assert body["data"]["token"] == body["access_token"]
    assert jwt.get_unverified_header(body["access_token"]) == {"alg": ALGORITHM, "typ": "JWT"}
    assert check_token(body["access_token"]) == USER_EMAIL  # signed with JWT_SECRET
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == USER_EMAIL
    assert 3500 < claims["exp"] - time.time() <= 3600


def test_wrong_password_is_401_and_echoes_it(client: httpx.Client) -> None:
    response = client.post("/api/v1/auth/login", json={"email": USER_EMAIL, "password": "hunter2-wrong"})
    assert response.status_code == 401
    assert response.json() == {"detail": "invalid credentials", "echo_password": "hunter2-wrong"}


def test_users_me_needs_a_valid_bearer_token(client: httpx.Client) -> None:
    assert client.get("/api/v1/users/me").json() == {"detail": "not authenticated"}
    assert client.get("/api/v1/users/me").status_code == 401
    forged = jwt.encode({"sub": USER_EMAIL, "exp": time.time() + 60}, "another-signing-key-0123456789-abcdef")
    for headers in (_bearer("garbage"), _bearer(forged), {"Authorization": "Basic eDp5"}):
        response = client.get("/api/v1/users/me", headers=headers)
        assert (response.status_code, response.json()) == (401, {"detail": "not authenticated"})
    response = client.get("/api/v1/users/me", headers=_bearer(_token(client)))
    assert response.status_code == 200
    assert response.json() == {"email": USER_EMAIL, "ai_allowlisted": False}


def test_expired_token_is_rejected_as_expired(client: httpx.Client) -> None:
    token = _token(client, "/api/v1/auth/login-expired")
    assert jwt.decode(token, options={"verify_signature": False})["exp"] < time.time()
    response = client.get("/api/v1/users/me", headers=_bearer(token))
    assert (response.status_code, response.json()) == (401, {"detail": "token expired"})


def test_opaque_token_is_not_a_jwt_but_is_accepted(client: httpx.Client) -> None:
    token = str(client.post("/api/v1/auth/login-opaque").json()["access_token"])
    assert token.startswith("opaque-token-") and len(token) == len("opaque-token-") + 24
    with pytest.raises(jwt.DecodeError):
        jwt.decode(token, options={"verify_signature": False})
    assert client.get("/api/v1/users/me", headers=_bearer(token)).json()["email"] == USER_EMAIL


def test_register_list_delete(client: httpx.Client) -> None:
    email = f"smoke-{uuid.uuid4().hex[:8]}@example.com"
    created = client.post("/api/v1/auth/register", json={"email": email, "password": "pw-123456"})
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert created.json() == {"id": user_id, "email": email}
    assert client.post("/api/v1/auth/register", json={"email": email, "password": "x"}).status_code == 409
    assert client.post("/api/v1/auth/login", json={"email": email, "password": "pw-123456"}).status_code == 200

    auth = _bearer(_token(client))
    assert client.get("/api/v1/admin/users", params={"prefix": "smoke-"}).status_code == 401
    listed = client.get("/api/v1/admin/users", params={"prefix": "smoke-"}, headers=auth).json()
    assert {"id": user_id, "email": email} in listed
    assert all(user["email"].startswith("smoke-") for user in listed)

    assert client.delete(f"/api/v1/users/{user_id}").status_code == 401
    assert client.delete(f"/api/v1/users/{user_id}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/users/{user_id}", headers=auth).status_code == 404


def test_echo_headers(client: httpx.Client) -> None:
    headers = client.get("/api/v1/echo-headers", headers={"X-Smoke-Run": "abc", "Authorization": "Bearer t"})
    assert headers.json()["x-smoke-run"] == "abc"
    assert headers.json()["authorization"] == "Bearer t"


def test_items_methods(client: httpx.Client) -> None:
    item_id = client.post("/api/v1/items", json={"name": "a"}).json()["id"]
    assert {"id": item_id, "name": "a"} in client.get("/api/v1/items").json()
    assert client.put(f"/api/v1/items/{item_id}", json={"name": "b"}).status_code == 200
    patched = client.patch(f"/api/v1/items/{item_id}", json={"size": 2})
    assert (patched.status_code, patched.json()) == (200, {"id": item_id, "name": "b", "size": 2})
    assert client.delete(f"/api/v1/items/{item_id}").status_code == 204
    head = client.head("/api/v1/items")
    assert (head.status_code, head.content) == (200, b"")
    options = client.options("/api/v1/items")
    assert options.status_code == 204
    assert "GET" in options.headers["allow"] and "POST" in options.headers["allow"]


def test_slow(client: httpx.Client) -> None:
    started = time.monotonic()
    assert client.get("/slow", params={"s": "0.3"}).status_code == 200
    assert time.monotonic() - started >= 0.3
    with pytest.raises(httpx.ReadTimeout):
        client.get("/slow", params={"s": "1"}, timeout=0.2)


def test_malformed_json_really_is_invalid(client: httpx.Client) -> None:
    response = client.get("/malformed")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_boom_leaks_a_database_url(client: httpx.Client) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.text == "Internal Server Error: db=postgresql://app:leaked-pass@db/app"


@pytest.mark.parametrize("code", [200, 204, 404, 418, 502])
def test_status(client: httpx.Client, code: int) -> None:
    response = client.get(f"/status/{code}")
    assert response.status_code == code
    if code != 204:
        assert response.json() == {"status": code}


def test_flaky_fails_n_times_per_key(client: httpx.Client) -> None:
    key = uuid.uuid4().hex
    codes = [client.get("/flaky", params={"key": key, "fail": 2}).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]
    assert client.get("/flaky", params={"key": f"{key}-other", "fail": 1}).status_code == 503


def test_ws_hello_then_tickers(ws_url: str) -> None:
    with connect(f"{ws_url}/ws/tickers/krw", open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=2)) == {"type": "hello"}
        ticks = [json.loads(ws.recv(timeout=2)) for _ in range(3)]
    assert [tick["seq"] for tick in ticks] == [1, 2, 3]
    for tick in ticks:
        assert tick["type"] == "ticker" and tick["symbol"] == "KRW-BTC"
        assert isinstance(tick["price"], float)
        assert abs(tick["ts"] - time.time() * 1000) < 10_000
    assert ticks[2]["ts"] - ticks[1]["ts"] >= 30  # TICK_INTERVAL_S apart at least; a busy server only adds


def test_ws_auth_closes_4401_without_a_token(ws_url: str) -> None:
    with connect(f"{ws_url}/ws/tickers/krw?auth=1", open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=2)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_ws_auth_accepts_a_token_in_query_or_header(client: httpx.Client, ws_url: str) -> None:
    token = _token(client)
    with connect(f"{ws_url}/ws/tickers/krw?auth=1&token={token}", open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=2)) == {"type": "hello"}
    url = f"{ws_url}/ws/tickers/krw?auth=1"
    with connect(url, open_timeout=5, additional_headers=_bearer(token)) as ws:
        assert json.loads(ws.recv(timeout=2)) == {"type": "hello"}


def test_ws_close_immediately(ws_url: str) -> None:
    with connect(f"{ws_url}/ws/close-immediately", open_timeout=5) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=2)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1011, "upstream unavailable")


def test_ws_silent_and_echo(ws_url: str) -> None:
    with connect(f"{ws_url}/ws/silent", open_timeout=5) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.3)
    with connect(f"{ws_url}/ws/echo", open_timeout=5) as ws:
        ws.send("ping")
        assert ws.recv(timeout=2) == "ping"
