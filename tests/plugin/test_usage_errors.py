"""Bad configuration and options become one readable usage error (exit 4), never a traceback."""

from __future__ import annotations

import pytest

TEST = "def test_nothing():\n    pass\n"


def run_usage_error(pytester: pytest.Pytester, toml: str | None, *args: str, absent: str = "") -> str:
    """Run pytest expecting a usage error; return the error line (without ``ERROR: ``).

    *absent* is a string (a planted secret) that must appear nowhere in the output.
    """
    if toml is not None:
        pytester.makefile(".toml", deploysmoke=toml)
    pytester.makepyfile(test_x=TEST)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    assert "Traceback" not in result.stderr.str()
    if absent:
        assert absent not in result.stdout.str() + result.stderr.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr.lines
    return errors[0].removeprefix("ERROR: ")


def test_unknown_target_lists_known_targets(pytester: pytest.Pytester) -> None:
    """An unknown --deploy-target is a usage error that names every defined target."""
    toml = '[targets.staging]\nbase_url = "http://127.0.0.1:9"\n[targets.local]\nbase_url = "http://127.0.0.1:9"\n'
    message = run_usage_error(pytester, toml, "--deploy-target=prod")
    assert message == "--deploy-target 'prod' is not defined in deploysmoke.toml; known targets: local, staging"


def test_unknown_target_from_environment_variable(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """DEPLOYSMOKE_TARGET selects the target when the option is absent, and is validated the same way."""
    monkeypatch.setenv("DEPLOYSMOKE_TARGET", "nope")
    message = run_usage_error(pytester, '[targets.staging]\nbase_url = "http://127.0.0.1:9"\n')
    assert message == "DEPLOYSMOKE_TARGET 'nope' is not defined in deploysmoke.toml; known targets: staging"


def test_target_without_any_config_file(pytester: pytest.Pytester) -> None:
    """Selecting a target with no config file says that no deploysmoke.toml was found."""
    message = run_usage_error(pytester, None, "--deploy-target=prod")
    assert message == (
        "--deploy-target 'prod' is not defined: no deploysmoke.toml (or [tool.deploysmoke] in pyproject.toml) "
        "in the rootdir; create one, pass --deploy-config PATH, or give --deploy-base-url URL"
    )


def test_unknown_key_suggests_close_match(pytester: pytest.Pytester) -> None:
    """A misspelt key names the file, the target and the key it probably meant."""
    message = run_usage_error(pytester, '[targets.prod]\nbase_ur = "https://x"\n', "--deploy-target=prod")
    assert message == "deploysmoke.toml: [targets.prod] unknown key 'base_ur'; did you mean 'base_url'?"


def test_unknown_key_is_reported_even_for_another_target(pytester: pytest.Pytester) -> None:
    """Every target's shape is validated, not only the selected one."""
    toml = '[targets.a]\nbase_url = "http://127.0.0.1:9"\n[targets.b]\nbase_url = "http://x"\ntimout = 3\n'
    message = run_usage_error(pytester, toml, "--deploy-target=a")
    assert message == "deploysmoke.toml: [targets.b] unknown key 'timout'; did you mean 'timeout'?"


def test_wrong_type_names_key_and_expected_type(pytester: pytest.Pytester) -> None:
    """A value of the wrong type names the key and what is expected."""
    message = run_usage_error(
        pytester, '[targets.prod]\nbase_url = "https://x"\ntimeout = "10"\n', "--deploy-target=prod"
    )
    assert message == "deploysmoke.toml: [targets.prod] timeout is '10'; expected a number of seconds"


def test_base_url_must_be_http(pytester: pytest.Pytester) -> None:
    """A base_url that is not http(s) is rejected with an example of a right one."""
    message = run_usage_error(pytester, '[targets.prod]\nbase_url = "ftp://x"\n', "--deploy-target=prod")
    assert message == (
        "deploysmoke.toml: [targets.prod] base_url is 'ftp://x'; "
        "expected an absolute http or https URL such as 'https://host'"
    )


def test_ws_url_must_be_ws(pytester: pytest.Pytester) -> None:
    """A ws_url that is not ws(s) is rejected."""
    toml = '[targets.prod]\nbase_url = "https://x"\nws_url = "https://x/ws"\n'
    message = run_usage_error(pytester, toml, "--deploy-target=prod")
    assert message == (
        "deploysmoke.toml: [targets.prod] ws_url is 'https://x/ws'; "
        "expected an absolute ws or wss URL such as 'wss://host'"
    )


def test_gate_must_be_a_configured_phase(pytester: pytest.Pytester) -> None:
    """A gate that is not a configured phase lists the phases."""
    toml = 'phases = ["health", "features"]\ngates = ["helth"]\n[targets.prod]\nbase_url = "https://x"\n'
    message = run_usage_error(pytester, toml, "--deploy-target=prod")
    assert message == "deploysmoke.toml: gates names unknown phase 'helth'; known phases: health, features"


def test_missing_variable_names_variable_and_target(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ${VAR} without default that is unset names the variable, the target and the fix."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    toml = '[targets.prod]\nbase_url = "https://x"\ndatabase_url = "${DATABASE_URL}"\n'
    message = run_usage_error(pytester, toml, "--deploy-target=prod")
    assert message == (
        "deploysmoke.toml: [targets.prod] database_url uses ${DATABASE_URL}, which is not set or empty; "
        "export DATABASE_URL, or give a default: ${DATABASE_URL:-...}"
    )


def test_launch_on_production_target_is_refused(pytester: pytest.Pytester) -> None:
    """A [launch] section on a production target is a usage error."""
    toml = '[targets.prod]\nbase_url = "http://127.0.0.1:{port}"\nproduction = true\n[targets.prod.launch]\ncommand = "x"\n'
    message = run_usage_error(pytester, toml, "--deploy-target=prod")
    assert message == (
        "deploysmoke.toml: [targets.prod.launch] is set on a production target; "
        "a launched command is a local stand-in; remove [launch] or set production = false"
    )


def test_unknown_deploy_phase_lists_phases(pytester: pytest.Pytester) -> None:
    """--deploy-phase with an unknown name lists the configured phases."""
    message = run_usage_error(
        pytester, '[targets.prod]\nbase_url = "https://x"\n', "--deploy-target=prod", "--deploy-phase=helth"
    )
    assert message == (
        "--deploy-phase names unknown phase 'helth'; known phases: "
        "preflight, migrations, health, auth, features, performance, monitoring"
    )


def test_negative_deploy_wait_is_refused(pytester: pytest.Pytester) -> None:
    """--deploy-wait must be zero or more seconds."""
    message = run_usage_error(
        pytester, '[targets.prod]\nbase_url = "https://x"\n', "--deploy-target=prod", "--deploy-wait=-1"
    )
    assert message == "--deploy-wait is -1; expected seconds >= 0"


def test_missing_config_path(pytester: pytest.Pytester) -> None:
    """--deploy-config naming a file that does not exist says so."""
    message = run_usage_error(pytester, None, "--deploy-target=prod", "--deploy-config=nope.toml")
    assert message == "--deploy-config 'nope.toml' does not exist; give the path of a TOML file"


def test_invalid_toml_names_the_file(pytester: pytest.Pytester) -> None:
    """A config that is not TOML names the file and the parser's complaint."""
    message = run_usage_error(pytester, "[targets.prod\n", "--deploy-target=prod")
    assert message == (
        "deploysmoke.toml is not valid TOML: "
        "Expected ']' at the end of a table declaration (at end of document); fix the syntax"
    )


def test_usage_error_never_shows_a_secret(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A validation error about a URL that carries a password masks the password."""
    monkeypatch.setenv("DB_PASSWORD", "s3cr3t-pw-value")
    toml = '[targets.prod]\nbase_url = "ftp://admin:${DB_PASSWORD}@host"\n'
    message = run_usage_error(pytester, toml, "--deploy-target=prod", absent="s3cr3t-pw-value")
    assert message == (
        "deploysmoke.toml: [targets.prod] base_url is 'ftp://admin:***@host'; "
        "expected an absolute http or https URL such as 'https://host'"
    )


def test_pyproject_table_is_read_and_validated(pytester: pytest.Pytester) -> None:
    """[tool.deploysmoke] in pyproject.toml is used when there is no deploysmoke.toml."""
    pytester.makepyprojecttoml(
        '[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n'
        '[tool.deploysmoke.targets.prod]\nbase_url = "https://x"\nverify_tls = "no"\n'
    )
    (pytester.path / "tox.ini").unlink()
    message = run_usage_error(pytester, None, "--deploy-target=prod")
    assert message == "pyproject.toml: [tool.deploysmoke.targets.prod] verify_tls is 'no'; expected true or false"


def test_bad_base_url_option_is_blamed_on_the_option(pytester: pytest.Pytester) -> None:
    """A --deploy-base-url without a scheme names the option, not the config file."""
    message = run_usage_error(
        pytester, '[targets.prod]\nbase_url = "https://x"\n', "--deploy-target=prod", "--deploy-base-url=localhost:8000"
    )
    assert (
        message
        == "--deploy-base-url is 'localhost:8000'; expected an absolute http or https URL such as 'https://host'"
    )


def test_report_path_that_is_a_directory_is_refused_before_any_check(pytester: pytest.Pytester) -> None:
    """--deploy-ticket naming a directory is a usage error, so no run is wasted on an unwritable report."""
    pytester.mkdir("reports")
    message = run_usage_error(
        pytester, '[targets.prod]\nbase_url = "https://x"\n', "--deploy-target=prod", "--deploy-ticket=reports"
    )
    assert message == "--deploy-ticket 'reports' is a directory; give a file path, e.g. reports/smoke.md"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('"ten"', "is 'ten'; expected a percentage from 0% to 100% such as '5%'"),
        ('"150%"', "is '150%'; expected a percentage from 0% to 100% such as '5%'"),
        ("0.1", 'is float 0.1; expected a percentage such as "10%"'),
    ],
)
def test_bad_max_retried_is_one_line(pytester: pytest.Pytester, value: str, problem: str) -> None:
    """max_retried must be a percentage string; anything else names the key, the value and the form expected."""
    toml = f'[targets.t]\nbase_url = "http://127.0.0.1:9"\nretries = 2\nmax_retried = {value}\n'
    message = run_usage_error(pytester, toml, "--deploy-target=t")
    assert message == f"deploysmoke.toml: [targets.t] max_retried {problem}"
