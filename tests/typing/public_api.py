"""Uses the public API the way users will; mypy checks this file and pytest never runs it."""

from __future__ import annotations

import pytest

import pytest_deploysmoke
from pytest_deploysmoke import PhaseLedger, PhaseOutcome, Secret, Target, get_phase_ledger


def check_version(deploy_target: Target) -> str:
    base: str = deploy_target.base_url
    production: bool = deploy_target.production
    timeout: float = deploy_target.timeout
    return f"{base} {production} {timeout} {deploy_target.version}"


def reveal_password(target: Target) -> str | None:
    secret: Secret | None = target.auth.password if target.auth else None
    return secret.reveal() if secret else None


def phase_outcomes(config: pytest.Config) -> dict[str, PhaseOutcome]:
    ledger: PhaseLedger | None = get_phase_ledger(config)
    return ledger.outcomes() if ledger else {}


version: str = pytest_deploysmoke.__version__
