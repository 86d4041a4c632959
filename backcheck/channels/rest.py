"""Rasa's REST channel with its input checked before any work, and the BackCheck guard around each message.

`POST /webhooks/rest/webhook` takes {"sender": "<id>", "message": "<text>"}. The sender id is the client's word,
so it may not name a Telegram or Slack conversation: those carry their channel's prefix ("telegram:", "slack:"),
which a REST sender may not use. A body that is not what the channel takes gets a 400 with a short
JSON error (never a 500, never the shared "default" conversation a missing sender used to join):
the body must be a JSON object, `sender` a non-empty string of at most 128 characters, `message` a non-empty string,
`metadata` (optional) an object.
The body size cap (413) is Sanic's (see backcheck/server.py); a message over the length limit is answered politely
by the guard (backcheck/channels/guard.py).
"""
import json
from typing import Any, Awaitable, Callable, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from backcheck.channels.guard import SENDER_PREFIXES, GuardedInput

MAX_SENDER = 128


def body_error(request: Request) -> Optional[Text]:
    """Why this webhook body cannot be handled, or None when it can."""
    try:
        body = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        return "the body must be JSON: {\"sender\": \"<id>\", \"message\": \"<text>\"}"
    if not isinstance(body, dict):
        return "the body must be a JSON object: {\"sender\": \"<id>\", \"message\": \"<text>\"}"
    sender, message = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender.strip():
        return "`sender` is required: a string that identifies the conversation"
    if len(sender) > MAX_SENDER:
        return f"`sender` is too long (at most {MAX_SENDER} characters)"
    if sender.startswith(tuple(SENDER_PREFIXES.values())):
        return "`sender` may not start with another channel's prefix (" + ", ".join(SENDER_PREFIXES.values()) + ")"
    if not isinstance(message, str) or not message.strip():
        return "`message` is required: a non-empty string"
    if body.get("metadata") is not None and not isinstance(body["metadata"], dict):
        return "`metadata`, when given, must be a JSON object"
    return None


class GuardedRestInput(GuardedInput, RestInput):
    """`rest` channel: same URL and replies as Rasa's, with input checks and the guard."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = super().blueprint(self.guard(on_new_message))
        self.keep_app(bp)

        @bp.middleware("request")
        async def checked(request: Request) -> Optional[HTTPResponse]:
            if request.method == "POST" and request.path.rstrip("/").endswith("/webhook"):
                error = body_error(request)
                if error:
                    return response.json({"error": error}, status=400)
            return None

        return bp
