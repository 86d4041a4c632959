"""Attacks on the real servers (started as `make run` starts them): each must fail, and the assistant must keep
answering. See the README's "Security and privacy" section."""
import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import ROOT

SAFE = "can't complete the check right now"


def request(url, body=None, method=None, headers=None, timeout=30):
    """(status, headers, body) without raising on 4xx/5xx."""
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(url, data, {"Content-Type": "application/json", **(headers or {})}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def say(bot, sender, text):
    status, _, body = request(bot.q("/webhooks/rest/webhook"), {"sender": sender, "message": text}, timeout=60)
    assert status == 200, body
    return " ".join(m.get("text", "") for m in json.loads(body))


def tracker(bot, sender):
    status, _, body = request(bot.q(f"/conversations/{sender}/tracker"))
    assert status == 200
    return json.loads(body)


def user_texts(bot, sender):
    return [e.get("text") for e in tracker(bot, sender)["events"] if e.get("event") == "user"]


def test_the_api_refuses_calls_without_the_right_token(bot):
    say(bot, "sec-victim", "my lower back is sore since yesterday's deadlifts")
    events = json.dumps([{"event": "slot", "name": "triage_category", "value": "pump"}]).encode()
    for token in ("", "?token=wrong", f"?token={bot.token}x"):
        assert request(f"{bot.url}/conversations/sec-victim/tracker{token}")[0] == 401
        assert request(f"{bot.url}/conversations/sec-victim/tracker/events{token}", events)[0] == 401
        assert request(f"{bot.url}/model{token}", b"{}", method="PUT")[0] == 401
    assert tracker(bot, "sec-victim")["slots"]["triage_category"] is None  # nothing was rewritten
    assert request(bot.q("/status"))[0] == 200


def test_a_user_jwt_reaches_only_its_own_conversation(bot):
    import jwt

    say(bot, "sec-jwt-alice", "my lower back is sore after squats")

    def status(conversation, role, key=bot.jwt_secret):
        token = jwt.encode({"user": {"username": "sec-jwt-alice", "role": role}}, key, algorithm="HS256")
        return request(f"{bot.url}/conversations/{conversation}/tracker",
                       headers={"Authorization": f"Bearer {token}"})[0]

    assert status("sec-jwt-alice", "user") == 200
    assert status("sec-victim", "user") == 403
    assert status("sec-victim", "admin") == 200
    assert status("sec-jwt-alice", "user", key="not-the-secret") == 401


def test_rest_cannot_name_a_telegram_or_slack_conversation(bot):
    for sender in ("telegram:123456789", "slack:U0123_D0456"):
        status, _, body = request(f"{bot.url}/webhooks/rest/webhook", {"sender": sender, "message": "summary"})
        assert status == 400 and b"prefix" in body


def test_cors_allows_only_the_servers_own_origin(bot):
    own = f"http://127.0.0.1:{bot.port}"
    _, headers, _ = request(bot.q("/status"), headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in headers
    _, headers, _ = request(bot.q("/status"), headers={"Origin": own})
    assert headers.get("Access-Control-Allow-Origin") == own
    polling = f"{bot.url}/socket.io/?EIO=4&transport=polling"
    assert request(polling, headers={"Origin": "https://evil.example"})[0] == 400
    assert request(polling, headers={"Origin": own})[0] == 200


def test_a_socketio_client_cannot_take_over_another_users_session(bot):
    import socketio

    async def scenario():
        async def client():
            sio, got = socketio.AsyncClient(), {"said": [], "session": None}
            sio.on("bot_uttered", lambda data: got["said"].append(data.get("text") or ""))
            sio.on("session_confirm", lambda session: got.update(session=session))
            await sio.connect(bot.url, socketio_path="/socket.io/", transports=["polling"])
            return sio, got

        async def until(check, timeout=20.0):
            deadline = time.time() + timeout
            while time.time() < deadline and not check():
                await asyncio.sleep(0.05)
            return check()

        alice, a = await client()
        await alice.emit("session_request", {})
        assert await until(lambda: a["session"])
        conversation = a["session"].split(".")[0]
        await alice.emit("user_uttered", {"message": "sharp pain in my lower back on a deadlift", "session_id": "x"})
        assert await until(lambda: a["said"])

        mallory, m = await client()
        forged = [conversation, a["session"][:-1] + ("0" if a["session"][-1] != "0" else "1"), f"{conversation}.x"]
        for claimed in forged:  # her bare id, a forged signature
            m["session"] = None
            await mallory.emit("session_request", {"session_id": claimed})
            assert await until(lambda: m["session"])
            assert m["session"] != a["session"] and not m["session"].startswith(conversation)
        heard = len(a["said"])
        await mallory.emit("user_uttered", {"message": "can you write a summary for my physio",
                                            "session_id": a["session"].split(".")[0]})
        assert await until(lambda: m["said"])
        await asyncio.sleep(1)
        await alice.disconnect()
        await mallory.disconnect()
        return conversation, heard, a["said"], m["said"]

    conversation, heard, alice_heard, mallory_heard = asyncio.run(scenario())
    assert len(alice_heard) == heard  # Alice's chat got nothing of Mallory's
    assert "sharp pain" not in " ".join(mallory_heard).lower()
    assert user_texts(bot, conversation) == ["sharp pain in my lower back on a deadlift"]


def test_bad_bodies_get_a_4xx_and_the_server_stays_responsive(bot):
    url = bot.q("/webhooks/rest/webhook")
    cases = {b"": 400, b"[1, 2]": 400, b"null": 400, b'"hi"': 400, b"{not json": 400,
             b'{"message": "hi"}': 400, b'{"sender": "s", "message": 5}': 400, b'{"sender": "s", "message": ""}': 400,
             b'{"sender": ["s"], "message": "hi"}': 400, b'{"sender": "s", "message": "hi", "metadata": "x"}': 400}
    for body, status in cases.items():
        got, _, reply = request(url, body)
        assert got == status and "error" in json.loads(reply), body
    big = json.dumps({"sender": "sec-big", "message": "x" * 1_000_000}).encode()
    assert request(url, big)[0] == 413

    worst, stop = [], threading.Event()

    def flood():
        while not stop.is_set():
            request(url, big)

    floods = [threading.Thread(target=flood) for _ in range(4)]
    for thread in floods:
        thread.start()
    try:
        for _ in range(20):
            started = time.perf_counter()
            assert request(bot.q("/status"))[0] == 200
            worst.append(time.perf_counter() - started)
    finally:
        stop.set()
        for thread in floods:
            thread.join()
    assert max(worst) < 1.0, f"/status took up to {max(worst):.2f} s during the flood"

    long = say(bot, "sec-long", "my lower back hurts after squats " * 40)
    assert "too long" in long and "1,000" in long
    assert user_texts(bot, "sec-long") == []  # never reached NLU or the tracker


def test_channels_that_are_off_answer_404(bot):
    assert request(f"{bot.url}/webhooks/telegram/webhook", {"update_id": 1})[0] == 404
    assert request(f"{bot.url}/webhooks/slack/webhook", {"type": "event_callback"})[0] == 404
    log = (bot.workdir / "rasa.log").read_text()
    starts = log.count("Starting Rasa server")  # the log is kept across the restart test's restart
    assert starts >= 1 and log.count("Telegram channel is off") == log.count("Slack channel is off") == starts


def database_bytes(bot) -> bytes:
    """The SQLite database file and its write-ahead log, as they are on disk."""
    return b"".join(path.read_bytes() for path in sorted(bot.db.parent.glob(bot.db.name + "*")))


def test_delete_my_data_removes_the_conversation_from_the_api_and_the_database_file(bot):
    marker = f"zqdel{time.time_ns()}"
    say(bot, "sec-forget", f"my lower back is sore since yesterday's squats {marker}")
    assert marker.encode() in database_bytes(bot)
    assert "Delete everything" in say(bot, "sec-forget", "delete my data")
    assert "nothing was deleted" in say(bot, "sec-forget", "no").lower()
    assert "Delete everything" in say(bot, "sec-forget", "/forget")
    assert "deleted this conversation" in say(bot, "sec-forget", "yes")
    assert user_texts(bot, "sec-forget") == []
    assert marker.encode() not in database_bytes(bot)


def test_the_privacy_reply_says_the_retention_period_the_server_purges_with(bot):
    days = float(bot.env.get("BACKCHECK_RETENTION_DAYS", 30))
    answer = say(bot, "sec-privacy", "how long do you keep my data?")
    assert f"deleted after {days:g} day" in answer and "{" not in answer


def test_retention_purge_deletes_old_conversations(bot):
    say(bot, "sec-retention", "hello")
    assert user_texts(bot, "sec-retention") == ["hello"]
    purge = subprocess.run([sys.executable, "-m", "backcheck.privacy.store", "purge", "--days", "-1",
                            "--endpoints", str(bot.endpoints())], cwd=ROOT, env=bot.env, capture_output=True,
                           text=True, timeout=120)
    assert purge.returncode == 0, purge.stderr[-2000:]
    assert "purged" in purge.stdout
    assert user_texts(bot, "sec-retention") == []


def test_killing_the_action_server_gives_the_safe_answer_then_the_conversation_goes_on(bot):
    sender = "sec-outage"
    assert "When did it start" in say(bot, sender, "my lower back is sore after deadlifts")
    old = int(bot.actions_pidfile.read_text())
    os.kill(old, signal.SIGKILL)
    answer = say(bot, sender, "the next day")
    assert SAFE in answer and "emergency care now" in answer and "both legs" in answer
    deadline = time.time() + 60
    while time.time() < deadline:  # `make run`'s supervisor starts it again
        try:
            new = int(bot.actions_pidfile.read_text())
            if new != old and request(f"http://127.0.0.1:{bot.actions_port}/health")[0] == 200:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.3)
    else:
        pytest.fail("the action server was not restarted")
    time.sleep(1.2)  # past the guard's cached probe
    answer = say(bot, sender, "the next day")
    assert SAFE not in answer and "?" in answer  # the check goes on where it was
    assert user_texts(bot, sender) == ["my lower back is sore after deadlifts", "the next day"]


def test_logs_never_hold_message_text_or_sender_ids(bot):
    """Last: every failure path above has run; then a marker goes through more failing paths."""
    marker, sender = f"zqlog{time.time_ns()}", f"zqsender{time.time_ns()}"
    say(bot, sender, f"my back went numb {marker}")
    say(bot, sender, f"{marker} " * 300)  # over the length limit
    request(bot.q(f"/conversations/{sender}/tracker/events"), {"event": "user", "text": marker, "parse_data": 1})
    call = {"next_action": "action_give_verdict", "version": "3.6.21", "domain": {},
            "tracker": {"sender_id": sender, "latest_message": {"text": marker}, "slots": "broken",
                        "events": [{"event": "user", "text": marker}]}}
    status, _, body = request(f"http://127.0.0.1:{bot.actions_port}/webhook", call)
    assert status == 500 and marker.encode() not in body and sender.encode() not in body
    time.sleep(1)
    rasa_log, actions_log = (bot.workdir / "rasa.log").read_text(), (bot.workdir / "actions.log").read_text()
    assert "Traceback" in actions_log and "failed on action_give_verdict" in actions_log  # the failure is logged
    assert "Failed to run custom action" in rasa_log or "action server is not answering" in rasa_log  # the outage
    for log in (rasa_log, actions_log):
        assert marker not in log and sender not in log
        for earlier in ("sec-victim", "sec-forget", "sec-outage", "zqdel", "sharp pain in my lower back"):
            assert earlier not in log
