"""rasa_sdk glue: thin actions over backcheck/dialogue (the interview) and backcheck/triage (the verdict)."""
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from backcheck.dialogue.interview import conversation_findings, interview_slots, screen_question
from backcheck.triage.engine import default_engine


class ValidateTriageForm(Action):
    """Fills the interview slots from everything said so far; asks again only what is still open."""

    def name(self) -> Text:
        return "validate_triage_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        changes = interview_slots(default_engine(), tracker.events, tracker.current_slot_values(),
                                  tracker.latest_message or {})
        return [SlotSet(slot, value) for slot, value in changes.items()]


class ActionAskRedFlagScreen(Action):
    """The warning-sign question, for the groups still open."""

    def name(self) -> Text:
        return "action_ask_red_flag_screen"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        dispatcher.utter_message(**screen_question(default_engine(), tracker.current_slot_values()))
        return []


class ActionGiveVerdict(Action):
    """Sends the verdict and sets the contract slots triage_category and triage_urgency."""

    def name(self) -> Text:
        return "action_give_verdict"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[Text, Any]) -> List[EventType]:
        verdict = default_engine().assess(conversation_findings(tracker.events, tracker.current_slot_values()))
        dispatcher.utter_message(text=verdict.as_markdown())
        return [SlotSet("triage_category", verdict.category), SlotSet("triage_urgency", verdict.urgency)]
