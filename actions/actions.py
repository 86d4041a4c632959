"""rasa_sdk glue: thin actions over actions/interview.py and the triage engine."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.interview import (
    SCOPE_SLOT, SCREEN_CLEAR_VALUE, SCREEN_UNSPECIFIED, SLOTS, UNCLEAR, awaiting_reply, contradicts_itself,
    conversation_findings, is_answer, screen_reply,
    slot_values,
)
from backcheck.triage.engine import Case, default_engine

FOLLOWUP_SLOT = "screen_followup"


def _case(tracker: Tracker) -> Case:
    return Case.from_findings(conversation_findings(tracker.events, tracker.current_slot_values()))


class ValidateTriageForm(Action):
    """Fills the interview slots from everything said so far; asks again only what is still open."""

    def name(self) -> Text:
        return "validate_triage_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        engine = default_engine()
        values = slot_values(engine, _case(tracker))
        requested = tracker.get_slot("requested_slot")
        message = tracker.latest_message or {}
        replied = requested and values.get(requested) is None and awaiting_reply(tracker.events)
        events: List[EventType] = []
        if requested == SLOTS["screen"] and contradicts_itself(message):
            values[requested], replied = None, True  # "yes, ... no numbness": which sign is it?
        if replied and is_answer(message):
            if requested == SLOTS["screen"]:
                values[requested], events = self._screen(tracker, message)
            else:
                values[requested] = UNCLEAR
        if values[SLOTS["screen"]] is not None or events:
            values[SCOPE_SLOT] = None  # answered, or asking again about all the signs
        changed = [SlotSet(slot, value) for slot, value in values.items()
                   if (value is not None or slot == SCOPE_SLOT) and value != tracker.get_slot(slot)]
        return changed + events

    @staticmethod
    def _screen(tracker: Tracker, message: Dict) -> tuple:
        reply = screen_reply(message)
        if reply == "clear":
            return SCREEN_CLEAR_VALUE, []
        if not tracker.get_slot(FOLLOWUP_SLOT):
            return None, [SlotSet(FOLLOWUP_SLOT, True)]  # ask which one
        return SCREEN_UNSPECIFIED, []  # asked twice, still not a clear no: treat it as a warning sign


class ActionGiveVerdict(Action):
    """Sends the verdict and sets the contract slots triage_category and triage_urgency."""

    def name(self) -> Text:
        return "action_give_verdict"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        verdict = default_engine().assess(conversation_findings(tracker.events, tracker.current_slot_values()))
        dispatcher.utter_message(text=verdict.as_markdown())
        return [SlotSet("triage_category", verdict.category), SlotSet("triage_urgency", verdict.urgency)]
