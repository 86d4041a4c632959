"""The interview, as pure functions over the Rasa tracker read as plain data (no rasa_sdk imports).

Events are dicts, slots a mapping. The engine says which questions are still open; these helpers turn the
latest reply into slot values, and compose the warning-sign question from `knowledge/screen.yml`.
"""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

import yaml

from backcheck.dialogue.followups import FOLLOWUP_INTENTS
from backcheck.nlu.codec import from_entities
from backcheck.triage.engine import SCREEN_CLEAR, SCREEN_UNCLEAR, Case, TriageEngine

SCREEN_TEXTS = Path(__file__).parent / "screen.yml"

# Interview question -> form slot.
SLOTS = {"onset": "symptom_onset", "sensation": "symptom_sensation", "course": "symptom_course",
         "screen": "red_flag_screen"}
SCREEN_CLEAR_VALUE = "clear"
SCREEN_UNCLEAR_VALUE = "unclear"
SCREEN_TEXT = "screen_text"  # the warning-sign question as worded for the groups still open
SCOPE_SLOT = "screen_scope"  # the warning-sign groups still to ask about, when the user ruled out the others
SCREEN_UNSPECIFIED = "unspecified"
FOLLOWUP_SLOT = "screen_followup"  # the warning-sign question was asked a second time
RECHECK = "rescreen_from"  # worse after the verdict: the user turn from which the warning signs are asked again
NOT_NEEDED = "not_needed"
NEW_PROBLEM = "new_problem"
# a warning sign the user says was misread ("I said my legs are NOT numb"): asked about plainly, cleared by a clear no
SIGN_CHECK, DISPUTED, CLEARED = "sign_check", "disputed_sign", "cleared_signs"
VERDICT_SLOTS = ("triage_category", "triage_urgency")
UNCLEAR = "unclear"

# Intents that are something other than an answer to the question asked.
NOT_AN_ANSWER = {"greet", "goodbye", "thank", "bot_challenge", "help", "start_over", "out_of_scope",
                 "ask_what_is_pump", "ask_pump_dangerous", "ask_lactic_acid", "ask_prevent_soreness",
                 "ask_warmup", "ask_difference", "ask_general", "just_asking", "forget", "ask_privacy", *FOLLOWUP_INTENTS}
LOOSE_ANSWERS = {"out_of_scope", "nlu_fallback"}
DENIAL = re.compile(r"^\W*(no+|nope|nah|none|nothing|neither|not really|i don'?t think so|all good|negative)\b"
                    r"|\bnone of (these|those|them|that)\b|\bnothing like that\b|\bno to all\b", re.I)
AFFIRMATION = re.compile(r"^\W*(yes|yeah|yep|yup|ya|y|i do|i have)\b", re.I)
UNSURE = re.compile(r"\b(not sure|unsure|don'?t know|dunno|idk|no idea|not certain|can'?t tell|maybe|might|"
                    r"possibly|i think so|kind of|sort of|kinda|i guess)\b", re.I)
QUESTION = re.compile(r"\?\s*$|^\W*(so|is|does|do|can|could|would|should|what|why|how|isn'?t|wait)\b.*\?", re.I)


@lru_cache(maxsize=1)
def screen_texts() -> Dict:
    with open(SCREEN_TEXTS, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def new_problem(findings: Iterable[Mapping]) -> bool:
    """"Different thing: my mid back..." starts a new check (no "start over" needed)."""
    return any(f["kind"] == "stance" and f["value"] == NEW_PROBLEM and f["context"] == "present" for f in findings)


def user_turns(events: Iterable[Mapping]) -> List[List[Dict]]:
    """The findings of each user turn, oldest first, since the last restart or new problem."""
    turns: List[List[Dict]] = []
    for event in events:
        if event.get("event") == "restart":
            turns = []
        elif event.get("event") == "user":
            said = from_entities((event.get("parse_data") or {}).get("entities"))
            turns = [said] if new_problem(said) else turns + [said]
    return turns


def said_words(events: Iterable[Mapping], kinds: Iterable[str]) -> Dict[str, List[str]]:
    """The user's own words for findings of these kinds ("shrugs", "RDLs"), oldest first."""
    kinds = set(kinds)
    words: Dict[str, List[str]] = {}
    for event in events:
        text = event.get("text") or ""
        if event.get("event") != "user":
            continue
        for e in (event.get("parse_data") or {}).get("entities") or ():
            if e.get("entity") in kinds and not e.get("role") and "start" in e and text[e["start"]:e["end"]]:
                words.setdefault(e["entity"], [])
                if text[e["start"]:e["end"]].lower() not in words[e["entity"]]:
                    words[e["entity"]].append(text[e["start"]:e["end"]].lower())
    return words


def cleared_signs(slots: Mapping) -> Dict[str, int]:
    """Warning signs cleared by a clear no, with the user turn of that no: "numbness@4,trauma@7"."""
    return {sign: int(turn) for sign, turn in (item.split("@") for item in (slots.get(CLEARED) or "").split(",") if item)}


def user_findings(events: Iterable[Mapping], rescreen_from: Optional[float] = None,
                  cleared: Optional[Mapping[str, int]] = None) -> List[Dict]:
    """Findings from every user turn; after a re-check, warning signs denied before it no longer count as denied,
    and a sign cleared by a clear no no longer counts from what was said before that no."""
    cleared = cleared or {}

    def counts(i: int, f: Mapping) -> bool:
        if f["kind"] != "red_flag":
            return True
        if rescreen_from is not None and i < rescreen_from and f["negated"]:
            return False
        return not (f["context"] == "present" and i < cleared.get(f["value"], -1))

    return [{**f, "turn": i} for i, said in enumerate(user_turns(events)) for f in said if counts(i, f)]


def conversation_findings(events: Iterable[Mapping], slots: Mapping) -> List[Dict]:
    """User findings plus what the warning-sign screen answered."""
    findings = user_findings(events, slots.get(RECHECK), cleared_signs(slots))
    screen = slots.get(SLOTS["screen"])
    if screen == SCREEN_CLEAR_VALUE:
        findings.append({"kind": "screen", "value": SCREEN_CLEAR.split(":")[1], "negated": False})
    elif screen == SCREEN_UNCLEAR_VALUE:
        findings.append({"kind": "screen", "value": SCREEN_UNCLEAR.split(":")[1], "negated": False})
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


def starts_a_check(findings: Iterable[Mapping]) -> bool:
    """Does a message say something about the user's own back (where, how it feels, its trend, a warning sign)?"""
    return any(f["context"] == "present" and f["kind"] in ("region", "sensation", "trend", "red_flag") for f in findings)


def is_question(message: Mapping) -> bool:
    return bool(QUESTION.search(message.get("text") or ""))


def is_answer(message: Mapping, requested: Optional[str] = None) -> bool:
    """Could the latest message be an answer to our question (rather than a question of its own)?
    How long and better or worse is asked once: any reply that is not a question answers it."""
    intent = (message.get("intent") or {}).get("name")
    if requested == SLOTS["course"] and intent != "just_asking":
        return bool(message_findings(message)) or not is_question(message)
    if intent in LOOSE_ANSWERS and not is_question(message):
        return True  # "near the end of each workout": an answer we could not read, not a new topic
    return bool(message_findings(message)) or intent not in NOT_AN_ANSWER


def contradicts_itself(message: Mapping) -> bool:
    """A "yes" to the warning-sign question that names no sign, only denied ones."""
    flags = [f for f in message_findings(message) if f["kind"] == "red_flag"]
    return bool(AFFIRMATION.search(message.get("text") or "")) and not any(f["context"] == "present" for f in flags)


def screen_reply(message: Mapping) -> Optional[str]:
    """How a free-text reply to the warning-sign question reads: clear, yes-but-which, a question, or unsure."""
    text = message.get("text") or ""
    intent = (message.get("intent") or {}).get("name")
    flags = [f for f in message_findings(message) if f["kind"] == "red_flag"]
    denied = any(f["negated"] for f in flags) and not any(f["context"] == "present" for f in flags)
    if QUESTION.search(text) and not denied:
        return "question"  # "so it's not a disc?" is not a no
    if denied or ((intent == "deny" or DENIAL.search(text)) and not UNSURE.search(text)):
        return "clear"  # a denial outweighs a doubt it resolves itself ("maybe a bit tingly? nah, no numbness")
    if UNSURE.search(text) or any(f["context"] == "uncertain" for f in flags):
        return None
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
            values[SCOPE_SLOT] = ",".join(gaps) if gaps != engine.table["screen"]["always"] else None
        elif engine.answered(case, question):
            values[slot] = ", ".join(case.values(question)) or question
        else:
            values[slot] = NOT_NEEDED if flags else None
    values[SIGN_CHECK] = NOT_NEEDED
    return values


def screen_answer(message: Mapping, asked_again: bool) -> Dict:
    """Slots after a reply to the warning-sign question that names no sign: clear, ask again, or give up."""
    reply = screen_reply(message)
    if reply == "clear":
        return {SLOTS["screen"]: SCREEN_CLEAR_VALUE}
    if reply == "question":
        return {}  # answered by the question's own rule, then the same question again
    if not asked_again:
        return {FOLLOWUP_SLOT: reply or UNCLEAR}
    if reply == "affirm":
        return {SLOTS["screen"]: SCREEN_UNSPECIFIED}  # "yes", twice, without naming one: a sign confirmed
    return {SLOTS["screen"]: SCREEN_UNCLEAR_VALUE}  # unsure twice: the signs could not be ruled out


def interview_slots(engine: TriageEngine, events: List[Mapping], slots: Mapping, message: Mapping) -> Dict:
    """The interview slots that change after the latest message, from everything said so far.
    Nothing changes after a question or "just asking": the form steps aside and that intent's rule answers."""
    intent = (message.get("intent") or {}).get("name")
    screen, requested = SLOTS["screen"], slots.get("requested_slot")
    if new_problem(message_findings(message)):
        return fresh_check(engine, events, slots)
    if slots.get("triage_category") and getting_worse(message_findings(message)):
        recheck = recheck_slots(events)
        slots = {**slots, **recheck}
        values = slot_values(engine, Case.from_findings(conversation_findings(events, slots)))
        return {**recheck, **{k: v for k, v in values.items() if v is not None and v != slots.get(k)}}
    if requested == SIGN_CHECK and awaiting_reply(events):
        return sign_check_answer(engine, events, slots, message)
    signs = [f for f in message_findings(message) if f["kind"] == "red_flag"]
    disputed = disputed_sign(engine, events, slots, signs)
    if slots.get("triage_category") and disputed:
        return {DISPUTED: disputed, SIGN_CHECK: None}
    stepping_aside = not is_answer(message, requested) or (intent == "just_asking" and not signs)
    if stepping_aside and not any(f["context"] == "present" for f in signs):
        return {}
    values = slot_values(engine, Case.from_findings(conversation_findings(events, slots)))
    replied = bool(requested) and values.get(requested) is None and awaiting_reply(events)
    if requested == screen and contradicts_itself(message):
        values[screen], replied = None, True  # "yes, ... no numbness": which sign is it?
    if replied and is_answer(message, requested):
        if requested == screen:
            values.update(screen_answer(message, asked_again=bool(slots.get(FOLLOWUP_SLOT))))
        else:
            values[requested] = UNCLEAR
    if values[screen] is not None:
        values[SCOPE_SLOT] = None
    else:
        values[SCREEN_TEXT] = screen_question(engine, {**slots, **values})
    return {slot: value for slot, value in values.items()
            if (value is not None or slot == SCOPE_SLOT) and value != slots.get(slot)}


def disputed_sign(engine: TriageEngine, events: List[Mapping], slots: Mapping, signs: List[Mapping]) -> Optional[str]:
    """A warning sign the verdict counted that the latest message denies."""
    if not any(f["negated"] for f in signs):
        return None  # the common case: nothing denied, nothing to rebuild
    earlier = Case.from_findings(conversation_findings(events[:-1], slots) if events else [])
    counted = set(engine.red_flags(earlier))
    return next((f["value"] for f in signs if f["negated"] and f["value"] in counted), None)


def sign_check_answer(engine: TriageEngine, events: List[Mapping], slots: Mapping, message: Mapping) -> Dict:
    """The plain question about one disputed sign: a clear no clears it (and the interview goes on where it must);
    anything else keeps it."""
    sign = slots.get(DISPUTED)
    reply = screen_reply(message)
    present = any(f["kind"] == "red_flag" and f["context"] == "present" for f in message_findings(message))
    if reply != "clear" or present or not sign:
        return {SIGN_CHECK: "kept", DISPUTED: None}
    cleared = {**cleared_signs(slots), sign: len(user_turns(events)) - 1}
    after = {**slots, CLEARED: ",".join(f"{s}@{t}" for s, t in cleared.items())}
    values = slot_values(engine, Case.from_findings(conversation_findings(events, after)))
    reopened = {slot: None for slot, value in slots.items()
                if slot in SLOTS.values() and value in (NOT_NEEDED, "positive") and values.get(slot) is None}
    settled = {k: v for k, v in values.items() if v is not None and v != slots.get(k)}
    return {**reopened, **settled, CLEARED: after[CLEARED], SIGN_CHECK: "cleared", DISPUTED: None}


def fresh_check(engine: TriageEngine, events: List[Mapping], slots: Mapping) -> Dict:
    """A new problem: the interview and the verdict start again from what was said about it."""
    cleared = {slot: None for slot in (*SLOTS.values(), SCOPE_SLOT, FOLLOWUP_SLOT, RECHECK, *VERDICT_SLOTS)}
    cleared[SIGN_CHECK] = NOT_NEEDED
    values = slot_values(engine, Case.from_findings(conversation_findings(events, {})))
    return {**cleared, **{slot: value for slot, value in values.items() if value is not None}}


def getting_worse(findings: Iterable[Mapping]) -> bool:
    return any(f["kind"] == "trend" and f["value"] == "worsening" and f["context"] == "present" for f in findings)


def recheck_slots(events: List[Mapping]) -> Dict:
    """Worse since the verdict: the warning signs are asked again, from this turn on."""
    return {RECHECK: float(len(user_turns(events)) - 1), SLOTS["screen"]: None, FOLLOWUP_SLOT: None,
            SCOPE_SLOT: None}


def sign_check_question(engine: TriageEngine, slots: Mapping) -> Dict:
    """"Just to be sure: do you have numbness right now? Yes or no." """
    texts = screen_texts()["sign_check"]
    sign = engine.table["labels"].get(f"red_flag:{slots.get(DISPUTED)}", "that warning sign")
    return {"text": texts["text"].format(sign=sign),
            "buttons": [{"title": t, "payload": p} for t, p in texts["buttons"].items()]}


def screen_question(engine: TriageEngine, slots: Mapping) -> str:
    """The warning-sign question: one short line per group still open (its buttons are in the domain's
    `utter_ask_red_flag_screen`, which shows this text through the `screen_text` slot: no extra action call)."""
    texts = screen_texts()
    scope = [g for g in (slots.get(SCOPE_SLOT) or "").split(",") if g]
    groups = scope or list(engine.table["screen"]["groups"])
    followup = slots.get(FOLLOWUP_SLOT)
    intro = texts["again"].get(str(followup), texts["again"]["unclear"]) if followup else (
        texts["intro_rest"] if scope else texts["intro"])
    return "\n".join([intro] + [f"- {texts['groups'][g]['text']}" for g in groups])
