"""De-duplication of redelivered Slack events and Telegram updates: in process, and in Redis across instances."""
import asyncio
import secrets

import pytest

from backcheck.channels.seen import RedisSeen, SeenCache, seen_store
from backcheck.scale.services import Redis, ensure_packages, free_port


def test_seen_cache_expires_and_is_bounded():
    async def scenario():
        now = [1000.0]
        cache = SeenCache(ttl=60, max_size=3, clock=lambda: now[0])
        assert await cache.add("a") and not await cache.add("a")
        now[0] += 61
        assert await cache.add("a")  # expired
        for key in "bcd":
            assert await cache.add(key)
        assert len(cache._items) == 3
        assert await cache.add("a")  # evicted as the oldest

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    ensure_packages(["redis-server"])
    server = Redis(tmp_path_factory.mktemp("redis"), free_port(), secrets.token_hex(8)).start()
    yield server
    server.stop()


def test_redis_seen_is_shared_by_instances_and_namespaced(redis_server):
    async def scenario():
        one, two = RedisSeen(redis_server.url(), "slack"), RedisSeen(redis_server.url(), "slack")
        other = RedisSeen(redis_server.url(), "telegram")
        assert await one.add("event:E1")
        assert not await two.add("event:E1")  # a retry reaching another instance
        assert await other.add("event:E1")  # another channel's id space
        assert await two.add("event:E2")

    asyncio.run(scenario())


def test_without_redis_the_message_is_still_handled(monkeypatch):
    async def scenario():
        down = RedisSeen(f"redis://127.0.0.1:{free_port()}/1", "slack")
        assert await down.add("event:E1") and await down.add("event:E1")

    asyncio.run(scenario())


def test_the_store_follows_the_environment(monkeypatch):
    monkeypatch.delenv("BACKCHECK_REDIS_URL", raising=False)
    assert isinstance(seen_store("slack"), SeenCache)
    monkeypatch.setenv("BACKCHECK_REDIS_URL", "redis://127.0.0.1:1/1")
    assert isinstance(seen_store("slack"), RedisSeen)
