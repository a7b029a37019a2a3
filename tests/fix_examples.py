"""Fixture plugin: the example suites of conftest_examples/ copied into pytester projects.

The kifu suite's project and run, shared by the kifu and watch-window tests, and replace_budgets(), which
gives the runs whose subject is not speed budgets no loaded machine can break.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

KIFU = Path(__file__).parent.parent / "conftest_examples" / "kifu"
#: The kifu checklist's one required manual item, confirmed: the runs are about the checks, not the backup.
CONFIRM_BACKUP = "--deploy-confirm=backup=taken by the test setup"


@pytest.fixture
def kifu(pytester: pytest.Pytester, fresh_db: str, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The kifu suite copied into a fresh project, pointed at its own database and smoke account."""
    shutil.copytree(KIFU, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("DATABASE_URL", fresh_db)
    monkeypatch.setenv("REDIS_URL", redis_url)
    # A smoke account of its own, so the stand-in's login rate limit (per email, in Redis) never trips.
    monkeypatch.setenv("SMOKE_USER", f"smoke-{uuid.uuid4().hex[:8]}@kifu.example")
    monkeypatch.delenv("SMOKE_PASSWORD", raising=False)  # so the suite uses its default smoke password
    monkeypatch.delenv("KIFU_FAULTS", raising=False)
    return pytester


def run_kifu(kifu: pytest.Pytester, *args: str) -> pytest.RunResult:
    """Run the copied suite's smoke checks on its launched ``local`` target, in a subprocess, its backup confirmed."""
    return kifu.runpytest_subprocess(
        "--deploy-target=local", "-m", "smoke", "-rfEs", CONFIRM_BACKUP, *args, timeout=120
    )


def replace_budgets(path: Path, *changes: tuple[str, str]) -> None:
    """Replace each (as written, new) budget in the copied suite's file *path*; fail if one is not there.

    A run that is not about speed gets budgets of seconds where its servers answer in milliseconds, so that
    a loaded machine cannot fail it; the runs about speed keep the suite's budgets, with delays far above them.
    """
    text = path.read_text(encoding="utf-8")
    for written, new in changes:
        assert written in text, f"{path.name} no longer holds {written!r}: update the test that loosens it"
        text = text.replace(written, new)
    path.write_text(text, encoding="utf-8")
