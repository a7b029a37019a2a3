"""Configuration: finding the file, validating it, and building a Target from it (no pytester)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_deploysmoke.config.model import ADHOC_TARGET, DEFAULT_GATES, DEFAULT_PHASES, DeployConfig, Target
from pytest_deploysmoke.config.parse import build_target, find_config, load_config
from pytest_deploysmoke.errors import ConfigError
from pytest_deploysmoke.perf.compare import CompareSettings
from tests.doc_pages import DOCS, fenced_blocks


def revealed(target: Target) -> list[str]:
    """The raw values of a target's recorded secrets."""
    return [secret.reveal() for secret in target.secrets]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary rootdir that is also the working directory, so messages show relative paths."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(project: Path, text: str, name: str = "deploysmoke.toml") -> Path:
    path = project / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(project: Path, text: str) -> DeployConfig:
    return load_config(write(project, text))


def load_error(project: Path, text: str) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load(project, text)
    return str(excinfo.value)


def target(
    project: Path,
    text: str,
    name: str = "prod",
    environ: dict[str, str] | None = None,
    *,
    base_url: str | None = None,
    port: int | None = None,
) -> Target:
    return build_target(load(project, text), name, environ or {}, base_url=base_url, port=port)


def target_error(
    project: Path,
    text: str,
    name: str = "prod",
    environ: dict[str, str] | None = None,
    *,
    base_url: str | None = None,
    port: int | None = None,
) -> str:
    with pytest.raises(ConfigError) as excinfo:
        target(project, text, name, environ, base_url=base_url, port=port)
    return str(excinfo.value)


# --------------------------------------------------------------------------- finding and reading


def test_no_config_file_gives_defaults() -> None:
    """load_config(None) gives the default phases, gates and default phase, and no targets."""
    config = load_config(None)
    assert config.path is None
    assert config.phases == DEFAULT_PHASES
    assert config.gates == DEFAULT_GATES
    assert config.default_phase == "features"
    assert dict(config.targets) == {}
    assert config.display_path == "(no config file)"


def test_explicit_config_path_wins(project: Path) -> None:
    """An explicit --deploy-config path is used even when the rootdir has its own files."""
    write(project, "")
    write(project, "[tool.deploysmoke]\n", name="pyproject.toml")
    explicit = write(project, "", name="other.toml")
    assert find_config(project, str(explicit)) == explicit


def test_deploysmoke_toml_wins_over_pyproject(project: Path) -> None:
    """deploysmoke.toml in the rootdir is preferred to a [tool.deploysmoke] table."""
    write(project, "[tool.deploysmoke]\n", name="pyproject.toml")
    own = write(project, "")
    assert find_config(project) == own


def test_pyproject_tool_table_is_found_and_read(project: Path) -> None:
    """pyproject.toml with [tool.deploysmoke] is found and its table is read."""
    pyproject = write(
        project,
        """
        [project]
        name = "app"

        [tool.deploysmoke]
        phases = ["health", "features"]

        [tool.deploysmoke.targets.prod]
        base_url = "https://example.com"
        """,
        name="pyproject.toml",
    )
    assert find_config(project) == pyproject
    config = load_config(pyproject)
    assert config.phases == ("health", "features")
    assert list(config.targets) == ["prod"]
    assert config.display_path == "pyproject.toml [tool.deploysmoke]"


def test_pyproject_without_tool_table_is_ignored(project: Path) -> None:
    """A pyproject.toml without [tool.deploysmoke] is not a config file."""
    write(project, '[project]\nname = "app"\n\n[tool.ruff]\nline-length = 110\n', name="pyproject.toml")
    assert find_config(project) is None


def test_empty_rootdir_has_no_config(project: Path) -> None:
    """With neither file in the rootdir there is no config file."""
    assert find_config(project) is None


def test_explicit_missing_path_is_config_error(project: Path) -> None:
    """An explicit path that does not exist is a ConfigError naming the option and the path."""
    with pytest.raises(ConfigError) as excinfo:
        find_config(project, "missing.toml")
    assert str(excinfo.value) == ("--deploy-config 'missing.toml' does not exist; give the path of a TOML file")


def test_invalid_toml_names_the_file(project: Path) -> None:
    """A syntax error is a ConfigError that names the file and asks to fix the syntax."""
    message = load_error(project, "[targets.prod\nbase_url = 1\n")
    assert message.startswith("deploysmoke.toml is not valid TOML: ")
    assert message.endswith("; fix the syntax")


def test_tool_deploysmoke_not_a_table_is_config_error(project: Path) -> None:
    """A [tool] deploysmoke value that is not a table is a ConfigError, not a crash."""
    pyproject = write(project, '[tool]\ndeploysmoke = "yes"\n', name="pyproject.toml")
    with pytest.raises(ConfigError) as excinfo:
        load_config(pyproject)
    assert str(excinfo.value).startswith("pyproject.toml")


# --------------------------------------------------------------------------- phases and gates


def test_custom_phases_keep_only_configured_default_gates(project: Path) -> None:
    """With custom phases and no gates, the default gates are filtered to the configured phases."""
    config = load(project, 'phases = ["preflight", "health", "features", "canary"]\n')
    assert config.phases == ("preflight", "health", "features", "canary")
    assert config.gates == ("preflight", "health")
    assert config.default_phase == "features"


def test_custom_phases_without_features_default_to_last_phase(project: Path) -> None:
    """Without a 'features' phase the default phase is the last configured one."""
    config = load(project, 'phases = ["smoke", "deep"]\n')
    assert config.gates == ()
    assert config.default_phase == "deep"


# --------------------------------------------------------------------------- variable expansion


def test_variable_is_expanded_from_environ(project: Path) -> None:
    """${VAR} is replaced by the value from the environ mapping."""
    built = target(
        project,
        '[targets.prod]\nbase_url = "https://${HOST}/api"\nversion = "${RELEASE}"\n',
        environ={"HOST": "example.com", "RELEASE": "1.4.0"},
    )
    assert built.base_url == "https://example.com/api"
    assert built.version == "1.4.0"


def test_default_used_when_variable_unset(project: Path) -> None:
    """${VAR:-default} gives the default when VAR is not in the environment."""
    built = target(project, '[targets.prod]\nbase_url = "${PROD_URL:-https://example.com}"\n')
    assert built.base_url == "https://example.com"


def test_default_used_when_variable_set_but_empty(project: Path) -> None:
    """${VAR:-default} gives the default when VAR is set to the empty string."""
    built = target(
        project,
        '[targets.prod]\nbase_url = "${PROD_URL:-https://example.com}"\n',
        environ={"PROD_URL": ""},
    )
    assert built.base_url == "https://example.com"


def test_double_dollar_is_a_literal_dollar(project: Path) -> None:
    """$$ stands for one literal $, so $${HOME} is not expanded."""
    built = target(
        project,
        '[targets.prod]\nbase_url = "https://example.com"\nversion = "cost-$$5-$${HOME}"\n',
        environ={"HOME": "/root"},
    )
    assert built.version == "cost-$5-${HOME}"


def test_only_selected_target_is_expanded(project: Path) -> None:
    """Another target may use a variable that is unset; only the selected target is expanded."""
    built = target(
        project,
        """
        [targets.local]
        base_url = "http://127.0.0.1:8000"

        [targets.prod]
        base_url = "${PROD_URL}"
        """,
        name="local",
    )
    assert built.base_url == "http://127.0.0.1:8000"


# --------------------------------------------------------------------------- secrets


def test_auth_password_and_token_are_recorded_as_secrets(project: Path) -> None:
    """The auth password and token are recorded and wrapped in Secret."""
    built = target(
        project,
        """
        [targets.prod]
        base_url = "https://example.com"

        [targets.prod.auth]
        username = "smoke"
        password = "hunter2-admin"
        token = "tok-static-998877"
        """,
    )
    assert "hunter2-admin" in revealed(built)
    assert "tok-static-998877" in revealed(built)
    assert built.auth is not None
    assert built.auth.password is not None and built.auth.password.reveal() == "hunter2-admin"
    assert built.auth.token is not None and built.auth.token.reveal() == "tok-static-998877"
    assert built.auth.username == "smoke"


@pytest.mark.parametrize(
    ("auth", "kind", "body", "csrf_header"),
    [
        pytest.param('username = "u"\npassword = "p"', "login", "json", None, id="json-login"),
        pytest.param('username = "u"\npassword = "p"\nbody = "form"', "login", "form", None, id="form-login"),
        pytest.param('grant = "password"\nusername = "u"\npassword = "p"', "login", "form", None, id="password-grant"),
        pytest.param(
            'grant = "client_credentials"\ntoken_url = "https://idp.example.com/token"\nclient_id = "c"\n'
            'client_secret = "cc-secret-1234"',
            "client_credentials",
            "form",
            None,
            id="client-credentials",
        ),
        pytest.param(
            'session = "cookie"\nusername = "u"\npassword = "p"\ncsrf_cookie = "csrftoken"',
            "session",
            "form",
            "X-CSRFToken",
            id="session-csrf-default-header",
        ),
        pytest.param('scheme = "basic"\nusername = "u"\npassword = "p"', "basic", "json", None, id="basic"),
        pytest.param('header = "X-Api-Key"\ntoken = "key-12345678"', "api_key", "json", None, id="api-key"),
        pytest.param('token = "tok-12345678"\nusername = "u"', "token", "json", None, id="static-token-wins"),
    ],
)
def test_auth_kind_and_defaults(project: Path, auth: str, kind: str, body: str, csrf_header: str | None) -> None:
    """Each way of logging in is one kind; a grant and a session post a form unless body says otherwise."""
    built = target(project, f'[targets.prod]\nbase_url = "https://example.com"\n[targets.prod.auth]\n{auth}\n')
    assert built.auth is not None
    assert (built.auth.kind, built.auth.body, built.auth.csrf_header) == (kind, body, csrf_header)


def test_client_secret_is_a_secret_and_token_url_is_checked(project: Path) -> None:
    """client_secret is wrapped and recorded; a token_url that is neither a path nor an http(s) URL is refused."""
    auth = 'grant = "client_credentials"\nclient_id = "c"\nclient_secret = "cc-secret-1234"\n'
    built = target(
        project, f'[targets.prod]\nbase_url = "https://example.com"\n[targets.prod.auth]\n{auth}token_url = "/t"\n'
    )
    assert built.auth is not None and built.auth.client_secret is not None
    assert str(built.auth.client_secret) == "***" and "cc-secret-1234" in revealed(built)
    assert built.auth.post_path == "/t"
    message = target_error(
        project, f'[targets.prod]\nbase_url = "https://example.com"\n[targets.prod.auth]\n{auth}token_url = "idp/t"\n'
    )
    assert message == (
        "deploysmoke.toml: [targets.prod.auth] token_url is 'idp/t'; expected an absolute http or https URL such as "
        "'https://host'"
    )


def test_values_of_secret_named_variables_are_recorded(project: Path) -> None:
    """Values of variables named like SECRET, PASSWORD, TOKEN, KEY or CREDENTIAL are secrets."""
    environ = {
        "APP_SECRET": "value-of-secret",
        "DB_PASSWORD": "value-of-password",
        "API_TOKEN": "value-of-token",
        "STRIPE_KEY": "value-of-key",
        "GCP_CREDENTIALS": "value-of-credential",
    }
    built = target(
        project,
        """
        [targets.prod]
        base_url = "https://example.com"
        vars = { a = "${APP_SECRET}", b = "${DB_PASSWORD}", c = "${API_TOKEN}" }
        headers = { X-Key = "${STRIPE_KEY}", X-Cred = "${GCP_CREDENTIALS}" }
        """,
        environ=environ,
    )
    assert set(environ.values()) <= set(revealed(built))


def test_url_passwords_are_recorded_as_secrets(project: Path) -> None:
    """The password parts of database_url, redis_url and base_url are secrets."""
    built = target(
        project,
        """
        [targets.prod]
        base_url = "https://deploy:base-pw-2024@example.com"
        database_url = "postgresql://app:db-pass-4711@db.internal/app"
        redis_url = "redis://:redis-pass-99@cache.internal:6379/0"
        """,
    )
    assert {"base-pw-2024", "db-pass-4711", "redis-pass-99"} <= set(revealed(built))
    assert built.database_url is not None
    assert built.database_url.reveal() == "postgresql://app:db-pass-4711@db.internal/app"


def test_percent_encoded_url_password_is_masked_decoded_too(project: Path) -> None:
    """A percent-encoded DSN password is masked both as written and decoded."""
    built = target(
        project,
        '[targets.prod]\nbase_url = "https://example.com"\ndatabase_url = "postgresql://app:p%40ss-word@db/app"\n',
    )
    assert "p%40ss-word" in revealed(built)
    redactor = built.redactor()
    assert redactor.redact("password p@ss-word and p%40ss-word") == "password *** and ***"


def test_ordinary_variable_values_are_not_secrets(project: Path) -> None:
    """Values of variables with ordinary names are not recorded as secrets."""
    built = target(
        project,
        """
        [targets.prod]
        base_url = "https://${HOST}"
        version = "${RELEASE_VERSION}"
        vars = { region = "${REGION}" }
        """,
        environ={"HOST": "example.com", "RELEASE_VERSION": "1.4.0", "REGION": "eu-west-1"},
    )
    assert built.secrets == ()


def test_repr_never_contains_secrets(project: Path) -> None:
    """repr(target) masks the password, the token, the DSN password and a header built from a secret."""
    planted = ["hunter2-admin", "tok-static-998877", "db-pass-4711", "base-pw-2024", "api-token-123456"]
    built = target(
        project,
        """
        [targets.prod]
        base_url = "https://deploy:base-pw-2024@example.com"
        database_url = "postgresql://app:db-pass-4711@db.internal/app"
        headers = { Authorization = "Bearer ${API_TOKEN}", X-Api-Token = "${API_TOKEN}" }

        [targets.prod.auth]
        username = "smoke"
        password = "hunter2-admin"
        token = "tok-static-998877"
        """,
        environ={"API_TOKEN": "api-token-123456"},
    )
    text = repr(built)
    assert text.startswith("Target(name='prod', base_url='https://deploy:***@example.com'")
    for secret in planted:
        assert secret not in text
    assert "username='smoke'" in text


@pytest.mark.parametrize(
    "secret",
    [pytest.param("pa\\ss-word-1", id="backslash"), pytest.param("tok'en\"-abc123", id="both-quotes")],
)
def test_repr_masks_secrets_that_repr_escapes(project: Path, secret: str) -> None:
    """A secret with characters that repr() escapes is masked in repr(target) too."""
    built = target(
        project,
        """
        [targets.prod]
        base_url = "https://example.com"
        vars = { db_password = "${DB_PASSWORD}" }
        """,
        environ={"DB_PASSWORD": secret},
    )
    text = repr(built)
    escaped = repr(secret)[1:-1]
    assert secret not in text
    assert escaped not in text, f"{escaped!r} shown in {text}"


# --------------------------------------------------------------------------- URLs and ports


def test_bad_base_url_error_hides_password(project: Path) -> None:
    """The error for a bad base_url shows its password masked."""
    message = target_error(project, '[targets.prod]\nbase_url = "ftp://u:ftp-pass-1@example.com"\n')
    assert "base_url is 'ftp://u:***@example.com'" in message
    assert "ftp-pass-1" not in message


def test_ws_url_derived_from_http_base_url(project: Path) -> None:
    """Without ws_url, http://host/path gives ws://host/path."""
    built = target(project, '[targets.prod]\nbase_url = "http://127.0.0.1:8000/app/"\n')
    assert built.base_url == "http://127.0.0.1:8000/app"
    assert built.ws_url == "ws://127.0.0.1:8000/app"


def test_ws_url_derived_from_https_base_url(project: Path) -> None:
    """Without ws_url, https://host/path gives wss://host/path."""
    built = target(project, '[targets.prod]\nbase_url = "https://example.com/api/v2"\n')
    assert built.ws_url == "wss://example.com/api/v2"


def test_port_is_substituted_in_urls_and_launch_command(project: Path) -> None:
    """A passed port replaces {port} in base_url, ws_url and the launch command."""
    built = target(
        project,
        """
        [targets.local]
        base_url = "http://127.0.0.1:{port}"
        ws_url = "ws://127.0.0.1:{port}/ws"

        [targets.local.launch]
        command = "python -m uvicorn app:app --port {port}"
        """,
        name="local",
        port=8123,
    )
    assert built.base_url == "http://127.0.0.1:8123"
    assert built.ws_url == "ws://127.0.0.1:8123/ws"
    assert built.launch is not None
    assert built.launch.command == "python -m uvicorn app:app --port 8123"


def test_variable_default_may_contain_port_placeholder(project: Path) -> None:
    """${VAR:-http://127.0.0.1:{port}} gives VAR when set and the launched URL otherwise."""
    text = """
        [targets.local]
        base_url = "${APP_URL:-http://127.0.0.1:{port}}"

        [targets.local.launch]
        command = "serve --port {port}"
        """
    assert target(project, text, name="local", port=8123).base_url == "http://127.0.0.1:8123"
    overridden = target(project, text, name="local", environ={"APP_URL": "http://127.0.0.1:9000"}, port=8123)
    assert overridden.base_url == "http://127.0.0.1:9000"


def test_launch_ready_path_defaults_to_health_path(project: Path) -> None:
    """Without ready_path, the launch waits on the target's health_path."""
    built = target(
        project,
        """
        [targets.local]
        base_url = "http://127.0.0.1:{port}"
        health_path = "/healthz"

        [targets.local.launch]
        command = "serve --port {port}"
        """,
        name="local",
        port=8123,
    )
    assert built.launch is not None
    assert built.launch.ready_path == "/healthz"


# --------------------------------------------------------------------------- selecting a target


def test_base_url_without_config_builds_adhoc_target() -> None:
    """--deploy-base-url with no config file gives a target named 'adhoc' with the defaults."""
    built = build_target(load_config(None), ADHOC_TARGET, {}, base_url="http://127.0.0.1:8000/")
    assert built.name == "adhoc"
    assert built.base_url == "http://127.0.0.1:8000"
    assert built.ws_url == "ws://127.0.0.1:8000"
    assert built.health_path == "/health"
    assert built.production is False


def test_base_url_override_replaces_configured_one(project: Path) -> None:
    """A base_url passed to build_target replaces the target's configured base_url."""
    built = target(
        project,
        '[targets.prod]\nbase_url = "https://example.com"\nproduction = true\n',
        base_url="https://canary.example.com",
    )
    assert built.base_url == "https://canary.example.com"
    assert built.ws_url == "wss://canary.example.com"
    assert built.production is True


# --------------------------------------------------------------------------- one-line errors

#: A config file that cannot be read: the TOML, and the one-line ConfigError it gives.
BAD_CONFIGS = [
    pytest.param(
        '[targets.a]\nbase_url = "https://a.example.com"\nextends = "b"\n[targets.b]\nextends = "a"\n',
        "deploysmoke.toml: [targets.b] extends makes a cycle: a -> b -> a; let one of them extend none",
        id="extends-cycle-names-the-chain",
    ),
    pytest.param(
        '[targets.staging]\nbase_url = "https://s.example.com"\n[targets.prod]\nextends = "stagin"\n',
        "deploysmoke.toml: [targets.prod] extends names unknown target 'stagin'; did you mean 'staging'?",
        id="extends-unknown-parent-suggests-close-match",
    ),
    pytest.param(
        '[targets.staging]\nbase_url = "https://s.example.com"\n[targets.prod]\nextends = "staging"\nprodution = true\n',
        "deploysmoke.toml: [targets.prod] unknown key 'prodution'; did you mean 'production'?",
        id="extends-merged-target-is-validated",
    ),
    pytest.param(
        'phase = ["health"]\n',
        "deploysmoke.toml has unknown key 'phase'; did you mean 'phases'?",
        id="unknown-top-level-key-suggests-close-match",
    ),
    pytest.param(
        "colour = 1\n",
        "deploysmoke.toml has unknown key 'colour'; known keys: phases, gates, default_phase, targets, manual",
        id="unknown-key-without-close-match-lists-known-keys",
    ),
    pytest.param(
        '[targets.prod]\nbase_ur = "https://example.com"\n',
        "deploysmoke.toml: [targets.prod] unknown key 'base_ur'; did you mean 'base_url'?",
        id="unknown-target-key-suggests-close-match",
    ),
    pytest.param(
        """
        [targets.prod]
        base_url = "https://example.com"

        [targets.prod.auth]
        pasword = "x"
        """,
        "deploysmoke.toml: [targets.prod.auth] unknown key 'pasword'; did you mean 'password'?",
        id="unknown-auth-key-suggests-close-match",
    ),
    *[
        pytest.param(
            f'[targets.prod]\nbase_url = "https://example.com"\n[targets.prod.auth]\n{auth}\n',
            f"deploysmoke.toml: [targets.prod.auth] {message}",
            id=name,
        )
        for name, auth, message in [
            ("auth-body-value-suggests-close-match", 'body = "from"', "body is 'from'; did you mean \"form\"?"),
            (
                "auth-grant-value-lists-choices",
                'grant = "implicit"',
                'grant is \'implicit\'; expected "password" or "client_credentials"',
            ),
            (
                "auth-client-auth-value",
                'client_auth = "header"',
                'client_auth is \'header\'; expected "basic" or "body"',
            ),
            ("auth-scheme-value", 'scheme = "bearer"', "scheme is 'bearer'; expected \"basic\""),
            ("auth-session-value", 'session = "cookies"', "session is 'cookies'; did you mean \"cookie\"?"),
            (
                "auth-client-credentials-needs-its-keys",
                'grant = "client_credentials"\ntoken_url = "/oauth/token"\nclient_id = "ci"',
                'grant = "client_credentials" needs token_url, client_id and client_secret, and has no client_secret; '
                "add client_secret",
            ),
            (
                "auth-basic-needs-username-and-password",
                'scheme = "basic"',
                'scheme = "basic" needs username and password, and has no username and password; add username and password',
            ),
            (
                "auth-api-key-header-needs-token",
                'header = "X-Api-Key"',
                'header = "X-Api-Key" needs token, and has no token; add token',
            ),
            (
                "auth-two-ways-to-log-in",
                'scheme = "basic"\nsession = "cookie"\nusername = "u"\npassword = "p"',
                'sets both scheme = "basic" and session = "cookie"; choose one way to log in',
            ),
            (
                "auth-csrf-needs-a-session",
                'username = "u"\npassword = "p"\ncsrf_cookie = "csrftoken"',
                'csrf_cookie needs session = "cookie"; add it, or remove csrf_cookie',
            ),
            (
                "auth-oauth-key-needs-a-grant",
                'username = "u"\npassword = "p"\nclient_id = "web"',
                'client_id needs grant = "password" or "client_credentials"; add one, or remove client_id',
            ),
            (
                "auth-key-that-does-not-apply",
                'scheme = "basic"\nusername = "u"\npassword = "p"\nlogin_path = "/login"',
                'login_path does not apply with scheme = "basic"; remove login_path',
            ),
            (
                "auth-token-header-does-not-apply-to-a-session",
                'session = "cookie"\nusername = "u"\npassword = "p"\ntoken_header = "X-Auth-Token"',
                'token_header does not apply with session = "cookie"; remove token_header',
            ),
        ]
    ],
    pytest.param(
        """
        [targets.local]
        base_url = "http://127.0.0.1:{port}"

        [targets.local.launch]
        command = "serve --port {port}"
        ready_pth = "/ready"
        """,
        "deploysmoke.toml: [targets.local.launch] unknown key 'ready_pth'; did you mean 'ready_path'?",
        id="unknown-launch-key-suggests-close-match",
    ),
    pytest.param(
        """
        [targets.local]
        base_url = "http://127.0.0.1:{port}"

        [targets.local.launch]
        ready_path = "/ready"
        """,
        'deploysmoke.toml: [targets.local.launch] has no command; add command = "..."',
        id="launch-without-command-is-error",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "https://example.com"\ntimeout = "10"\n',
        "deploysmoke.toml: [targets.prod] timeout is '10'; expected a number of seconds",
        id="timeout-as-string-names-key-and-expected-type",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "https://example.com"\nproduction = "yes"\n',
        "deploysmoke.toml: [targets.prod] production is 'yes'; expected true or false",
        id="production-as-string-names-key-and-expected-type",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "https://example.com"\nheaders = { X-Retries = 3 }\n',
        "deploysmoke.toml: [targets.prod] headers is a table; expected a table of strings",
        id="header-with-non-string-value-names-key-and-expected-type",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "https://example.com"\nrequired_env = "API_TOKEN"\n',
        "deploysmoke.toml: [targets.prod] required_env is 'API_TOKEN'; expected a list of strings",
        id="required-env-not-a-list-names-key-and-expected-type",
    ),
    pytest.param(
        'phases = ["health", "features"]\ngates = ["helth"]\n',
        "deploysmoke.toml: gates names unknown phase 'helth'; known phases: health, features",
        id="gate-naming-unknown-phase-is-error",
    ),
    pytest.param(
        'phases = ["health", "features"]\ndefault_phase = "smoke"\n',
        "deploysmoke.toml: default_phase is unknown phase 'smoke'; known phases: health, features",
        id="unknown-default-phase-is-error",
    ),
    pytest.param(
        'phases = ["health", "features", "health"]\n',
        "deploysmoke.toml: phases lists 'health' more than once",
        id="duplicate-phases-are-error",
    ),
    pytest.param(
        "phases = []\n",
        "deploysmoke.toml: phases is empty; list at least one phase",
        id="empty-phases-list-is-error",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_bad_config_is_one_line_naming_the_key_and_the_fix(project: Path, text: str, message: str) -> None:
    """An unknown key, a wrong type or a bad phase list is one line: where, what is wrong, what to do."""
    assert load_error(project, text) == message


#: A target that cannot be built: the TOML, the target selected, the launch port, and the one-line ConfigError.
BAD_TARGETS = [
    pytest.param(
        '[targets.staging]\nbase_url = "${STAGING_URL}"\n',
        "staging",
        None,
        "deploysmoke.toml: [targets.staging] base_url uses ${STAGING_URL}, which is not set or empty; "
        "export STAGING_URL, or give a default: ${STAGING_URL:-...}",
        id="missing-variable-names-variable-and-target",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "ftp://example.com"\n',
        "prod",
        None,
        "deploysmoke.toml: [targets.prod] base_url is 'ftp://example.com'; "
        "expected an absolute http or https URL such as 'https://host'",
        id="base-url-must-be-http",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "https://example.com"\nws_url = "https://example.com/ws"\n',
        "prod",
        None,
        "deploysmoke.toml: [targets.prod] ws_url is 'https://example.com/ws'; "
        "expected an absolute ws or wss URL such as 'wss://host'",
        id="ws-url-must-be-ws",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "http://127.0.0.1:{port}"\n',
        "prod",
        None,
        "deploysmoke.toml: [targets.prod] base_url contains {port} but the target has no [launch] "
        "section; {port} is only filled in for launched targets",
        id="port-placeholder-without-launch-is-error",
    ),
    pytest.param(
        """
        [targets.prod]
        base_url = "http://127.0.0.1:{port}"
        production = true

        [targets.prod.launch]
        command = "serve --port {port}"
        """,
        "prod",
        8123,
        "deploysmoke.toml: [targets.prod.launch] is set on a production target; "
        "a launched command is a local stand-in; remove [launch] or set production = false",
        id="launch-on-production-target-is-error",
    ),
    pytest.param(
        """
        [targets.zeta]
        base_url = "https://zeta.example.com"

        [targets.alpha]
        base_url = "https://alpha.example.com"

        [targets.mid]
        base_url = "https://mid.example.com"
        """,
        "nope",
        None,
        "--deploy-target 'nope' is not defined in deploysmoke.toml; known targets: alpha, mid, zeta",
        id="unknown-target-lists-known-targets-sorted",
    ),
    pytest.param(
        '[targets.prod]\nbase_url = "https://example.com"\nhealth_path = "health"\n',
        "prod",
        None,
        "deploysmoke.toml: [targets.prod] health_path is 'health'; expected a path starting with '/'",
        id="health-path-must-start-with-slash",
    ),
    *(
        pytest.param(
            f'[targets.prod]\nbase_url = "https://example.com"\ntimeout = {value}\n',
            "prod",
            None,
            f"deploysmoke.toml: [targets.prod] timeout is {value}; expected seconds > 0",
            id=f"timeout-{value}-is-not-positive",
        )
        for value in ("0", "-1.5")
    ),
]


@pytest.mark.parametrize(("text", "name", "port", "message"), BAD_TARGETS)
def test_bad_target_is_one_line_naming_the_key_and_the_fix(
    project: Path, text: str, name: str, port: int | None, message: str
) -> None:
    """A bad URL, path, timeout, variable, [launch] or target name is one line: where, what is wrong, what to do."""
    assert target_error(project, text, name, port=port) == message


# --------------------------------------------------------------------------- [ui]


def test_ui_settings_are_read(project: Path) -> None:
    """[ui] gives the browser path, where the token goes and when screenshots are taken; defaults without it."""
    ui = target(
        project,
        """
        [targets.prod]
        base_url = "https://x.example"
        [targets.prod.ui]
        browser_path = "${CHROMIUM:-/usr/bin/chromium}"
        token_storage = "cookie:session"
        screenshots = "on-failure"
        """,
    ).ui
    assert (ui.browser_path, ui.token_storage, ui.screenshots) == ("/usr/bin/chromium", "cookie:session", "on-failure")
    bare = target(project, '[targets.prod]\nbase_url = "https://x.example"\n').ui
    assert (bare.browser_path, bare.token_storage, bare.screenshots) == (None, None, "always")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'token_storage = "local:token"',
            "[targets.prod.ui] token_storage is 'local:token'; "
            'expected "localStorage:KEY", "sessionStorage:KEY" or "cookie:NAME"',
        ),
        ('token_storage = "cookie:"', "[targets.prod.ui] token_storage is 'cookie:'"),
        (
            'screenshots = "sometimes"',
            '[targets.prod.ui] screenshots is \'sometimes\'; expected "always", "on-failure" or "off"',
        ),
        ('screenshot = "off"', "[targets.prod.ui] unknown key 'screenshot'; did you mean 'screenshots'?"),
        ("browser_path = 3", "[targets.prod.ui] browser_path is int 3; expected a string"),
    ],
)
def test_bad_ui_settings_name_the_key(project: Path, table: str, message: str) -> None:
    """A wrong [ui] value is a ConfigError naming the key, what it is and what is expected."""
    error = target_error(project, f'[targets.prod]\nbase_url = "https://x.example"\n[targets.prod.ui]\n{table}\n')
    assert message in error


def test_read_only_requests_are_method_and_path(project: Path) -> None:
    """read_only_requests lists "METHOD /path" entries; anything else names the entry and the form."""
    text = '[targets.prod]\nbase_url = "https://x.example"\nread_only_requests = [{}]\n'
    assert target(project, text.format('"POST /graphql"')).read_only_requests == frozenset({"POST /graphql"})
    error = target_error(project, text.format('"/graphql"'))
    assert '[targets.prod] read_only_requests has \'/graphql\'; expected "METHOD /path", e.g. "POST /graphql"' in error


def test_held_back_is_list_or_warn(project: Path) -> None:
    """held_back defaults to "list", takes "warn", and names the two values when it is anything else."""
    text = '[targets.prod]\nbase_url = "https://x.example"\nproduction = true\n{}'
    assert target(project, text.format("")).held_back == "list"
    assert target(project, text.format('held_back = "warn"\n')).held_back == "warn"
    error = target_error(project, text.format('held_back = "loud"\n'))
    assert "[targets.prod] held_back is 'loud'; expected 'list' or 'warn'" in error


def test_extends_merges_the_parent_key_by_key(project: Path) -> None:
    """A target that extends another takes its keys; its own win, and tables merge key by key."""
    text = """
[targets.staging]
base_url = "https://staging.example.com"
timeout = 5.0
headers = { X-Smoke = "1", X-Team = "payments" }
[targets.staging.auth]
login_path = "/api/login"
username = "smoke"

[targets.prod]
extends = "staging"
base_url = "https://example.com"
production = true
headers = { X-Team = "core" }
[targets.prod.auth]
username = "smoke-prod"
"""
    built = target(project, text, "prod")
    assert (built.base_url, built.production, built.timeout) == ("https://example.com", True, 5.0)
    assert dict(built.headers) == {"X-Smoke": "1", "X-Team": "core"}
    assert built.auth is not None
    assert (built.auth.login_path, built.auth.username) == ("/api/login", "smoke-prod")
    parent = target(project, text, "staging")
    assert (parent.base_url, parent.production) == ("https://staging.example.com", False)


# --------------------------------------------------------------------------- [compare]


def test_compare_settings_are_read_and_a_bare_path_is_a_get(project: Path) -> None:
    """[compare] gives the tolerance as a fraction, the confidence, the minimum, the endpoints and the decision."""
    built = target(
        project,
        """
        [targets.prod]
        base_url = "https://x.example"
        [targets.prod.compare]
        tolerance = "${TOLERANCE:-10%}"
        confidence = 0.99
        min_samples = 100
        endpoints = ["/api/markets/krw", "HEAD /health", "GET /api/markets/krw", "/items (checks)", "GET /x (load)"]
        on_regression = "no-go"
        """,
    )
    endpoints = ("GET /api/markets/krw", "HEAD /health", "GET /items (checks)", "GET /x (load)")
    assert built.compare == CompareSettings(0.10, 0.99, 100, endpoints, "no-go")


def test_compare_defaults_are_kayentas(project: Path) -> None:
    """Without [compare]: 25 %, 0.98, 50 samples, every endpoint both runs measured, a regression is ROLLBACK."""
    built = target(project, '[targets.prod]\nbase_url = "https://x.example"\n')
    assert built.compare == CompareSettings(0.25, 0.98, 50, (), "rollback")


def test_compare_table_is_merged_through_extends(project: Path) -> None:
    """A target's [compare] keys win over the one it extends, key by key."""
    text = """
    [targets.staging]
    base_url = "https://staging.example.com"
    [targets.staging.compare]
    tolerance = "30%"
    on_regression = "no-go"

    [targets.prod]
    extends = "staging"
    base_url = "https://example.com"
    [targets.prod.compare]
    on_regression = "rollback"
    """
    assert target(project, text, "prod").compare == CompareSettings(tolerance=0.30, on_regression="rollback")


def test_compare_min_shift_is_a_duration(project: Path) -> None:
    """min_shift takes a duration like every time in the config: "0ms" turns the floor off."""
    text = """
    [targets.prod]
    base_url = "https://example.com"
    [targets.prod.compare]
    min_shift = "0ms"
    """
    assert target(project, text, "prod").compare.min_shift_ms == 0.0
    assert CompareSettings().min_shift_ms == 2.0


#: A [targets.prod.compare] line that cannot be read, and the one-line ConfigError it gives.
BAD_COMPARE = [
    pytest.param("tolerance = 25", 'tolerance is int 25; expected a percentage such as "25%"', id="tolerance-number"),
    pytest.param(
        'tolerance = "25"',
        "tolerance is '25'; expected a percentage from 0% to 100% such as '5%'",
        id="tolerance-without-percent-sign",
    ),
    pytest.param(
        "confidence = 98",
        "confidence is int 98; expected a confidence from 0.5 to under 1, such as 0.98",
        id="confidence-as-percent",
    ),
    pytest.param(
        "confidence = 1.0",
        "confidence is float 1.0; expected a confidence from 0.5 to under 1, such as 0.98",
        id="confidence-one",
    ),
    pytest.param(
        "min_samples = 0",
        "min_samples is int 0; expected a whole number of samples (1 or more)",
        id="min-samples-zero",
    ),
    pytest.param(
        'min_shift = "fast"',
        "min_shift is 'fast'; a duration must be seconds or a string like '100ms' or '1.5s', got 'fast'",
        id="min-shift-not-a-duration",
    ),
    pytest.param(
        'endpoints = "GET /x"',
        "endpoints is 'GET /x'; expected a list of endpoints such as \"GET /api/items\"",
        id="endpoints-not-a-list",
    ),
    pytest.param(
        'endpoints = ["get /x"]',
        'endpoints has \'get /x\'; expected "METHOD /path", or "/path" for a GET, without a query, '
        'e.g. "GET /api/items"',
        id="endpoint-lower-case-method",
    ),
    pytest.param(
        'endpoints = ["/x?page=2"]',
        'endpoints has \'/x?page=2\'; expected "METHOD /path", or "/path" for a GET, without a query, '
        'e.g. "GET /api/items"',
        id="endpoint-with-query",
    ),
    pytest.param(
        'on_regression = "nogo"', "on_regression is 'nogo'; did you mean \"no-go\"?", id="on-regression-close"
    ),
    pytest.param(
        'on_regression = "NO-GO"', "on_regression is 'NO-GO'; did you mean \"no-go\"?", id="on-regression-case"
    ),
    pytest.param(
        'on_regression = "fail"', 'on_regression is \'fail\'; expected "rollback" or "no-go"', id="on-regression-other"
    ),
    pytest.param('tolerence = "10%"', "unknown key 'tolerence'; did you mean 'tolerance'?", id="unknown-key"),
]


@pytest.mark.parametrize(("line", "message"), BAD_COMPARE)
def test_bad_compare_setting_is_one_line_naming_the_key(project: Path, line: str, message: str) -> None:
    """A wrong [compare] value is one line: the file, the table and key, what it is and what is expected."""
    text = f'[targets.prod]\nbase_url = "https://x.example"\n[targets.prod.compare]\n{line}\n'
    assert target_error(project, text) == f"deploysmoke.toml: [targets.prod.compare] {message}"


def test_compare_doc_example_and_its_error_lines_are_what_the_parser_gives(project: Path) -> None:
    """docs/configuration.md's [compare] example reads as the page says, and each error line it shows is real."""
    page = DOCS / "configuration.md"
    heading = "### `[targets.NAME.compare]`"
    (example,) = fenced_blocks(page, "toml", after=heading)[:1]
    assert target(project, example).compare == CompareSettings(
        0.40, 0.99, 100, ("GET /api/markets/krw", "GET /api/items"), "no-go", min_shift_ms=5.0
    )
    shown = fenced_blocks(page, "text", after=heading)[0].splitlines()
    given = {f"deploysmoke.toml: [targets.prod.compare] {param.values[1]}" for param in BAD_COMPARE}
    assert shown and set(shown) <= given
