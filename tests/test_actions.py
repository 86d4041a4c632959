"""Action tests on tracker fixtures captured from a real conversation (tests/fixtures/*.json)."""
import copy
import json
from pathlib import Path

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from rasa.shared.nlu.training_data.message import Message

from actions.actions import ActionAskSignCheck, ActionGiveVerdict, ValidateTriageForm
from backcheck.dialogue.interview import message_findings, screen_question, screen_reply
from backcheck.nlu.component import SymptomEntityExtractor
from backcheck.triage.engine import default_engine

FIXTURES = Path(__file__).parent / "fixtures"
PARSED = json.loads((FIXTURES / "parsed_replies.json").read_text())


def parsed(text: str, intent: str = "describe_symptom") -> dict:
    """Recorded NLU output for a reply, or the extractor's live output with the given intent."""
    if text in PARSED:
        return copy.deepcopy(PARSED[text])
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": 0.9}})
    SymptomEntityExtractor.create({}, None, None, None).process([message])
    return {"text": text, "intent": message.get("intent"), "entities": message.get("entities")}


def tracker(name: str, *replies: str, slots=None) -> Tracker:
    """A fixture tracker with the user's replies appended, as the action server would receive it."""
    state = json.loads((FIXTURES / f"tracker_{name}.json").read_text())
    events = state["events"]
    for text in replies:
        parse = parsed(text)
        events.append({"event": "user", "text": text, "parse_data": parse})
        state["latest_message"] = parse
    state["slots"].update(slots or {})
    return Tracker(state["sender_id"], state["slots"], state["latest_message"], events, False, None,
                   state["active_loop"], "action_listen")


def slot_events(events):
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def validate(t: Tracker, wording: bool = False):
    """The slots validation sets; the question's wording (screen_text) only when asked for."""
    slots = slot_events(await ValidateTriageForm().run(CollectingDispatcher(), t, {}))
    return slots if wording else {k: v for k, v in slots.items() if k != "screen_text"}


async def verdict(t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionGiveVerdict().run(dispatcher, t, {})
    return slot_events(events), "\n".join(m.get("text") or "" for m in dispatcher.messages)


async def test_free_text_denial_clears_the_screen():
    assert await validate(tracker("awaiting_screen", "No, none of these")) == {"red_flag_screen": "clear"}


async def test_denial_in_own_words_clears_the_screen():
    assert await validate(tracker("awaiting_screen", "No numbness or tingling")) == {"red_flag_screen": "clear"}


async def test_a_yes_naming_no_sign_asks_which_then_counts_as_a_sign():
    assert await validate(tracker("awaiting_screen", "yes")) == {"screen_followup": "affirm"}
    again = await validate(tracker("awaiting_screen", "yes", "yes", slots={"screen_followup": "affirm"}))
    assert again == {"red_flag_screen": "unspecified"}


async def test_unsure_twice_means_the_signs_could_not_be_ruled_out():
    assert await validate(tracker("awaiting_screen", "not sure")) == {"screen_followup": "unclear"}
    t = tracker("awaiting_screen", "not sure", "not sure", slots={"screen_followup": "unclear"})
    assert await validate(t) == {"red_flag_screen": "unclear"}
    slots, text = await verdict(tracker("awaiting_screen", "not sure", slots={"red_flag_screen": "unclear"}))
    assert slots == {"triage_category": "pump", "triage_urgency": "urgent"}
    assert "couldn't rule out the warning signs" in text and "a warning sign you confirmed" not in text


@pytest.mark.parametrize("reply", ["so it's not a disc?", "wait, is that bad?"])
async def test_a_question_in_reply_to_the_screen_is_not_a_no(reply):
    assert await validate(tracker("awaiting_screen", reply)) == {}


async def test_a_denial_that_settles_its_own_doubt_clears_the_screen():
    reply = "maybe a bit tingly? nah probably not, no numbness, bladder fine, no fever, no falls"
    assert await validate(tracker("awaiting_screen", reply)) == {"red_flag_screen": "clear"}


async def test_warning_sign_ends_the_interview():
    slots = await validate(tracker("awaiting_onset", "my groin went numb"))
    assert slots == {"symptom_onset": "not_needed", "symptom_course": "not_needed", "red_flag_screen": "positive"}


@pytest.mark.parametrize("text", ["my dad's groin went numb", "a mate of mine had cauda equina", "could it be cauda equina?",
                                  "had sciatica years ago, long gone"])
async def test_someone_elses_or_a_past_sign_does_not_end_the_interview(text):
    slots = await validate(tracker("awaiting_onset", text))
    assert "red_flag_screen" not in slots


async def test_question_is_not_taken_as_an_answer():
    # nothing returned: the form rejects, and the FAQ rule answers before the form asks again
    assert await validate(tracker("awaiting_onset", "is it lactic acid?")) == {}


async def test_just_asking_in_the_middle_of_the_check_changes_nothing_so_the_check_can_stop():
    t = tracker("awaiting_onset")
    parse = parsed("nothing hurts, just nerding out about training, its not me", "just_asking")
    t.events.append({"event": "user", "text": parse["text"], "parse_data": parse})
    t.latest_message = parse
    assert await validate(t) == {}


async def test_unclear_answer_moves_on():
    assert await validate(tracker("awaiting_onset", "not sure")) == {"symptom_onset": "unclear"}


async def test_answer_fills_its_slot():
    # tight during sets is a pump of the session: how long it lasts needs no question
    assert await validate(tracker("awaiting_onset", "During my sets")) == {"symptom_onset": "during",
                                                                           "symptom_course": "course"}


async def test_how_long_is_asked_once_and_any_statement_answers_it():
    t = tracker("awaiting_onset", "The next day or later", slots={"requested_slot": "symptom_course"})
    t.events.append({"event": "bot", "text": "How long has it been going on?"})
    t.events.append({"event": "user", "text": "after half hour it is gone",
                     "parse_data": parsed("after half hour it is gone", "out_of_scope")})
    t.latest_message = parsed("after half hour it is gone", "out_of_scope")
    assert (await validate(t))["symptom_course"] == "unclear"


async def test_verdict_sets_the_contract_slots():
    t = tracker("awaiting_screen", "No, none of these", slots={"red_flag_screen": "clear", "requested_slot": None})
    slots, text = await verdict(t)
    assert slots == {"triage_category": "pump", "triage_urgency": "self_care"}
    assert "Most likely: a muscle pump" in text and "not a diagnosis" in text
    assert "tight; during sets; no warning signs" in text


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


async def test_denying_nerve_signs_leaves_the_other_groups_to_ask():
    slots = await validate(tracker("awaiting_onset", "No numbness or tingling"))
    assert slots == {"symptom_onset": "unclear", "screen_scope": "cauda_equina,trauma_fever"}


async def test_a_reply_that_only_denies_signs_clears_the_screen():
    reply = "zero numbness, nothing going down my legs"
    assert await validate(tracker("awaiting_screen", reply)) == {"red_flag_screen": "clear"}


DOMAIN = yaml.safe_load((Path(__file__).parents[1] / "domain.yml").read_text())


def screen_message(slots):
    """The warning-sign question as the form shows it: the validated text, the domain's buttons."""
    [response] = DOMAIN["responses"]["utter_ask_red_flag_screen"]
    return screen_question(default_engine(), slots), [b["title"] for b in response["buttons"]]


def test_the_screen_names_every_emergency_sign_with_a_button_per_group():
    text, buttons = screen_message({})
    for sign in ("groin", "bladder", "bowel", "both legs", "one leg", "fall", "fever", "chest", "breath", "urine"):
        assert sign in text.lower(), sign
    assert len(buttons) == 6 and buttons[-1] == "None of these"
    assert all(len(line) <= 90 for line in text.splitlines())  # short lines for a phone


def test_each_screen_button_reads_as_a_sign_of_its_group():
    [response] = DOMAIN["responses"]["utter_ask_red_flag_screen"]
    groups = default_engine().table["screen"]["groups"]
    for button, group in zip(response["buttons"], groups):
        found = {f["value"] for f in message_findings(parsed(button["payload"])) if f["context"] == "present"}
        assert found & set(groups[group]), (button, found)
    assert screen_reply(parsed(response["buttons"][-1]["payload"], "deny")) == "clear"


def test_a_partial_denial_asks_only_what_is_left():
    text, _ = screen_message({"screen_scope": "urine"})
    assert "urine" in text and "groin" not in text


async def test_the_validated_screen_text_follows_what_is_still_open():
    slots = await validate(tracker("awaiting_onset", "No numbness or tingling"), wording=True)
    assert "groin" in slots["screen_text"].lower() and "one leg" not in slots["screen_text"].lower()


@pytest.mark.parametrize("opening,scope", [
    ("sore upper back after rows, no numbness or tingling, bladder fine, no fever, didn't fall", "chest"),
    ("did murph yesterday, back extremely sore, no numbness or tingling, bladder fine, no fever, no fall", "urine"),
    ("sore lower back after deadlifts, no numbness or tingling, bladder fine, no fever, didn't fall", None),
])
async def test_chest_and_urine_are_asked_when_the_story_calls_for_them(opening, scope):
    slots = await validate(tracker("awaiting_onset", opening))
    assert slots.get("screen_scope") == scope
    assert ("red_flag_screen" in slots) == (scope is None)


async def test_a_new_problem_after_the_verdict_starts_a_new_check_from_what_was_said_about_it():
    t = tracker("awaiting_screen", "No, none of these", slots={"red_flag_screen": "clear", "requested_slot": None,
                                                                "triage_category": "pump", "triage_urgency": "self_care"})
    text = "different thing: my mid back on the right has been sharp since I twisted yesterday"
    t.events.append({"event": "user", "text": text, "parse_data": parsed(text)})
    t.latest_message = parsed(text)
    slots = await validate(t)
    assert slots["triage_category"] is None and slots["triage_urgency"] is None
    assert slots["red_flag_screen"] is None and "sharp" in slots["symptom_sensation"]


async def test_a_summary_for_the_physio_names_what_when_how_and_the_signs_ruled_out():
    from actions.actions import ActionAnswerFollowup
    t = tracker("awaiting_screen", "No, none of these", slots={"red_flag_screen": "clear",
                                                                "triage_category": "pump", "triage_urgency": "self_care"})
    t.latest_message = {"intent": {"name": "ask_summary"}, "entities": [], "text": "summary for my physio pls"}
    dispatcher = CollectingDispatcher()
    await ActionAnswerFollowup().run(dispatcher, t, {})
    [message] = dispatcher.messages
    for part in ("What:", "When and how it started: during sets", "How it feels: tight", "no warning signs",
                 "most likely a muscle pump", "not a diagnosis"):
        assert part in message["text"], part


async def test_a_check_in_is_scheduled_as_a_reminder_after_a_self_care_verdict():
    from actions.actions import ActionAnswerFollowup
    t = tracker("awaiting_screen", slots={"triage_category": "doms", "triage_urgency": "self_care"})
    t.latest_message = {"intent": {"name": "accept_checkin"}, "entities": [], "text": "check in with me later"}
    dispatcher = CollectingDispatcher()
    events = await ActionAnswerFollowup().run(dispatcher, t, {})
    [reminder] = [e for e in events if e["event"] == "reminder"]
    assert reminder["intent"] == "EXTERNAL_checkin" and "2 days" in dispatcher.messages[0]["text"]
    assert slot_events(events)["checkin_due"] == reminder["date_time"]


def with_turns(t: Tracker, *turns) -> Tracker:
    """Appends bot questions and user replies (text, intent) to a fixture tracker."""
    for bot_text, (text, intent) in turns:
        if bot_text:
            t.events.append({"event": "bot", "text": bot_text})
        parse = parsed(text, intent)
        t.events.append({"event": "user", "text": text, "parse_data": parse})
        t.latest_message = parse
    return t


async def test_a_misread_warning_sign_is_asked_about_plainly_and_cleared_by_a_clear_no():
    # the verdict escalated on numbness; the user says it was misread
    t = with_turns(tracker("awaiting_screen", slots={"triage_category": "nerve_involvement", "triage_urgency": "urgent",
                                                     "red_flag_screen": "positive", "requested_slot": None}),
                   (None, ("my foot went numb", "describe_symptom")),
                   ("**Most likely: possible nerve involvement.**", ("I said my foot is NOT numb", "nlu_fallback")))
    slots = await validate(t)
    assert slots == {"disputed_sign": "numbness", "sign_check": None}
    dispatcher = CollectingDispatcher()
    await ActionAskSignCheck().run(dispatcher, tracker("awaiting_screen", slots=slots), {})
    assert "do you have numbness right now" in dispatcher.messages[0]["text"]
    # a clear no clears it, and the warning-sign question is asked (it was skipped when the sign ended the check)
    state = {**t.slots, **slots, "requested_slot": "sign_check"}
    t2 = with_turns(tracker("awaiting_screen", slots=state), (None, ("my foot went numb", "describe_symptom")),
                    ("**Most likely**", ("I said my foot is NOT numb", "nlu_fallback")),
                    ("Just to be sure...", ("No, I don't", "deny")))
    cleared = await validate(t2)
    assert cleared["sign_check"] == "cleared" and cleared["cleared_signs"].startswith("numbness@")
    assert cleared["red_flag_screen"] is None
    # anything but a clear no keeps the sign
    t3 = with_turns(tracker("awaiting_screen", slots=state), (None, ("my foot went numb", "describe_symptom")),
                    ("Just to be sure...", ("hmm not sure", "nlu_fallback")))
    assert (await validate(t3))["sign_check"] == "kept"
