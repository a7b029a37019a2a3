"""The built-in engine: virtual users on asyncio and aiohttp in a fresh thread, measuring its own CPU and loop lag.

aiohttp, not httpx, sends the load: profiling the engine on httpx's ``AsyncClient`` put most of
its time in httpcore's connection pool (each request polls every idle connection's socket, and
sets up locks that try to import sniffio) and h11's pure-Python parsing, and a few of its
requests waited seconds on established connections (docs/performance.md, "Measured").
aiohttp parses HTTP in C and hands each task a pooled connection directly.  It is imported
here only, when a probe runs.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from pytest_deploysmoke.clients.tracecontext import TRACEPARENT
from pytest_deploysmoke.errors import unchecked
from pytest_deploysmoke.perf.load.stats import (
    EndpointTally,
    EngineRun,
    LoadPlan,
    LoopLag,
    distributions_of,
    step_tallies,
    whole_run,
)
from pytest_deploysmoke.perf.stats import LatencyHistogram, LatencyStats

if TYPE_CHECKING:
    import aiohttp

    from pytest_deploysmoke.clients.tracecontext import Outgoing
    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor


#: How often the lag sampler asks to be woken.
LAG_INTERVAL_S: Final = 0.01
#: The URL schemes the engine sends to.
SCHEMES: Final = ("http", "https")


@dataclass(frozen=True, slots=True)
class _Step:
    """One request of the scenario, ready to send: its method, its full URL, and its endpoint's tally."""

    method: str
    url: Any  # a yarl.URL; yarl comes with aiohttp, imported only when a run starts
    tally: EndpointTally


def run(target: Target, redactor: Redactor, plan: LoadPlan, trace: Outgoing) -> EngineRun:
    """Run the plan with one asyncio task per user on one aiohttp session, in a thread of its own.

    Each request carries a ``traceparent`` from *trace*: a span of its own in the check's trace,
    or the target's own header as it is.
    """
    outcome: list[EngineRun] = []
    failure: list[BaseException] = []

    def main() -> None:
        try:
            outcome.append(asyncio.run(_drive(target, redactor, plan, trace)))
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


def _steps(target: Target, plan: LoadPlan) -> list[_Step]:
    """The scenario's requests with their full URLs (joined to base_url as the http fixture joins them)."""
    import yarl

    from pytest_deploysmoke.clients.http import target_url

    steps = []
    for (method, url), tally in zip(plan.scenario, step_tallies(plan), strict=True):
        full = yarl.URL(str(target_url(target, url)), encoded=True)  # httpx has quoted it already
        if full.scheme not in SCHEMES or not full.host:
            raise unchecked(
                f"{plan.action}: {tally.endpoint} is not an http:// or https:// URL; "
                "give a path on the target such as /health, or a full http(s) URL"
            )
        steps.append(_Step(method, full, tally))
    return steps


def _session(target: Target, users: int, steps: Sequence[_Step]) -> aiohttp.ClientSession:
    """One session, set up as the ``http`` fixture's client is: the target's headers, timeout, TLS setting
    and CA (httpx's own TLS context: ``SSL_CERT_FILE``, else certifi), no proxy from the environment, no
    redirects followed (per request), cookies kept; one connection per user."""
    import aiohttp
    import httpx

    tls = httpx.create_ssl_context(verify=target.verify_tls) if any(s.url.scheme == "https" for s in steps) else True
    timeout = target.timeout
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=users, ssl=tls),
        headers=dict(target.headers),
        timeout=aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # httpx keeps cookies from IP-address hosts too
        trust_env=False,
    )


async def _drive(target: Target, redactor: Redactor, plan: LoadPlan, trace: Outgoing) -> EngineRun:
    import aiohttp

    from pytest_deploysmoke.clients.network import describe_error

    steps = _steps(target, plan)
    users, max_requests = plan.users, plan.max_requests
    errors: Counter[str] = Counter()
    issued = unanswered = 0
    lag = LatencyHistogram()

    async def user(index: int, session: aiohttp.ClientSession) -> None:
        nonlocal issued, unanswered
        step = index
        while max_requests is None or issued < max_requests:
            issued += 1
            current = steps[step % len(steps)]
            step += 1
            tally = current.tally
            started = time.perf_counter()
            try:
                async with session.request(
                    current.method, current.url, allow_redirects=False, headers={TRACEPARENT: trace.header()}
                ) as response:
                    await response.read()  # the body is part of the request's time
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                if isinstance(exc, aiohttp.InvalidURL):
                    raise  # a wrong URL, not a failing service
                unanswered += 1
                tally.requests += 1
                tally.errors += 1
                errors[redactor.redact(describe_error(exc))] += 1
                continue
            tally.requests += 1  # counted once finished: a request cut off by the hard stop is not
            tally.histogram.record((time.perf_counter() - started) * 1000)
            if status >= 400:
                tally.errors += 1
                errors[str(status)] += 1

    async def sample_lag() -> None:
        while True:  # cancelled when the run stops
            asked = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            lag.record(max(0.0, (time.perf_counter() - asked - LAG_INTERVAL_S) * 1000))

    async with _session(target, users, steps) as session:
        sampler = asyncio.create_task(sample_lag())
        cpu_started, started = time.thread_time(), time.perf_counter()
        tasks = [asyncio.create_task(user(i, session)) for i in range(users)]
        done, pending = await asyncio.wait(tasks, timeout=plan.duration_s, return_when=asyncio.FIRST_EXCEPTION)
        elapsed = time.perf_counter() - started
        cpu = (time.thread_time() - cpu_started) / elapsed if elapsed > 0 else math.nan
        for task in (*pending, sampler):
            task.cancel()  # the hard stop: requests in flight are dropped, not counted
        await asyncio.gather(*pending, sampler, return_exceptions=True)
    for task in done:
        problem = None if task.cancelled() else task.exception()
        if problem is not None:
            raise problem  # a wrong URL: the check fails with it
    return _engine_run(plan, steps, errors, unanswered, elapsed, cpu, lag)


def _engine_run(
    plan: LoadPlan,
    steps: Sequence[_Step],
    errors: Counter[str],
    unanswered: int,
    elapsed: float,
    cpu: float,
    lag: LatencyHistogram,
) -> EngineRun:
    """The run's figures: the whole scenario's, and each endpoint's."""
    tallies = tuple(step.tally for step in steps)
    histogram, failed = whole_run(tallies)
    stats = LatencyStats.from_histogram(
        histogram,
        action=plan.action,
        errors=failed,
        unanswered=unanswered,
        concurrency=plan.users,
        elapsed_s=elapsed,
        error_outcomes=errors.items(),
    )
    loop_lag = LoopLag(lag.percentile(95), lag.max, lag.count) if lag.count else None
    rps = stats.count / elapsed if elapsed > 0 else 0.0
    return EngineRun(stats, rps, cpu, loop_lag, distributions=distributions_of(tallies))
