"""No secret from the config appears in any output: terminal, captured output, JUnit, HTML."""

from __future__ import annotations

from pathlib import Path

import pytest

PASSWORD = "pl4nted-Passw0rd"
TOKEN = "tok_pl4nted_bearer_value"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.c2lnbmF0dXJlLXZhbHVl"
DSN_PASSWORD = "dsnPl4nted"
API_KEY = "k3y-pl4nted-api"
SECRETS = (PASSWORD, TOKEN, JWT, DSN_PASSWORD, API_KEY)

CONFIG = """
[targets.prod]
base_url = "https://ops:${OPS_PASSWORD}@127.0.0.1:9"
production = true
database_url = "postgresql://smoke:${DB_PASSWORD}@127.0.0.1:5432/app"
headers = { "X-Api-Key" = "${SMOKE_API_KEY}" }

[targets.prod.auth]
username = "smoke@example.com"
password = "${SMOKE_PASSWORD}"
token = "${SMOKE_TOKEN}"

[targets.prod.vars]
jwt = "${SESSION_TOKEN}"
"""

LEAKY_CHECKS = """
import logging
import pytest

@pytest.mark.phase("health")
def test_prints_everything(deploy_target):
    auth = deploy_target.auth
    dsn = deploy_target.database_url.reveal()
    print("password", auth.password.reveal(), "token", auth.token.reveal(), "dsn", dsn)
    print("Authorization: Bearer " + deploy_target.vars["jwt"])
    logging.getLogger("smoke").warning("api key %s", deploy_target.headers["X-Api-Key"])
    secret = auth.password.reveal()
    assert secret == "wrong", f"login failed for {dsn} with {deploy_target.headers}"

@pytest.mark.phase("features")
def test_later(deploy_target):
    pass
"""


@pytest.fixture
def planted(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("OPS_PASSWORD", PASSWORD)
    monkeypatch.setenv("SMOKE_PASSWORD", PASSWORD)
    monkeypatch.setenv("SMOKE_TOKEN", TOKEN)
    monkeypatch.setenv("SESSION_TOKEN", JWT)
    monkeypatch.setenv("DB_PASSWORD", DSN_PASSWORD)
    monkeypatch.setenv("SMOKE_API_KEY", API_KEY)
    pytester.makefile(".toml", deploysmoke=CONFIG)
    pytester.makepyfile(test_leaky=LEAKY_CHECKS)
    return pytester


def assert_no_secret(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


@pytest.mark.parametrize("xdist", [[], ["-n", "2"]], ids=["in-process", "xdist"])
def test_planted_secrets_never_appear(planted: pytest.Pytester, tmp_path: Path, xdist: list[str]) -> None:
    """A failing check that prints, logs and asserts on every secret leaks none of them."""
    junit = tmp_path / "junit.xml"
    html = tmp_path / "report.html"
    ticket = tmp_path / "ticket.md"
    summary = tmp_path / "summary.json"
    result = planted.runpytest(
        "--deploy-target=prod",
        "-rA",
        "-l",
        f"--junitxml={junit}",
        f"--html={html}",
        "--self-contained-html",
        f"--deploy-ticket={ticket}",
        f"--deploy-json={summary}",
        *xdist,
    )
    result.assert_outcomes(failed=1, skipped=1)
    output = result.stdout.str() + result.stderr.str()
    assert "https://ops:***@127.0.0.1:9" in output  # the header still shows where the run went
    assert "AssertionError: login failed for postgresql://smoke:***@127.0.0.1:5432/app" in output
    assert_no_secret(output, "the terminal")
    assert_no_secret(junit.read_text(encoding="utf-8"), "the JUnit XML")
    assert_no_secret(html.read_text(encoding="utf-8"), "the HTML report")
    assert_no_secret(ticket.read_text(encoding="utf-8"), "the release ticket")
    assert_no_secret(summary.read_text(encoding="utf-8"), "the JSON summary")
    assert "NO-GO" in ticket.read_text(encoding="utf-8")


# Every planted value is 12 characters or more, so that no 8-character run of it may appear anywhere.
# The JWT is longer than pytest's 240-character repr limit, so that ``--showlocals`` shortens it too.
LONG_JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiJzbW9rZS11c2VyLTQyIiwicm9sZSI6ImRlcGxveWVyIiwic2NvcGUiOiJyZWFkOmhlYWx0aCByZWFkOm1ldHJp"
    "Y3MgcmVhZDp1c2VycyIsImlzcyI6Imh0dHBzOi8vYXV0aC5leGFtcGxlLmNvbSIsImF1ZCI6InNtb2tlLWNoZWNrcyIsImV4"
    "cCI6MTkwMDAwMDAwMCwianRpIjoiN2Y1YzFiMmEtOWU0ZC00ZDNhLWIxYzItOGY2ZTVkNGMzYjJhIn0."
    "Xy7vQ3nP9kLm2RtW5sJh8gFd4cBa6ZeUq1oNi0MwT7SU0uMPBQbBys"
)
LONG_SECRETS = {
    "OPS_PASSWORD": "0ps-Basic-Pl4nted-pw",
    "SMOKE_PASSWORD": "pl4nted-Passw0rd",
    "SMOKE_TOKEN": "tok_pl4nted_bearer_value",
    "SESSION_TOKEN": LONG_JWT,
    "DB_PASSWORD": "dsnPl4nted-Pw0rd-2024",
    "SMOKE_API_KEY": "sk_live_51Hx9Pl4ntedApiKeyValue00042",
}

FRAGMENT_CHECKS = """
import logging
import pytest

@pytest.mark.phase("health")
def test_jwt_compared(deploy_target):
    token = deploy_target.vars["jwt"]
    print("jwt", token)
    logging.getLogger("smoke").warning("jwt %s", token)
    assert deploy_target.vars["jwt"] == "x"

@pytest.mark.phase("health")
def test_api_key_compared(deploy_target):
    api_key = deploy_target.headers["X-Api-Key"]
    password = deploy_target.auth.password.reveal()
    dsn = deploy_target.database_url.reveal()
    print("dsn", dsn)
    assert api_key == deploy_target.auth.token.reveal()
"""


def assert_no_fragment(text: str, where: str) -> None:
    """No 8-character run of any planted secret appears in *text*."""
    for secret in LONG_SECRETS.values():
        for start in range(len(secret) - 7):
            window = secret[start : start + 8]
            assert window not in text, f"{window!r}, 8 characters of a planted secret, leaked into {where}"


@pytest.mark.parametrize("flags", [[], ["-vv"], ["-n", "2"]], ids=["default", "-vv", "xdist"])
def test_no_fragment_of_a_secret_appears(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, flags: list[str]
) -> None:
    """Asserts on a JWT and an API key, which pytest shortens, leak no 8 characters of any secret."""
    assert all(len(secret) >= 12 for secret in LONG_SECRETS.values())
    for name, value in LONG_SECRETS.items():
        monkeypatch.setenv(name, value)
    pytester.makefile(".toml", deploysmoke=CONFIG)
    pytester.makepyfile(test_fragments=FRAGMENT_CHECKS)
    artifacts = {
        "the JUnit XML": tmp_path / "junit.xml",
        "the HTML report": tmp_path / "report.html",
        "the release ticket": tmp_path / "ticket.md",
        "the JSON summary": tmp_path / "summary.json",
    }
    result = pytester.runpytest(
        "--deploy-target=prod",
        *flags,
        "-rA",
        "--showlocals",
        f"--junitxml={artifacts['the JUnit XML']}",
        f"--html={artifacts['the HTML report']}",
        "--self-contained-html",
        f"--deploy-ticket={artifacts['the release ticket']}",
        f"--deploy-json={artifacts['the JSON summary']}",
    )
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    # The checks' own lines and the non-secret parts of the URLs are still there to read.
    assert 'assert deploy_target.vars["jwt"] == "x"' in output
    assert "postgresql://smoke:***@127.0.0.1:5432/app" in output
    assert "https://ops:***@127.0.0.1:9" in output
    assert_no_fragment(output, "stdout")
    assert_no_fragment(result.stderr.str(), "stderr")
    for where, path in artifacts.items():
        assert_no_fragment(path.read_text(encoding="utf-8"), where)
