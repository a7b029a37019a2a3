"""pytest-deploysmoke: post-deploy smoke checks as an ordinary pytest suite."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_deploysmoke.config import AuthSettings, LaunchSettings, Target
    from pytest_deploysmoke.database import SmokeConnection
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
    from pytest_deploysmoke.fixtures.perf import Latency, LoadProbeCall
    from pytest_deploysmoke.fixtures.users import SmokeUser
    from pytest_deploysmoke.fixtures.ws import WsConnect
    from pytest_deploysmoke.gating import PhaseLedger, get_phase_ledger
    from pytest_deploysmoke.guard import GuardDecision, get_decision
    from pytest_deploysmoke.httpclient import AsyncSmokeClient, SmokeClient
    from pytest_deploysmoke.loadprobe import LoadStats, LoopLag
    from pytest_deploysmoke.records import CallRecord, records_of
    from pytest_deploysmoke.redaction import Redactor, Secret
    from pytest_deploysmoke.redisclient import SmokeRedis
    from pytest_deploysmoke.stats import LatencyHistogram, LatencyStats, Millis
    from pytest_deploysmoke.targets import get_target
    from pytest_deploysmoke.ui import expect_renders
    from pytest_deploysmoke.verdict import CheckResult, PhaseOutcome, PhaseResult, RunInfo, Verdict
    from pytest_deploysmoke.wsclient import SmokeWebSocket

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
    "CheckResult": "pytest_deploysmoke.verdict",
    "PhaseResult": "pytest_deploysmoke.verdict",
    "RunInfo": "pytest_deploysmoke.verdict",
    "Verdict": "pytest_deploysmoke.verdict",
    "CallRecord": "pytest_deploysmoke.records",
    "records_of": "pytest_deploysmoke.records",
    "GuardDecision": "pytest_deploysmoke.guard",
    "get_decision": "pytest_deploysmoke.guard",
    "get_target": "pytest_deploysmoke.targets",
    "expect_data": "pytest_deploysmoke.expect",
    "expect_json": "pytest_deploysmoke.expect",
    "expect_status": "pytest_deploysmoke.expect",
    "poll_until": "pytest_deploysmoke.expect",
    "SmokeUser": "pytest_deploysmoke.fixtures.users",
    "Latency": "pytest_deploysmoke.fixtures.perf",
    "LatencyHistogram": "pytest_deploysmoke.stats",
    "LatencyStats": "pytest_deploysmoke.stats",
    "Millis": "pytest_deploysmoke.stats",
    "LoadProbeCall": "pytest_deploysmoke.fixtures.perf",
    "LoadStats": "pytest_deploysmoke.loadprobe",
    "LoopLag": "pytest_deploysmoke.loadprobe",
    "WsConnect": "pytest_deploysmoke.fixtures.ws",
    "SmokeWebSocket": "pytest_deploysmoke.wsclient",
    "SmokeClient": "pytest_deploysmoke.httpclient",
    "AsyncSmokeClient": "pytest_deploysmoke.httpclient",
    "SmokeConnection": "pytest_deploysmoke.database",
    "SmokeRedis": "pytest_deploysmoke.redisclient",
    "AuthSettings": "pytest_deploysmoke.config",
    "LaunchSettings": "pytest_deploysmoke.config",
    "Target": "pytest_deploysmoke.config",
    "ConfigError": "pytest_deploysmoke.errors",
    "BudgetExceeded": "pytest_deploysmoke.errors",
    "WebSocketError": "pytest_deploysmoke.errors",
    "DeploySmokeError": "pytest_deploysmoke.errors",
    "GuardError": "pytest_deploysmoke.errors",
    "MarkError": "pytest_deploysmoke.errors",
    "TargetNotReady": "pytest_deploysmoke.errors",
    "UiError": "pytest_deploysmoke.errors",
    "expect_renders": "pytest_deploysmoke.ui",
    "PhaseLedger": "pytest_deploysmoke.gating",
    "PhaseOutcome": "pytest_deploysmoke.verdict",
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
