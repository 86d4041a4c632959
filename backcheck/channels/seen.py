"""What a channel has already handled: Slack events and Telegram updates are redelivered on retries and timeouts,
and each must be answered once.

`seen_store(name)` gives the in-process cache, or, when BACKCHECK_REDIS_URL is set (the production profile, with
several Rasa instances), a Redis set shared by all instances, so a retry that reaches another instance is not
answered twice.
"""
import logging
import os
import time
from collections import OrderedDict
from typing import Any, Callable, Optional, Text

logger = logging.getLogger(__name__)


class SeenCache:
    """Bounded in-memory set of keys that expire after `ttl` seconds."""

    def __init__(
        self,
        ttl: float = 3600.0,
        max_size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_size = max_size
        self.clock = clock
        self._items: "OrderedDict[Text, float]" = OrderedDict()

    async def add(self, key: Text) -> bool:
        """Records `key`. Returns False if it was already seen."""
        now = self.clock()
        while self._items:  # oldest first: drop expired and overflow
            oldest = next(iter(self._items.values()))
            if now - oldest < self.ttl and len(self._items) < self.max_size:
                break
            self._items.popitem(last=False)
        if key in self._items:
            return False
        self._items[key] = now
        return True


class RedisSeen:
    """The same, in Redis (SET NX with an expiry): shared by every instance."""

    def __init__(self, url: Text, namespace: Text, ttl: float = 3600.0) -> None:
        self.url, self.namespace, self.ttl = url, namespace, int(ttl)
        self._client: Any = None

    def _redis(self) -> Any:
        if self._client is None:
            from redis import asyncio as aioredis

            self._client = aioredis.from_url(self.url, socket_timeout=2)
        return self._client

    async def add(self, key: Text) -> bool:
        """Records `key`. Returns False if any instance already recorded it."""
        try:
            return bool(await self._redis().set(f"backcheck:seen:{self.namespace}:{key}", 1, nx=True, ex=self.ttl))
        except Exception as error:  # Redis down: answering twice beats not answering
            logger.warning(f"Redis de-duplication unavailable ({type(error).__name__}); handling the message")
            return True


def seen_store(namespace: Text, url: Optional[Text] = None) -> Any:
    """Redis-backed when BACKCHECK_REDIS_URL is set, else in this process."""
    url = url or os.environ.get("BACKCHECK_REDIS_URL")
    return RedisSeen(url, namespace) if url else SeenCache()
