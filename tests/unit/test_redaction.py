"""Redaction: Secret values and the Redactor that masks secrets in every line of output."""

from __future__ import annotations

import jwt
import pytest

from pytest_deploysmoke.config.redaction import (
    FRAGMENT_LENGTH,
    FRAGMENT_SECRET_LENGTH,
    MASK,
    MIN_SECRET_LENGTH,
    Redactor,
    Secret,
    is_secret_name,
    redact_url,
)


def redactor(*secrets: str | Secret | None) -> Redactor:
    r = Redactor()
    r.add(*secrets)
    return r


# --------------------------------------------------------------------------- Secret


def test_secret_str_and_repr_are_masked() -> None:
    """str(), repr() and f-strings of a Secret show *** and never the value."""
    secret = Secret("hunter2-admin")
    assert str(secret) == "***"
    assert repr(secret) == "Secret('***')"
    assert f"{secret}" == "***"
    assert "hunter2" not in repr([secret])


def test_secret_reveal_returns_value() -> None:
    """reveal() gives the real value."""
    assert Secret("hunter2-admin").reveal() == "hunter2-admin"


def test_empty_secret_is_falsy() -> None:
    """A Secret is truthy only when it holds a non-empty value."""
    assert not Secret("")
    assert Secret("x")


# --------------------------------------------------------------------------- registered values


def test_registered_value_is_masked() -> None:
    """A registered value is replaced by *** wherever it appears."""
    r = redactor("hunter2-admin")
    assert r.redact("login as admin/hunter2-admin failed (hunter2-admin)") == ("login as admin/*** failed (***)")


def test_secret_objects_are_registered_by_value() -> None:
    """Secret objects are registered by their revealed value; None and empty values are ignored."""
    r = redactor(Secret("tok-static-998877"), None, "")
    assert r.secret_count == 1
    assert r.redact("token tok-static-998877") == "token ***"


def test_longest_registered_value_is_masked_first() -> None:
    """When one secret contains another, the longer one is masked whole."""
    r = redactor("pass1234", "pass1234-extended")
    assert r.redact("pw=pass1234-extended and pw=pass1234") == "pw=*** and pw=***"


def test_overlapping_registered_values_are_both_masked() -> None:
    """Two secrets that overlap in the text leave no part of either visible."""
    r = redactor("zz-abcd", "abcd-efgh-ijkl")
    out = r.redact("zz-abcd-efgh-ijkl")
    assert "efgh" not in out
    assert "ijkl" not in out


def test_percent_decoded_url_password_is_masked() -> None:
    """Registering a URL masks its password both percent-encoded and decoded."""
    r = redactor("postgresql://app:s3cr%2Ft%40pw@db.internal/app")
    assert r.redact("password was s3cr/t@pw") == "password was ***"
    assert r.redact("raw s3cr%2Ft%40pw") == "raw ***"


def test_add_all_registers_every_value() -> None:
    """add_all registers each value of an iterable."""
    r = Redactor()
    r.add_all(["first-secret", "second-secret"])
    assert r.secret_count == 2
    assert r.redact("first-secret second-secret") == "*** ***"


def test_values_shorter_than_minimum_are_not_registered() -> None:
    """Values shorter than MIN_SECRET_LENGTH are not registered, so they are not masked."""
    short = "x" * (MIN_SECRET_LENGTH - 1)
    r = redactor(short, "1")
    assert r.secret_count == 0
    assert r.redact(f"value {short} and 1") == f"value {short} and 1"


def test_value_of_minimum_length_is_registered() -> None:
    """A value exactly MIN_SECRET_LENGTH long is registered and masked."""
    value = "k" * MIN_SECRET_LENGTH
    r = redactor(value)
    assert r.secret_count == 1
    assert r.redact(f"key={value}") == "key=***"


# --------------------------------------------------------------------------- fragments of long secrets

TOKEN_30 = "tok_A1b2C3d4E5f6G7h8I9j0K1l2M3"


def r_token() -> Redactor:
    assert len(TOKEN_30) == 30
    return redactor(TOKEN_30)


@pytest.mark.parametrize("length", range(FRAGMENT_LENGTH, len(TOKEN_30)))
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_fragment_of_long_secret_is_masked(length: int, where: str) -> None:
    """Any 8 or more consecutive characters of a secret of 12 or more characters are masked."""
    start = {"start": 0, "middle": (len(TOKEN_30) - length) // 2, "end": len(TOKEN_30) - length}[where]
    fragment = TOKEN_30[start : start + length]
    assert r_token().redact(f"got '{fragment}' back") == "got '***' back"


def test_pytest_shortened_repr_of_long_secret_is_masked() -> None:
    """pytest's shortened repr (head...tail) of a long secret shows neither its head nor its tail."""
    jwt_like = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzbW9rZSJ9.xK3vQ7SU0uMPBQbBys"
    shown = "AssertionError: assert 'eyJhbGciOiJI...7SU0uMPBQbBys' == 'x'"
    assert redactor(jwt_like).redact(shown) == "AssertionError: assert '***...***' == 'x'"


def test_fragment_length_is_the_threshold() -> None:
    """8 characters of a long secret are masked, 7 are not."""
    eight = TOKEN_30[10 : 10 + FRAGMENT_LENGTH]
    seven = TOKEN_30[10 : 10 + FRAGMENT_LENGTH - 1]
    assert r_token().redact(f"id {eight} ok") == "id *** ok"
    assert r_token().redact(f"id {seven} ok") == f"id {seven} ok"


def test_secret_shorter_than_fragment_threshold_is_masked_only_whole() -> None:
    """A secret of 11 characters is masked whole but not by fragment; one of 12 is masked by fragment."""
    short, long = "pw-1234-abc", "pw-1234-abcd"
    assert (len(short), len(long)) == (FRAGMENT_SECRET_LENGTH - 1, FRAGMENT_SECRET_LENGTH)
    assert redactor(short).redact(f"login {short} failed") == "login *** failed"
    assert redactor(short).redact("login pw-1234-ab failed") == "login pw-1234-ab failed"
    assert redactor(long).redact("login pw-1234-ab failed") == "login *** failed"


def test_word_inside_long_secret_is_masked_everywhere() -> None:
    """A word of 8 or more letters inside a long secret is a fragment of it, and is masked wherever it appears."""
    assert redactor("wrong-password-123").redact("check username and password") == "check username and ***"


def test_fragment_of_password_in_url_is_masked_but_not_host_or_scheme() -> None:
    """A registered URL's password is masked by fragment; its scheme, user and host are not."""
    r = redactor("postgresql://smoke:Pl4nted-DSN-passw0rd@db.internal.example:5432/app")
    text = "postgresql://smoke@db.internal.example:5432/app refused 'Pl4nted-DSN-p...'"
    assert r.redact(text) == "postgresql://smoke@db.internal.example:5432/app refused '***...'"
    assert r.redact("connect to db.internal.example:5432 as postgresql user") == (
        "connect to db.internal.example:5432 as postgresql user"
    )


def test_fragment_of_repr_escaped_long_secret_is_masked() -> None:
    """A long secret with backslashes is masked by fragment also as repr() shows it, escaped."""
    secret = r"pl4nted\long\secret-value"
    shown = repr(secret)[5:25]
    assert shown == r"ted\\long\\secret-va"
    assert redactor(secret).redact(f"got {shown}...") == "got ***..."


def test_shows_secret_sees_a_fragment() -> None:
    """shows_secret is true for text with 8 characters of a long secret, and false without."""
    r = r_token()
    assert r.shows_secret(f"<p>{TOKEN_30[5:13]}</p>")
    assert not r.shows_secret(f"<p>{TOKEN_30[5:12]}</p>")


def test_fragments_of_two_secrets_merge_into_one_mask() -> None:
    """Overlapping and adjacent fragments of several secrets become one ***."""
    other = "Zz9-second-long-secret"
    r = redactor(TOKEN_30, other)
    assert r.redact(f"[{TOKEN_30[-9:]}{other[:9]}]") == "[***]"


# --------------------------------------------------------------------------- secret-shaped text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("connect redis://:redis-pw@cache:6379/0 failed", "connect redis://:***@cache:6379/0 failed"),
        ("GET https://deploy:base-pw-2024@example.com/health", "GET https://deploy:***@example.com/health"),
    ],
)
def test_url_password_is_masked_without_registration(text: str, expected: str) -> None:
    """A password in URL userinfo is masked in any text, even when it was never registered."""
    assert Redactor().redact(text) == expected


def test_authorization_header_is_masked() -> None:
    """An 'Authorization: Bearer x' header keeps its scheme and masks the credentials."""
    assert Redactor().redact("Authorization: Bearer x") == "Authorization: Bearer ***"


def test_json_authorization_basic_is_masked() -> None:
    """A JSON 'authorization' member with Basic credentials is masked."""
    text = '{"authorization": "Basic abc", "accept": "application/json"}'
    assert Redactor().redact(text) == '{"authorization": "Basic ***", "accept": "application/json"}'


def test_bare_bearer_token_is_masked() -> None:
    """A 'Bearer <token>' outside any header is masked."""
    assert Redactor().redact("sent Bearer abc.def-123_x= to /me") == "sent Bearer *** to /me"


def test_jwt_is_masked() -> None:
    """A JWT-shaped token (eyJ...eyJ...signature) is masked wherever it appears."""
    token = jwt.encode({"sub": "smoke", "role": "admin"}, "signing-key-" * 3, algorithm="HS256")
    assert token.startswith("eyJ")
    assert Redactor().redact(f"token={token}; next") == "token=***; next"


def test_redaction_is_idempotent() -> None:
    """Redacting already redacted text changes nothing."""
    r = redactor("hunter2-admin")
    once = r.redact("Authorization: Bearer abc hunter2-admin postgresql://u:pw@h/db")
    assert r.redact(once) == once
    assert MASK in once


# --------------------------------------------------------------------------- text left alone


@pytest.mark.parametrize(
    "text",
    [
        "",
        "phase 'health' failed (test_checks.py::test_health); later phases not run",
        "GET https://api.example.com/items?page=2 returned 200 in 12 ms",
        "The key to a calm deploy is a tested rollback.",
        "user@example.com deployed 1.4.0 to staging",
        "postgresql://app@db.internal:5432/app",
        "http://127.0.0.1:8000/health",
        "ws://127.0.0.1:8000/ws",
        "see https://example.com:8443/users/@me",
    ],
)
def test_text_without_secrets_is_unchanged(text: str) -> None:
    """Ordinary sentences and URLs without a password pass through unchanged."""
    assert redactor("hunter2-admin").redact(text) == text


# --------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    "name",
    ["DB_PASSWORD", "api_token", "APP_SECRET", "AWS_SECRET_ACCESS_KEY", "STRIPE_KEY", "GCP_CREDENTIALS"],
)
def test_secret_names_are_recognised(name: str) -> None:
    """Names containing SECRET, PASSWORD, TOKEN, KEY or CREDENTIAL (any case) hold secrets."""
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["HOST", "PORT", "DB_USER", "RELEASE_VERSION", "STAGING_URL"])
def test_ordinary_names_are_not_secret(name: str) -> None:
    """Ordinary variable names do not hold secrets."""
    assert not is_secret_name(name)


def test_redact_url_masks_password() -> None:
    """redact_url replaces the userinfo password with ***."""
    assert redact_url("https://deploy:base-pw-2024@example.com/api") == "https://deploy:***@example.com/api"


@pytest.mark.parametrize(
    "url", ["https://example.com/api", "https://deploy@example.com/api", "http://127.0.0.1:8000/health"]
)
def test_redact_url_without_password_is_unchanged(url: str) -> None:
    """redact_url leaves a URL without a password as it is."""
    assert redact_url(url) == url
