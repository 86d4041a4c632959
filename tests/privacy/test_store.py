"""The tracker store deletes a conversation on request (gone from the file too), drops a failed turn, and purges
conversations past the retention period."""
import asyncio
import json
import time
from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from backcheck.privacy.store import FORGET_ACTION, PrivateSQLTrackerStore, forgets, unwrap

ROOT = Path(__file__).resolve().parents[2]
MARKER = "zq-private-marker lower back went numb"


@pytest.fixture(scope="module")
def domain():
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture
def store(tmp_path, domain):
    return PrivateSQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "t.db"))


def run(coro):
    return asyncio.run(coro)


def turn(text, *actions, at=None):
    stamp = at if at is not None else time.time()
    events = [UserUttered(text, timestamp=stamp)]
    for name in actions:
        events.append(ActionExecuted(name, timestamp=stamp))
    events += [BotUttered("ok", timestamp=stamp), ActionExecuted("action_listen", timestamp=stamp)]
    return events


def saved(store, sender, events):
    tracker = DialogueStateTracker.from_events(sender, events, store.domain.slots)
    run(store.save(tracker))
    return tracker


def test_the_forget_action_deletes_the_conversation_from_the_store_and_the_file(store, tmp_path):
    tracker = saved(store, "alice", turn(MARKER, "action_answer_followup"))
    saved(store, "bob", turn("bob's own words", "action_answer_followup"))
    assert any(MARKER.encode() in f.read_bytes() for f in tmp_path.glob("t.db*"))  # the file or its log
    for event in turn("delete my data", "utter_confirm_forget") + turn("yes", FORGET_ACTION):
        tracker.update(event)
    run(store.save(tracker))
    assert run(store.retrieve("alice")) is None
    assert run(store.retrieve("bob")) is not None  # only that conversation
    files = list(tmp_path.glob("t.db*"))
    assert len(files) > 1  # the database and its write-ahead log
    assert not any(MARKER.encode() in f.read_bytes() for f in files)  # overwritten, not only unlinked
    with store.engine.connect() as connection:  # set explicitly (Debian's build has it on by default, others not)
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_only_a_forget_in_the_latest_turn_counts():
    latest = DialogueStateTracker.from_events("a", turn("yes", FORGET_ACTION))
    earlier = DialogueStateTracker.from_events("a", turn("yes", FORGET_ACTION) + turn("hi", "utter_greet"))
    assert forgets(latest) and not forgets(earlier)


def test_a_failed_turn_is_dropped_but_never_an_earlier_one(store):
    started = time.time()
    saved(store, "carol", turn("first", "utter_greet", at=started - 60) + turn("second", "triage_form", at=started))
    assert run(store.drop_last_turn("carol", since=started + 5)) == 0  # the last user message is older: kept
    assert run(store.drop_last_turn("carol", since=started)) == 4
    texts = [e.text for e in run(store.retrieve("carol")).events if isinstance(e, UserUttered)]
    assert texts == ["first"]


def test_purge_deletes_only_conversations_past_retention(store):
    now = time.time()
    saved(store, "old", turn("old words", "utter_greet", at=now - 31 * 86400))
    saved(store, "recent", turn("recent words", "utter_greet", at=now - 29 * 86400))
    saved(store, "old-but-back", turn("x", "utter_greet", at=now - 40 * 86400) + turn("y", "utter_greet", at=now))
    assert store.purge(days=30, now=now) == 1
    assert run(store.retrieve("old")) is None
    assert run(store.retrieve("recent")) is not None and run(store.retrieve("old-but-back")) is not None


def test_unwrap_finds_the_configured_store_inside_rasas_wrappers(store):
    class Wrapper:
        def __init__(self, inner):
            self._tracker_store = inner

    assert unwrap(Wrapper(Wrapper(store))) is store


def test_the_latest_tracker_is_reused_only_while_the_database_holds_exactly_it(store, tmp_path, domain):
    saved(store, "dana", turn("first", "utter_greet"))
    first = run(store.retrieve("dana"))
    assert run(store.retrieve("dana")) is first  # nothing changed: no rebuild

    other = PrivateSQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "t.db"))  # another instance
    theirs = run(other.retrieve("dana"))
    for event in turn("second", "utter_greet"):
        theirs.update(event)
    run(other.save(theirs))
    seen = run(store.retrieve("dana"))  # goes on from the other instance's rows: as a fresh load would be
    fresh = run(PrivateSQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "t.db")).retrieve("dana"))
    assert seen is first and [e.text for e in seen.events if isinstance(e, UserUttered)] == ["first", "second"]
    assert [e.as_dict() for e in seen.events] == [e.as_dict() for e in fresh.events]
    assert seen.current_state() == fresh.current_state()

    seen.update(UserUttered("never saved"))  # a turn that failed before saving
    again = run(store.retrieve("dana"))
    assert again is not seen and "never saved" not in [e.text for e in again.events if isinstance(e, UserUttered)]

    run(other.delete("dana"))  # deleted by another instance
    assert run(store.retrieve("dana")) is None

    saved(store, "finn", turn("old", "utter_greet"))
    mine = run(store.retrieve("finn"))
    run(other.delete("finn"))  # deleted and begun again elsewhere with as many rows and more: loaded afresh
    saved(other, "finn", turn("new", "utter_greet") + turn("newer", "utter_greet"))
    again = run(store.retrieve("finn"))
    assert again is not mine and [e.text for e in again.events if isinstance(e, UserUttered)] == ["new", "newer"]

    with other.engine.begin() as connection:  # one of our rows gone, then a turn added elsewhere: loaded afresh
        connection.exec_driver_sql("DELETE FROM events WHERE id = (SELECT MIN(id) FROM events WHERE sender_id = 'finn')")
    saved_elsewhere = run(other.retrieve("finn"))
    for event in turn("newest", "utter_greet"):
        saved_elsewhere.update(event)
    run(other.save(saved_elsewhere))
    assert len(run(store.retrieve("finn")).events) == len(saved_elsewhere.events) == 11

    theirs = run(other.retrieve("finn"))  # a new session begun elsewhere: only the new session is loaded
    for event in [ActionExecuted("action_session_start"), SessionStarted(), *turn("later", "utter_greet")]:
        theirs.update(event)
    run(other.save(theirs))
    latest = run(store.retrieve("finn"))
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["later"]


def test_turns_taken_by_two_instances_in_turn_are_each_stored_once_in_order(store, tmp_path, domain):
    other = PrivateSQLTrackerStore(domain=domain, dialect="sqlite", db=str(tmp_path / "t.db"))
    saved(store, "eli", turn("one", "utter_greet"))
    for i, instance in enumerate([store, other, store, store, other, other, store]):
        tracker = run(instance.retrieve("eli"))
        for event in turn(f"turn {i}", "utter_greet"):
            tracker.update(event)
        run(instance.save(tracker))
        tracker.update(ActionExecuted("utter_more"))  # saved again in the same turn: only the new event is added
        run(instance.save(tracker))
    # a tracker this instance did not load (the HTTP API replacing a conversation, say), saved after the other
    # instance wrote: the database, not this instance's cache, says what is stored
    theirs = run(other.retrieve("eli"))
    for event in turn("turn 7", "utter_greet"):
        theirs.update(event)
    run(other.save(theirs))
    rebuilt = DialogueStateTracker.from_events("eli", [*theirs.events, ActionExecuted("utter_more")])
    run(store.save(rebuilt))

    def said(text):
        return [("user", text), ("action", "utter_greet"), ("bot", "ok"), ("action", "action_listen")]

    expected = said("one") + [row for i in range(8) for row in said(f"turn {i}") + [("action", "utter_more")]]
    with store.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT type_name, data FROM events WHERE sender_id = 'eli' ORDER BY id")
        stored = [(kind, json.loads(data).get("text") or json.loads(data).get("name")) for kind, data in rows]
    assert stored == expected


def test_conversations_that_set_a_slot_are_found_by_channel(store):
    from rasa.shared.core.events import SlotSet

    saved(store, "telegram:1", turn("hi", "utter_greet") + [SlotSet("checkin_due", "2026-11-29T10:00:00")])
    saved(store, "slack:U1_D1", turn("hi", "utter_greet") + [SlotSet("checkin_due", "2026-11-29T10:00:00")])
    saved(store, "telegram:2", turn("hi", "utter_greet"))
    assert store.senders_with_slot("checkin_due", "telegram:") == ["telegram:1"]
    assert sorted(store.senders_with_slot("checkin_due")) == ["slack:U1_D1", "telegram:1"]


def test_what_a_save_remembers_is_what_the_database_holds(store):
    """After each save, the count and last row remembered for the conversation are the database's own figures;
    after a save that began a new session, nothing wrong is remembered and the new session is what loads."""
    def remembered_is_stored():
        with store.engine.connect() as connection:
            stored = tuple(connection.execute(store._STORED, {"sender": "gil"}).one())
        return store._cache["gil"][1:] == stored

    saved(store, "gil", turn("one", "utter_greet"))
    assert remembered_is_stored()
    for text in ("two", "three"):
        tracker = run(store.retrieve("gil"))
        for event in turn(text, "utter_greet"):
            tracker.update(event)
        run(store.save(tracker))
        assert remembered_is_stored()
    for event in [ActionExecuted("action_session_start"), SessionStarted(), *turn("four", "utter_greet")]:
        tracker.update(event)
    run(store.save(tracker))
    assert "gil" not in store._cache or remembered_is_stored()
    assert [e.text for e in run(store.retrieve("gil")).events if isinstance(e, UserUttered)] == ["four"]


def test_the_privacy_reply_gives_the_retention_period_as_configured(monkeypatch, domain):
    """The privacy reply says the period the server's own retention setting gives, not a number in the domain."""
    from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator

    from backcheck.privacy.store import tell_retention_period

    tell_retention_period()
    tell_retention_period()  # once only, however often it is called
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    tracker = DialogueStateTracker("privacy", domain.slots)
    for setting, said in ((None, "30 days"), ("7", "7 days"), ("1", "1 day"), ("0.5", "0.5 days")):
        if setting is None:
            monkeypatch.delenv("BACKCHECK_RETENTION_DAYS", raising=False)
        else:
            monkeypatch.setenv("BACKCHECK_RETENTION_DAYS", setting)
        reply = run(nlg.generate("utter_privacy", tracker, "rest"))
        assert f"deleted after {said}." in reply["text"] and "{" not in reply["text"]
