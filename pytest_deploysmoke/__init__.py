"""pytest-deploysmoke: post-deploy smoke checks as an ordinary pytest suite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_deploysmoke.config import AuthSettings, LaunchSettings, Target
    from pytest_deploysmoke.errors import (
        ConfigError,
        DeploySmokeError,
        GuardError,
        PhaseMarkError,
        TargetNotReady,
    )
    from pytest_deploysmoke.gating import PhaseLedger, PhaseOutcome, get_phase_ledger
    from pytest_deploysmoke.redaction import Redactor, Secret

__all__ = [
    "AuthSettings",
    "ConfigError",
    "DeploySmokeError",
    "GuardError",
    "LaunchSettings",
    "PhaseLedger",
    "PhaseMarkError",
    "PhaseOutcome",
    "Redactor",
    "Secret",
    "Target",
    "TargetNotReady",
    "__version__",
    "get_phase_ledger",
]

_LAZY = {
    "AuthSettings": "pytest_deploysmoke.config",
    "LaunchSettings": "pytest_deploysmoke.config",
    "Target": "pytest_deploysmoke.config",
    "ConfigError": "pytest_deploysmoke.errors",
    "DeploySmokeError": "pytest_deploysmoke.errors",
    "GuardError": "pytest_deploysmoke.errors",
    "PhaseMarkError": "pytest_deploysmoke.errors",
    "TargetNotReady": "pytest_deploysmoke.errors",
    "PhaseLedger": "pytest_deploysmoke.gating",
    "PhaseOutcome": "pytest_deploysmoke.gating",
    "get_phase_ledger": "pytest_deploysmoke.gating",
    "Redactor": "pytest_deploysmoke.redaction",
    "Secret": "pytest_deploysmoke.redaction",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("pytest-deploysmoke")
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytest_deploysmoke' has no attribute {name!r}")
