"""pytest-deploysmoke: post-deploy smoke checks as an ordinary pytest suite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_deploysmoke.clients.browser import expect_renders
    from pytest_deploysmoke.clients.database import SmokeConnection
    from pytest_deploysmoke.clients.http import AsyncSmokeClient, SmokeClient
    from pytest_deploysmoke.clients.redis import SmokeRedis
    from pytest_deploysmoke.clients.ws import SmokeWebSocket
    from pytest_deploysmoke.config.model import AuthSettings, LaunchSettings, MigrationSettings, Target
    from pytest_deploysmoke.config.redaction import Redactor, Secret
    from pytest_deploysmoke.config.settings import get_target
    from pytest_deploysmoke.errors import (
        BudgetExceeded,
        ConfigError,
        DeploySmokeError,
        GuardError,
        MarkError,
        TargetNotReady,
        UiError,
        WebSocketError,
    )
    from pytest_deploysmoke.expect import expect_data, expect_json, expect_status, poll_until
    from pytest_deploysmoke.fixtures.users import SmokeUser
    from pytest_deploysmoke.fixtures.ws import WsConnect
    from pytest_deploysmoke.guard import GuardDecision, get_decision
    from pytest_deploysmoke.perf.latency import Latency
    from pytest_deploysmoke.perf.load.probe import LoadProbeCall
    from pytest_deploysmoke.perf.load.stats import LoadStats, LoopLag
    from pytest_deploysmoke.perf.stats import LatencyHistogram, LatencyStats, Millis
    from pytest_deploysmoke.results.records import CallRecord, records_of
    from pytest_deploysmoke.results.verdict import CheckResult, PhaseOutcome, PhaseResult, RunInfo, Verdict
    from pytest_deploysmoke.run.gating import PhaseLedger, get_phase_ledger

__all__ = [
    "AsyncSmokeClient",
    "AuthSettings",
    "BudgetExceeded",
    "CallRecord",
    "CheckResult",
    "ConfigError",
    "DeploySmokeError",
    "GuardDecision",
    "GuardError",
    "Latency",
    "LatencyHistogram",
    "LatencyStats",
    "LaunchSettings",
    "LoadProbeCall",
    "LoadStats",
    "LoopLag",
    "MarkError",
    "MigrationSettings",
    "Millis",
    "PhaseLedger",
    "PhaseOutcome",
    "PhaseResult",
    "Redactor",
    "RunInfo",
    "Secret",
    "SmokeClient",
    "SmokeConnection",
    "SmokeRedis",
    "SmokeUser",
    "SmokeWebSocket",
    "Target",
    "TargetNotReady",
    "UiError",
    "Verdict",
    "WebSocketError",
    "WsConnect",
    "__version__",
    "expect_data",
    "expect_json",
    "expect_renders",
    "expect_status",
    "get_decision",
    "get_phase_ledger",
    "get_target",
    "poll_until",
    "records_of",
]

_LAZY = {
    "CheckResult": "pytest_deploysmoke.results.verdict",
    "PhaseResult": "pytest_deploysmoke.results.verdict",
    "RunInfo": "pytest_deploysmoke.results.verdict",
    "Verdict": "pytest_deploysmoke.results.verdict",
    "CallRecord": "pytest_deploysmoke.results.records",
    "records_of": "pytest_deploysmoke.results.records",
    "GuardDecision": "pytest_deploysmoke.guard",
    "get_decision": "pytest_deploysmoke.guard",
    "get_target": "pytest_deploysmoke.config.settings",
    "expect_data": "pytest_deploysmoke.expect",
    "expect_json": "pytest_deploysmoke.expect",
    "expect_status": "pytest_deploysmoke.expect",
    "poll_until": "pytest_deploysmoke.expect",
    "SmokeUser": "pytest_deploysmoke.fixtures.users",
    "Latency": "pytest_deploysmoke.perf.latency",
    "LatencyHistogram": "pytest_deploysmoke.perf.stats",
    "LatencyStats": "pytest_deploysmoke.perf.stats",
    "Millis": "pytest_deploysmoke.perf.stats",
    "LoadProbeCall": "pytest_deploysmoke.perf.load.probe",
    "LoadStats": "pytest_deploysmoke.perf.load.stats",
    "LoopLag": "pytest_deploysmoke.perf.load.stats",
    "WsConnect": "pytest_deploysmoke.fixtures.ws",
    "SmokeWebSocket": "pytest_deploysmoke.clients.ws",
    "SmokeClient": "pytest_deploysmoke.clients.http",
    "AsyncSmokeClient": "pytest_deploysmoke.clients.http",
    "SmokeConnection": "pytest_deploysmoke.clients.database",
    "SmokeRedis": "pytest_deploysmoke.clients.redis",
    "AuthSettings": "pytest_deploysmoke.config.model",
    "LaunchSettings": "pytest_deploysmoke.config.model",
    "MigrationSettings": "pytest_deploysmoke.config.model",
    "Target": "pytest_deploysmoke.config.model",
    "ConfigError": "pytest_deploysmoke.errors",
    "BudgetExceeded": "pytest_deploysmoke.errors",
    "WebSocketError": "pytest_deploysmoke.errors",
    "DeploySmokeError": "pytest_deploysmoke.errors",
    "GuardError": "pytest_deploysmoke.errors",
    "MarkError": "pytest_deploysmoke.errors",
    "TargetNotReady": "pytest_deploysmoke.errors",
    "UiError": "pytest_deploysmoke.errors",
    "expect_renders": "pytest_deploysmoke.clients.browser",
    "PhaseLedger": "pytest_deploysmoke.run.gating",
    "PhaseOutcome": "pytest_deploysmoke.results.verdict",
    "get_phase_ledger": "pytest_deploysmoke.run.gating",
    "Redactor": "pytest_deploysmoke.config.redaction",
    "Secret": "pytest_deploysmoke.config.redaction",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("pytest-deploysmoke")
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pytest_deploysmoke' has no attribute {name!r}")
