"""Options, header, ad-hoc targets, required_env and living beside other plugins."""

from __future__ import annotations

import sys

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

from tests.doc_pages import DOCS, fenced_blocks

CONFIG = '[targets.local]\nbase_url = "{url}"\n'
#: With an expected version, which adds the built-in deploysmoke::version check (the stand-in reports 1.2.3).
VERSIONED = CONFIG + 'version = "1.2.3"\n'


def test_help_lists_the_options_in_their_group(pytester: pytest.Pytester) -> None:
    """pytest --help shows every --deploy-* option under the deploysmoke group."""
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "post-deploy smoke checks:",
            "*--deploy-target=NAME*",
            "*--deploy-config=PATH*",
            "*--deploy-base-url=URL*",
            "*--deploy-phase=NAME?,NAME?*",
            "*--allow-destructive*",
            "*--deploy-wait=SECONDS*",
            "*--deploy-samples=N*",
        ]
    )


def test_header_shows_target_and_rerun_flags(pytester: pytest.Pytester, standin_url: str) -> None:
    """The header names the target, base_url, production flag and expected version, and how to rerun."""
    pytester.makefile(".toml", deploysmoke=VERSIONED.format(url=standin_url))
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=local", "--deploy-phase=features", "--deploy-wait=2")
    result.stdout.fnmatch_lines(
        [
            f"deploysmoke: target 'local' (from --deploy-target), base_url={standin_url}, production=no, "
            "expected version=1.2.3",
            "deploysmoke: config=deploysmoke.toml, phases=preflight,*, gates=preflight,migrations,health,auth",
            "deploysmoke: rerun with --deploy-target=local --deploy-phase=features --deploy-wait=2",
        ]
    )


def test_target_from_environment_variable(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DEPLOYSMOKE_TARGET selects the target, and the header says so."""
    monkeypatch.setenv("DEPLOYSMOKE_TARGET", "local")
    pytester.makefile(".toml", deploysmoke=CONFIG.format(url=standin_url))
    pytester.makepyfile(test_x="def test_x(deploy_target):\n    assert deploy_target.name == 'local'\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["deploysmoke: target 'local' (from DEPLOYSMOKE_TARGET)*"])


def test_option_beats_environment_variable(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--deploy-target wins over DEPLOYSMOKE_TARGET."""
    monkeypatch.setenv("DEPLOYSMOKE_TARGET", "nope")
    pytester.makefile(".toml", deploysmoke=CONFIG.format(url=standin_url))
    pytester.makepyfile(test_x="def test_x(deploy_target):\n    assert deploy_target.name == 'local'\n")
    result = pytester.runpytest("--deploy-target=local")
    result.assert_outcomes(passed=1)


def test_base_url_without_config_defines_adhoc_target(pytester: pytest.Pytester, standin_url: str) -> None:
    """--deploy-base-url alone checks an ad-hoc target named 'adhoc' with the default phases."""
    pytester.makepyfile(
        test_x="import httpx\n\ndef test_x(deploy_target):\n"
        "    assert deploy_target.name == 'adhoc'\n"
        "    assert httpx.get(deploy_target.base_url + '/health').status_code == 200\n"
    )
    result = pytester.runpytest(f"--deploy-base-url={standin_url}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["deploysmoke: target 'adhoc' (from --deploy-base-url)*"])


def test_base_url_overrides_the_configured_one(pytester: pytest.Pytester, standin_url: str) -> None:
    """--deploy-base-url replaces the selected target's base_url and keeps the rest."""
    pytester.makefile(".toml", deploysmoke=VERSIONED.format(url="https://unreachable.invalid"))
    pytester.makepyfile(
        test_x="def test_x(deploy_target):\n"
        f"    assert deploy_target.base_url == {standin_url!r}\n"
        "    assert deploy_target.version == '1.2.3'\n"
    )
    result = pytester.runpytest("--deploy-target=local", f"--deploy-base-url={standin_url}")
    result.assert_outcomes(passed=2)  # and deploysmoke::version, on the stand-in


def test_required_env_is_a_preflight_check(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Names in required_env that are unset fail a built-in preflight check, which gates the rest."""
    monkeypatch.setenv("JWT_SECRET", "present-value")
    monkeypatch.delenv("KIFU_ENC_KEY", raising=False)
    pytester.makefile(
        ".toml",
        deploysmoke=CONFIG.format(url=standin_url) + 'required_env = ["JWT_SECRET", "KIFU_ENC_KEY"]\n',
    )
    pytester.makepyfile(test_x="import pytest\n\n@pytest.mark.phase('health')\ndef test_health():\n    pass\n")
    result = pytester.runpytest("--deploy-target=local", "-m", "smoke", "-v", "-rs")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*deploysmoke::required_env FAILED*",
            "*required environment not set or empty: KIFU_ENC_KEY (required_env of target 'local'); "
            "set them in the runner's environment",
        ]
    )
    result.stdout.fnmatch_lines(["*gate 'preflight' failed (deploysmoke::required_env); later phases not run*"])
    assert "present-value" not in result.stdout.str()


def test_required_env_passes_when_set(
    pytester: pytest.Pytester, standin_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every name set, the built-in check passes."""
    monkeypatch.setenv("JWT_SECRET", "x-value")
    pytester.makefile(".toml", deploysmoke=CONFIG.format(url=standin_url) + 'required_env = ["JWT_SECRET"]\n')
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=local")
    result.assert_outcomes(passed=2)


def test_no_clash_with_pytest_base_url(pytester: pytest.Pytester, standin_url: str) -> None:
    """pytest-base-url's --base-url and base_url fixture keep working beside ours."""
    assert pytester.parseconfig().pluginmanager.hasplugin("base_url"), "pytest-base-url must be installed"
    pytester.makefile(".toml", deploysmoke=CONFIG.format(url=standin_url))
    pytester.makepyfile(
        test_x="def test_x(base_url, deploy_target):\n"
        "    assert base_url == 'http://other.invalid'\n"
        f"    assert deploy_target.base_url == {standin_url!r}\n"
    )
    result = pytester.runpytest("--deploy-target=local", "--base-url=http://other.invalid", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_no_clash_with_another_smoke_marker(pytester: pytest.Pytester, standin_url: str) -> None:
    """A project (or pytest-smoke) registering its own 'smoke' marker works with --strict-markers."""
    pytester.makefile(".toml", deploysmoke=CONFIG.format(url=standin_url))
    pytester.makeconftest(
        "def pytest_configure(config):\n"
        "    config.addinivalue_line('markers', 'smoke(*, mustpass=False): another plugin')\n"
    )
    pytester.makepyfile(test_x="import pytest\n\n@pytest.mark.smoke\ndef test_x():\n    pass\n")
    result = pytester.runpytest("--deploy-target=local", "--strict-markers", "-m", "smoke")
    result.assert_outcomes(passed=1)


def test_gate_is_judged_on_final_outcome_under_rerunfailures(pytester: pytest.Pytester, standin_url: str) -> None:
    """A gate check that fails once and passes on rerun does not skip later phases."""
    assert pytester.parseconfig().pluginmanager.hasplugin("rerunfailures")
    pytester.makefile(".toml", deploysmoke=CONFIG.format(url=standin_url))
    flag = pytester.path / "attempted"
    pytester.makepyfile(
        test_x=f"""
        import pathlib
        import pytest

        @pytest.mark.phase("health")
        def test_flaky_health():
            flag = pathlib.Path({str(flag)!r})
            if not flag.exists():
                flag.touch()
                assert False, "first attempt fails"

        @pytest.mark.phase("features")
        def test_feature():
            pass
        """
    )
    result = pytester.runpytest("--deploy-target=local", "--reruns=1")
    outcomes = result.parseoutcomes()
    # In-process after parseconfig() above, pytest 9.2 warns that the plugins were imported before
    # their assertions could be rewritten: the harness's warnings, not the run's.
    outcomes.pop("warnings", None)
    assert outcomes == {"passed": 2, "rerun": 1}
    result.stdout.fnmatch_lines(["*health*PASSED*(gate)*1 passed*"])


def test_deploy_target_carries_the_options_in_force(pytester: pytest.Pytester, standin_url: str) -> None:
    """The command line is folded into the target once: deploy_target shows the values the run uses."""
    pytester.makefile(
        ".toml",
        deploysmoke=f'[targets.t]\nbase_url = "{standin_url}"\nsamples = 5\nwait_ready = 1\n'
        '[targets.t.watch]\nduration = "0s"\nevery = "10s"\n',
    )
    pytester.makepyfile(
        test_checks="""
        def test_settings(deploy_target):
            got = (deploy_target.samples, deploy_target.wait_ready, deploy_target.allow_destructive,
                   deploy_target.watch.every, deploy_target.ui.browser_path)
            assert got == (7, 0.0, True, 3.0, "/opt/chromium"), got
        """
    )
    result = pytester.runpytest(
        "--deploy-target=t",
        "--deploy-samples=7",
        "--deploy-wait=0",
        "--allow-destructive",
        "--deploy-watch-every=3s",
        "--deploy-browser-path=/opt/chromium",
    )
    result.assert_outcomes(passed=1)


SHOWN = """
[targets.staging]
base_url = "https://staging.example.com"
database_url = "postgresql://app:${DB_PASSWORD}@db.staging:5432/app"
timeout = 5
headers = { X-Smoke = "1" }
[targets.staging.auth]
login_path = "/api/login"
username = "smoke"
password = "${SMOKE_PASSWORD}"
[targets.staging.watch]
duration = "10m"

[targets.prod]
extends = "staging"
base_url = "https://${HOST}"
production = true
headers = { X-Team = "core" }
"""


def test_show_config_prints_the_target_as_resolved(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """--deploy-show-config prints the merged, expanded target as TOML with secrets masked, and exits 0."""

    pytester.makefile(".toml", deploysmoke=SHOWN)
    monkeypatch.setenv("DB_PASSWORD", "db-pass-5f1c9a")
    monkeypatch.setenv("SMOKE_PASSWORD", "smoke-pass-77e2b0")
    monkeypatch.setenv("HOST", "example.com")
    pytester.makepyfile(test_x="def test_x():\n    raise AssertionError('a check ran')\n")
    result = pytester.runpytest("--deploy-target=prod", "--deploy-show-config", "--deploy-watch=30s")
    assert result.ret == 0
    output = result.stdout.str()
    assert "db-pass" not in output and "smoke-pass" not in output
    assert "a check ran" not in output and "passed" not in output
    shown = tomllib.loads(output)
    prod = shown["targets"]["prod"]
    assert "extends" not in prod
    assert (prod["base_url"], prod["production"], prod["timeout"]) == ("https://example.com", True, 5)
    assert prod["headers"] == {"X-Smoke": "1", "X-Team": "core"}
    assert prod["database_url"] == "postgresql://app:***@db.staging:5432/app"
    assert prod["auth"] == {"login_path": "/api/login", "username": "smoke", "password": "***"}
    assert prod["watch"] == {"duration": "30s"}
    assert shown["gates"] == ["preflight", "migrations", "health", "auth"]


def test_show_config_shows_the_compare_table_merged(pytester: pytest.Pytester) -> None:
    """[targets.X.compare] is shown as the run reads it: what extends brings in, merged key by key."""
    pytester.makefile(
        ".toml",
        deploysmoke=(
            '[targets.staging]\nbase_url = "https://s.example.com"\n'
            '[targets.staging.compare]\ntolerance = "30%"\nendpoints = ["/api/items"]\n'
            '[targets.prod]\nextends = "staging"\nbase_url = "https://example.com"\n'
            '[targets.prod.compare]\non_regression = "no-go"\n'
        ),
    )
    result = pytester.runpytest("--deploy-target=prod", "--deploy-show-config")
    assert result.ret == 0
    shown = tomllib.loads(result.stdout.str())["targets"]["prod"]["compare"]
    assert shown == {"tolerance": "30%", "endpoints": ["/api/items"], "on_regression": "no-go"}


def test_show_config_without_a_target_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """--deploy-show-config with no target selected says how to select one."""
    pytester.makefile(".toml", deploysmoke=SHOWN)
    result = pytester.runpytest("--deploy-show-config")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --deploy-show-config shows the selected target; select one with*"])


def test_show_config_reports_a_bad_config_in_one_line(pytester: pytest.Pytester) -> None:
    """An invalid target is the same one-line usage error --deploy-show-config and a run give."""
    pytester.makefile(".toml", deploysmoke=SHOWN)
    result = pytester.runpytest("--deploy-target=prod", "--deploy-show-config")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert result.stderr.lines[0] == (
        "ERROR: deploysmoke.toml: [targets.prod] base_url uses ${HOST}, which is not set or empty; "
        "export HOST, or give a default: ${HOST:-...}"
    )
    assert "Traceback" not in result.stderr.str()


def test_show_config_prints_what_the_docs_show(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The example of docs/configuration.md, run: its extends config gives the output the page shows."""
    page = DOCS / "configuration.md"
    config = fenced_blocks(page, "toml", after="## Extending a target")[0]
    command, _, shown = fenced_blocks(page, "console", after="## Extending a target")[0].partition("\n")
    pytester.makefile(".toml", deploysmoke=config)
    for assignment in command.removeprefix("$ ").split()[:-3]:
        name, _, value = assignment.partition("=")
        monkeypatch.setenv(name, value)
    result = pytester.runpytest(*command.split()[-2:])
    assert result.ret == 0
    assert result.stdout.str().strip() == shown.strip()
