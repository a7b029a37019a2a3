"""The redis_client fixture against a real Redis: recorded, guarded on production."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.fix_pytester import recorded_calls


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
    result.stdout.fnmatch_lines(["SET blocked: target 't' is production and the test is not marked destructive"])
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
    assert str(failure.longrepr) == "SET blocked: target 't' is production and the test is not marked destructive"
    assert redis.Redis.from_url(redis_url).get(cached_key) == b"42"
    assert [c["action"] for c in recorded_calls(reprec, "test_read")] == ["PIPELINE (2 commands)"]
