"""Redis: a redis-py client with socket timeouts, whose commands are timed, recorded and guarded."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, cast

import pytest
import redis

from pytest_deploysmoke.clients.network import describe_error
from pytest_deploysmoke.errors import GuardError
from pytest_deploysmoke.guard import get_decision
from pytest_deploysmoke.results.records import CallRecord, current_item, record

if TYPE_CHECKING:
    from pytest_deploysmoke.config.model import Target
    from pytest_deploysmoke.config.redaction import Redactor

#: Commands that only read; on production every other command needs a destructive, allowed check.
READ_COMMANDS = frozenset(
    """
    PING ECHO GET MGET GETRANGE STRLEN EXISTS TTL PTTL EXPIRETIME PEXPIRETIME TYPE DBSIZE INFO TIME
    SCAN SSCAN HSCAN ZSCAN KEYS RANDOMKEY OBJECT MEMORY
    HGET HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HRANDFIELD
    LRANGE LLEN LINDEX LPOS SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SINTER SUNION SDIFF
    ZRANGE ZRANGEBYSCORE ZRANGEBYLEX ZREVRANGE ZREVRANGEBYSCORE ZSCORE ZMSCORE ZCARD ZCOUNT ZRANK ZREVRANK
    XLEN XRANGE XREVRANGE XINFO XPENDING PFCOUNT BITCOUNT GETBIT BITPOS
    """.split()
)


class _Guarded:
    """What SmokeRedis and its pipelines share: the guard on write commands, and the records."""

    _deploysmoke_config: pytest.Config | None = None
    _deploysmoke_redactor: Redactor | None = None

    def _deploysmoke_guard(self, args: tuple[Any, ...]) -> None:
        config = self._deploysmoke_config
        if config is None or not args or str(args[0]).upper() in READ_COMMANDS:
            return
        item = current_item(config)
        decision = get_decision(item) if item is not None else None
        if decision is not None and not decision.may_write:
            command = str(args[0]).upper()
            record(config, CallRecord("redis", self._deploysmoke_action(args), "blocked", ok=False, ms=0.0))
            raise GuardError(decision.blocked(command))

    def _deploysmoke_action(self, args: tuple[Any, ...]) -> str:
        shown = " ".join(str(a) for a in args[:2])  # the command and its key; values stay out
        return self._deploysmoke_redactor.redact(shown) if self._deploysmoke_redactor else shown


class SmokeRedis(_Guarded, redis.Redis):
    """A redis-py client that records each command and refuses writes the production guard forbids."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        config = self._deploysmoke_config
        if config is None or not args:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        self._deploysmoke_guard(args)
        action = self._deploysmoke_action(args)
        started = time.perf_counter()
        try:
            result = super().execute_command(*args, **options)  # type: ignore[no-untyped-call]  # as above
        except redis.RedisError as exc:
            record(config, CallRecord("redis", action, describe_error(exc), ok=False, ms=_ms(started)))
            raise
        write = str(args[0]).upper() not in READ_COMMANDS
        record(config, CallRecord("redis", action, "ok", ok=True, ms=_ms(started), write=write))
        return result

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> SmokePipeline:
        """A pipeline whose queued commands pass the same guard; its execute is recorded as one call."""
        pipe = SmokePipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe._deploysmoke_config = self._deploysmoke_config
        pipe._deploysmoke_redactor = self._deploysmoke_redactor
        return pipe


class SmokePipeline(_Guarded, redis.client.Pipeline):
    """A pipeline that refuses to queue a write the production guard forbids."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        self._deploysmoke_guard(args)
        return super().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        config = self._deploysmoke_config
        queued = len(self.command_stack)
        started = time.perf_counter()
        try:
            result = super().execute(raise_on_error)
        except redis.RedisError as exc:
            if config is not None:
                record(
                    config,
                    CallRecord(
                        "redis", f"PIPELINE ({queued} commands)", describe_error(exc), ok=False, ms=_ms(started)
                    ),
                )
            raise
        if config is not None:
            record(config, CallRecord("redis", f"PIPELINE ({queued} commands)", "ok", ok=True, ms=_ms(started)))
        return result


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
    client._deploysmoke_config = config
    client._deploysmoke_redactor = redactor
    return client
