"""Logs never hold message text or sender ids: the record factory redacts every record, tracebacks included."""
import io
import json
import logging

import pytest

from backcheck.privacy import logs

MARKER_TEXT = "zq-marker my lower back went numb"
MARKER_SENDER = "zq-sender-4711"


@pytest.fixture
def captured():
    """A logger whose output (formatted as Rasa formats it) is returned by the fixture's read()."""
    previous = logging.getLogRecordFactory()
    logs._installed = False
    logs.install()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s - %(message)s"))
    logger = logging.getLogger("test.privacy")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream.getvalue
    logger.removeHandler(handler)
    logging.setLogRecordFactory(previous)
    logs._installed = False
    logs._values.set(())


def test_the_message_being_handled_is_redacted_wherever_it_appears(captured):
    logger, read = captured
    logs.remember(MARKER_SENDER, MARKER_TEXT)
    logger.info("Received user message '%s' from %s", MARKER_TEXT, MARKER_SENDER)
    logger.info(f"upper: {MARKER_TEXT.upper()} lower: {MARKER_TEXT.lower()} json: {json.dumps({'x': MARKER_TEXT})}")
    out = read()
    assert "zq-marker" not in out and MARKER_SENDER not in out
    assert out.count(logs.REDACTED) >= 3
    assert "Received user message" in out  # the rest of the line is kept


def test_a_traceback_whose_exception_holds_the_text_is_redacted(captured):
    logger, read = captured
    logs.remember(MARKER_SENDER, MARKER_TEXT)
    try:
        raise ValueError(f"cannot parse {MARKER_TEXT!r} for {MARKER_SENDER}")
    except ValueError:
        logger.exception("processing failed")
    out = read()
    assert "Traceback (most recent call last)" in out and "ValueError" in out
    assert "zq-marker" not in out and MARKER_SENDER not in out


def test_fields_of_a_dumped_tracker_are_redacted_even_if_not_registered(captured):
    logger, read = captured
    logs.remember()  # nothing registered: an earlier message of the conversation, say
    tracker = {"sender_id": "someone-else", "events": [{"event": "user", "text": "old private words"}],
               "latest_message": {"text": "more private words"}}
    logger.error("action failed: %s", json.dumps(tracker))
    logger.error("repr: %r", tracker)
    logger.error("chat_id=123456789 failed")
    out = read()
    for private in ("someone-else", "old private words", "more private words", "123456789"):
        assert private not in out
    assert "action failed" in out and '"event": "user"' in out


def test_a_new_message_replaces_the_previous_values():
    logs.remember("first-sender", "first message text")
    logs.remember("second-sender", "second message")
    assert "first message text" not in logs._values.get()
    assert "second message" in logs._values.get()
    logs._values.set(())


def test_redact_leaves_short_common_words_alone():
    logs.remember("ab", "no")  # too short to replace everywhere
    assert logs.redact("no action server", logs._values.get()) == "no action server"
    logs._values.set(())
