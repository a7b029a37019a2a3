"""Without a target the plugin is inert: plain tests run untouched, smoke checks are skipped."""

from __future__ import annotations

import json

import pytest

PROJECT = """
import json

import pytest

def test_unit():
    assert "Bearer abc.def" == "Bearer abc.def"

@pytest.mark.smoke
def test_smoke_marked():
    pass

@pytest.mark.phase("health")
def test_phase_marked():
    pass

def test_uses_target(deploy_target):
    pass
"""


def test_no_target_skips_smoke_checks_and_runs_unit_tests(pytester: pytest.Pytester) -> None:
    """Smoke-marked, phase-marked and deploy-fixture tests are skipped with the reason."""
    pytester.makepyfile(test_project=PROJECT)
    result = pytester.runpytest("-rs")
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(["*no deploy target selected (use --deploy-target)*"])
    result.stdout.no_fnmatch_line("*deploysmoke:*")


def test_no_target_keeps_a_broken_config_file_out_of_the_way(pytester: pytest.Pytester) -> None:
    """An inert run does not even read deploysmoke.toml."""
    pytester.makefile(".toml", deploysmoke="this is = not [valid")
    pytester.makepyfile(test_unit="def test_unit():\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)


def test_no_target_leaves_failure_text_untouched(pytester: pytest.Pytester) -> None:
    """Redaction applies only to deploy runs; a unit test's failure text is exactly pytest's."""
    pytester.makepyfile(test_unit='def test_unit():\n    assert "Bearer abcdef" == "x"\n')
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: assert 'Bearer abcdef' == 'x'*"])


def test_unit_tests_keep_file_order_without_target(pytester: pytest.Pytester) -> None:
    """Without a target nothing is reordered by phase."""
    pytester.makepyfile(
        test_order="""
        import pytest

        @pytest.mark.phase("monitoring")
        def test_a():
            pass

        def test_b():
            pass
        """
    )
    result = pytester.runpytest("-v", "--co")
    result.stdout.fnmatch_lines(["*test_a*", "*test_b*"])


INERT_CONFTEST = """
import json
import sys

import playwright.sync_api  # a browser project: Playwright is loaded, as pytest-playwright does
import json

import pytest

runners = []


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef):
    result = yield
    if type(result).__name__ == "Runner":  # pytest-asyncio's event loop runner
        runners.append(bool(getattr(getattr(result, "run", None), "_deploysmoke_shared", False)))
    return result


def pytest_sessionfinish(session):
    with open("seen.json", "w") as stream:
        json.dump({"modules": sorted(sys.modules), "patched": runners}, stream)
"""

INERT_TESTS = """
import asyncio
import json

import pytest

def test_unit():
    assert 1 + 1 == 2

@pytest.mark.asyncio
async def test_async():
    assert asyncio.get_running_loop().is_running()
"""

#: What an inert run may load of the plugin: its entry point, options, hook and mark declarations (with
#: the marks' error type) and fixture declarations.
INERT_MODULES = {"pytest_deploysmoke", "pytest_deploysmoke.plugin", "pytest_deploysmoke.options"}
INERT_MODULES |= {"pytest_deploysmoke.hookspecs", "pytest_deploysmoke.phases", "pytest_deploysmoke.errors"}
INERT_MODULES |= {"pytest_deploysmoke.fixtures"}
HEAVY = {"tomllib", "tomli", "difflib", "httpx", "psycopg", "redis", "websockets", "playwright"}


def test_inert_run_loads_and_patches_nothing(pytester: pytest.Pytester) -> None:
    """With pytest-playwright, pytest-asyncio, pytest-xdist and pytest-html installed and no target,
    the plugin loads only its declarations, nothing heavy, and wraps no other plugin's objects."""
    pytester.makeconftest(INERT_CONFTEST)
    pytester.makepyfile(test_unit=INERT_TESTS)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    seen = {}
    for name, args in (("with", []), ("without", ["-p", "no:deploysmoke"])):
        result = pytester.runpytest_subprocess("-p", "no:randomly", *args)
        result.assert_outcomes(passed=2)
        seen[name] = json.loads((pytester.path / "seen.json").read_text(encoding="utf-8"))
    loaded = set(seen["with"]["modules"])
    ours = {module for module in loaded if module.split(".")[0] == "pytest_deploysmoke"}
    extra = {module.split(".")[0] for module in loaded - set(seen["without"]["modules"])}
    assert ours - INERT_MODULES <= {m for m in ours if m.startswith("pytest_deploysmoke.fixtures.")}
    assert not extra & HEAVY, f"loaded because of the plugin: {sorted(extra & HEAVY)}"
    assert seen["with"]["patched"] == [False], "pytest-asyncio's runner was wrapped without a target"


def test_a_deploy_run_leaves_no_plugin_object_behind(pytester: pytest.Pytester, standin_url: str) -> None:
    """Every plugin object a deploy run registers is gone once its config is cleaned up."""
    pytester.makefile(".toml", deploysmoke=f'[targets.t]\nbase_url = "{standin_url}"\n')
    pytester.makepyfile(test_checks="def test_health(http):\n    assert http.get('/health').status_code == 200\n")
    recorder = pytester.inline_run("--deploy-target=t", "--deploy-json=summary.json", "--junitxml=junit.xml")
    recorder.assertoutcome(passed=1)
    config = recorder.getcall("pytest_sessionfinish").session.config
    left = [name for name, _ in config.pluginmanager.list_name_plugin() if name and name.startswith("deploysmoke-")]
    assert left == [], f"still registered after the run: {left}"


def test_the_config_model_loads_without_its_parser() -> None:
    """What most modules import (the Target, the guard, the run's settings) loads no TOML parser, no difflib."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import pytest_deploysmoke.config.model, pytest_deploysmoke.guard, pytest_deploysmoke.config.settings\n"
        "print(sorted(m for m in ('tomllib', 'tomli', 'difflib') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
