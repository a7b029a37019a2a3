"""Redis: a redis-py client with socket timeouts, whose commands (pipelined and pub/sub too) are timed,
recorded and guarded."""

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
    """What the client, its pipelines and its pub/sub share: the production guard on write commands, and the
    records."""

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
            self.failed(action, exc, started)
            raise
        self.answered(action, started, write=write)
        return result

    def answered(self, action: str, started: float, *, write: bool = False) -> None:
        """Record *action*, answered; *started* is its ``time.perf_counter()`` reading."""
        record(self.config, CallRecord("redis", action, "ok", ok=True, ms=_ms(started), write=write))

    def failed(self, action: str, exc: redis.RedisError, started: float) -> None:
        """Record *action*, failed with *exc*."""
        record(self.config, CallRecord("redis", action, describe_error(exc), ok=False, ms=_ms(started)))


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

    def pubsub(self, **kwargs: Any) -> SmokePubSub:
        """A pub/sub whose subscriptions and messages are recorded; PUBLISH is a command of the client."""
        dispatcher = getattr(self, "_event_dispatcher", None)  # redis-py 5.1+ hands it on; 5.0 has none
        if dispatcher is not None:
            kwargs.setdefault("event_dispatcher", dispatcher)
        pubsub = SmokePubSub(self.connection_pool, **kwargs)
        pubsub._deploysmoke_probe = self._deploysmoke_probe
        return pubsub


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
        writes = any(probe.guard.command_writes(str(args[0])) for args, _ in self.command_stack if args)
        return probe.timed(f"PIPELINE ({len(self.command_stack)} commands)", send, write=writes)


class SmokePubSub(redis.client.PubSub):
    """A pub/sub that records SUBSCRIBE, PSUBSCRIBE and every message get_message returns.

    Its commands only read; the guard still sees each one, as it sees every command.
    """

    _deploysmoke_probe: RedisProbe | None = None

    def execute_command(self, *args: Any) -> None:
        probe = self._deploysmoke_probe
        send = partial(super().execute_command, *args)
        if probe is None or not args:
            send()
            return
        probe.check_write(args)
        probe.timed(probe.action(args), send)

    def get_message(self, ignore_subscribe_messages: bool = False, timeout: float = 0.0) -> Any:
        """The next message, or None; a message is recorded by its type and channel (``message news``)."""
        probe = self._deploysmoke_probe
        if probe is None:
            return super().get_message(ignore_subscribe_messages, timeout)
        started = time.perf_counter()
        try:
            message = super().get_message(ignore_subscribe_messages, timeout)
        except redis.RedisError as exc:
            probe.failed("get_message", exc, started)
            raise
        if message is not None:
            probe.answered(probe.redactor.redact(f"{message['type']} {message['channel']}"), started)
        return message


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
