"""The phase, smoke and destructive marks: validation, implied smoke, selection by phase."""

from __future__ import annotations

import pytest

CONFIG = '[targets.local]\nbase_url = "http://127.0.0.1:9"\n'


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".toml", deploysmoke=CONFIG)
    return pytester


def test_unknown_phase_is_a_collection_error_naming_phases(project: pytest.Pytester) -> None:
    """A phase mark with an unknown name fails collection and lists the configured phases."""
    project.makepyfile(test_checks="import pytest\n\n@pytest.mark.phase('helth')\ndef test_h():\n    pass\n")
    result = project.runpytest("--deploy-target=local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_checks.py*",
            "test_checks.py::test_h: unknown phase 'helth' in @pytest.mark.phase; configured phases: "
            "preflight, migrations, health, auth, features, performance, monitoring",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_unknown_phase_in_module_pytestmark(project: pytest.Pytester) -> None:
    """A module-level pytestmark is validated like a function mark."""
    project.makepyfile(test_checks="import pytest\npytestmark = pytest.mark.phase('nope')\ndef test_h():\n    pass\n")
    result = project.runpytest("--deploy-target=local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*unknown phase 'nope'*"])


def test_phase_mark_with_wrong_arguments(project: pytest.Pytester) -> None:
    """A phase mark without a name gets Python's own message about the missing argument."""
    project.makepyfile(test_checks="import pytest\n\n@pytest.mark.phase(checklist='x')\ndef test_h():\n    pass\n")
    result = project.runpytest("--deploy-target=local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*test_checks.py::test_h: invalid @pytest.mark.phase: *missing 1 required positional argument: 'name'"]
    )


def test_phase_mark_implies_smoke(project: pytest.Pytester) -> None:
    """-m smoke selects tests that carry only a phase mark, and leaves plain tests out."""
    project.makepyfile(
        test_checks="""
        import pytest

        @pytest.mark.phase("health")
        def test_health():
            pass

        @pytest.mark.smoke
        def test_marked_smoke():
            pass

        def test_unit():
            pass
        """
    )
    result = project.runpytest("--deploy-target=local", "-m", "smoke", "-v", "--strict-markers")
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(["*test_health PASSED*", "*test_marked_smoke PASSED*"])


def test_deploy_phase_runs_only_those_phases(project: pytest.Pytester) -> None:
    """--deploy-phase deselects the checks of other phases; unmarked tests get default_phase."""
    project.makepyfile(
        test_checks="""
        import pytest

        @pytest.mark.phase("health")
        def test_health():
            pass

        @pytest.mark.phase("auth")
        def test_login():
            pass

        def test_unmarked_is_features():
            pass
        """
    )
    result = project.runpytest("--deploy-target=local", "--deploy-phase=health,features", "-v")
    result.assert_outcomes(passed=2, deselected=1)
    result.stdout.fnmatch_lines(["*test_health PASSED*", "*test_unmarked_is_features PASSED*"])


def test_custom_phases_and_default_phase(pytester: pytest.Pytester) -> None:
    """Configured phases, gates and default_phase replace the defaults."""
    pytester.makefile(
        ".toml",
        deploysmoke='phases = ["up", "smoke", "load"]\ngates = ["up"]\ndefault_phase = "smoke"\n' + CONFIG,
    )
    pytester.makepyfile(
        test_checks="""
        import pytest

        def test_default():
            pass

        @pytest.mark.phase("up")
        def test_up():
            assert False
        """
    )
    result = pytester.runpytest("--deploy-target=local", "-rs")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*gate 'up' failed (test_checks.py::test_up); later phases not run*"])


def test_markers_are_registered_with_signatures(pytester: pytest.Pytester) -> None:
    """pytest --markers documents smoke, phase and destructive."""
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.smoke: a post-deploy smoke check*",
            "@pytest.mark.phase(name, *, checklist=None): assign the test to a checklist phase*",
            "@pytest.mark.destructive: the check writes to the target*",
        ]
    )


def test_non_gating_phase_failure_skips_nothing(project: pytest.Pytester) -> None:
    """A failure in a non-gating phase leaves later phases running."""
    project.makepyfile(
        test_checks="""
        import pytest

        @pytest.mark.phase("features")
        def test_feature():
            assert False

        @pytest.mark.phase("performance")
        def test_perf():
            pass
        """
    )
    result = project.runpytest("--deploy-target=local")
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_bad_budget_mark_is_a_collection_error(project: pytest.Pytester) -> None:
    """A budget mark that cannot be read fails collection with the value and the accepted forms."""
    project.makepyfile(test_checks="import pytest\n\n@pytest.mark.budget('fast')\ndef test_h():\n    pass\n")
    result = project.runpytest("--deploy-target=local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [
            "test_checks.py::test_h: invalid @pytest.mark.budget: "
            "a duration must be seconds or a string like '100ms' or '1.5s', got 'fast'"
        ]
    )


def test_budget_mark_with_keywords_is_a_collection_error(project: pytest.Pytester) -> None:
    """budget(limit='1s') is refused with the forms the mark takes."""
    project.makepyfile(test_checks="import pytest\n\n@pytest.mark.budget(limit='1s')\ndef test_h():\n    pass\n")
    result = project.runpytest("--deploy-target=local")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*invalid @pytest.mark.budget: takes positional arguments only, budget(limit) or budget(target, limit)*"]
    )
