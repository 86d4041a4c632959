"""The website widget in a real browser: backcheck/channels/web.py serves the page
and the rasa-webchat 1.0.1 bundle from the Rasa server; the widget talks to Rasa's
socketio channel (session_persistence) on the same server.

Needs Debian's Chromium at /usr/bin/chromium (`apt-get install chromium`), driven by
Python playwright; skipped only when that binary is missing. Screenshots are saved
to artifacts/webchat.png and artifacts/webchat-reloaded.png.
"""
import json
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from backcheck.channels.web import BUNDLE, INSTALL_HINT, WebChatInput, _strip_font_import

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHANNEL_BLOCK = "backcheck.channels.web.WebChatInput:\n  url_prefix: /chat\n"
PAGE_PATH = "/chat/"
ACTION_TIMEOUT_MS = 20_000  # every wait, click and navigation is bounded by this
LOCAL_HOSTS = {"127.0.0.1", "localhost"}

# Answers for the follow-up questions, by button title, in order of preference.
ANSWERS = ["While lifting", "Tight or pumped", "None of these"]

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: `apt-get install chromium` to run the browser tests"
)


def fetch(url: str, timeout: float = 15):
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return reply.status, dict(reply.headers), reply.read()


@pytest.fixture(scope="module")
def site(bot) -> str:
    """URL of the web page on the test assistant; fails loudly if the channel is not configured."""
    url = bot.url + PAGE_PATH
    try:
        status = fetch(url)[0]
    except urllib.error.HTTPError as error:
        status = error.code
    if status == 404:
        pytest.fail(
            f"{url} answered 404: credentials.yml has no website channel. Add this block to "
            f"credentials.yml:\n\n{CHANNEL_BLOCK}"
        )
    assert status == 200, f"{url} answered {status}"
    return url


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


# --- the channel, without the assistant ------------------------------------------


def test_installed_widget_is_rasa_webchat_1_0_1():
    package = ROOT / "web" / "node_modules" / "rasa-webchat" / "package.json"
    assert package.exists(), f"{package} is missing: run `npm ci --prefix web`"
    assert json.loads(package.read_text())["version"] == "1.0.1"
    lock = json.loads((ROOT / "web" / "package-lock.json").read_text())
    assert json.loads((ROOT / "web" / "package.json").read_text())["dependencies"]["rasa-webchat"] == "1.0.1"
    assert lock["packages"]["node_modules/rasa-webchat"]["version"] == "1.0.1"


async def test_bundle_missing_answers_503_with_install_hint(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    assert WebChatInput.from_credentials(None).url_prefix() == "/chat"
    assert WebChatInput.from_credentials({"url_prefix": "site/"}).url_prefix() == "/site"
    assert WebChatInput.from_credentials({"url_prefix": "/"}).url_prefix() == "/chat"  # "/" is Rasa's own
    channel = WebChatInput(web_dir=str(tmp_path))  # a web/ without node_modules
    routes = {route.uri: route.handler for route in channel.blueprint(None)._future_routes}
    request = SimpleNamespace(method="GET", path="/chat/webchat.js", headers={}, query_string="")

    reply = await routes["/webchat.js"](request)
    assert reply.status == 503
    assert b"npm ci --prefix web" in reply.body and INSTALL_HINT.encode() in reply.body
    assert str(tmp_path).encode() not in reply.body  # no server paths in public answers

    page = await routes["/"](SimpleNamespace(method="GET", path="/chat/", headers={}, query_string=""))
    assert page.status == 200
    traversal = await routes["/static/<name:path>"](request, name="../index.html")
    assert traversal.status == 404


# --- through the running assistant -------------------------------------------------


def test_page_and_local_bundle_are_served(site, bot):
    status, headers, body = fetch(site)
    assert status == 200 and headers["content-type"].startswith("text/html")
    html = body.decode()
    assert "BackCheck" in html and "not a diagnosis" in html.lower()
    assert 'src="webchat.js"' in html
    for host in ("cdn.", "jsdelivr", "unpkg", "googleapis"):
        assert host not in html

    status, headers, bundle = fetch(site + "webchat.js")
    assert status == 200 and "javascript" in headers["content-type"]
    local = (ROOT / "web" / BUNDLE).read_bytes()
    assert bundle == _strip_font_import(local)  # the installed package, minus its Google Fonts @import
    assert b"fonts.googleapis.com" not in bundle

    # /chat (no slash) leads to the page
    status, _, _ = fetch(bot.url + PAGE_PATH.rstrip("/"))
    assert status == 200


@needs_chromium
def test_conversation_in_the_browser_survives_a_reload(site, bot, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    context.set_default_navigation_timeout(ACTION_TIMEOUT_MS)
    outside, errors = [], []

    def check_host(url: str) -> None:
        if url.startswith(("http:", "https:", "ws:", "wss:")) and urlsplit(url).hostname not in LOCAL_HOSTS:
            outside.append(url)

    page = context.new_page()
    page.on("request", lambda request: check_host(request.url))
    page.on("websocket", lambda socket: check_host(socket.url))
    page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
    page.on("console", lambda message: message.type == "error" and errors.append(f"console: {message.text}"))
    try:
        page.goto(site)
        chat = page.locator("#backcheck-chat")
        bot_says = chat.locator(".rw-response")
        bot_texts = chat.locator(".rw-response .rw-markdown")  # not the typing indicator

        # a product page, with the safety note visible next to the chat
        assert page.locator("h1").inner_text().startswith("Back feels off")
        assert "Not a diagnosis" in page.get_by_test_id("chat-disclaimer").inner_text()
        assert page.get_by_test_id("chat-disclaimer").is_visible()

        bot_says.filter(has_text="I'm BackCheck").wait_for()  # initPayload /greet
        page.locator(".rw-new-message").fill("tight lower back after deadlifts")
        page.keyboard.press("Enter")
        chat.locator(".rw-client", has_text="tight lower back after deadlifts").wait_for()

        verdict = bot_says.filter(has_text="Most likely")
        replies = chat.locator(".rw-replies .rw-reply")
        clicked = []
        for _ in range(5):
            verdict.or_(replies.first).wait_for()
            if verdict.count():
                break
            titles = [t.strip() for t in replies.all_inner_texts()]
            choice = next((a for a in ANSWERS if a in titles), None)
            assert choice, f"no known answer among the buttons {titles}"
            chat.get_by_role("button", name=choice, exact=True).click()
            chat.locator(".rw-client", has_text=choice).wait_for()
            clicked.append(choice)
        verdict.wait_for()
        assert clicked[0] == "While lifting" and "None of these" in clicked, clicked

        # the verdict reads as formatted text, not raw markdown
        text = verdict.inner_text()
        assert "Most likely" in text and "not a diagnosis" in text
        assert "**" not in text and "_This is" not in text
        assert verdict.locator("strong, b").filter(has_text="Most likely").count() == 1
        assert verdict.locator("strong, b").count() >= 3
        assert verdict.locator("em, i").filter(has_text="not a diagnosis").count() == 1
        assert verdict.locator("ul > li").count() >= 2
        # one block per line: the lines after the list are not swallowed into its last item
        assert verdict.locator("p").count() >= 4
        assert verdict.locator("li").filter(has_text="When to get help").count() == 0
        assert verdict.locator("li").filter(has_text="not a diagnosis").count() == 0
        # screenshot with the start of the verdict in view
        page.wait_for_timeout(500)  # the widget scrolls to the newest message; let it settle
        verdict.evaluate("el => { const box = el.closest('.rw-messages-container');"
                         " box.scrollTop += el.getBoundingClientRect().top - box.getBoundingClientRect().top - 12; }")
        page.screenshot(path=str(ARTIFACTS / "webchat.png"))

        session_id = page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")
        assert session_id
        said_before = bot_texts.count()

        # reload: same conversation on screen, same session on the server
        page.reload()
        chat.locator(".rw-client", has_text="tight lower back after deadlifts").wait_for()
        verdict.wait_for()
        assert bot_texts.count() == said_before
        assert bot_says.filter(has_text="I'm BackCheck").count() == 1  # no second greeting
        assert page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id") == session_id
        page.wait_for_timeout(500)
        page.screenshot(path=str(ARTIFACTS / "webchat-reloaded.png"))

        # ...and the bot still answers this session after the reload (socket joined its room)
        page.locator(".rw-new-message").fill("thanks")
        page.keyboard.press("Enter")
        chat.locator(".rw-client", has_text="thanks").wait_for()
        bot_texts.nth(said_before).wait_for()

        assert "." in session_id  # server-signed: "<conversation id>.<signature>"
        _, _, body = fetch(bot.q(f"/conversations/{session_id.split('.')[0]}/tracker"))
        said = [e.get("text") for e in json.loads(body)["events"] if e.get("event") == "user"]
        assert "tight lower back after deadlifts" in said and "While lifting" in said
        assert said[-1] == "thanks"

        assert not outside, f"the page loaded something from outside this server: {outside}"
        assert not errors, errors
    except Exception:
        try:
            page.screenshot(path=str(ARTIFACTS / "webchat-failure.png"), timeout=5_000)
        except Exception:  # the screenshot is a debugging aid only
            pass
        raise
    finally:
        context.close()
