"""Slack channel against a fake Slack Web API, both served on 127.0.0.1."""

import asyncio
import hashlib
import hmac
import json
import logging
import socket
import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, Dict, List, Optional
from urllib.parse import urlencode

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from rasa.core.channels.channel import UserMessage, register
from sanic import Blueprint, Sanic
from slack_sdk.signature import SignatureVerifier

import backcheck.channels.slack as slack_module
from backcheck.channels.slack import SlackInput

pytestmark = pytest.mark.timeout(30)

TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
BOT_USER = "UBOT"
USER_TEXT = "my lower back hurts after deadlifts"
BUTTONS = [
    {"title": "During my sets", "payload": "/inform"},
    {"title": "The next morning", "payload": '/inform{"onset":"next_day"}'},
]
WEBHOOK = "/webhooks/slack/webhook"
OFF_LINE = "Slack channel is off: set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to turn it on"


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))  # free port chosen by the OS
    return sock


class FakeSlackApi:
    """Minimal Slack Web API: records every call, answers like Slack."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.fail_with: Optional[str] = None
        self.url = ""
        self._runner: Optional[web.AppRunner] = None

    def posts(self) -> List[Dict[str, Any]]:
        return [c["params"] for c in self.calls if c["method"] == "chat.postMessage"]

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = dict(await request.post())
        self.calls.append(
            {"method": method, "params": params, "auth": request.headers.get("Authorization")}
        )
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if "as_user" in params:  # what Slack answers new apps
            return web.json_response(
                {"ok": False, "error": "invalid_arguments", "deprecated_argument": "as_user"}
            )
        if self.fail_with:
            return web.json_response({"ok": False, "error": self.fail_with})
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": BOT_USER, "bot_id": "BBOT"})
        if method == "chat.postMessage":
            return web.json_response(
                {"ok": True, "channel": params.get("channel"), "ts": f"{time.time():.6f}"}
            )
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = _bound_socket()
        await web.SockSite(self._runner, sock).start()
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/api/"

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()


class FakeAgent:
    """Dialogue test double: asks a question with buttons."""

    def __init__(self, delay: float = 0.0, error: Optional[Exception] = None) -> None:
        self.messages: List[UserMessage] = []
        self.delay = delay
        self.error = error

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        await message.output_channel.send_response(
            message.sender_id,
            {"text": "When did it start?", "buttons": [dict(b) for b in BUTTONS]},
        )


class SlackTestServer:
    """A real Sanic app with the channel registered the way Rasa does it."""

    def __init__(self, channel: SlackInput, agent: FakeAgent, url: str, http) -> None:
        self.channel = channel
        self.agent = agent
        self.url = url
        self.http: aiohttp.ClientSession = http

    async def post_event(self, body: Dict[str, Any], **kwargs: Any) -> aiohttp.ClientResponse:
        raw = json.dumps(body).encode()
        return await self.post(raw, "application/json", **kwargs)

    async def post(
        self,
        raw: bytes,
        content_type: str,
        secret: str = SECRET,
        timestamp: Optional[int] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> aiohttp.ClientResponse:
        all_headers = {"Content-Type": content_type, **sign(raw, secret, timestamp)}
        all_headers.update(headers or {})
        async with self.http.post(self.url + WEBHOOK, data=raw, headers=all_headers) as resp:
            await resp.read()
            return resp

    async def settle(self) -> None:
        """Waits until background processing is done."""
        for _ in range(300):
            if not self.channel._background_tasks:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)


def sign(raw: bytes, secret: str = SECRET, timestamp: Optional[int] = None) -> Dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + raw, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest.hexdigest()}


def message_event(
    text: str = USER_TEXT,
    event_id: str = "Ev001",
    channel: str = "D123",
    channel_type: str = "im",
    ts: str = "1700000000.000100",
    **event: Any,
) -> Dict[str, Any]:
    return {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": "T1", "user_id": BOT_USER, "is_bot": True}],
        "event": {
            "type": "message",
            "user": "U1",
            "text": text,
            "channel": channel,
            "channel_type": channel_type,
            "ts": ts,
            **event,
        },
    }


def block_actions(value: str = "/inform", thread_ts: Optional[str] = None) -> bytes:
    container = {"type": "message", "message_ts": "1700000001.000200", "channel_id": "D123"}
    message = {"type": "message", "ts": "1700000001.000200", "bot_id": "BBOT"}
    if thread_ts:
        container["thread_ts"] = message["thread_ts"] = thread_ts
    payload = {
        "type": "block_actions",
        "user": {"id": "U1", "username": "pat"},
        "team": {"id": "T1"},
        "channel": {"id": "D123", "name": "directmessage"},
        "container": container,
        "message": message,
        "trigger_id": "123.456.abc",
        "response_url": "http://127.0.0.1:9/unused",
        "actions": [
            {
                "type": "button",
                "action_id": "button_0",
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "During my sets"},
                "value": value,
                "action_ts": "1700000002.000300",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


async def wait_for_posts(api: FakeSlackApi, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while len(api.posts()) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def sanic_test_mode() -> None:
    # Sanic 21.12 rewrites its protocol methods at each app start-up and can only
    # start a second app in one process in test mode. Not reset on purpose:
    # resetting would break any later app start-up in this process.
    Sanic.test_mode = True


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    return monkeypatch


@pytest_asyncio.fixture
async def fake_slack():
    api = FakeSlackApi()
    await api.start()
    yield api
    await api.stop()


@asynccontextmanager
async def serve(channel: SlackInput, agent: Optional[FakeAgent] = None):
    agent = agent or FakeAgent()
    app = Sanic(f"slack_test_{uuid.uuid4().hex}", configure_logging=False)
    app.ctx.agent = agent
    register([channel], app, "/webhooks/")
    sock = _bound_socket()
    server = await app.create_server(
        sock=sock, return_asyncio_server=True, access_log=False
    )
    await server.startup()  # create_server already listens; this finalizes routes
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with aiohttp.ClientSession() as http:
            yield SlackTestServer(channel, agent, url, http)
    finally:
        for task in list(channel._background_tasks):
            task.cancel()
        server.close()
        await server.wait_closed()


@pytest_asyncio.fixture
async def slack(slack_env, fake_slack):
    slack_env.setenv("SLACK_API_BASE_URL", fake_slack.url)
    async with serve(SlackInput.from_credentials({})) as server:
        yield server


@pytest.mark.asyncio
async def test_signed_message_gets_one_reply_with_buttons(slack, fake_slack):
    resp = await slack.post_event(message_event())
    assert resp.status == 200

    await wait_for_posts(fake_slack, 1)
    await slack.settle()
    posts = fake_slack.posts()
    assert len(posts) == 1
    post = posts[0]
    assert post["channel"] == "D123"
    assert "thread_ts" not in post and "as_user" not in post
    section, actions = post["blocks"]
    assert section["type"] == "section" and section["text"]["text"] == "When did it start?"
    assert actions["type"] == "actions"
    assert [e["text"]["text"] for e in actions["elements"]] == [b["title"] for b in BUTTONS]
    assert [e["value"] for e in actions["elements"]] == [b["payload"] for b in BUTTONS]
    assert {e["type"] for e in actions["elements"]} == {"button"}
    assert fake_slack.calls[0]["auth"] == f"Bearer {TOKEN}"

    (message,) = slack.agent.messages
    assert message.text == USER_TEXT
    assert message.sender_id == "slack:U1_D123"
    assert message.input_channel == "slack"


@pytest.mark.asyncio
async def test_acknowledges_before_dialogue_finishes(slack_env, fake_slack):
    slack_env.setenv("SLACK_API_BASE_URL", fake_slack.url)
    async with serve(SlackInput.from_credentials(None), FakeAgent(delay=2.0)) as server:
        started = time.monotonic()
        resp = await server.post_event(message_event())
        assert resp.status == 200
        assert time.monotonic() - started < 1.0
        assert fake_slack.posts() == []
        await wait_for_posts(fake_slack, 1)
        assert len(fake_slack.posts()) == 1


@pytest.mark.asyncio
async def test_bad_signature_is_rejected(slack, fake_slack):
    resp = await slack.post_event(message_event(), secret="wrong-secret")
    assert resp.status == 401

    raw = json.dumps(message_event(event_id="Ev002")).encode()
    async with slack.http.post(
        slack.url + WEBHOOK, data=raw, headers={"Content-Type": "application/json"}
    ) as unsigned:
        assert unsigned.status == 401

    await slack.settle()
    assert slack.agent.messages == [] and fake_slack.calls == []


@pytest.mark.asyncio
async def test_stale_timestamp_is_rejected(slack, fake_slack):
    ten_minutes_ago = int(time.time()) - 600
    resp = await slack.post_event(message_event(), timestamp=ten_minutes_ago)
    assert resp.status == 401
    await slack.settle()
    assert slack.agent.messages == [] and fake_slack.calls == []

    # The same event, freshly signed, is still handled: rejection left no trace.
    assert (await slack.post_event(message_event())).status == 200
    await wait_for_posts(fake_slack, 1)
    assert len(fake_slack.posts()) == 1


@pytest.mark.asyncio
async def test_signature_is_checked_by_slack_sdk(slack, fake_slack, monkeypatch):
    assert isinstance(slack.channel.verifier, SignatureVerifier)
    checked: List[Dict[str, Any]] = []
    real_is_valid = SignatureVerifier.is_valid

    def spy(self, body, timestamp, signature):
        checked.append({"body": body, "timestamp": timestamp, "signature": signature})
        return real_is_valid(self, body, timestamp, signature)

    monkeypatch.setattr(SignatureVerifier, "is_valid", spy)
    raw = json.dumps(message_event()).encode()
    headers = sign(raw)
    assert (await slack.post(raw, "application/json")).status == 200
    assert checked == [
        {
            "body": raw,
            "timestamp": headers["X-Slack-Request-Timestamp"],
            "signature": headers["X-Slack-Signature"],
        }
    ]
    await wait_for_posts(fake_slack, 1)

    # The verifier's answer decides: a well-signed request it refuses is refused.
    monkeypatch.setattr(SignatureVerifier, "is_valid", lambda self, **kwargs: False)
    resp = await slack.post_event(message_event(event_id="Ev002", ts="2.0"))
    assert resp.status == 401
    await slack.settle()
    assert len(slack.agent.messages) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "case",
    [
        "no headers",
        "no timestamp",
        "no signature",
        "timestamp not a number",
        "timestamp huge",
        "timestamp 6 minutes ahead",
        "signature v1 prefix",
        "signature not ascii",
        "body changed after signing",
    ],
)
async def test_bad_signature_headers_are_refused(slack, fake_slack, case):
    raw = json.dumps(message_event()).encode()
    headers = {"Content-Type": "application/json", **sign(raw)}
    if case == "no headers":
        del headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    elif case == "no timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif case == "no signature":
        del headers["X-Slack-Signature"]
    elif case == "timestamp not a number":
        headers["X-Slack-Request-Timestamp"] = "soon"
    elif case == "timestamp huge":
        headers["X-Slack-Request-Timestamp"] = "9" * 400
    elif case == "timestamp 6 minutes ahead":
        headers = {"Content-Type": "application/json", **sign(raw, timestamp=int(time.time()) + 360)}
    elif case == "signature v1 prefix":
        headers["X-Slack-Signature"] = "v1=" + headers["X-Slack-Signature"][3:]
    elif case == "signature not ascii":
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"][:-1] + "é"
    elif case == "body changed after signing":
        raw = raw.replace(b"deadlifts", b"squats")

    async with slack.http.post(slack.url + WEBHOOK, data=raw, headers=headers) as resp:
        assert resp.status == 401
        assert await resp.json() == {"error": "invalid signature"}
    await slack.settle()
    assert slack.agent.messages == [] and fake_slack.calls == []


@pytest.mark.asyncio
async def test_signed_non_utf8_body_is_refused_not_a_server_error(slack, fake_slack):
    resp = await slack.post(b"\xff\xfe not utf-8", "application/json")
    assert resp.status == 401
    await slack.settle()
    assert slack.agent.messages == [] and fake_slack.calls == []


@pytest.mark.asyncio
async def test_timestamp_under_five_minutes_old_is_accepted(slack, fake_slack):
    four_minutes_ago = int(time.time()) - 240
    assert (await slack.post_event(message_event(), timestamp=four_minutes_ago)).status == 200
    await wait_for_posts(fake_slack, 1)
    assert len(slack.agent.messages) == 1


@pytest.mark.asyncio
async def test_retries_and_redeliveries_are_handled_once(slack, fake_slack):
    event = message_event()
    assert (await slack.post_event(event)).status == 200
    await wait_for_posts(fake_slack, 1)

    for reason in ("http_error", "http_timeout"):
        retry = await slack.post_event(
            event, headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": reason}
        )
        assert retry.status == 200
        assert retry.headers.get("X-Slack-No-Retry") == "1"
    again = await slack.post_event(event)  # same event_id, no retry headers
    assert again.status == 200

    await slack.settle()
    assert len(fake_slack.posts()) == 1
    assert len(slack.agent.messages) == 1


@pytest.mark.asyncio
async def test_retry_of_unseen_event_is_ignored_too(slack, fake_slack):
    retry = await slack.post_event(
        message_event(event_id="Ev009"),
        headers={"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_error"},
    )
    assert retry.status == 200
    await slack.settle()
    assert slack.agent.messages == [] and fake_slack.calls == []


@pytest.mark.asyncio
async def test_thread_message_is_answered_in_thread(slack, fake_slack):
    thread = "1700000000.000100"
    event = message_event(
        text=f"<@{BOT_USER}> it still hurts",
        channel="C42",
        channel_type="channel",
        ts="1700000050.000900",
        thread_ts=thread,
    )
    event["event"]["type"] = "app_mention"
    assert (await slack.post_event(event)).status == 200

    await wait_for_posts(fake_slack, 1)
    (post,) = fake_slack.posts()
    assert post["channel"] == "C42"
    assert post["thread_ts"] == thread
    (message,) = slack.agent.messages
    assert message.text == "it still hurts"
    assert message.sender_id == f"slack:U1_C42_{thread}"


@pytest.mark.asyncio
async def test_mention_delivered_as_two_events_is_handled_once(slack_env, fake_slack):
    slack_env.setenv("SLACK_API_BASE_URL", fake_slack.url)
    slack_env.setenv("SLACK_CHANNEL", "C42")
    async with serve(SlackInput.from_credentials({})) as server:
        mention = message_event(text=f"<@{BOT_USER}> hi", channel="C42", channel_type="channel")
        mention["event"]["type"] = "app_mention"
        plain = message_event(
            text=f"<@{BOT_USER}> hi", channel="C42", channel_type="channel", event_id="Ev777"
        )
        await server.post_event(mention)
        await server.post_event(plain)
        await wait_for_posts(fake_slack, 1)
        await server.settle()
        assert len(fake_slack.posts()) == 1
        assert fake_slack.posts()[0]["channel"] == "C42"
        assert "thread_ts" not in fake_slack.posts()[0]


@pytest.mark.asyncio
async def test_button_click_reaches_the_bot_as_payload(slack, fake_slack):
    resp = await slack.post(block_actions("/inform"), "application/x-www-form-urlencoded")
    assert resp.status == 200

    await wait_for_posts(fake_slack, 1)
    (message,) = slack.agent.messages
    assert message.text == "/inform"
    assert message.sender_id == "slack:U1_D123"
    (post,) = fake_slack.posts()
    assert post["channel"] == "D123" and "thread_ts" not in post


@pytest.mark.asyncio
async def test_button_click_in_thread_stays_in_thread(slack, fake_slack):
    thread = "1700000000.000100"
    body = block_actions('/inform{"onset":"next_day"}', thread_ts=thread)
    assert (await slack.post(body, "application/x-www-form-urlencoded")).status == 200

    await wait_for_posts(fake_slack, 1)
    (message,) = slack.agent.messages
    assert message.text == '/inform{"onset":"next_day"}'
    assert message.sender_id == f"slack:U1_D123_{thread}"
    assert fake_slack.posts()[0]["thread_ts"] == thread


@pytest.mark.asyncio
async def test_form_payload_with_bad_signature_is_rejected(slack, fake_slack):
    resp = await slack.post(block_actions(), "application/x-www-form-urlencoded", secret="x")
    assert resp.status == 401
    await slack.settle()
    assert slack.agent.messages == [] and fake_slack.calls == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "event",
    [
        {"bot_id": "BBOT"},
        {"user": BOT_USER},
        {"subtype": "message_changed"},
        {"subtype": "bot_message", "bot_id": "BOTHER"},
        {"text": ""},
        {"channel": "C999", "channel_type": "channel"},  # not DM, not mention, not SLACK_CHANNEL
    ],
)
async def test_messages_not_for_the_bot_are_ignored(slack, fake_slack, event):
    body = message_event()
    body["event"].update(event)
    assert (await slack.post_event(body)).status == 200
    await slack.settle()
    assert slack.agent.messages == [] and fake_slack.calls == []


@pytest.mark.asyncio
async def test_url_verification_challenge(slack, fake_slack):
    body = {"type": "url_verification", "token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV"}
    async with slack.http.post(
        slack.url + WEBHOOK,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **sign(json.dumps(body).encode())},
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["challenge"] == "3eZbrw1aBm2rZgRNFdxV"
    assert fake_slack.calls == []


@pytest.mark.asyncio
async def test_malformed_body_is_a_client_error(slack):
    resp = await slack.post(b"{not json", "application/json")
    assert resp.status == 400
    resp = await slack.post(b"nopayload=1", "application/x-www-form-urlencoded")
    assert resp.status == 400


@pytest.mark.asyncio
async def test_failures_are_logged_and_server_keeps_working(slack_env, fake_slack, caplog):
    slack_env.setenv("SLACK_API_BASE_URL", fake_slack.url)
    agent = FakeAgent(error=RuntimeError("dialogue broke"))
    async with serve(SlackInput.from_credentials({}), agent) as server:
        with caplog.at_level(logging.ERROR, logger="backcheck.channels.guard"):
            assert (await server.post_event(message_event(event_id="E1"))).status == 200
            await wait_for_posts(fake_slack, 1)  # the user gets the safe answer, not silence
            await server.settle()
            assert "A turn failed" in caplog.text
            assert "can't complete the check" in str(fake_slack.posts()[0])

        agent.error = None
        fake_slack.fail_with = "channel_not_found"  # Slack API error in the reply
        assert (await server.post_event(message_event(event_id="E2", ts="2.0"))).status == 200
        await wait_for_posts(fake_slack, 2)
        await server.settle()

        fake_slack.fail_with = None
        assert (await server.post_event(message_event(event_id="E3", ts="3.0"))).status == 200
        await wait_for_posts(fake_slack, 3)
        assert len(fake_slack.posts()) == 3


@pytest.mark.asyncio
async def test_user_text_is_not_logged_at_info(slack, fake_slack, caplog):
    caplog.set_level(logging.DEBUG)
    await slack.post_event(message_event())
    await slack.post_event(message_event(), headers={"X-Slack-Retry-Num": "1"})
    await slack.post(block_actions("/inform"), "application/x-www-form-urlencoded")
    await wait_for_posts(fake_slack, 2)
    await slack.settle()
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert not [m for m in loud if USER_TEXT in m]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "configured", [{}, {"SLACK_BOT_TOKEN": TOKEN}, {"SLACK_SIGNING_SECRET": SECRET}]
)
async def test_channel_is_off_without_env(monkeypatch, fake_slack, configured):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CHANNEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in configured.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SLACK_API_BASE_URL", fake_slack.url)

    def no_client(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an OFF channel must not create a Slack client")

    monkeypatch.setattr(slack_module, "AsyncWebClient", no_client)

    channel = SlackInput.from_credentials(None)
    assert channel.enabled is False
    assert channel.get_output_channel() is None
    assert channel.verifier is None
    async with serve(channel) as server:
        raw = json.dumps(message_event()).encode()
        headers = {"Content-Type": "application/json", **sign(raw)}
        async with server.http.post(server.url + WEBHOOK, data=raw, headers=headers) as resp:
            assert resp.status == 404
            assert resp.headers.get("X-Slack-No-Retry") == "1"  # else Slack retries
            assert await resp.json() == {"error": "the slack channel is off on this server"}
        async with server.http.post(server.url + WEBHOOK, data=b"{}") as unsigned:
            assert unsigned.status == 404
        async with server.http.get(server.url + "/webhooks/slack/") as resp:
            assert resp.status == 404
        await server.settle()
        assert server.agent.messages == []
    assert fake_slack.calls == []


def test_off_channel_logs_one_line_when_its_blueprint_is_built(monkeypatch, caplog):
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    caplog.set_level(logging.DEBUG, logger="backcheck.channels.slack")

    channel = SlackInput.from_credentials({})
    assert caplog.records == []  # nothing yet: the line comes with the blueprint
    blueprint = channel.blueprint(FakeAgent().handle_message)

    assert isinstance(blueprint, Blueprint)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, OFF_LINE)]


@pytest.mark.asyncio
async def test_off_channel_start_up_logs_exactly_one_line_without_secrets(
    monkeypatch, fake_slack, caplog
):
    monkeypatch.delenv("BC_SECRET", raising=False)
    monkeypatch.setenv("BC_TOKEN", TOKEN)  # token set, secret missing: still off
    monkeypatch.setenv("SLACK_API_BASE_URL", fake_slack.url)
    caplog.set_level(logging.DEBUG, logger="backcheck.channels.slack")

    channel = SlackInput.from_credentials(
        {"slack_token_env": "BC_TOKEN", "slack_signing_secret_env": "BC_SECRET"}
    )
    async with serve(channel) as server:  # registered the way Rasa does it
        async with server.http.post(server.url + WEBHOOK, data=b"{}") as resp:
            assert resp.status == 404

    off = [r for r in caplog.records if " is off" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in off] == [
        (logging.INFO, "Slack channel is off: set BC_TOKEN and BC_SECRET to turn it on")
    ]
    assert TOKEN not in caplog.text


def test_configured_channel_logs_no_off_line(slack_env, caplog):
    caplog.set_level(logging.DEBUG, logger="backcheck.channels.slack")
    SlackInput.from_credentials({}).blueprint(FakeAgent().handle_message)
    assert not [r for r in caplog.records if " is off" in r.getMessage()]


def test_credentials_name_environment_variables(monkeypatch):
    monkeypatch.setenv("BC_TOKEN", TOKEN)
    monkeypatch.setenv("BC_SECRET", SECRET)
    monkeypatch.setenv("BC_CHANNEL", "C42")
    monkeypatch.setenv("BC_API", "http://127.0.0.1:9/api/")
    channel = SlackInput.from_credentials(
        {
            "slack_token_env": "BC_TOKEN",
            "slack_signing_secret_env": "BC_SECRET",
            "slack_channel_env": "BC_CHANNEL",
            "api_base_url_env": "BC_API",
        }
    )
    assert channel.enabled
    assert (channel.slack_token, channel.slack_signing_secret) == (TOKEN, SECRET)
    assert channel.slack_channel == "C42"
    bot = channel.get_output_channel("D1", "1.0")
    assert bot.client.base_url == "http://127.0.0.1:9/api/"
    assert (bot.slack_channel, bot.thread_id) == ("D1", "1.0")


@pytest.mark.asyncio
async def test_with_the_action_server_down_a_retried_event_gets_the_safe_answer_once(slack, fake_slack,
                                                                                     action_server_down):
    event = message_event()
    assert (await slack.post_event(event)).status == 200
    await wait_for_posts(fake_slack, 1)
    assert (await slack.post_event(event, headers={"X-Slack-Retry-Num": "1"})).status == 200
    assert (await slack.post_event(event)).status == 200
    await slack.settle()
    assert len(fake_slack.posts()) == 1 and "can't complete the check" in str(fake_slack.posts()[0])
    assert slack.agent.messages == []
