"""Options, header, ad-hoc targets, required_env and living beside other plugins."""

from __future__ import annotations

import pytest

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
    assert result.parseoutcomes() == {"passed": 2, "rerun": 1}
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
