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
NOT_NEEDED = "not_needed"
UNCLEAR = "unclear"

# Intents that are something other than an answer to the question asked.
NOT_AN_ANSWER = {"greet", "goodbye", "thank", "bot_challenge", "help", "start_over", "out_of_scope",
                 "ask_what_is_pump", "ask_pump_dangerous", "ask_lactic_acid", "ask_prevent_soreness",
                 "ask_warmup", "ask_difference"}
DENIAL = re.compile(r"^\s*(no+|nope|nah|none|nothing|neither|not really|i don'?t think so|all good|negative)\b"
                    r"|\bnone of (these|those|them|that)\b|\bnothing like that\b|\bno to all\b", re.I)
AFFIRMATION = re.compile(r"^\s*(yes|yeah|yep|yup|ya|y|i do|i have|i think so|maybe|kind of|sort of)\b", re.I)
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


def out_of_scope(case: Case, engine: TriageEngine) -> bool:
    """Only other body parts named, nothing about the back and no warning sign."""
    return bool(case.values("other_region")) and not case.values("region") and not engine.red_flags(case)
