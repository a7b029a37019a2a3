"""The examples in conftest_examples/ run as a user would run them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "conftest_examples"


def test_quickstart_passes_against_its_launched_stand_in(pytester: pytest.Pytester) -> None:
    """The quickstart suite launches its app, passes every check, and lists the phases."""
    shutil.copytree(EXAMPLES / "quickstart", pytester.path, dirs_exist_ok=True)
    result = pytester.runpytest_subprocess("--deploy-target=local", "-m", "smoke")
    result.assert_outcomes(passed=5)  # and deploysmoke::version: the target sets version
    result.stdout.fnmatch_lines(["*health*PASSED*(gate)*3 passed*", "*features*PASSED*2 passed*"])
