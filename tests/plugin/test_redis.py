"""The redis_client fixture against a real Redis: recorded, guarded on production."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.fix_pytester import recorded_calls

#: The guard's refusal on target 't', after the command it names.
BLOCKED = "blocked: target 't' is production and the test is not marked destructive (mark it destructive and pass --allow-destructive to let it write)"


def redis_toml(url: str, extra: str = "") -> str:
    return f'[targets.t]\nbase_url = "http://127.0.0.1:9"\ntimeout = 2.0\nredis_url = "{url}"\n{extra}\n'


@pytest.fixture
def cached_key(redis_url: str) -> Iterator[str]:
    """A key holding "42" for a minute on the test Redis, deleted afterwards."""
    key = f"deploysmoke:test:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        client.set(key, "42", ex=60)
        yield key
        client.delete(key)
    finally:
        client.close()


def test_read_commands_work_and_are_recorded(pytester: pytest.Pytester, redis_url: str, cached_key: str) -> None:
    """PING, GET and TTL run on production and are recorded with the command and key."""
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url, "production = true"))
    pytester.makepyfile(
        test_cache=f"""
        def test_cache(redis_client):
            assert redis_client.ping()
            assert redis_client.get({cached_key!r}) == "42"
            assert 0 < redis_client.ttl({cached_key!r}) <= 60
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    actions = [call["action"] for call in recorded_calls(reprec)]
    assert actions == ["PING", f"GET {cached_key}", f"TTL {cached_key}"]


def test_write_is_blocked_on_production(pytester: pytest.Pytester, redis_url: str, cached_key: str) -> None:
    """A SET on production from a check not marked destructive fails naming the command; nothing is written."""
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url, "production = true"))
    pytester.makepyfile(test_cache=f"def test_write(redis_client):\n    redis_client.set({cached_key!r}, 'x')\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"SET {BLOCKED}"])
    assert redis.Redis.from_url(redis_url).get(cached_key) == b"42"


def test_write_is_allowed_off_production(pytester: pytest.Pytester, redis_url: str, cached_key: str) -> None:
    """Off production redis_client may write."""
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url))
    pytester.makepyfile(test_cache=f"def test_write(redis_client):\n    assert redis_client.set({cached_key!r}, 'y')\n")
    pytester.inline_run("--deploy-target=t").assertoutcome(passed=1)
    assert redis.Redis.from_url(redis_url).get(cached_key) == b"y"


def test_unreachable_redis_is_one_line(pytester: pytest.Pytester, closed_port: int) -> None:
    """Redis not listening fails the check with the command, what came back and the fix."""
    pytester.makefile(".toml", deploysmoke=redis_toml(f"redis://:pl4nted-redis-pw@127.0.0.1:{closed_port}/0"))
    pytester.makepyfile(test_cache="def test_ping(redis_client):\n    redis_client.ping()\n")
    result = pytester.runpytest("--deploy-target=t")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["redis PING: connection refused after * ms; is Redis up and redis_url right?"])
    assert "pl4nted-redis-pw" not in result.stdout.str()


def test_target_without_redis_url_skips(pytester: pytest.Pytester) -> None:
    """A check using redis_client on a target without redis_url is skipped with the reason."""
    pytester.makefile(".toml", deploysmoke='[targets.prod]\nbase_url = "http://127.0.0.1:9"\n')
    pytester.makepyfile(test_cache="def test_ping(redis_client):\n    pass\n")
    result = pytester.runpytest("--deploy-target=prod", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*target 'prod' has no redis_url*"])


def test_pipeline_writes_pass_the_same_guard(pytester: pytest.Pytester, redis_url: str, cached_key: str) -> None:
    """A write queued on a pipeline is refused on production; a read-only pipeline runs and is recorded."""
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url, "production = true"))
    pytester.makepyfile(
        test_cache=f"""
        def test_write(redis_client):
            redis_client.pipeline().set({cached_key!r}, 'x').execute()

        def test_read(redis_client):
            assert redis_client.pipeline().get({cached_key!r}).ttl({cached_key!r}).execute()[0] == "42"
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1, failed=1)
    (failure,) = reprec.getfailures()
    assert str(failure.longrepr) == f"SET {BLOCKED}"
    assert redis.Redis.from_url(redis_url).get(cached_key) == b"42"
    assert [c["action"] for c in recorded_calls(reprec, "test_read")] == ["PIPELINE (2 commands)"]


@pytest.fixture
def channel(redis_url: str) -> Iterator[tuple[str, redis.client.PubSub]]:
    """A fresh channel name, and a plain subscriber on it that sees whatever is published there."""
    name = f"deploysmoke:test:{uuid.uuid4().hex}"
    client = redis.Redis.from_url(redis_url, socket_timeout=2, decode_responses=True)
    subscriber = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
    subscriber.subscribe(name)
    assert subscriber.get_message(timeout=2) is None  # the confirmation, ignored
    yield name, subscriber
    subscriber.close()


def test_subscribe_and_messages_are_recorded_on_production(
    pytester: pytest.Pytester, redis_url: str, channel: tuple[str, redis.client.PubSub]
) -> None:
    """A check not marked destructive may subscribe on production; SUBSCRIBE, PSUBSCRIBE and each message
    get_message returns are recorded."""
    name, _ = channel
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url, "production = true"))
    pytester.makepyfile(
        test_cache=f"""
        import redis

        def test_subscribe(redis_client):
            pubsub = redis_client.pubsub()
            pubsub.subscribe({name!r})
            pubsub.psubscribe({name + ":*"!r})
            assert pubsub.get_message(timeout=2)["type"] == "subscribe"
            assert pubsub.get_message(timeout=2)["type"] == "psubscribe"
            redis.Redis.from_url({redis_url!r}).publish({name + ":eu"!r}, "hello")  # another client's write
            message = pubsub.get_message(timeout=2)
            assert (message["type"], message["data"]) == ("pmessage", "hello")
            pubsub.close()
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    calls = recorded_calls(reprec)
    assert [(c["kind"], c["action"], c["outcome"], c["ok"], c["write"]) for c in calls] == [
        ("redis", f"SUBSCRIBE {name}", "ok", True, False),
        ("redis", f"PSUBSCRIBE {name}:*", "ok", True, False),
        ("redis", f"subscribe {name}", "ok", True, False),
        ("redis", f"psubscribe {name}:*", "ok", True, False),
        ("redis", f"pmessage {name}:eu", "ok", True, False),
    ]


@pytest.mark.parametrize("via", ["client", "pipeline"])
def test_publish_is_blocked_on_production(
    pytester: pytest.Pytester, redis_url: str, channel: tuple[str, redis.client.PubSub], via: str
) -> None:
    """PUBLISH, on the client or queued on a pipeline, is a write: refused on production, recorded as blocked,
    and nothing reaches the subscribers."""
    name, subscriber = channel
    publish = f"redis_client.publish({name!r}, 'x')"
    if via == "pipeline":
        publish = f"redis_client.pipeline().publish({name!r}, 'x').execute()"
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url, "production = true"))
    pytester.makepyfile(test_cache=f"def test_publish(redis_client):\n    {publish}\n")
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(failed=1)
    (failure,) = reprec.getfailures()
    assert str(failure.longrepr) == f"PUBLISH {BLOCKED}"
    assert [(c["action"], c["outcome"]) for c in recorded_calls(reprec)] == [(f"PUBLISH {name}", "blocked")]
    assert subscriber.get_message(timeout=0.5) is None


def test_destructive_check_may_publish_on_production(
    pytester: pytest.Pytester, redis_url: str, channel: tuple[str, redis.client.PubSub]
) -> None:
    """With --allow-destructive a destructive check publishes; the PUBLISH is recorded as a write."""
    name, subscriber = channel
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url, "production = true"))
    pytester.makepyfile(
        test_cache=f"""
        import pytest

        @pytest.mark.destructive
        def test_publish(redis_client):
            assert redis_client.publish({name!r}, "x") == 1
        """
    )
    reprec = pytester.inline_run("--deploy-target=t", "--allow-destructive")
    reprec.assertoutcome(passed=1)
    assert [(c["action"], c["outcome"], c["write"]) for c in recorded_calls(reprec)] == [
        (f"PUBLISH {name}", "ok", True)
    ]
    message = subscriber.get_message(timeout=2)
    assert message is not None and message["data"] == "x"


def test_pipeline_that_writes_is_recorded_as_a_write(
    pytester: pytest.Pytester, redis_url: str, cached_key: str
) -> None:
    """A pipeline is recorded as a write when one of its commands writes, so a production run lists it."""
    pytester.makefile(".toml", deploysmoke=redis_toml(redis_url))
    pytester.makepyfile(
        test_cache=f"""
        def test_pipelines(redis_client):
            redis_client.pipeline().get({cached_key!r}).ttl({cached_key!r}).execute()
            redis_client.pipeline().get({cached_key!r}).set({cached_key!r}, 'z').execute()
        """
    )
    reprec = pytester.inline_run("--deploy-target=t")
    reprec.assertoutcome(passed=1)
    assert [(c["action"], c["write"]) for c in recorded_calls(reprec)] == [
        ("PIPELINE (2 commands)", False),
        ("PIPELINE (2 commands)", True),
    ]
