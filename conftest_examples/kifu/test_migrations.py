"""Migrations 020 to 022 are applied: their tables and columns exist and can be read."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pytest_deploysmoke import SmokeConnection  # the type of db

pytestmark = pytest.mark.phase("migrations")


def test_guided_review_tables_exist(db: SmokeConnection) -> None:
    """Tables guided_reviews, guided_review_items and user_streaks exist (migration 020)."""
    db.assert_tables("guided_reviews", "guided_review_items", "user_streaks")


def test_users_ai_allowlisted_column_exists(db: SmokeConnection) -> None:
    """Column users.ai_allowlisted exists (migration 021)."""
    db.assert_columns("users", "ai_allowlisted")


def test_runs_and_summary_packs_tables_exist(db: SmokeConnection) -> None:
    """Tables runs and summary_packs exist (migration 022)."""
    db.assert_tables("runs", "summary_packs")


def test_runs_can_be_counted(db: SmokeConnection) -> None:
    """SELECT COUNT(*) FROM runs works."""
    assert db.scalar("SELECT COUNT(*) FROM runs") >= 0


def test_summary_packs_can_be_counted(db: SmokeConnection) -> None:
    """SELECT COUNT(*) FROM summary_packs works."""
    assert db.scalar("SELECT COUNT(*) FROM summary_packs") >= 0
