"""Redis: a redis-py client with socket timeouts, whose commands are timed, recorded and guarded."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest
import redis

from pytest_deploysmoke.clients.network import describe_error
from pytest_deploysmoke.guard import ProductionGuard, get_guard
from pytest_deploysmoke.results.records import CallRecord, record

if TYPE_CHECKING:
    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RedisProbe:
    """What the client and its pipelines share: the production guard on write commands, and the records."""

    config: pytest.Config
    redactor: Redactor
    guard: ProductionGuard

    def action(self, args: tuple[Any, ...]) -> str:
        """``GET flags:v2``: the command and its key, redacted; values stay out."""
        return self.redactor.redact(" ".join(str(a) for a in args[:2]))

    def check_write(self, args: tuple[Any, ...]) -> None:
        """Refuse a write command the running check may not send; nothing is sent."""
        command = str(args[0]).upper()
        if self.guard.command_writes(command):
            self.guard.check_write("redis", self.action(args), named=command)

    def timed(self, action: str, send: Callable[[], T], *, write: bool = False) -> T:
        """Send, and record *action* with how long it took and what came back."""
        started = time.perf_counter()
        try:
            result = send()
        except redis.RedisError as exc:
            record(self.config, CallRecord("redis", action, describe_error(exc), ok=False, ms=_ms(started)))
            raise
        record(self.config, CallRecord("redis", action, "ok", ok=True, ms=_ms(started), write=write))
        return result


class SmokeRedis(redis.Redis):
    """A redis-py client that records each command and refuses writes the production guard forbids."""

    _deploysmoke_probe: RedisProbe | None = None

    def execute_command(self, *args: Any, **options: Any) -> Any:
        probe = self._deploysmoke_probe
        send = partial(super().execute_command, *args, **options)
        if probe is None or not args:
            return send()
        probe.check_write(args)
        return probe.timed(probe.action(args), send, write=probe.guard.command_writes(str(args[0])))

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> SmokePipeline:
        """A pipeline whose queued commands pass the same guard; its execute is recorded as one call."""
        pipe = SmokePipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe._deploysmoke_probe = self._deploysmoke_probe
        return pipe


class SmokePipeline(redis.client.Pipeline):
    """A pipeline that refuses to queue a write the production guard forbids."""

    _deploysmoke_probe: RedisProbe | None = None

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        if self._deploysmoke_probe is not None and args:
            self._deploysmoke_probe.check_write(args)
        return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        probe = self._deploysmoke_probe
        send = partial(super().execute, raise_on_error)
        if probe is None:
            return send()
        return probe.timed(f"PIPELINE ({len(self.command_stack)} commands)", send)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def connect(config: pytest.Config, target: Target, redactor: Redactor) -> SmokeRedis:
    """A client on the target's redis_url with connect and socket timeouts from its timeout."""
    assert target.redis_url is not None
    client = cast(
        SmokeRedis,
        SmokeRedis.from_url(
            target.redis_url.reveal(),
            socket_timeout=target.timeout,
            socket_connect_timeout=target.timeout,
            decode_responses=True,
        ),
    )
    client._deploysmoke_probe = RedisProbe(config, redactor, get_guard(config))
    return client
