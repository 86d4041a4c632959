"""The production profile against real PostgreSQL and Redis (started here, not mocked): two Rasa instances, each
with its action server, behind nginx, sharing conversations, locks and de-duplication."""
import json
import shutil
import tempfile
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from backcheck.scale.profile import MODEL, ROOT, Profile
from backcheck.scale.services import free_port
from tests.channels.test_slack import SECRET as SLACK_SECRET, TOKEN as SLACK_TOKEN, FakeSlackApi, message_event, sign
from tests.e2e.test_checkin import InThread, wait_until

SHARED_EVAL = ROOT.parent / "shared" / "eval"


def free_base() -> int:
    """A base port whose profile ports (base, base+1, base+2, base+51, base+52) are all free."""
    for _ in range(200):
        base = random.randint(20000, 40000)
        try:
            for port in (base, base + 1, base + 2, base + 51, base + 52):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError("no free ports")


@pytest.fixture(scope="module")
def scaled():
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train`")
    slack = InThread(FakeSlackApi())
    slack.run(slack.fake.start())
    # PostgreSQL runs as the `postgres` user when the tests run as root: its folder must be reachable by it
    workdir = Path(tempfile.mkdtemp(prefix="backcheck-scale-"))
    workdir.chmod(0o755)
    env = dict(PYTHONPATH=str(ROOT), RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="3",
               PATH="/usr/bin:/bin:/usr/sbin:/sbin", HOME=str(workdir), RASA_AUTH_TOKEN="scale-token",
               BACKCHECK_SECRETS_DIR=str(workdir / "secrets"), BACKCHECK_PG_PORT=str(free_port()),
               BACKCHECK_REDIS_PORT=str(free_port()), SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SLACK_SECRET,
               SLACK_API_BASE_URL=slack.fake.url)
    profile = Profile(workdir, instances=2, port=free_base(), env=env).start()
    profile.slack = slack.fake
    yield profile
    profile.stop()
    slack.run(slack.fake.stop())
    slack.stop()
    shutil.rmtree(workdir, ignore_errors=True)


def post(url, body, headers=None, timeout=60):
    req = urllib.request.Request(url, json.dumps(body).encode() if not isinstance(body, bytes) else body,
                                 {"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as reply:
        return json.loads(reply.read() or b"null")


def say(port, sender, text):
    return post(f"http://127.0.0.1:{port}/webhooks/rest/webhook", {"sender": sender, "message": text})


def events(profile, sender, port=None):
    port = port or profile.rasa_ports[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/conversations/{sender}/tracker?token=scale-token") as r:
        return json.loads(r.read())["events"]


def user_texts(profile, sender, port=None):
    return [e["text"] for e in events(profile, sender, port) if e["event"] == "user"]


def test_turns_alternating_between_instances_make_one_consistent_conversation(scaled):
    one, two = scaled.rasa_ports
    turns = ["sore lower back the day after squats", "getting better", "No, none of these"]
    for port, text in zip([one, two, one], turns):
        assert say(port, "alt-1", text)
    for port in (one, two):  # both instances see the same conversation and verdict
        tracker = events(scaled, "alt-1", port)
        assert [e["text"] for e in tracker if e["event"] == "user"] == turns
    slots = {e["name"]: e["value"] for e in events(scaled, "alt-1", two) if e["event"] == "slot"}
    assert slots.get("triage_category") == "doms" and slots.get("triage_urgency") == "self_care"


def test_five_messages_of_one_sender_at_once_are_all_recorded_in_order_and_answered_once(scaled):
    texts = [f"message {i} about my lower back" for i in range(5)]
    results = {}

    def send(i):
        time.sleep(i * 0.05)  # sent in this order, all before the first is answered
        results[i] = say(scaled.port, "burst-1", texts[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(results.get(i) for i in range(5)), results  # every message got its own answer
    said = user_texts(scaled, "burst-1")
    assert sorted(said) == sorted(texts) and len(said) == 5  # each recorded once
    assert said == texts  # in the order sent (the lock store queues them)


def test_fifty_conversations_of_five_turns_at_once_lose_nothing_and_cross_nothing(scaled):
    turns = ["tight lower back after deadlifts", "While lifting", "No, none of these", "is a pump dangerous?",
             "thanks"]

    def conversation(n):
        sender = f"many-{n}"
        for turn in turns:
            reply = say(scaled.port, sender, f"{turn} #{n}" if turn == turns[0] else turn)
            assert reply, f"no answer for {sender}"
            assert all(m["recipient_id"] == sender for m in reply)
        return sender

    with ThreadPoolExecutor(max_workers=16) as pool:
        senders = list(pool.map(conversation, range(50)))
    for n, sender in enumerate(senders):
        said = user_texts(scaled, sender)
        assert len(said) == 5 and said[0] == f"{turns[0]} #{n}", (sender, said)


def test_a_slack_event_redelivered_to_the_other_instance_gets_no_second_reply(scaled):
    api = scaled.slack
    before = len(api.posts())
    raw = json.dumps(message_event("my lower back is tight after rows", event_id="EvScale1",
                                   ts="1700009999.000100")).encode()
    one, two = scaled.rasa_ports
    post(f"http://127.0.0.1:{one}/webhooks/slack/webhook", raw, sign(raw))
    assert wait_until(lambda: len(api.posts()) > before, timeout=60)
    post(f"http://127.0.0.1:{two}/webhooks/slack/webhook", raw, sign(raw))  # same event, other instance
    post(f"http://127.0.0.1:{two}/webhooks/slack/webhook", raw, {**sign(raw), "X-Slack-Retry-Num": "1"})
    time.sleep(3)
    assert len(api.posts()) == before + 1


def test_restarting_one_instance_loses_nothing(scaled):
    one, two = scaled.rasa_ports
    say(one, "restart-1", "sore lower back the day after squats")
    scaled.restart_instance(0)
    say(one, "restart-1", "getting better")
    say(two, "restart-1", "No, none of these")
    assert user_texts(scaled, "restart-1") == ["sore lower back the day after squats", "getting better",
                                               "No, none of these"]


def test_retention_purge_works_on_postgresql(scaled):
    say(scaled.port, "old-1", "hello")
    purge = subprocess.run([sys.executable, "-m", "backcheck.privacy.store", "purge", "--days", "-1", "--endpoints",
                            str(scaled.workdir / "endpoints-0.yml")], cwd=ROOT, env=scaled.env, capture_output=True,
                           text=True, timeout=120)
    assert purge.returncode == 0, purge.stderr[-2000:]
    assert user_texts(scaled, "old-1") == []


@pytest.mark.skipif(not (SHARED_EVAL / "public_vignettes.yaml").exists(), reason="../shared/eval is not beside the repo")
def test_public_vignettes_pass_against_the_production_profile(scaled):
    proc = subprocess.run([sys.executable, str(SHARED_EVAL / "simulate.py"), "--url", f"http://127.0.0.1:{scaled.port}",
                           "--token", "scale-token", str(SHARED_EVAL / "public_vignettes.yaml")],
                          capture_output=True, text=True, timeout=900)
    print(proc.stdout[-3000:])
    assert "0 failed" in proc.stdout.strip().splitlines()[-1], proc.stdout[-3000:]
