"""Rasa's socketio channel (the web widget), with sessions bound to their browser, plus the web check-in.

Sessions: the server issues every session id, signed with a server secret ("<id>.<signature>"). The widget keeps
it and sends it back on reconnect (persistence across a page reload); an id the server did not sign, such as
another user's conversation id, gets a new session instead. Messages are filed under the session of the
socket that sent them, never under an id the message claims.

Check-in: a check-in accepted in the widget is not sent by a reminder (the page may be closed when it comes
due): the tracker keeps when it is due (slot `checkin_due`), and the next time the chat opens after that, the
check-in question is asked.
"""
import hashlib
import hmac
import logging
import os
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput

from backcheck.channels.checkins import CHECKIN_INTENT, CHECKIN_SLOT, checkin_due
from backcheck.channels.guard import GuardedInput
from backcheck.privacy import logs

logger = logging.getLogger(__name__)

MAX_PACKET = 16 * 1024  # bytes per socket.io message


class SessionSigner:
    """Session ids the server issued: "<conversation id>.<HMAC of it>"."""

    def __init__(self, key: Text) -> None:
        self._key = key.encode()

    def _mac(self, conversation_id: Text) -> Text:
        return hmac.new(self._key, conversation_id.encode(), hashlib.sha256).hexdigest()[:32]

    def issue(self) -> Text:
        conversation_id = uuid.uuid4().hex
        return f"{conversation_id}.{self._mac(conversation_id)}"

    def conversation(self, session_id: Any) -> Optional[Text]:
        """The conversation id of a session id this server signed, else None."""
        if not isinstance(session_id, str) or session_id.count(".") != 1:
            return None
        conversation_id, mac = session_id.split(".")
        return conversation_id if conversation_id and hmac.compare_digest(mac, self._mac(conversation_id)) else None


class CheckinSocketIOInput(GuardedInput, SocketIOInput):
    """The socketio channel with signed sessions, the guard, and the check-in on `session_request`."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> SocketBlueprint:
        from backcheck.server import secret

        on_new_message = self.guard(on_new_message)
        bp = super().blueprint(on_new_message)
        self.keep_app(bp)
        sio, namespace = self.sio, self.namespace or "/"
        # Origins as for the HTTP API (None: the server's own); packets capped like request bodies.
        sio.eio.cors_allowed_origins = os.environ.get("BACKCHECK_CORS_ORIGINS", "").replace(",", " ").split() or None
        sio.eio.max_http_buffer_size = MAX_PACKET
        signer = SessionSigner(secret("socketio_session_key", "BACKCHECK_SESSION_KEY"))
        senders: Dict[Text, Text] = {}  # socket id -> conversation id

        async def session_request(sid: Text, data: Any) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            sender = signer.conversation(requested)
            session_id = requested if sender else signer.issue()
            sender = sender or signer.conversation(session_id)
            senders[sid] = sender
            sio.enter_room(sid, sender, namespace=namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=namespace)
            await self._ask_checkin_if_due(sio, sender, on_new_message)

        async def handle_message(sid: Text, data: Any) -> None:
            sender = senders.get(sid)
            if sender is None or not isinstance(data, dict) or not isinstance(data.get("message"), str):
                logger.warning("Ignored a socket.io message without a confirmed session or text")
                return
            metadata = data.get(self.metadata_key)
            message = UserMessage(data["message"], SocketIOOutput(sio, self.bot_message_evt), sender,
                                  input_channel=self.name(), metadata=metadata if isinstance(metadata, dict) else {})
            await on_new_message(message)

        async def disconnect(sid: Text) -> None:
            senders.pop(sid, None)

        sio.on("session_request", session_request, namespace=namespace)
        sio.on(self.user_message_evt, handle_message, namespace=namespace)
        sio.on("disconnect", disconnect, namespace=namespace)
        return bp

    async def _ask_checkin_if_due(self, sio: Any, sender: Text, on_new_message: Callable) -> None:
        agent = self._agent()
        if agent is None:
            return
        logs.remember(sender)
        tracker = await agent.tracker_store.retrieve(sender)
        if tracker and checkin_due(tracker.get_slot(CHECKIN_SLOT)):
            output = SocketIOOutput(sio, self.bot_message_evt)
            await on_new_message(UserMessage(f"/{CHECKIN_INTENT}", output, sender, input_channel=self.name()))
