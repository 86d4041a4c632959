"""Protocol tests for backcheck.channels.telegram against a fake Bot API server.

Everything runs on 127.0.0.1 with ports picked at runtime. A small dialogue
double stands in for the trained Rasa agent (app.ctx.agent).
"""

import asyncio
import contextlib
import json
import logging
import socket
import time
import uuid
from typing import Any, Dict, List, Optional

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from rasa.core.channels.channel import UserMessage, register
from sanic import Blueprint, Sanic

from backcheck.channels.telegram import SECRET_HEADER, TelegramInput, to_html

pytestmark = pytest.mark.timeout(30)

TOKEN = "123456:TEST-token"
SECRET = "s3cret-Token_for-tests"
CHAT_ID = 4242
WEBHOOK_URL = "https://backcheck.example.org/webhooks/telegram/webhook"
BUTTONS = [
    {"title": "During my sets", "payload": '/inform{"onset":"during_sets"}'},
    {"title": "The next morning", "payload": '/inform{"onset":"next_morning"}'},
]
CREDENTIALS = {
    "access_token_env": "TELEGRAM_TOKEN",
    "verify_env": "TELEGRAM_BOT_NAME",
    "webhook_url_env": "TELEGRAM_WEBHOOK_URL",
    "secret_token_env": "TELEGRAM_SECRET_TOKEN",
    "api_base_url_env": "TELEGRAM_API_BASE_URL",
}
OFF_BODY = {"error": "the telegram channel is off on this server"}
OFF_LINE = "Telegram channel is off: set TELEGRAM_TOKEN to turn it on"


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class FakeTelegramAPI:
    """Minimal Bot API server: records every call, answers like Telegram."""

    def __init__(self) -> None:
        self.calls: List[Dict[str, Any]] = []
        self.fail_methods: set = set()
        self.base_url = ""
        self._runner: Optional[web.AppRunner] = None
        self._message_id = 100

    def methods(self, name: str) -> List[Dict[str, Any]]:
        return [c["params"] for c in self.calls if c["method"] == name]

    async def wait_for(self, method: str, timeout: float = 5.0) -> Dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self.methods(method):
            assert time.monotonic() < deadline, f"no {method} call within {timeout}s"
            await asyncio.sleep(0.02)
        return self.methods(method)[0]

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = dict(await request.post())
        for key in ("reply_markup", "entities", "allowed_updates"):
            if key in params:
                params[key] = json.loads(params[key])
        self.calls.append(
            {"token": request.match_info["token"], "method": method, "params": params}
        )
        if method in self.fail_methods:
            return web.json_response(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"},
                status=500,
            )
        if method == "getMe":
            result: Any = {"id": 123456, "is_bot": True, "first_name": "BackCheck", "username": "BackCheckBot"}
        elif method in ("sendMessage", "editMessageText"):
            self._message_id += 1
            result = {
                "message_id": self._message_id,
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "text": params.get("text", ""),
            }
        elif method in ("setWebhook", "answerCallbackQuery", "deleteWebhook"):
            result = True
        else:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.json_response({"ok": True, "result": result})

    async def __aenter__(self) -> "FakeTelegramAPI":
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = _free_socket()
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base_url = "http://127.0.0.1:%d" % sock.getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._runner.cleanup()


class FakeDialogue:
    """Stands in for rasa's Agent: records messages, answers with a question."""

    def __init__(self, error: Optional[Exception] = None) -> None:
        self.messages: List[UserMessage] = []
        self.error = error

    async def handle_message(self, message: UserMessage) -> None:
        self.messages.append(message)
        if self.error:
            raise self.error
        await message.output_channel.send_response(
            message.sender_id,
            {"text": "**When** did it start?", "buttons": [dict(b) for b in BUTTONS]},
        )


def build_app(channel: TelegramInput, dialogue: FakeDialogue) -> Sanic:
    """Registers the channel the way `rasa run` does (rasa.core.run.configure_app)."""
    app = Sanic(f"telegram_test_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.ctx.agent = dialogue
    register([channel], app, route="/webhooks/")
    return app


@contextlib.asynccontextmanager
async def serve(app: Sanic):
    """Runs the Sanic app on a free 127.0.0.1 port in the current loop; yields its base URL."""
    sock = _free_socket()
    server = await app.create_server(sock=sock, return_asyncio_server=True, access_log=False)
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        yield "http://127.0.0.1:%d" % sock.getsockname()[1]
    finally:
        await server.before_stop()
        for connection in server.connections:
            connection.close_if_idle()
        server.close()
        await server.wait_closed()
        await server.after_stop()


async def post_update(base: str, update: Dict[str, Any], secret: Optional[str] = SECRET):
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base}/webhooks/telegram/webhook", json=update, headers=headers
        ) as resp:
            return resp.status, await resp.json()


def text_update(text: str, update_id: int = 1, **extra: Any) -> Dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10 + update_id,
            "from": {"id": CHAT_ID, "is_bot": False, "first_name": "Sam", "language_code": "en"},
            "chat": {"id": CHAT_ID, "first_name": "Sam", "type": "private"},
            "date": 1700000000,
            "text": text,
            **extra,
        },
    }


@pytest.fixture
def telegram_env(monkeypatch):
    """Sets TELEGRAM_* env vars; returns a setter for the API base URL."""
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)
    monkeypatch.setenv("TELEGRAM_BOT_NAME", "BackCheckBot")
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
    monkeypatch.delenv("TELEGRAM_WEBHOOK_URL", raising=False)
    return lambda url: monkeypatch.setenv("TELEGRAM_API_BASE_URL", url)


@pytest_asyncio.fixture
async def telegram_api():
    async with FakeTelegramAPI() as api:
        yield api


@pytest_asyncio.fixture
async def telegram_app(telegram_env, telegram_api):
    """Running app with the channel built from credentials + env; yields (url, dialogue)."""
    telegram_env(telegram_api.base_url)
    dialogue = FakeDialogue()
    app = build_app(TelegramInput.from_credentials(CREDENTIALS), dialogue)
    async with serve(app) as base:
        yield base, dialogue


@pytest.mark.asyncio
async def test_update_reaches_dialogue_and_reply_has_keyboard(telegram_app, telegram_api):
    base, dialogue = telegram_app

    status, _ = await post_update(base, text_update("My lower back hurts"))

    assert status == 200
    assert [(m.text, m.sender_id, m.input_channel) for m in dialogue.messages] == [
        ("My lower back hurts", f"telegram:{CHAT_ID}", "telegram")
    ]
    sent = telegram_api.methods("sendMessage")
    assert len(sent) == 1
    assert sent[0]["chat_id"] == str(CHAT_ID)
    assert sent[0]["text"] == "<b>When</b> did it start?"
    assert sent[0]["parse_mode"] == "HTML"
    keyboard = sent[0]["reply_markup"]["inline_keyboard"]
    assert [b["text"] for row in keyboard for b in row] == ["During my sets", "The next morning"]
    assert [b["callback_data"] for row in keyboard for b in row] == [b["payload"] for b in BUTTONS]
    assert {c["token"] for c in telegram_api.calls} == {TOKEN}


@pytest.mark.asyncio
@pytest.mark.parametrize("secret", [None, "wrong", SECRET + "x", ""])
async def test_forged_update_is_rejected(telegram_app, telegram_api, secret):
    base, dialogue = telegram_app

    status, _ = await post_update(base, text_update("forged"), secret=secret)

    assert status in (401, 403)
    assert dialogue.messages == []
    assert telegram_api.methods("sendMessage") == []


@pytest.mark.asyncio
async def test_get_me_not_called_per_message(telegram_app, telegram_api):
    base, dialogue = telegram_app

    for i, text in enumerate(["hello", "my back hurts"], start=1):
        assert (await post_update(base, text_update(text, update_id=i)))[0] == 200

    assert [m.text for m in dialogue.messages] == ["hello", "my back hurts"]
    assert len(telegram_api.methods("sendMessage")) == 2
    assert len(telegram_api.methods("getMe")) <= 1


@pytest.mark.asyncio
async def test_channel_is_off_without_token(monkeypatch, telegram_api):
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", WEBHOOK_URL)
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)  # right secret: still 404
    monkeypatch.setenv("TELEGRAM_API_BASE_URL", telegram_api.base_url)
    outgoing: List[str] = []
    real_request = aiohttp.ClientSession._request

    async def guarded_request(session, method, url, *args, **kwargs):
        if "/webhooks/telegram/" not in str(url):  # only the test's own POST may pass
            outgoing.append(str(url))
        return await real_request(session, method, url, *args, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", guarded_request)

    for credentials in (None, {}, CREDENTIALS):
        channel = TelegramInput.from_credentials(credentials)
        assert channel.get_output_channel() is None
        dialogue = FakeDialogue()
        async with serve(build_app(channel, dialogue)) as base:
            await asyncio.sleep(0.05)  # give any start-up task a chance to run
            assert await post_update(base, text_update("hello")) == (404, OFF_BODY)
            assert await post_update(base, text_update("hello"), secret=None) == (404, OFF_BODY)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/webhooks/telegram/") as resp:
                    assert resp.status == 404
        assert dialogue.messages == []

    assert outgoing == []
    assert telegram_api.calls == []


def test_off_channel_logs_one_line_when_its_blueprint_is_built(monkeypatch, caplog):
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    caplog.set_level(logging.DEBUG, logger="backcheck.channels.telegram")

    channel = TelegramInput.from_credentials(CREDENTIALS)
    assert caplog.records == []  # nothing yet: the line comes with the blueprint
    blueprint = channel.blueprint(FakeDialogue().handle_message)

    assert isinstance(blueprint, Blueprint)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [(logging.INFO, OFF_LINE)]


@pytest.mark.asyncio
async def test_off_channel_start_up_logs_exactly_one_line_without_secrets(monkeypatch, caplog):
    monkeypatch.delenv("BC_TG_TOKEN", raising=False)
    monkeypatch.setenv("TELEGRAM_TOKEN", TOKEN)  # set, but credentials name another variable
    monkeypatch.setenv("TELEGRAM_SECRET_TOKEN", SECRET)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", WEBHOOK_URL)
    caplog.set_level(logging.DEBUG, logger="backcheck.channels.telegram")

    channel = TelegramInput.from_credentials({**CREDENTIALS, "access_token_env": "BC_TG_TOKEN"})
    async with serve(build_app(channel, FakeDialogue())) as base:  # start-up listeners run
        assert (await post_update(base, text_update("hello")))[0] == 404

    off = [r for r in caplog.records if " is off" in r.getMessage()]
    assert [(r.levelno, r.getMessage()) for r in off] == [
        (logging.INFO, "Telegram channel is off: set BC_TG_TOKEN to turn it on")
    ]
    assert TOKEN not in caplog.text and SECRET not in caplog.text


def test_configured_channel_logs_no_off_line(telegram_env, caplog):
    caplog.set_level(logging.DEBUG, logger="backcheck.channels.telegram")
    TelegramInput.from_credentials(CREDENTIALS).blueprint(FakeDialogue().handle_message)
    assert not [r for r in caplog.records if " is off" in r.getMessage()]


def _boot_like_rasa_and_send_update(api: FakeTelegramAPI, statuses: List[int]) -> None:
    """Registers the channel outside any event loop (as `rasa run` does before
    app.run), then serves in a fresh loop. The stock channel's session would
    belong to the start-up loop and fail here with "Event loop is closed"."""
    dialogue = FakeDialogue()
    app = build_app(TelegramInput.from_credentials(CREDENTIALS), dialogue)

    async def scenario() -> None:
        async with serve(app) as base:
            webhook = await api.wait_for("setWebhook")
            assert webhook["url"] == WEBHOOK_URL
            assert webhook["secret_token"] == SECRET
            assert "callback_query" in webhook["allowed_updates"]
            statuses.append((await post_update(base, text_update("hello")))[0])
            statuses.append((await post_update(base, text_update("again", 2)))[0])
        assert [m.text for m in dialogue.messages] == ["hello", "again"]

    asyncio.run(scenario())


@pytest.mark.asyncio
async def test_webhook_set_at_startup_then_update_served(telegram_env, telegram_api, monkeypatch, caplog):
    telegram_env(telegram_api.base_url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", WEBHOOK_URL)
    statuses: List[int] = []

    with caplog.at_level(logging.DEBUG):
        # Own thread: registration happens with no running loop, like `rasa run`.
        await asyncio.to_thread(_boot_like_rasa_and_send_update, telegram_api, statuses)

    assert statuses == [200, 200]
    assert len(telegram_api.methods("setWebhook")) == 1
    assert [p["text"] for p in telegram_api.methods("sendMessage")] == ["<b>When</b> did it start?"] * 2
    assert "Event loop is closed" not in caplog.text


@pytest.mark.asyncio
async def test_button_click_sends_payload(telegram_app, telegram_api):
    base, dialogue = telegram_app
    await post_update(base, text_update("My back hurts"))
    question = telegram_api.methods("sendMessage")[0]
    click = {
        "update_id": 2,
        "callback_query": {
            "id": "cbq-1",
            "from": {"id": CHAT_ID, "is_bot": False, "first_name": "Sam"},
            "chat_instance": "-1",
            "data": BUTTONS[0]["payload"],
            "message": {
                "message_id": 101,
                "from": {"id": 123456, "is_bot": True, "first_name": "BackCheck"},
                "chat": {"id": CHAT_ID, "type": "private"},
                "date": 1700000001,
                "text": "When did it start?",
                "entities": [{"offset": 0, "length": 4, "type": "bold"}],
                "reply_markup": question["reply_markup"],
            },
        },
    }

    status, _ = await post_update(base, click)

    assert status == 200
    assert [(m.text, m.sender_id) for m in dialogue.messages][-1] == (
        BUTTONS[0]["payload"],
        f"telegram:{CHAT_ID}",
    )
    assert telegram_api.methods("answerCallbackQuery") == [{"callback_query_id": "cbq-1"}]
    edit = telegram_api.methods("editMessageText")[0]
    assert edit["text"] == "When did it start?\n\n» During my sets"
    assert edit["entities"] == [{"offset": 0, "length": 4, "type": "bold"}]
    assert "reply_markup" not in edit  # keyboard removed after the click


@pytest.mark.asyncio
async def test_start_edited_and_non_text_updates(telegram_app, telegram_api):
    base, dialogue = telegram_app
    edited = {"update_id": 3, "edited_message": text_update("edited")["message"]}
    photo = text_update("unused", 4)
    del photo["message"]["text"]
    photo["message"]["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    group_join = text_update("unused", 5)
    del group_join["message"]["text"]
    group_join["message"]["chat"] = {"id": -100, "type": "group", "title": "g"}
    group_join["message"]["new_chat_members"] = [{"id": 9, "is_bot": False, "first_name": "X"}]

    for update in (text_update("/start", 1), text_update("/start@OtherBot", 2), edited, photo, group_join):
        assert (await post_update(base, update))[0] == 200
    assert (await post_update(base, {"update_id": 6, "message": {"text": "no chat"}}))[0] == 200
    assert (await post_update(base, text_update("/help@BackCheckBot", 7)))[0] == 200
    assert (await post_update(base, text_update('/inform{"onset":"x"}', 8)))[0] == 200
    assert (await post_update(base, text_update("/forget", 9)))[0] == 200

    # typed "/intent" is not passed to Rasa as an intent, only button payloads and /forget ("delete my data") are
    assert [m.text for m in dialogue.messages] == ["hi", "help", 'inform {"onset":"x"}', "/forget"]
    texts = [p["text"] for p in telegram_api.methods("sendMessage")]
    assert texts.count("Sorry, I can only read text messages.") == 1  # photo, private chat only


@pytest.mark.asyncio
async def test_dialogue_error_returns_200_without_logging_text(telegram_env, telegram_api, caplog):
    telegram_env(telegram_api.base_url)
    secret_text = "my private symptom description"
    dialogue = FakeDialogue(error=ValueError(secret_text))
    app = build_app(TelegramInput.from_credentials(CREDENTIALS), dialogue)

    with caplog.at_level(logging.INFO):
        async with serve(app) as base:
            status, _ = await post_update(base, text_update(secret_text))

    assert status == 200
    assert len(dialogue.messages) == 1
    assert "ValueError" in caplog.text
    assert secret_text not in caplog.text


@pytest.mark.asyncio
async def test_startup_survives_webhook_failure(telegram_env, telegram_api, monkeypatch, caplog):
    telegram_env(telegram_api.base_url)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_URL", WEBHOOK_URL)
    monkeypatch.delenv("TELEGRAM_SECRET_TOKEN")
    telegram_api.fail_methods.add("setWebhook")
    dialogue = FakeDialogue()
    app = build_app(TelegramInput.from_credentials(CREDENTIALS), dialogue)

    with caplog.at_level(logging.WARNING):
        async with serve(app) as base:
            await telegram_api.wait_for("setWebhook")
            status, _ = await post_update(base, text_update("hello"), secret=None)

    assert status == 200
    assert "secret_token" not in telegram_api.methods("setWebhook")[0]
    assert "Could not set Telegram webhook" in caplog.text
    assert "No Telegram secret token configured" in caplog.text
    assert len(telegram_api.methods("sendMessage")) == 1


def test_to_html_escapes_and_renders_bold():
    assert to_html("**Verdict:** see a GP <soon> & rest\nline 2") == (
        "<b>Verdict:</b> see a GP &lt;soon&gt; &amp; rest\nline 2"
    )


@pytest.mark.asyncio
async def test_a_redelivered_update_is_handled_once(telegram_app, telegram_api):
    base, dialogue = telegram_app
    update = text_update("my lower back is tight", update_id=77)
    for _ in range(3):  # Telegram redelivers when the webhook was slow
        assert (await post_update(base, update))[0] == 200
    assert len(dialogue.messages) == 1
    assert len(telegram_api.methods("sendMessage")) == 1


@pytest.mark.asyncio
async def test_with_the_action_server_down_each_update_gets_the_safe_answer_once(telegram_app, telegram_api,
                                                                                 action_server_down):
    base, dialogue = telegram_app
    for update_id in (80, 80, 81):
        assert (await post_update(base, text_update("my lower back is tight", update_id=update_id)))[0] == 200
    texts = [p["text"] for p in telegram_api.methods("sendMessage")]
    assert len(texts) == 2 and all("can't complete the check" in t for t in texts)
    assert dialogue.messages == []  # the dialogue was not run
