"""Gating: checks run in phase order and a failed gate skips every later phase."""

from __future__ import annotations

import pytest

CHECKS = """
import pytest
import httpx

pytestmark = pytest.mark.smoke

@pytest.mark.phase("features")
def test_feature(deploy_target):
    assert httpx.get(deploy_target.base_url + "/items").status_code == 200

@pytest.mark.phase("health")
def test_health(deploy_target):
    assert httpx.get(deploy_target.base_url + deploy_target.health_path).status_code == 200

@pytest.mark.phase("preflight")
def test_preflight():
    pass

@pytest.mark.phase("performance")
def test_performance():
    pass
"""


def write_config(pytester: pytest.Pytester, base_url: str, health_path: str = "/health", extra: str = "") -> None:
    pytester.makefile(
        ".toml",
        deploysmoke=f'{extra}\n[targets.local]\nbase_url = "{base_url}"\nhealth_path = "{health_path}"\n',
    )


def test_checks_run_in_phase_order(pytester: pytest.Pytester, standin_url: str) -> None:
    """Items are ordered by phase, keeping file order within a phase."""
    write_config(pytester, standin_url)
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=local", "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "*test_checks.py::test_preflight PASSED*",
            "*test_checks.py::test_health PASSED*",
            "*test_checks.py::test_feature PASSED*",
            "*test_checks.py::test_performance PASSED*",
        ]
    )


def test_failed_health_gate_skips_later_phases(pytester: pytest.Pytester, standin_url: str) -> None:
    """A failing health check skips features and performance with a reason naming the gate."""
    write_config(pytester, standin_url, health_path="/status/503")
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=local", "-m", "smoke", "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["SKIPPED [[]1] test_checks.py:*: gate 'health' failed (test_checks.py::test_health); later phases not run"]
    )
    result.stdout.no_fnmatch_line("*gating.py*")


def test_failed_gate_skips_later_phases_under_xdist(pytester: pytest.Pytester, standin_url: str) -> None:
    """With -n 2 a failed gate still skips every later phase on every worker."""
    write_config(pytester, standin_url, health_path="/status/500")
    checks = ["import pytest, httpx, time", "pytestmark = pytest.mark.smoke"]
    for i in range(6):
        checks.append(f"@pytest.mark.phase('features')\ndef test_feature_{i}(): pass")
    checks.append(
        "@pytest.mark.phase('health')\ndef test_health(deploy_target):\n"
        "    time.sleep(0.5)\n"
        "    assert httpx.get(deploy_target.base_url + deploy_target.health_path).status_code == 200"
    )
    for i in range(3):
        checks.append(f"@pytest.mark.phase('preflight')\ndef test_pre_{i}(): pass")
    pytester.makepyfile(test_checks="\n\n".join(checks))
    result = pytester.runpytest("--deploy-target=local", "-n", "2", "-rs")
    result.assert_outcomes(passed=3, failed=1, skipped=6)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*gate 'health' failed (test_checks.py::test_health)*"])
    result.stdout.fnmatch_lines(["*health*FAILED*(gate)*1 failed*", "*features*SKIPPED*6 skipped*"])
