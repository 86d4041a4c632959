"""Pure helpers between the Rasa tracker and the triage engine (no rasa_sdk imports).

The tracker is read as plain data: its events (dicts) and slot values.
"""
from __future__ import annotations

import re
from typing import Dict, Iterable, List, Mapping, Optional

from backcheck.nlu.codec import from_entities
from backcheck.triage.engine import SCREEN_CLEAR, Case, TriageEngine

# Interview question -> form slot.
SLOTS = {"onset": "symptom_onset", "sensation": "symptom_sensation", "screen": "red_flag_screen"}
SCREEN_CLEAR_VALUE = "clear"
SCOPE_SLOT = "screen_scope"  # the one warning-sign tier still to ask about, when the user ruled out the other
SCREEN_UNSPECIFIED = "unspecified"
FOLLOWUP_SLOT = "screen_followup"  # the warning-sign question was asked a second time ("which one?")
NOT_NEEDED = "not_needed"
UNCLEAR = "unclear"

# Intents that are something other than an answer to the question asked.
NOT_AN_ANSWER = {"greet", "goodbye", "thank", "bot_challenge", "help", "start_over", "out_of_scope",
                 "ask_what_is_pump", "ask_pump_dangerous", "ask_lactic_acid", "ask_prevent_soreness",
                 "ask_warmup", "ask_difference"}
DENIAL = re.compile(r"^\s*(no+|nope|nah|none|nothing|neither|not really|i don'?t think so|all good|negative)\b"
                    r"|\bnone of (these|those|them|that)\b|\bnothing like that\b|\bno to all\b", re.I)
AFFIRMATION = re.compile(r"^\s*(yes|yeah|yep|yup|ya|y|i do|i have)\b", re.I)
UNSURE = re.compile(r"\b(not sure|unsure|don'?t know|dunno|no idea|not certain|can'?t tell|maybe|might|possibly|i think so|kind of|sort of)\b", re.I)


def user_findings(events: Iterable[Mapping]) -> List[Dict]:
    """Findings from every user turn of the conversation, oldest first (since the last restart)."""
    findings: List[Dict] = []
    for event in events:
        if event.get("event") == "restart":
            findings = []
        elif event.get("event") == "user":
            findings += from_entities((event.get("parse_data") or {}).get("entities"))
    return findings


def conversation_findings(events: Iterable[Mapping], slots: Mapping) -> List[Dict]:
    """User findings plus what the warning-sign screen answered."""
    findings = user_findings(events)
    screen = slots.get(SLOTS["screen"])
    if screen == SCREEN_CLEAR_VALUE:
        findings.append({"kind": "screen", "value": SCREEN_CLEAR.split(":")[1], "negated": False})
    elif screen == SCREEN_UNSPECIFIED:
        findings.append({"kind": "red_flag", "value": SCREEN_UNSPECIFIED, "negated": False})
    return findings


def message_findings(message: Mapping) -> List[Dict]:
    return from_entities(message.get("entities"))


def awaiting_reply(events: Iterable[Mapping]) -> bool:
    """True when the user spoke after the bot's last message, i.e. the latest message replies to our question."""
    for event in reversed(list(events)):
        if event.get("event") in ("user", "bot"):
            return event["event"] == "user"
    return False


def is_answer(message: Mapping) -> bool:
    """Could the latest message be an answer to our question (rather than a question of its own)?"""
    intent = (message.get("intent") or {}).get("name")
    return bool(message_findings(message)) or intent not in NOT_AN_ANSWER


def contradicts_itself(message: Mapping) -> bool:
    """A "yes" to the warning-sign question that names no sign, only denied ones."""
    flags = [f for f in message_findings(message) if f["kind"] == "red_flag"]
    return bool(AFFIRMATION.search(message.get("text") or "")) and not any(not f["negated"] for f in flags)


def screen_reply(message: Mapping) -> Optional[str]:
    """How a free-text reply to the warning-sign question reads: clear, yes-but-which, or neither."""
    text = message.get("text") or ""
    intent = (message.get("intent") or {}).get("name")
    flags = [f for f in message_findings(message) if f["kind"] == "red_flag"]
    if UNSURE.search(text):
        return None
    if (flags and all(f["negated"] for f in flags)) or intent == "deny" or DENIAL.search(text):
        return "clear"
    if intent == "affirm" or AFFIRMATION.search(text):
        return "affirm"
    return None


def slot_values(engine: TriageEngine, case: Case) -> Dict[str, Optional[str]]:
    """What each interview slot holds given what is known (None where still open)."""
    flags = engine.red_flags(case)
    values: Dict[str, Optional[str]] = {}
    for question, slot in SLOTS.items():
        if question == "screen" and flags:
            values[slot] = "positive"
        elif question == "screen":
            values[slot] = SCREEN_CLEAR_VALUE if engine.screened(case) else None
            gaps = engine.screen_gaps(case)
            values[SCOPE_SLOT] = gaps[0] if len(gaps) == 1 else None
        elif engine.answered(case, question):
            kind = "onset" if question == "onset" else "sensation"
            values[slot] = ", ".join(case.values(kind)) or kind
        else:
            values[slot] = NOT_NEEDED if flags else None
    return values


def screen_answer(message: Mapping, asked_again: bool) -> Dict:
    """Slots after a reply to the warning-sign question that names no sign: clear, ask which one, or escalate."""
    if screen_reply(message) == "clear":
        return {SLOTS["screen"]: SCREEN_CLEAR_VALUE}
    if not asked_again:
        return {FOLLOWUP_SLOT: True}
    return {SLOTS["screen"]: SCREEN_UNSPECIFIED}  # asked twice, still no clear no: treat it as a warning sign


def interview_slots(engine: TriageEngine, events: List[Mapping], slots: Mapping, message: Mapping) -> Dict:
    """The interview slots that change after the latest message, from everything said so far."""
    screen, requested = SLOTS["screen"], slots.get("requested_slot")
    values = slot_values(engine, Case.from_findings(conversation_findings(events, slots)))
    replied = bool(requested) and values.get(requested) is None and awaiting_reply(events)
    if requested == screen and contradicts_itself(message):
        values[screen], replied = None, True  # "yes, ... no numbness": which sign is it?
    if replied and is_answer(message):
        if requested == screen:
            values.update(screen_answer(message, asked_again=bool(slots.get(FOLLOWUP_SLOT))))
        else:
            values[requested] = UNCLEAR
    if values[screen] is not None or values.get(FOLLOWUP_SLOT):
        values[SCOPE_SLOT] = None  # answered, or asking again about all the signs
    return {slot: value for slot, value in values.items()
            if (value is not None or slot == SCOPE_SLOT) and value != slots.get(slot)}
