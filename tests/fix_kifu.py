"""Fixture plugin: the kifu example suite (conftest_examples/kifu) copied into a pytester project, and its run."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

KIFU = Path(__file__).parent.parent / "conftest_examples" / "kifu"


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
    """Run the copied suite's smoke checks on its launched ``local`` target, in a subprocess."""
    return kifu.runpytest_subprocess("--deploy-target=local", "-m", "smoke", "-rfEs", *args, timeout=120)
