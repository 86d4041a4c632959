"""Logs never hold what a user wrote or who they are.

Installed once per process (``install()``, called by ``backcheck.server``), as the logging record factory, so it
sees every record of every logger, whatever handlers Rasa or Sanic configure later, tracebacks included:

- the values of the message being handled (its text and sender id, registered with ``remember()`` by the
  channels and the action server) are replaced wherever they appear, also lower-cased or JSON-escaped;
- as a second line of defence, the value of any JSON or repr field that holds user text or an id
  (``"text": ...``, ``'sender_id': ...``, ``"message": ...``) is replaced, so a tracker dumped into an error
  (earlier messages of the conversation included) does not leak either.

The formatted message and traceback are redacted once, when the record is made; ``args`` and ``exc_info``
are dropped so no handler can format the raw values again.
"""
import contextvars
import json
import logging
import re
import traceback
from typing import Any, Iterable, Optional, Text, Tuple

REDACTED = "[redacted]"
MIN_LENGTH = 3  # shorter values ("ok", "no") are left to the field rule: replacing them everywhere garbles logs

# Fields whose values are user text or identifiers, in JSON ("key": "v"), repr ('key': 'v') or key=value form.
SENSITIVE_KEYS = ("text", "message", "sender", "sender_id", "conversation_id", "session_id", "recipient_id",
                  "user_id", "chat_id", "username", "first_name", "last_name", "input_text", "value")
_FIELD = re.compile(
    r"""(?P<key>["']?\b(?:%s)\b["']?\s*[:=]\s*)(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|-?\d+)"""
    % "|".join(SENSITIVE_KEYS))

_values: contextvars.ContextVar[Tuple[Text, ...]] = contextvars.ContextVar("backcheck_private", default=())
_installed = False


def remember(*values: Optional[Any]) -> None:
    """Registers the private values of the message being handled (replaces the previous message's)."""
    found = []
    for value in values:
        if value is None:
            continue
        text = str(value).strip()
        if len(text) >= MIN_LENGTH:
            found.extend({text, text.lower(), json.dumps(text)[1:-1], repr(text)[1:-1]})
    _values.set(tuple(sorted(set(found), key=len, reverse=True)))


def redact(text: Text, values: Iterable[Text] = ()) -> Text:
    """`text` with the given private values and every sensitive field's value replaced."""
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return _FIELD.sub(lambda m: m.group("key") + (f'"{REDACTED}"' if m.group("value")[0] in "\"'" else REDACTED),
                      text)


def _record_factory(default_factory):
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = default_factory(*args, **kwargs)
        values = _values.get()
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        record.msg, record.args = redact(message, values), ()
        if record.exc_info and record.exc_info != (None, None, None):
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip(), values)
        record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info, values)
        return record

    make.backcheck = True
    return make


def install() -> None:
    """Makes every log record of this process redacted (idempotent)."""
    global _installed
    current = logging.getLogRecordFactory()
    if _installed or getattr(current, "backcheck", False):
        return
    logging.setLogRecordFactory(_record_factory(current))
    _installed = True
