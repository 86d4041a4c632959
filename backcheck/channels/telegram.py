"""Telegram input channel for BackCheck.

Fixes over rasa.core.channels.telegram (Rasa 3.6):
- configured through environment variables; stays off without a token
  (its routes then answer 404);
- optional self-hosted Bot API server (api_base_url);
- aiohttp session bound to the serving event loop (no "Event loop is closed");
- webhook set at start-up in the background, with a secret token that is
  checked on every update; no getMe per message.
"""

import asyncio
import hmac
import html
import json
import logging
import os
import re
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

import aiohttp
from aiogram import Bot
from aiogram.bot.api import TELEGRAM_PRODUCTION, TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.telegram import TelegramInput as StockTelegramInput
from rasa.core.channels.telegram import TelegramOutput as StockTelegramOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from backcheck.channels.guard import SENDER_PREFIXES, GuardedInput, strip_prefix
from backcheck.channels.seen import seen_store

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = 4096  # Telegram's message length limit
MAX_CALLBACK_DATA = 64  # bytes
ALLOWED_UPDATES = ["message", "callback_query"]
NON_TEXT_REPLY = "Sorry, I can only read text messages."

DEFAULT_ENV = {
    "access_token_env": "TELEGRAM_TOKEN",
    "verify_env": "TELEGRAM_BOT_NAME",
    "webhook_url_env": "TELEGRAM_WEBHOOK_URL",
    "secret_token_env": "TELEGRAM_SECRET_TOKEN",
    "api_base_url_env": "TELEGRAM_API_BASE_URL",
}

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s\"]+)\)")
_COMMAND = re.compile(r"^/(\w+)(?:@(\w+))?\s*(.*)$", re.S)


def to_html(text: Text) -> Text:
    """Renders Rasa's markdown-ish text (**bold**, [a](url)) as Telegram HTML."""
    escaped = html.escape(text, quote=False)
    escaped = _BOLD.sub(r"<b>\1</b>", escaped)
    return _LINK.sub(r'<a href="\2">\1</a>', escaped)


def split_text(text: Text, limit: int = MAX_TEXT) -> List[Text]:
    """Splits long text at paragraph breaks so each part fits one message."""
    parts: List[Text] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        while len(paragraph) > limit:
            parts.append(paragraph[:limit])
            paragraph = paragraph[limit:]
        current = paragraph
    return parts + [current] if current else parts


def _callback_data(button: Dict[Text, Any]) -> Text:
    # Telegram caps callback_data at 64 bytes; fall back to the title (-> NLU).
    for value in (button.get("payload"), button.get("title")):
        if value and len(value.encode()) <= MAX_CALLBACK_DATA:
            return value
    logger.warning("Button payload and title too long for Telegram; truncated.")
    return button["title"].encode()[:MAX_CALLBACK_DATA].decode(errors="ignore")


class TelegramOutput(StockTelegramOutput):
    """Sends bot responses; its HTTP session always lives in the current loop."""

    def __init__(self, access_token: Text, api_base_url: Optional[Text] = None):
        server = (
            TelegramAPIServer.from_base(api_base_url)
            if api_base_url
            else TELEGRAM_PRODUCTION
        )
        Bot.__init__(self, access_token, server=server, timeout=15)
        self._session_loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = self.get_new_session()
            self._session_loop = loop
        return self._session

    async def close(self) -> None:
        if self._session is not None and self._session_loop is asyncio.get_running_loop():
            await self._session.close()
        self._session = None

    async def set_webhook_with_secret(self, url: Text, secret: Optional[Text]) -> Any:
        # aiogram 2.15's set_webhook predates secret_token, so call the method directly.
        params = {"url": url, "allowed_updates": json.dumps(ALLOWED_UPDATES)}
        if secret:
            params["secret_token"] = secret
        return await self.request("setWebhook", params)

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        await super().send_response(strip_prefix("telegram", recipient_id), message)

    async def send_text_message(
        self, recipient_id: Text, text: Text, reply_markup: Any = None, **kwargs: Any
    ) -> None:
        parts = split_text(text.strip()) or [""]
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            await self.send_message(
                strip_prefix("telegram", recipient_id),
                to_html(part),
                parse_mode="HTML",
                disable_web_page_preview=True,
                reply_markup=reply_markup if last else None,
            )

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        button_type: Optional[Text] = "vertical",
        **kwargs: Any,
    ) -> None:
        """Inline keyboard; a click sends the button's payload back to Rasa."""
        keys = [InlineKeyboardButton(b["title"], callback_data=_callback_data(b)) for b in buttons]
        markup = InlineKeyboardMarkup()
        if button_type == "inline":  # stock Rasa meaning: one horizontal row
            markup.row(*keys)
        else:
            for key in keys:
                markup.row(key)
        await self.send_text_message(recipient_id, text, reply_markup=markup)

    async def acknowledge_click(self, query: Dict[Text, Any]) -> None:
        """Stops the button spinner and shows the chosen answer under the question."""
        await self.answer_callback_query(query["id"])
        message = query.get("message") or {}
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        title = next(
            (b.get("text") for row in rows for b in row if b.get("callback_data") == query.get("data")),
            None,
        )
        if title and message.get("text"):
            # No reply_markup in the edit: the keyboard is removed.
            await self.edit_message_text(
                f"{message['text']}\n\n» {title}",
                chat_id=message["chat"]["id"],
                message_id=message["message_id"],
                entities=message.get("entities"),
            )


class TelegramInput(GuardedInput, StockTelegramInput):
    """Telegram webhook channel, configured via environment variables."""

    token_env = DEFAULT_ENV["access_token_env"]  # named in the "off" log line

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "TelegramInput":
        credentials = credentials or {}

        def env(key: Text) -> Optional[Text]:
            return os.environ.get(credentials.get(key) or DEFAULT_ENV[key]) or None

        channel = cls(
            access_token=env("access_token_env"),
            verify=env("verify_env"),
            webhook_url=env("webhook_url_env"),
            secret_token=env("secret_token_env"),
            api_base_url=env("api_base_url_env"),
            start_message=credentials.get("start_message") or "hi",
        )
        channel.token_env = credentials.get("access_token_env") or DEFAULT_ENV["access_token_env"]
        return channel

    def __init__(
        self,
        access_token: Optional[Text],
        verify: Optional[Text] = None,
        webhook_url: Optional[Text] = None,
        secret_token: Optional[Text] = None,
        api_base_url: Optional[Text] = None,
        start_message: Text = "hi",
    ) -> None:
        super().__init__(access_token, verify, webhook_url, debug_mode=False)
        self.secret_token = secret_token
        self.start_message = start_message
        self.output: Optional[TelegramOutput] = None
        self._webhook_task: Optional[asyncio.Task] = None
        self.seen = seen_store("telegram")  # update ids already handled (Telegram redelivers on timeouts)
        if access_token:
            try:
                self.output = TelegramOutput(access_token, api_base_url)
            except Exception:
                logger.error("Telegram token is malformed; Telegram channel disabled.")

    @property
    def enabled(self) -> bool:
        return self.output is not None

    checkin_prefix = SENDER_PREFIXES["telegram"]

    def get_output_channel(self) -> Optional[TelegramOutput]:
        return self.output

    def checkin_output(self, tracker: Any) -> Optional[TelegramOutput]:
        return self.output

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        bp = Blueprint("telegram_webhook", __name__)
        on_new_message = self.guard(on_new_message)
        self.keep_app(bp)
        if not self.enabled:
            logger.info("Telegram channel is off: set %s to turn it on", self.token_env)

        @bp.listener("after_server_start")
        async def start(app: Any, loop: Any) -> None:
            self._on_server_start()

        @bp.listener("before_server_stop")
        async def stop(app: Any, loop: Any) -> None:
            if self._webhook_task and not self._webhook_task.done():
                self._webhook_task.cancel()
            if self.output:
                await self.output.close()

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if not self.enabled:
                return self._off()
            return response.json({"status": "ok", "enabled": True})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.enabled:
                return self._off()
            if not self._secret_ok(request.headers.get(SECRET_HEADER)):
                logger.warning("Rejected Telegram update: missing or wrong secret token.")
                return response.json({"status": "forbidden"}, status=403)
            try:
                update = json.loads(request.body or b"{}")
                await self._handle_update(update, on_new_message, request)
            except Exception as e:
                # Always 200 so Telegram doesn't retry; no message text in logs.
                logger.error("Failed to handle Telegram update: %s", type(e).__name__)
                logger.debug("Telegram update error details", exc_info=True)
            return response.json({"status": "ok"})

        return bp

    @staticmethod
    def _off() -> HTTPResponse:
        # The route looks absent; nothing is read from the request.
        return response.json({"error": "the telegram channel is off on this server"}, status=404)

    def _on_server_start(self) -> None:
        if not self.enabled:
            return  # already logged when the blueprint was built
        if not self.secret_token:
            logger.warning(
                "No Telegram secret token configured: webhook updates are not authenticated."
            )
        if self.webhook_url:
            self._webhook_task = asyncio.create_task(self._set_webhook())
        else:
            logger.info("No Telegram webhook URL configured; not calling setWebhook.")

    async def _set_webhook(self) -> None:
        try:
            await self.output.set_webhook_with_secret(self.webhook_url, self.secret_token)
            logger.info("Telegram webhook set to %s", self.webhook_url)
        except Exception as e:
            detail = str(e).replace(self.access_token, "<token>")
            logger.warning("Could not set Telegram webhook: %s: %s", type(e).__name__, detail)

    def _secret_ok(self, header: Optional[Text]) -> bool:
        if not self.secret_token:
            return True
        return header is not None and hmac.compare_digest(
            header.encode(), self.secret_token.encode()
        )

    async def _handle_update(
        self,
        update: Dict[Text, Any],
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        request: Request,
    ) -> None:
        update_id = update.get("update_id")
        if update_id is not None and not await self.seen.add(str(update_id)):
            logger.info("Ignoring a redelivered Telegram update.")
            return
        if "callback_query" in update:
            query = update["callback_query"]
            message = query.get("message") or {}
            texts = [query.get("data")] if query.get("data") else []
            try:
                await self.output.acknowledge_click(query)
            except Exception as e:
                logger.debug("Could not acknowledge button click: %s", e)
        elif "message" in update:
            message = update["message"]
            text = message.get("text")
            if text is None:
                if message.get("chat", {}).get("type") == "private":
                    await self.output.send_text_message(message["chat"]["id"], NON_TEXT_REPLY)
                return
            texts = self._user_texts(text)
        else:  # edited messages, channel posts, ...
            logger.debug("Ignoring Telegram update with keys %s", sorted(update))
            return

        chat_id = (message.get("chat") or {}).get("id")
        if chat_id is None:
            return
        for text in texts:
            await on_new_message(
                UserMessage(
                    text,
                    self.output,
                    SENDER_PREFIXES["telegram"] + str(chat_id),
                    input_channel=self.name(),
                    metadata=self.get_metadata(request),
                )
            )

    def _user_texts(self, text: Text) -> List[Text]:
        """Maps typed bot commands; other typed '/x' is not parsed as an intent."""
        match = _COMMAND.match(text)
        if not match:
            plain = text.lstrip("/").strip()
            return [plain] if plain else []
        command, bot_name, rest = match.groups()
        if bot_name and self.verify and bot_name.lower() != self.verify.lstrip("@").lower():
            return []  # command addressed to another bot in a group
        if command == "start":
            return [self.start_message]
        if command == "restart":
            return ["/restart", self.start_message]
        if command == "forget":  # "delete my data": asks once, then deletes (backcheck/privacy/store.py)
            return ["/forget"]
        return [f"{command} {rest}".strip()]
