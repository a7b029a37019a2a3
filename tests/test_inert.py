"""Without a target the plugin is inert: plain tests run untouched, smoke checks are skipped."""

from __future__ import annotations

import pytest

PROJECT = """
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
