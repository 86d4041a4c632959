"""Rasa's socketio channel (the web widget), plus the web check-in.

A check-in accepted in the widget is not sent by a reminder (the page may be closed when it comes due): the
tracker keeps when it is due (slot `checkin_due`), and the next time the chat opens after that, the check-in
question is asked.
"""
from datetime import datetime
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput

CHECKIN_DUE_SLOT = "checkin_due"
CHECKIN_INTENT = "/EXTERNAL_checkin"


def checkin_due(due: Optional[Text], now: Optional[datetime] = None) -> bool:
    """Has the check-in time (an ISO timestamp) come?"""
    if not due:
        return False
    try:
        return datetime.fromisoformat(due) <= (now or datetime.now())
    except ValueError:
        return False


class CheckinSocketIOInput(SocketIOInput):
    """The stock socketio channel; on `session_request` it also asks a check-in that has come due."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> SocketBlueprint:
        bp = super().blueprint(on_new_message)
        sio, namespace = self.sio, self.namespace or "/"
        stock = sio.handlers[namespace]["session_request"]
        app: Dict[Text, Any] = {}

        @bp.listener("before_server_start")
        async def keep_app(sanic_app: Any, _: Any) -> None:
            app["agent"] = lambda: sanic_app.ctx.agent

        async def session_request(sid: Text, data: Optional[Dict]) -> None:
            data = data if data is not None else {}
            await stock(sid, data)  # joins the conversation's room and confirms the session id
            sender = data.get("session_id")
            if not (self.session_persistence and sender and "agent" in app):
                return
            tracker = await app["agent"]().tracker_store.retrieve(sender)
            if tracker and checkin_due(tracker.get_slot(CHECKIN_DUE_SLOT)):
                output = SocketIOOutput(sio, self.bot_message_evt)
                await on_new_message(UserMessage(CHECKIN_INTENT, output, sender, input_channel=self.name()))

        sio.on("session_request", session_request, namespace=self.namespace)
        return bp
