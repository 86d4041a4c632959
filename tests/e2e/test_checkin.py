"""End to end: a check-in accepted after a self-care verdict arrives later, as a reminder, on Telegram and Slack.

The real assistant runs with both channels pointed at the fake Bot API and Web API of the channel tests; the
check-in delay is cut to a few seconds with BACKCHECK_CHECKIN_SECONDS.
"""
import asyncio
import json
import threading
import time
import urllib.request

import pytest

from tests.channels.test_slack import SECRET as SLACK_SECRET, TOKEN as SLACK_TOKEN, FakeSlackApi, message_event, sign
from tests.channels.test_telegram import SECRET as TG_SECRET, TOKEN as TG_TOKEN, FakeTelegramAPI, text_update

from .conftest import MODEL, Bot

CONVERSATION = ["sore lower back the day after squats", "getting better", "No, none of these", "yes check in with me"]
CHECKIN = "Checking in"


class InThread:
    """Runs an async fake API in a thread of its own, so blocking test code can talk to the assistant."""

    def __init__(self, fake):
        self.fake, self.loop = fake, asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)


def wait_until(check, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    return None


def post(url, body: bytes, headers):
    req = urllib.request.Request(url, body, {"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status


@pytest.fixture(scope="module")
def channels(tmp_path_factory):
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    telegram, slack = InThread(FakeTelegramAPI()), InThread(FakeSlackApi())
    telegram.run(telegram.fake.__aenter__())
    slack.run(slack.fake.start())
    env = {"TELEGRAM_TOKEN": TG_TOKEN, "TELEGRAM_BOT_NAME": "BackCheckBot", "TELEGRAM_SECRET_TOKEN": TG_SECRET,
           "TELEGRAM_API_BASE_URL": telegram.fake.base_url, "SLACK_BOT_TOKEN": SLACK_TOKEN,
           "SLACK_SIGNING_SECRET": SLACK_SECRET, "SLACK_API_BASE_URL": slack.fake.url,
           "BACKCHECK_CHECKIN_SECONDS": "3"}
    bot = Bot(tmp_path_factory.mktemp("checkin"), extra_env=env).start()
    yield bot, telegram.fake, slack.fake
    bot.stop()
    telegram.run(telegram.fake.__aexit__(None, None, None))
    slack.run(slack.fake.stop())
    telegram.stop()
    slack.stop()


def test_a_check_in_is_delivered_later_on_telegram(channels):
    bot, api, _ = channels
    url = f"{bot.url}/webhooks/telegram/webhook"
    for i, text in enumerate(CONVERSATION, start=1):
        assert post(url, json.dumps(text_update(text, update_id=i)).encode(),
                    {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) == 200
    sent = [m["text"] for m in api.methods("sendMessage")]
    assert any("Most likely" in t for t in sent) and "check in with you in 2 days" in sent[-1]
    assert not any(CHECKIN in t for t in sent), "the check-in came at once, not later"
    checkin = wait_until(lambda: [m for m in api.methods("sendMessage") if CHECKIN in m["text"]])
    assert checkin, "no check-in reached Telegram"
    buttons = [b["text"] for row in checkin[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Better", "About the same", "Worse"]


def test_a_check_in_is_delivered_later_on_slack_and_worse_re_checks(channels):
    bot, _, api = channels
    url = f"{bot.url}/webhooks/slack/webhook"
    for i, text in enumerate(CONVERSATION, start=1):
        before = len(api.posts())
        raw = json.dumps(message_event(text, event_id=f"EvCheckin{i}", ts=f"1700000{i:03d}.000100")).encode()
        assert post(url, raw, sign(raw)) == 200
        assert wait_until(lambda: len(api.posts()) > before, timeout=30), f"no reply to {text!r}"
    assert not any(CHECKIN in str(p) for p in api.posts())
    assert wait_until(lambda: [p for p in api.posts() if CHECKIN in str(p)]), "no check-in reached Slack"
    # answering the check-in with "worse" asks the warning signs again
    before = len(api.posts())
    raw = json.dumps(message_event("It's worse today", event_id="EvCheckinWorse", ts="1700000999.000100")).encode()
    assert post(url, raw, sign(raw)) == 200
    assert wait_until(lambda: any("groin" in str(p).lower() for p in api.posts()[before:]), timeout=30)


async def test_on_the_web_a_due_check_in_appears_when_the_chat_opens_again(channels):
    import socketio

    bot = channels[0]
    session = {}  # the server issues the session id; the client sends it back on every visit
    said = []

    async def open_chat():
        client = socketio.AsyncClient()
        client.on("bot_uttered", lambda data: said.append(data.get("text") or ""))
        client.on("session_confirm", lambda sid: session.update(id=sid))
        await client.connect(bot.url, socketio_path="/socket.io/", transports=["polling"])
        issued = session.get("id")
        await client.emit("session_request", {"session_id": issued})
        assert await until(lambda: session.get("id") and (issued is None or session["id"] == issued))
        return client

    async def until(check, timeout=20.0):
        deadline = time.time() + timeout
        while time.time() < deadline and not check():
            await asyncio.sleep(0.1)
        return check()

    chat = await open_chat()
    for text in CONVERSATION:
        before = len(said)
        await chat.emit("user_uttered", {"message": text, "session_id": session["id"]})
        assert await until(lambda: len(said) > before), f"no reply to {text!r}"
    assert "check in with you" in said[-1]
    await chat.disconnect()
    await asyncio.sleep(4)  # BACKCHECK_CHECKIN_SECONDS=3: due while the chat is closed
    assert not any(CHECKIN in s for s in said)
    chat = await open_chat()
    assert await until(lambda: any(CHECKIN in s for s in said)), "the check-in did not appear when the chat opened"
    await chat.disconnect()
    asked = sum(CHECKIN in s for s in said)
    chat = await open_chat()  # asked once: not again on the next visit
    await asyncio.sleep(2)
    await chat.disconnect()
    assert sum(CHECKIN in s for s in said) == asked == 1


def telegram_conversation(bot, chat_id, first_update):
    url = f"{bot.url}/webhooks/telegram/webhook"
    chat = {"id": chat_id, "first_name": "Kim", "type": "private"}
    for i, text in enumerate(CONVERSATION):
        assert post(url, json.dumps(text_update(text, update_id=first_update + i, chat=chat)).encode(),
                    {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) == 200


def checkins_to(api, chat_id):
    return [m for m in api.methods("sendMessage") if CHECKIN in m["text"] and str(m["chat_id"]) == str(chat_id)]


def test_two_people_waiting_for_a_check_in_both_get_theirs(channels):
    bot, api, _ = channels
    telegram_conversation(bot, 6101, 100)
    telegram_conversation(bot, 6102, 200)  # scheduled after the first: must not replace it
    assert wait_until(lambda: checkins_to(api, 6101) and checkins_to(api, 6102)), "a check-in was lost"
    time.sleep(2)
    assert len(checkins_to(api, 6101)) == len(checkins_to(api, 6102)) == 1  # once each


def test_a_check_in_accepted_before_a_restart_still_comes(channels):
    """Last in this module: it restarts the Rasa server."""
    bot, api, _ = channels
    telegram_conversation(bot, 6201, 300)
    bot.restart_rasa()  # the check-in (due in 3 s) comes due while the server is down
    assert wait_until(lambda: checkins_to(api, 6201)), "the check-in was lost in the restart"
    time.sleep(2)
    assert len(checkins_to(api, 6201)) == 1
