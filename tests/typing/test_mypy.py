"""The types hold: mypy, with the project's settings, accepts the package, the tests and public_api.py here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def test_mypy_accepts_the_package_and_the_tests() -> None:
    """`mypy` as pyproject.toml configures it ([tool.mypy] files) reports no error, so CI checks the types too."""
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout
