"""Slack channel for BackCheck.

Built on Rasa's stock Slack channel, with these changes:
- credentials.yml names environment variables; if the bot token or signing
  secret is unset the channel is OFF (its routes answer 404 with
  X-Slack-No-Retry) instead of failing start-up;
- request signatures are checked with slack_sdk's SignatureVerifier;
- each event is handled once: requests carrying X-Slack-Retry-Num are ignored
  and event ids / message timestamps are de-duplicated;
- Slack is acknowledged at once, the message is handled in a background task;
- replies go to the user's thread if there is one; a thread is its own
  conversation (sender id = user_channel[_thread_ts]);
- configurable API base URL; no legacy `as_user` argument (new Slack apps
  reject it with `invalid_arguments`); buttons as Block Kit.
"""

import asyncio
import json
import logging
import os
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text
from urllib.parse import parse_qs

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.slack import SlackBot as RasaSlackBot
from rasa.core.channels.slack import SlackInput as RasaSlackInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from backcheck.channels.guard import SENDER_PREFIXES, GuardedInput
from backcheck.channels.seen import seen_store

logger = logging.getLogger(__name__)

DEFAULT_ENV = {
    "slack_token_env": "SLACK_BOT_TOKEN",
    "slack_signing_secret_env": "SLACK_SIGNING_SECRET",
    "slack_channel_env": "SLACK_CHANNEL",
    "api_base_url_env": "SLACK_API_BASE_URL",
}
MAX_BUTTONS = 25  # Slack's limit for elements in one actions block
# Message subtypes that are still a user writing to the bot.
USER_SUBTYPES = {None, "file_share", "thread_broadcast"}

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class SlackBot(RasaSlackBot):
    """Stock Slack output channel with a configurable API base URL."""

    def __init__(
        self,
        token: Text,
        slack_channel: Optional[Text] = None,
        thread_id: Optional[Text] = None,
        base_url: Optional[Text] = None,
    ) -> None:
        super().__init__(token, slack_channel, thread_id)
        self.client = AsyncWebClient(
            token, base_url=base_url or AsyncWebClient.BASE_URL
        )

    async def _post_message(self, channel: Text, **kwargs: Any) -> None:
        kwargs.pop("as_user", None)  # rejected by new Slack apps
        if self.thread_id:
            kwargs["thread_ts"] = self.thread_id
        await self.client.chat_postMessage(channel=channel, **kwargs)

    async def send_text_with_buttons(
        self,
        recipient_id: Text,
        text: Text,
        buttons: List[Dict[Text, Any]],
        **kwargs: Any,
    ) -> None:
        if len(buttons) > MAX_BUTTONS:
            logger.warning("Slack shows at most %d buttons; dropping the rest.", MAX_BUTTONS)
        elements = [
            {
                "type": "button",
                "action_id": f"button_{i}",
                "text": {"type": "plain_text", "text": str(button["title"])[:75]},
                "value": str(button.get("payload") or button["title"]),
            }
            for i, button in enumerate(buttons[:MAX_BUTTONS])
        ]
        blocks: List[Dict[Text, Any]] = []
        if text:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
        blocks.append({"type": "actions", "elements": elements})
        await self._post_message(
            channel=self.slack_channel or recipient_id, text=text or " ", blocks=blocks
        )

    async def send_attachment(  # type: ignore[override]
        self, recipient_id: Text, attachment: Dict[Text, Any], **kwargs: Any
    ) -> None:
        # Stock passes **kwargs (Rasa's response metadata) on to Slack.
        await self._post_message(
            channel=self.slack_channel or recipient_id, attachments=[attachment]
        )

    async def send_custom_json(
        self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any
    ) -> None:
        message = dict(json_message)
        channel = message.pop("channel", None) or self.slack_channel or recipient_id
        await self._post_message(channel=channel, **message)


class SlackInput(GuardedInput, RasaSlackInput):
    """Slack Events API + interactivity webhook at /webhooks/slack/webhook."""

    # Variable names (never values) for the "off" log line.
    required_env = (DEFAULT_ENV["slack_token_env"], DEFAULT_ENV["slack_signing_secret_env"])

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SlackInput":
        credentials = credentials or {}
        names = {key: credentials.get(key) or default for key, default in DEFAULT_ENV.items()}
        values = {key: os.environ.get(name, "").strip() or None for key, name in names.items()}
        channel = cls(
            slack_token=values["slack_token_env"],
            slack_signing_secret=values["slack_signing_secret_env"],
            slack_channel=values["slack_channel_env"],
            api_base_url=values["api_base_url_env"],
        )
        channel.required_env = (names["slack_token_env"], names["slack_signing_secret_env"])
        return channel

    def __init__(
        self,
        slack_token: Optional[Text],
        slack_signing_secret: Optional[Text],
        slack_channel: Optional[Text] = None,
        api_base_url: Optional[Text] = None,
    ) -> None:
        self.enabled = bool(slack_token and slack_signing_secret)
        self.api_base_url = api_base_url
        self.seen = seen_store("slack")
        # Checks the v0 signature and refuses timestamps over 5 minutes off.
        self.verifier = SignatureVerifier(slack_signing_secret) if self.enabled else None
        super().__init__(
            slack_token or "",
            slack_channel,
            slack_signing_secret=slack_signing_secret or "",
        )

    def _validate_credentials(self) -> None:
        """Stock raises without a signing secret; we switch the channel off instead."""

    checkin_prefix = SENDER_PREFIXES["slack"]

    def checkin_output(self, tracker: Any) -> Optional[OutputChannel]:
        """Where the conversation's last message came from (its metadata keeps the channel and thread)."""
        metadata = getattr(tracker.latest_message, "metadata", None) or {}
        return self.get_output_channel(metadata.get("out_channel"), metadata.get("thread_id"))

    def get_output_channel(
        self, channel: Optional[Text] = None, thread_id: Optional[Text] = None
    ) -> Optional[OutputChannel]:  # type: ignore[override]
        if not self.enabled:
            return None
        return SlackBot(
            self.slack_token, channel or self.slack_channel, thread_id, self.api_base_url
        )

    def signature_ok(self, request: Request) -> bool:
        """True if the request carries a valid, fresh Slack signature."""
        try:
            return self.verifier.is_valid(
                body=request.body or b"",
                timestamp=request.headers.get("X-Slack-Request-Timestamp"),
                signature=request.headers.get("X-Slack-Signature"),
            )
        except (ValueError, TypeError, OverflowError):
            # Non-numeric timestamp, non-UTF-8 body or non-ASCII signature.
            return False

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        slack_webhook = Blueprint("slack_webhook", __name__)
        on_new_message = self.guard(on_new_message)
        self.keep_app(slack_webhook)
        if not self.enabled:
            logger.info("Slack channel is off: set %s and %s to turn it on", *self.required_env)

        @slack_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            if not self.enabled:
                return self._off()
            return response.json({"status": "ok"})

        @slack_webhook.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if not self.enabled:
                return self._off()
            if not self.signature_ok(request):
                logger.warning("Rejected Slack request: missing, invalid or stale signature.")
                return response.json({"error": "invalid signature"}, status=401)
            retry = request.headers.get("X-Slack-Retry-Num")
            if retry:
                reason = request.headers.get("X-Slack-Retry-Reason")
                logger.info("Ignoring Slack retry #%s (%s).", retry, reason)
                return response.text("", headers={"X-Slack-No-Retry": "1"})
            try:
                return await self._handle(request, on_new_message)
            except Exception:
                logger.exception("Failed to handle Slack request.")
                return response.json({"error": "internal error"}, status=500)

        return slack_webhook

    @staticmethod
    def _off() -> HTTPResponse:
        # Slack retries any non-2xx unless told not to (X-Slack-No-Retry).
        return response.json(
            {"error": "the slack channel is off on this server"},
            status=404,
            headers={"X-Slack-No-Retry": "1"},
        )

    async def _handle(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        content_type = request.headers.get("content-type", "").split(";")[0].strip()
        try:
            if content_type == "application/x-www-form-urlencoded":
                form = parse_qs(request.body.decode("utf-8"))
                body = json.loads(form["payload"][0])
            else:
                body = json.loads(request.body)
            if not isinstance(body, dict):
                raise ValueError("not an object")
        except (ValueError, KeyError, UnicodeDecodeError):
            return response.json({"error": "malformed request"}, status=400)

        if body.get("type") == "url_verification":
            return response.json({"challenge": body.get("challenge")})
        if body.get("type") == "event_callback":
            event_id = body.get("event_id")
            if event_id and not await self.seen.add(f"event:{event_id}"):
                logger.info("Ignoring duplicate Slack event %s.", event_id)
                return response.text("")
            message = await self._message_from_event(body)
        elif body.get("type") == "block_actions":
            message = self._message_from_block_actions(body)
        else:
            message = None

        if message is not None:
            self._process_in_background(on_new_message, message)
        return response.text("")

    async def _message_from_event(self, body: Dict[Text, Any]) -> Optional[UserMessage]:
        event = body.get("event") or {}
        bot_users = [
            a.get("user_id") for a in body.get("authorizations") or [] if a.get("is_bot")
        ]
        user, channel, text = event.get("user"), event.get("channel"), event.get("text")
        if (
            event.get("type") not in ("message", "app_mention")
            or event.get("bot_id")
            or event.get("subtype") not in USER_SUBTYPES
            or not (user and channel and text)
            or user in bot_users
        ):
            return None
        if not (
            event["type"] == "app_mention"
            or event.get("channel_type") == "im"
            or channel == self.slack_channel
        ):
            logger.debug("Ignoring Slack message in unsupported channel %s.", channel)
            return None
        # A mention in a subscribed channel arrives as app_mention and message.
        ts = event.get("ts")
        if ts and not await self.seen.add(f"message:{channel}:{ts}"):
            return None
        text = self._sanitize_user_message(text, bot_users)
        return self._user_message(
            text, user, channel, event.get("thread_ts"), {"event_id": body.get("event_id")}
        )

    def _message_from_block_actions(self, payload: Dict[Text, Any]) -> Optional[UserMessage]:
        if not self._is_interactive_message(payload):
            return None
        text = self._get_interactive_response(payload["actions"][0])
        container = payload.get("container") or {}
        user = (payload.get("user") or {}).get("id")
        channel = (payload.get("channel") or {}).get("id") or container.get("channel_id")
        thread_ts = container.get("thread_ts") or (payload.get("message") or {}).get(
            "thread_ts"
        )
        if not (text and user and channel):
            return None  # e.g. a link button
        return self._user_message(text, user, channel, thread_ts, {})

    def _user_message(
        self,
        text: Text,
        user: Text,
        channel: Text,
        thread_ts: Optional[Text],
        extra: Dict[Text, Any],
    ) -> UserMessage:
        sender_id = SENDER_PREFIXES["slack"] + "_".join(part for part in (user, channel, thread_ts) if part)
        metadata = {"user": user, "out_channel": channel, "thread_id": thread_ts, **extra}
        return UserMessage(
            text,
            self.get_output_channel(channel, thread_ts),
            sender_id,
            input_channel=self.name(),
            metadata=metadata,
        )

    def _process_in_background(
        self, on_new_message: OnNewMessage, message: UserMessage
    ) -> None:
        async def run() -> None:
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("Failed to process Slack message for %s.", message.sender_id)

        task = asyncio.create_task(run())
        self._background_tasks.add(task)  # keep a reference until done
        task.add_done_callback(self._background_tasks.discard)
        logger.debug("Queued Slack message for %s.", message.sender_id)
