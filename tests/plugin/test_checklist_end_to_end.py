"""A whole post-deploy checklist through every connection fixture, against real servers, leaking nothing."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.apps.api import USER_EMAIL, USER_PASSWORD
from tests.fix_services import dsn_password

CHECKS = """
import pytest
from pytest_deploysmoke import expect_json, expect_status

@pytest.mark.phase("migrations")
def test_migrations_landed(db):
    \"\"\"Column users.ai_allowlisted and tables runs, summary_packs exist; the two runs are counted.\"\"\"
    db.assert_columns("users", "ai_allowlisted")
    db.assert_tables("runs", "summary_packs")
    assert db.scalar("SELECT count(*) FROM runs") == 2

@pytest.mark.phase("health")
def test_health(http, deploy_target):
    \"\"\"GET /health is 200 and reports the new version.\"\"\"
    expect_json(expect_status(http.get(deploy_target.health_path, budget="2s"), 200), {"version": deploy_target.version})

@pytest.mark.phase("health")
def test_cache_answers(redis_client):
    \"\"\"Redis answers PING.\"\"\"
    assert redis_client.ping()

@pytest.mark.phase("auth")
def test_users_me(authed_http):
    \"\"\"Login works and /users/me answers for the smoke account.\"\"\"
    expect_json(authed_http.get("/api/v1/users/me"), {"email": "smoke@example.com"})

@pytest.mark.phase("features")
@pytest.mark.asyncio
async def test_ticker_stream(ws_connect):
    \"\"\"The WebSocket ticker stream delivers.\"\"\"
    async with ws_connect("/ws/tickers/krw?auth=1", auth=True) as ws:
        await ws.first(lambda m: m["type"] == "ticker", within=3)
"""


@pytest.fixture
def checklist(
    pytester: pytest.Pytester, api_url: str, fresh_db: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """A checklist project on the API stand-in, a database of its own with two runs, and the test Redis."""
    with psycopg.connect(fresh_db, autocommit=True, connect_timeout=5) as conn:
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, email text, ai_allowlisted boolean)")
        conn.execute("CREATE TABLE runs (id serial PRIMARY KEY)")
        conn.execute("CREATE TABLE summary_packs (id serial PRIMARY KEY, run_id int)")
        conn.execute("INSERT INTO runs DEFAULT VALUES; INSERT INTO runs DEFAULT VALUES")
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("SMOKE_PASSWORD", USER_PASSWORD)
    pytester.makefile(
        ".toml",
        deploysmoke=f"""
[targets.staging]
base_url = "{api_url}"
version = "2.0.1"
timeout = 3.0
database_url = "${{DATABASE_URL}}"
redis_url = "${{REDIS_URL}}"

[targets.staging.auth]
login_path = "/api/v1/auth/login"
username = "{USER_EMAIL}"
password = "${{SMOKE_PASSWORD}}"
username_field = "email"
""",
    )
    pytester.makepyfile(test_checklist=CHECKS)
    return pytester


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_checklist_passes_and_leaks_nothing(
    checklist: pytest.Pytester, fresh_db: str, tmp_path: Path, xdist: list[str]
) -> None:
    """Health, login, /users/me, migrations, Redis and the WebSocket pass; no secret reaches any output."""
    junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
    result = checklist.runpytest(
        "--deploy-target=staging", "-m", "smoke", "-rA", f"--junitxml={junit}", f"--html={html}", *xdist
    )
    result.assert_outcomes(passed=6)  # with deploysmoke::version: the target sets version
    db_password = dsn_password(fresh_db)
    outputs = {
        "terminal": result.stdout.str() + result.stderr.str(),
        "junit": junit.read_text(encoding="utf-8"),
        "html": html.read_text(encoding="utf-8"),
    }
    for where, text in outputs.items():
        for secret in (USER_PASSWORD, str(db_password)):
            assert secret not in text, f"a secret leaked into the {where} output"
        assert "eyJ" not in text, f"a JWT leaked into the {where} output"
    assert "deploysmoke.calls" in outputs["junit"]
