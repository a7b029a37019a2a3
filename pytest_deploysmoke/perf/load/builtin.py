"""The built-in engine: virtual users on asyncio and httpx in a fresh thread, measuring its own CPU and loop lag."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import pytest

from pytest_deploysmoke.errors import unchecked
from pytest_deploysmoke.perf.load.stats import EngineRun, LoadPlan, LoopLag
from pytest_deploysmoke.perf.stats import LatencyHistogram, LatencyStats

if TYPE_CHECKING:
    import httpx

    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor


#: How often the lag sampler asks to be woken.
LAG_INTERVAL_S: Final = 0.01


@dataclass(slots=True)
class _Tally:
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)
    errors: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0
    issued: int = 0


def run(
    config: pytest.Config,
    target: Target,
    redactor: Redactor,
    plan: LoadPlan,
) -> EngineRun:
    """Run the plan with one asyncio task per user on one httpx client, in a thread of its own."""
    outcome: list[EngineRun] = []
    failure: list[BaseException] = []

    def main() -> None:
        try:
            outcome.append(asyncio.run(_drive(config, target, redactor, plan)))
        except BaseException as exc:  # handed to the check's thread below
            failure.append(exc)

    # A fresh thread: the check may be sync, or async with its own loop already running.
    thread = threading.Thread(target=main, name="deploysmoke-load", daemon=True)
    thread.start()
    thread.join(timeout=plan.duration_s + target.timeout + 30)
    if thread.is_alive():
        raise unchecked(f"{plan.action}: the built-in engine did not stop within 30 s of its run time")
    if failure:
        raise failure[0]
    return outcome[0]


async def _drive(
    config: pytest.Config,
    target: Target,
    redactor: Redactor,
    plan: LoadPlan,
) -> EngineRun:
    import httpx

    from pytest_deploysmoke.clients.http import make_load_client
    from pytest_deploysmoke.clients.network import describe_error

    scenario, users, max_requests = plan.scenario, plan.users, plan.max_requests
    tally = _Tally()
    lag = LatencyHistogram()

    async def user(index: int, client: httpx.AsyncClient) -> None:
        step = index
        while max_requests is None or tally.issued < max_requests:
            tally.issued += 1
            method, url = scenario[step % len(scenario)]
            step += 1
            started = time.perf_counter()
            try:
                response = await client.request(method, url)
            except httpx.UnsupportedProtocol:
                raise  # a wrong URL, not a failing service
            except httpx.TransportError as exc:
                tally.unanswered += 1
                tally.errors[redactor.redact(describe_error(exc))] += 1
                continue
            tally.histogram.record((time.perf_counter() - started) * 1000)
            if response.status_code >= 400:
                tally.errors[str(response.status_code)] += 1

    async def sample_lag() -> None:
        while True:  # cancelled when the run stops
            asked = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            lag.record(max(0.0, (time.perf_counter() - asked - LAG_INTERVAL_S) * 1000))

    async with make_load_client(config, target, connections=users) as client:
        sampler = asyncio.create_task(sample_lag())
        cpu_started, started = time.thread_time(), time.perf_counter()
        tasks = [asyncio.create_task(user(i, client)) for i in range(users)]
        done, pending = await asyncio.wait(tasks, timeout=plan.duration_s, return_when=asyncio.FIRST_EXCEPTION)
        elapsed = time.perf_counter() - started
        cpu = (time.thread_time() - cpu_started) / elapsed if elapsed > 0 else math.nan
        for task in (*pending, sampler):
            task.cancel()  # the hard stop: requests in flight are dropped, not counted
        await asyncio.gather(*pending, sampler, return_exceptions=True)
    for task in done:
        problem = None if task.cancelled() else task.exception()
        if problem is not None:
            raise problem  # a write the guard refused, a wrong URL: the check fails with it
    stats = LatencyStats.from_histogram(
        tally.histogram,
        action=plan.action,
        errors=sum(tally.errors.values()),
        unanswered=tally.unanswered,
        concurrency=users,
        elapsed_s=elapsed,
        error_outcomes=tally.errors.items(),
    )
    loop_lag = LoopLag(lag.percentile(95), lag.max, lag.count) if lag.count else None
    return EngineRun(stats, stats.count / elapsed if elapsed > 0 else 0.0, cpu, loop_lag)
