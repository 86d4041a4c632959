"""rasa_sdk glue: thin actions over backcheck/dialogue (the interview) and backcheck/triage (the verdict)."""
import os
from datetime import datetime, timedelta
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, ReminderCancelled, ReminderScheduled, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from backcheck.channels.checkins import CHECKIN_INTENT, CHECKIN_SLOT, checkin_job
from backcheck.dialogue.followups import (GENERAL, followup_answer, followup_texts, new_problem_preface, summary,
                                         verdict_reply)
from backcheck.dialogue.interview import (conversation_findings, interview_slots, message_findings, new_problem,
                                          said_words, sign_check_question, starts_a_check)
from backcheck.triage.engine import Case, default_engine

CHECKIN_AFTER = timedelta(days=2)


def checkin_after() -> timedelta:
    """When the check-in is sent: 2 days, or BACKCHECK_CHECKIN_SECONDS (tests, demos)."""
    seconds = os.environ.get("BACKCHECK_CHECKIN_SECONDS")
    return timedelta(seconds=float(seconds)) if seconds else CHECKIN_AFTER


class ValidateTriageForm(Action):
    """Fills the interview slots from everything said so far; asks again only what is still open."""

    def name(self) -> Text:
        return "validate_triage_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        engine = default_engine()
        message = tracker.latest_message or {}
        if new_problem(message_findings(message)):
            dispatcher.utter_message(text=new_problem_preface(message_findings(message), engine.table["labels"]))
        changes = interview_slots(engine, tracker.events, tracker.current_slot_values(), message)
        return [SlotSet(slot, value) for slot, value in changes.items()]


class ActionAskCheckin(Action):
    """The check-in question, when it comes due (a reminder, or the web chat opening); asked once."""

    def name(self) -> Text:
        return "action_ask_checkin"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        if not tracker.get_slot(CHECKIN_SLOT):  # already asked (or the data was deleted): once only
            return []
        dispatcher.utter_message(response="utter_checkin")
        return [SlotSet(CHECKIN_SLOT, None)]


class ActionAskSignCheck(Action):
    """One plain question about a warning sign the user says was misread."""

    def name(self) -> Text:
        return "action_ask_sign_check"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(**sign_check_question(default_engine(), tracker.current_slot_values()))
        return []


class ActionGiveVerdict(Action):
    """Sends the verdict and sets the contract slots triage_category and triage_urgency; says what changed."""

    def name(self) -> Text:
        return "action_give_verdict"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        slots = tracker.current_slot_values()
        engine = default_engine()
        verdict = engine.assess(conversation_findings(tracker.events, slots))
        labels = engine.table["labels"]
        denied_now = [labels.get(f"red_flag:{f['value']}", f["value"]) for f in message_findings(tracker.latest_message)
                      if f["kind"] == "red_flag" and f["negated"]]
        previous = (slots.get("triage_category"), slots.get("triage_urgency"))
        dispatcher.utter_message(text=verdict_reply(verdict, previous, denied_now))
        return [SlotSet("triage_category", verdict.category), SlotSet("triage_urgency", verdict.urgency)]


class ActionAnswerFollowup(Action):
    """Answers a follow-up (train, ice or heat, how long, why...) for the user's own verdict."""

    def name(self) -> Text:
        return "action_answer_followup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        slots = tracker.current_slot_values()
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        category = slots.get("triage_category")
        said = message_findings(tracker.latest_message)
        if not category and intent not in GENERAL and starts_a_check(said):
            return [FollowupAction("triage_form")]  # "my back is worse every day": a report, before any verdict
        engine = default_engine()
        findings = conversation_findings(tracker.events, slots)
        verdict = engine.assess(findings) if category else None
        if verdict and intent == "ask_summary":
            words = said_words(tracker.events, ["exercise"])
            dispatcher.utter_message(text=summary(Case.from_findings(findings), verdict, engine.table["labels"], words))
            return []
        if verdict and intent == "accept_checkin":
            dispatcher.utter_message(text=followup_texts()["checkin_scheduled"])
            due = datetime.now() + checkin_after()
            events: List[EventType] = [SlotSet(CHECKIN_SLOT, due.isoformat())]
            if tracker.get_latest_input_channel() != "socketio":  # the web chat asks it when it next opens
                events.append(ReminderScheduled(CHECKIN_INTENT, due, name=checkin_job(tracker.sender_id),
                                                kill_on_user_message=False))
            return events
        trend = next((f["value"] for f in said if f["kind"] == "trend" and f["context"] == "present"), None)
        answer = followup_answer(intent, category, verdict.evidence if verdict else (), trend)
        if answer:
            dispatcher.utter_message(text=answer)
        return []


class ActionForget(Action):
    """The user confirmed "delete my data": cancel any check-in; the tracker store then deletes the conversation
    (backcheck/privacy/store.py deletes it when it sees this action)."""

    def name(self) -> Text:
        return "action_forget"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(response="utter_forgotten")
        return [ReminderCancelled()]
