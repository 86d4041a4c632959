"""Website channel for BackCheck: the product page with the chat widget.

It does not take messages itself: the page's widget (rasa-webchat 1.0.1)
talks to Rasa's socketio channel on the same server. This channel only serves,
from the Rasa server itself:

- ``GET <prefix>/``            the page, web/index.html (``<prefix>`` redirects here);
- ``GET <prefix>/static/<f>``  the page's own files from web/static/;
- ``GET <prefix>/webchat.js``  the widget bundle from the locally installed npm
  package (web/node_modules/rasa-webchat/lib/index.js), with its one outside
  request (a Google Fonts ``@import``) taken out, so the page loads nothing
  from a CDN. If the package is not installed the route answers 503 with the
  command that installs it; nothing here can stop Rasa from starting.

Rasa mounts channel blueprints at ``urljoin("/webhooks/", url_prefix())``; an
absolute prefix such as the default ``/chat`` replaces ``/webhooks/``, so the
page is at ``http://<host>:<port>/chat/``. ``/`` cannot be used: it is Rasa's
own "Hello from Rasa" route, and a second route there stops Sanic from starting
(RouteExists), so a prefix of "/" falls back to ``/chat``.

credentials.yml::

    backcheck.channels.web.WebChatInput:
      url_prefix: /chat   # optional, this is the default
"""

import hashlib
import json
import logging
import mimetypes
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
BUNDLE = Path("node_modules") / "rasa-webchat" / "lib" / "index.js"
DEFAULT_PREFIX = "/chat"
INSTALL_HINT = "run `npm ci --prefix web` (`make run` does it)"

# rasa-webchat 1.0.1 injects `@import url(https://fonts.googleapis.com/...)` into
# its CSS; drop it (the page names its own font stack) so nothing leaves the site.
_FONT_IMPORT = re.compile(r"@import url\(https://fonts\.googleapis\.com/[^)]*\);")

# The page loads only its own files; the widget's CSS is injected as <style> tags.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self' ws: wss:; "
        "object-src 'none'; base-uri 'self'; frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _Cached:
    """File contents read once and re-read when the file changes on disk."""

    def __init__(self, transform: Callable[[bytes], bytes] = lambda b: b) -> None:
        self.transform = transform
        self._cache: Dict[Path, Tuple[Tuple[float, int], bytes, Text]] = {}

    def get(self, path: Path) -> Tuple[bytes, Text]:
        stat = path.stat()
        key = (stat.st_mtime, stat.st_size)
        hit = self._cache.get(path)
        if hit is None or hit[0] != key:
            body = self.transform(path.read_bytes())
            etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
            hit = (key, body, etag)
            self._cache[path] = hit
        return hit[1], hit[2]


def _strip_font_import(body: bytes) -> bytes:
    return _FONT_IMPORT.sub("", body.decode("utf-8")).encode("utf-8")


def _normalise_prefix(prefix: Optional[Text]) -> Text:
    path = (prefix or DEFAULT_PREFIX).strip().strip("/")
    if not path:
        # "/" is Rasa's own route ("Hello from Rasa"): Sanic would refuse to start.
        logger.warning(f"url_prefix '/' is taken by the Rasa server; serving the web page at {DEFAULT_PREFIX}/")
        return DEFAULT_PREFIX
    return "/" + path


class WebChatInput(InputChannel):
    """Serves the BackCheck web page and the rasa-webchat bundle."""

    @classmethod
    def name(cls) -> Text:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(url_prefix=credentials.get("url_prefix"), web_dir=credentials.get("web_dir"))

    def __init__(self, url_prefix: Optional[Text] = None, web_dir: Optional[Text] = None) -> None:
        self._url_prefix = _normalise_prefix(url_prefix)
        self.web_dir = Path(web_dir).resolve() if web_dir else WEB_DIR
        self._files = _Cached()
        self._bundle = _Cached(_strip_font_import)
        self._warned_missing_bundle = False

    def url_prefix(self) -> Text:
        return self._url_prefix

    # --- helpers ----------------------------------------------------------
    def _send(
        self, request: Request, path: Path, cache: _Cached, headers: Dict[Text, Text], content_type: Text
    ) -> HTTPResponse:
        body, etag = cache.get(path)
        headers = dict(headers, ETag=etag)
        headers.setdefault("Cache-Control", "no-cache")
        if request.headers.get("if-none-match") == etag:
            return response.empty(status=304, headers=headers)
        if request.method == "HEAD":
            return response.raw(b"", headers=dict(headers, **{"Content-Length": str(len(body))}),
                                content_type=content_type)
        return response.raw(body, headers=headers, content_type=content_type)

    def _static_path(self, name: Text) -> Optional[Path]:
        root = (self.web_dir / "static").resolve()
        try:
            path = (root / name).resolve()
            path.relative_to(root)
        except (ValueError, OSError):
            return None
        return path if path.is_file() else None

    # --- routes -------------------------------------------------------------
    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        web = Blueprint("backcheck_web", __name__)
        prefix = self._url_prefix.rstrip("/")

        @web.route("/", methods=["GET", "HEAD"])
        async def page(request: Request) -> HTTPResponse:
            # Relative links in the page need the trailing slash.
            if not request.path.endswith("/"):
                target = request.path + "/" + (f"?{request.query_string}" if request.query_string else "")
                return response.redirect(target, status=301)
            index = self.web_dir / "index.html"
            try:
                return self._send(request, index, self._files, PAGE_HEADERS, "text/html; charset=utf-8")
            except OSError as error:
                logger.error(f"BackCheck web page {index} cannot be read: {error}")
                return response.text("The BackCheck web page is missing on this server.", status=503)

        @web.route("/webchat.js", methods=["GET", "HEAD"])
        async def webchat_bundle(request: Request) -> HTTPResponse:
            bundle = self.web_dir / BUNDLE
            try:
                return self._send(request, bundle, self._bundle, {"X-Content-Type-Options": "nosniff"},
                                  "application/javascript; charset=utf-8")
            except (OSError, UnicodeDecodeError) as error:
                if not self._warned_missing_bundle:
                    logger.warning(f"rasa-webchat bundle {bundle} is not available ({error}): {INSTALL_HINT}")
                    self._warned_missing_bundle = True
                message = f"The BackCheck chat widget (rasa-webchat) is not installed. To install it, {INSTALL_HINT}."
                # Served as JS so a page that loads it shows the reason in the browser console.
                return response.text(
                    f"console.error({json.dumps(message)});\n",
                    status=503,
                    content_type="application/javascript; charset=utf-8",
                    headers={"Cache-Control": "no-store", "Retry-After": "60"},
                )

        @web.route("/static/<name:path>", methods=["GET", "HEAD"])
        async def static(request: Request, name: Text) -> HTTPResponse:
            path = self._static_path(name)
            if path is None:
                return response.text("Not found.", status=404)
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            if content_type.startswith("text/") or content_type in ("application/javascript", "image/svg+xml"):
                content_type += "; charset=utf-8"
            try:
                return self._send(request, path, self._files, {"X-Content-Type-Options": "nosniff"}, content_type)
            except OSError:
                return response.text("Not found.", status=404)

        logger.info(f"BackCheck web page at {prefix or ''}/ (widget bundle {prefix}/webchat.js)")
        return web
