"""Action tests on tracker fixtures captured from a real conversation (tests/fixtures/*.json)."""
import copy
import json
from pathlib import Path

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.actions import ActionGiveVerdict, ValidateTriageForm

FIXTURES = Path(__file__).parent / "fixtures"
PARSED = json.loads((FIXTURES / "parsed_replies.json").read_text())


def tracker(name: str, *replies: str, slots=None) -> Tracker:
    """A fixture tracker with the user's replies appended, as the action server would receive it."""
    state = json.loads((FIXTURES / f"tracker_{name}.json").read_text())
    events = state["events"]
    for text in replies:
        parse = copy.deepcopy(PARSED[text])
        events.append({"event": "user", "text": text, "parse_data": parse})
        state["latest_message"] = parse
    state["slots"].update(slots or {})
    return Tracker(state["sender_id"], state["slots"], state["latest_message"], events, False, None,
                   state["active_loop"], "action_listen")


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def validate(t: Tracker):
    return slot_events(await ValidateTriageForm().run(CollectingDispatcher(), t, {}))


async def verdict(t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionGiveVerdict().run(dispatcher, t, {})
    return slot_events(events), "\n".join(m.get("text") or "" for m in dispatcher.messages)


async def test_free_text_denial_clears_the_screen():
    assert await validate(tracker("awaiting_screen", "No, none of these")) == {"red_flag_screen": "clear"}


async def test_denial_in_own_words_clears_the_screen():
    assert await validate(tracker("awaiting_screen", "No numbness or tingling")) == {"red_flag_screen": "clear"}


@pytest.mark.parametrize("reply", ["yes", "not sure"])
async def test_a_reply_naming_no_sign_asks_which_then_escalates(reply):
    assert await validate(tracker("awaiting_screen", reply)) == {"screen_followup": True}
    again = await validate(tracker("awaiting_screen", reply, reply, slots={"screen_followup": True}))
    assert again == {"red_flag_screen": "unspecified"}


async def test_warning_sign_ends_the_interview():
    slots = await validate(tracker("awaiting_onset", "my groin went numb"))
    assert slots == {"symptom_onset": "not_needed", "red_flag_screen": "positive"}


async def test_question_is_not_taken_as_an_answer():
    # nothing returned: the form rejects, and the FAQ rule answers before the form asks again
    assert await validate(tracker("awaiting_onset", "is it lactic acid?")) == {}


async def test_unclear_answer_moves_on():
    assert await validate(tracker("awaiting_onset", "not sure")) == {"symptom_onset": "unclear"}


async def test_answer_fills_its_slot():
    assert await validate(tracker("awaiting_onset", "During my sets")) == {"symptom_onset": "during"}


async def test_verdict_sets_the_contract_slots():
    t = tracker("awaiting_screen", "No, none of these", slots={"red_flag_screen": "clear", "requested_slot": None})
    slots, text = await verdict(t)
    assert slots == {"triage_category": "pump", "triage_urgency": "self_care"}
    assert "Most likely: a muscle pump" in text and "not a diagnosis" in text
    assert "tight + during sets + no warning signs" in text


async def test_verdict_after_a_warning_sign_in_the_screen():
    t = tracker("awaiting_screen", "tingling down my left leg", slots={"red_flag_screen": "positive"})
    slots, text = await verdict(t)
    assert slots == {"triage_category": "nerve_involvement", "triage_urgency": "urgent"}
    assert "tingling" in text


@pytest.mark.parametrize("name", ["awaiting_onset", "awaiting_screen"])
async def test_verdict_ignores_findings_before_a_restart(name):
    t = tracker(name)
    t.events.append({"event": "restart"})
    t.events.append({"event": "user", "text": "my groin went numb", "parse_data": PARSED["my groin went numb"]})
    slots, _ = await verdict(t)
    assert slots["triage_category"] == "emergency"
    t.events.append({"event": "restart"})
    slots, _ = await verdict(t)
    assert slots["triage_category"] == "doms"  # nothing known after the restart: cautious default


async def test_denying_nerve_signs_leaves_the_emergency_signs_to_ask():
    slots = await validate(tracker("awaiting_onset", "No numbness or tingling"))
    assert slots == {"symptom_onset": "unclear", "screen_scope": "emergency"}


async def test_a_reply_that_only_denies_signs_clears_the_screen():
    reply = "zero numbness, nothing going down my legs"
    assert await validate(tracker("awaiting_screen", reply)) == {"red_flag_screen": "clear"}
