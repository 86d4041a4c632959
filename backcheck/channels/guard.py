"""What every BackCheck channel does around a message, before and after Rasa handles it.

- The message's text and sender id are registered for log redaction (backcheck/privacy/logs.py).
- A message over the length limit gets a polite answer and never reaches NLU.
- The action server is probed (cached for a second) before the turn: when it is down the user gets a short
  safe answer (which signs need emergency care now) and the turn is not run, so the conversation is not left
  half-processed; when it is back, the conversation goes on where it was.
- A turn that fails or ends without any reply (an action failed mid-turn) is undone and the safe answer sent,
  so no message is met with silence.

Channels mix in `GuardedInput` and pass `self.guard(on_new_message)` to their handlers.
"""
import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text

import aiohttp
import yaml
from rasa.core.channels.channel import OutputChannel, UserMessage

from backcheck.channels.checkins import restore_checkins
from backcheck.privacy import logs
from backcheck.privacy.store import unwrap

logger = logging.getLogger(__name__)

NOTICES: Dict[Text, Text] = yaml.safe_load((Path(__file__).with_name("notices.yml")).read_text())
MAX_CHARS = int(os.environ.get("BACKCHECK_MAX_MESSAGE_CHARS", "1000"))
HEALTH_TTL = 1.0  # seconds a good probe of the action server is trusted
HEALTH_TIMEOUT = 2.0

Handler = Callable[[UserMessage], Awaitable[Any]]

# Conversation ids of the verified channels carry their channel's prefix, so the REST channel, whose sender id is
# the client's word, can never name a Telegram or Slack user's conversation (it refuses these prefixes).
SENDER_PREFIXES = {"telegram": "telegram:", "slack": "slack:"}


def strip_prefix(channel: Text, sender_id: Any) -> Text:
    """The channel's own id (a Telegram chat id, say) from a conversation id."""
    prefix, sender = SENDER_PREFIXES[channel], str(sender_id)
    return sender[len(prefix):] if sender.startswith(prefix) else sender


class _Counting:
    """Stands in for the real output channel: everything passes through, and every send_* call is counted."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner, self.sent = inner, 0

    def __getattr__(self, item: Text) -> Any:
        attribute = getattr(self.inner, item)
        if not (item.startswith("send_") and callable(attribute)):
            return attribute

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.sent += 1
            return await attribute(*args, **kwargs)

        return counted


class ActionServerHealth:
    """Is the action server answering? A good answer is trusted for HEALTH_TTL seconds; a bad one never."""

    def __init__(self) -> None:
        self._good_until = 0.0

    async def up(self, webhook_url: Optional[Text]) -> bool:
        if not webhook_url:
            return True
        if time.monotonic() < self._good_until:
            return True
        url = webhook_url.rsplit("/", 1)[0] + "/health"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HEALTH_TIMEOUT)) as session:
                async with session.get(url) as response:
                    ok = response.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            ok = False
        self._good_until = time.monotonic() + HEALTH_TTL if ok else 0.0
        return ok


HEALTH = ActionServerHealth()  # one per process: every channel shares what it learns


def too_long(text: Optional[Text], limit: int = MAX_CHARS) -> Optional[Text]:
    """The polite answer for a message over the limit, else None."""
    if text and len(text) > limit:
        return NOTICES["too_long"].format(length=len(text), limit=f"{limit:,}")
    return None


class GuardedInput:
    """Mix-in for input channels; the Sanic app is captured by the blueprint's listener (`keep_app`)."""

    _sanic_app: Any = None
    checkin_prefix: Optional[Text] = None  # channels that deliver check-ins as reminders (backcheck/channels/checkins.py)

    def keep_app(self, blueprint: Any) -> None:
        logs.install()  # also when started by plain `rasa run`, not backcheck.server

        @blueprint.listener("before_server_start")
        async def _keep(app: Any, _loop: Any) -> None:
            self._sanic_app = app

        @blueprint.listener("after_server_start")
        async def _restore(app: Any, _loop: Any) -> None:
            agent = self._agent()
            if self.checkin_prefix and agent is not None:
                try:
                    await restore_checkins(agent, self.checkin_prefix, self.checkin_output)
                except Exception:
                    logger.exception("Could not schedule the kept check-ins again")

    def checkin_output(self, tracker: Any) -> Any:
        """The output channel a check-in of this conversation is sent through (None: cannot be sent)."""
        return None

    def _agent(self) -> Any:
        return getattr(getattr(self._sanic_app, "ctx", None), "agent", None)

    def guard(self, on_new_message: Handler) -> Handler:
        async def guarded(message: UserMessage) -> None:
            logs.remember(message.sender_id, message.text)
            answer = too_long(message.text)
            if answer:
                await message.output_channel.send_text_message(message.sender_id, answer)
                return
            agent = self._agent()
            webhook = getattr(getattr(agent, "action_endpoint", None), "url", None)
            if not await HEALTH.up(webhook):
                logger.warning("The action server is not answering: sent the safe answer instead of a check")
                await message.output_channel.send_text_message(message.sender_id, NOTICES["unavailable"])
                return
            counting, started, failed = _Counting(message.output_channel), time.time(), False
            message.output_channel = counting
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("A turn failed")
                failed = True
            finally:
                message.output_channel = counting.inner
            if failed or (counting.sent == 0 and not (message.text or "").startswith("/EXTERNAL")):
                logger.error("A turn ended without a reply: undone, and the safe answer sent")
                await self._undo_turn(agent, message.sender_id, started)
                await counting.inner.send_text_message(message.sender_id, NOTICES["unavailable"])

        return guarded

    @staticmethod
    async def _undo_turn(agent: Any, sender_id: Text, started: float) -> None:
        """Drops the failed turn so the next message meets the conversation as it was before it."""
        store = unwrap(getattr(agent, "tracker_store", None))
        if not hasattr(store, "drop_last_turn"):
            return
        try:
            async with agent.lock_store.lock(sender_id):
                await store.drop_last_turn(sender_id, since=started)
        except Exception:
            logger.exception("Could not undo the failed turn")
