"""Uses the public API the way users will; mypy checks this file and pytest never runs it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

import pytest_deploysmoke
from pytest_deploysmoke import (
    AsyncSmokeClient,
    CallRecord,
    GuardDecision,
    Latency,
    LatencyHistogram,
    LatencyStats,
    MigrationSettings,
    Millis,
    PhaseLedger,
    PhaseOutcome,
    Secret,
    SmokeClient,
    SmokeConnection,
    SmokeRedis,
    SmokeUser,
    Target,
    WsConnect,
    expect_json,
    expect_status,
    get_decision,
    get_phase_ledger,
    get_target,
    poll_until,
    records_of,
)


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


def health(http: httpx.Client) -> dict[str, Any]:
    body: dict[str, Any] = expect_json(expect_status(http.get("/health"), 200), {"status": "ok"})
    return body


def eventually(http: httpx.Client) -> httpx.Response:
    response: httpx.Response = poll_until(
        lambda: http.get("/packs/latest"), until=lambda r: r.status_code == 200, timeout="30s", every=1
    )
    return response


def budgeted(http: SmokeClient) -> httpx.Response:
    http.post("/items", json={"name": "smoke"}, budget=("100ms", "1s"), timeout=5)
    http.get("/items", parms={"q": "x"})  # type: ignore[call-arg]  # a misspelt keyword is a type error
    http.delete("/items/1", json={})  # type: ignore[call-arg]  # as in httpx, DELETE takes no body
    return http.get("/health", params={"full": 1}, headers={"X-Smoke": "1"}, budget="500ms")


async def budgeted_async(ahttp: AsyncSmokeClient) -> httpx.Response:
    await ahttp.get("/items", prams={})  # type: ignore[call-arg]  # a misspelt keyword is a type error
    return await ahttp.put("/items/1", json={"name": "smoke"}, budget=0.5)


def plain_httpx(http: SmokeClient) -> httpx.Client:
    client: httpx.Client = http  # a SmokeClient is an httpx.Client
    return client


def subscribed(redis_client: SmokeRedis) -> object:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("prices")
    return pubsub.get_message(timeout=1.0)


def guarded(item: pytest.Item) -> bool:
    decision: GuardDecision | None = get_decision(item)
    target: Target | None = get_target(item.config)
    calls: list[CallRecord] = records_of(item)
    return bool(decision and decision.may_write and target and calls)


def login_body(user: SmokeUser) -> dict[str, str]:
    return user.credentials("email", "password")


async def first_ticker(ws_connect: WsConnect) -> Any:
    async with ws_connect("/ws/tickers/krw", auth=True, timeout=5) as ws:
        return await ws.first(lambda m: m["type"] == "ticker", within=3)


def percentiles_in_budget(latency: Latency, authed_http: SmokeClient) -> bool:
    stats: LatencyStats = latency("/api/markets/krw", samples=50, concurrency=4, budget="2s", params={"q": "btc"})
    p95: Millis = stats.p95
    authed: LatencyStats = latency("POST /api/screener/filter", json={}, client=authed_http, ok_statuses=(200, 422))
    return p95 < "2s" and stats.p99 < 5 and stats.error_rate < 0.01 and authed.errors == 0 and bool(stats.describe())


def histogram_p99(values: list[float]) -> float:
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    return histogram.percentile(99) * (1 + histogram.relative_error)


version: str = pytest_deploysmoke.__version__


def migrations_landed(db: SmokeConnection, deploy_target: Target) -> list[str]:
    db.assert_migrations("flyway", version="1.10", tables=["users"], columns={"users": ["id", "email"]})
    db.assert_migrations("golang-migrate", version=42, schema="app")
    settings: MigrationSettings | None = deploy_target.migrations
    expected: tuple[str, ...] = settings.apps if settings else ()
    return db.migration_problems("django", apps=expected, migrations_dir="src") + db.migration_problems(
        tables=["users"]
    )
