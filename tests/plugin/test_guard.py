"""The production guard: destructive checks do not run on production unless allowed, loudly."""

from __future__ import annotations

import pytest

CHECKS = """
import pytest

@pytest.mark.phase("features")
@pytest.mark.destructive
def test_create_note():
    pass

@pytest.mark.phase("features")
def test_list_notes():
    pass
"""


def config(production: bool, allow: bool = False) -> str:
    return (
        f'[targets.t]\nbase_url = "http://127.0.0.1:9"\nproduction = {str(production).lower()}\n'
        f"allow_destructive = {str(allow).lower()}\n"
    )


def test_destructive_check_skipped_on_production(pytester: pytest.Pytester) -> None:
    """On a production target a destructive check is skipped with the reason, and the summary lists it."""
    pytester.makefile(".toml", deploysmoke=config(production=True))
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=t", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*1 destructive check(s) not run on production (by design): target 't' is production*",
            "    - test_checks.py::test_create_note",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * test_checks.py:*: destructive check not run: target 't' is production "
            "(pass --allow-destructive or set allow_destructive = true to run it)"
        ]
    )
    result.stdout.fnmatch_lines(["deploysmoke: production guard on: checks marked destructive will not run"])


def test_destructive_check_runs_off_production(pytester: pytest.Pytester) -> None:
    """Off production destructive checks run like any other."""
    pytester.makefile(".toml", deploysmoke=config(production=False))
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*NOT RUN*")


def test_allow_destructive_option_lifts_the_guard(pytester: pytest.Pytester) -> None:
    """--allow-destructive runs destructive checks on production."""
    pytester.makefile(".toml", deploysmoke=config(production=True))
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=t", "--allow-destructive")
    result.assert_outcomes(passed=2)


def test_allow_destructive_config_lifts_the_guard(pytester: pytest.Pytester) -> None:
    """allow_destructive = true in the target runs destructive checks on production."""
    pytester.makefile(".toml", deploysmoke=config(production=True, allow=True))
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=2)


def test_guard_summary_under_xdist(pytester: pytest.Pytester) -> None:
    """The controller lists guarded checks even though the workers skipped them."""
    pytester.makefile(".toml", deploysmoke=config(production=True))
    pytester.makepyfile(test_checks=CHECKS)
    result = pytester.runpytest("--deploy-target=t", "-n", "2")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*1 destructive check(s) not run on production (by design)*", "    - test_checks.py::test_create_note"]
    )


def test_guard_decision_is_available_to_fixtures(pytester: pytest.Pytester) -> None:
    """Runtime guards read one decision per check: may it write?"""
    pytester.makefile(".toml", deploysmoke=config(production=True, allow=True))
    pytester.makepyfile(
        test_checks="""
        import pytest
        from pytest_deploysmoke.guard import get_decision

        @pytest.fixture
        def decision(request):
            return get_decision(request.node)

        @pytest.mark.destructive
        def test_writer(decision):
            assert decision.may_write

        def test_reader(decision):
            assert not decision.may_write
            assert decision.blocked("POST /api/v1/bubbles") == (
                "POST /api/v1/bubbles blocked: target 't' is production and the test is not marked destructive (mark it destructive and pass --allow-destructive to let it write)"
            )
        """
    )
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(passed=2)
