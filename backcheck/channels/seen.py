"""What a channel has already handled: Slack events and Telegram updates are redelivered on retries and timeouts,
and each must be answered once."""
import time
from collections import OrderedDict
from typing import Callable, Text


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

    def add(self, key: Text) -> bool:
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
