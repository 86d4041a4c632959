"""The guard around every channel's messages, the REST input checks and the socket.io session signer."""
import asyncio
import json
from types import SimpleNamespace

import pytest
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from backcheck.channels import guard as guard_module
from backcheck.channels.guard import NOTICES, GuardedInput, too_long
from backcheck.channels.rest import body_error
from backcheck.channels.socketio import SessionSigner
from tests.channels.conftest import FakeHealth


class Channel(GuardedInput):
    pass


@pytest.fixture
def channel(monkeypatch):
    health = FakeHealth()
    monkeypatch.setattr(guard_module, "HEALTH", health)
    made = Channel()
    made._sanic_app = SimpleNamespace(ctx=SimpleNamespace(agent=SimpleNamespace(
        action_endpoint=SimpleNamespace(url="http://127.0.0.1:1/webhook"), tracker_store=None)))
    made.health = health
    return made


def handle(channel, on_new_message, text="my lower back is tight"):
    collector = CollectingOutputChannel()
    asyncio.run(channel.guard(on_new_message)(UserMessage(text, collector, "user-1")))
    return [m.get("text") for m in collector.messages]


def replying(*texts):
    calls = []

    async def on_new_message(message):
        calls.append(message.text)
        for text in texts:
            await message.output_channel.send_text_message(message.sender_id, text)

    on_new_message.calls = calls
    return on_new_message


def test_a_normal_turn_passes_through_untouched(channel):
    handler = replying("When did it start?")
    assert handle(channel, handler) == ["When did it start?"]
    assert handler.calls == ["my lower back is tight"]


def test_a_message_over_the_limit_gets_a_polite_answer_and_never_reaches_rasa(channel):
    handler = replying("should not be sent")
    said = handle(channel, handler, "my back hurts " * 100)
    assert handler.calls == [] and len(said) == 1
    assert "too long" in said[0] and "1,000" in said[0]
    assert too_long("x" * 1000) is None and too_long("x" * 1001)


def test_with_the_action_server_down_the_safe_answer_comes_and_the_turn_is_not_run(channel):
    channel.health.is_up = False
    handler = replying("should not be sent")
    said = handle(channel, handler)
    assert handler.calls == [] and said == [NOTICES["unavailable"]]
    assert "emergency" in said[0] and "both legs" in said[0] and "chest pain" in said[0]


def test_a_turn_that_ends_in_silence_or_fails_gets_the_safe_answer(channel, caplog):
    assert handle(channel, replying()) == [NOTICES["unavailable"]]

    async def crashing(message):
        raise RuntimeError(f"boom while reading {message.text!r}")

    assert handle(channel, crashing) == [NOTICES["unavailable"]]
    assert "A turn failed" in caplog.text


def test_external_events_may_end_without_a_reply(channel):
    assert handle(channel, replying(), "/EXTERNAL_checkin") == []


@pytest.mark.parametrize("body, error", [
    (b"", "must be JSON"),
    (b"not json", "must be JSON"),
    (b"[1, 2]", "JSON object"),
    (b'"text"', "JSON object"),
    (b'{"message": "hi"}', "`sender` is required"),
    (b'{"sender": "", "message": "hi"}', "`sender` is required"),
    (b'{"sender": 42, "message": "hi"}', "`sender` is required"),
    (json.dumps({"sender": "x" * 129, "message": "hi"}).encode(), "too long"),
    (b'{"sender": "a"}', "`message` is required"),
    (b'{"sender": "a", "message": "   "}', "`message` is required"),
    (b'{"sender": "a", "message": ["hi"]}', "`message` is required"),
    (b'{"sender": "a", "message": "hi", "metadata": "x"}', "`metadata`"),
    (b'\xff\xfe', "must be JSON"),
])
def test_rest_bodies_that_cannot_be_handled_are_named(body, error):
    assert error in body_error(SimpleNamespace(body=body))


def test_a_good_rest_body_passes():
    assert body_error(SimpleNamespace(body=b'{"sender": "a", "message": "hi", "metadata": {"k": 1}}')) is None


def test_only_session_ids_this_server_signed_are_accepted():
    signer = SessionSigner("key-1")
    session = signer.issue()
    conversation = signer.conversation(session)
    assert conversation and session.startswith(conversation + ".")
    assert SessionSigner("key-2").conversation(session) is None  # another server's key
    assert signer.conversation(conversation) is None  # the bare conversation id of someone else
    assert signer.conversation(conversation + ".0" * 16) is None  # a forged signature
    for bad in (None, 42, "", ".", "a.b.c", ["x"]):
        assert signer.conversation(bad) is None
