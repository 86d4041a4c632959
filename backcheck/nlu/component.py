"""Rasa graph component: runs the spaCy symptom extractor on every message.

Findings arrive as entities (role "denied" when negated). The component also
keeps the intent honest where the findings are unambiguous: the user's own
warning sign is always a symptom report, and so is a personal report phrased
as a question; a message about someone else, a past problem or a general
question is general information; "nothing's wrong, just curious" is just
asking; and a report that names only other body parts is out of scope.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message

from backcheck.nlu.codec import to_entity
from backcheck.nlu.extractor import SymptomExtractor, default_extractor


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=False)
class SymptomEntityExtractor(GraphComponent, EntityExtractorMixin):
    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "symptom_intent": "describe_symptom",
            "out_of_scope_intent": "out_of_scope",
            "general_intent": "ask_general",
            "just_asking_intent": "just_asking",
            # answers of their own: a report phrased like one of these questions is still a report
            "faq_intents": ["ask_what_is_pump", "ask_pump_dangerous", "ask_lactic_acid", "ask_prevent_soreness",
                            "ask_warmup", "ask_difference"],
            # intents a warning sign or a back symptom overrules
            "overridable_intents": ["nlu_fallback", "out_of_scope", "greet", "affirm", "deny", "thank",
                                    "goodbye", "help"],
            # a warning sign in a general question ("is numbness dangerous?") is not a report, unless personal
            "personal_pattern": r"\b(i|i'm|im|i've|ive|me|my|mine|myself)\b",
            "question_pattern": r"\?\s*$|(^|[,.;:!]\s|\s-\s|\bjust curious\W+)\W*"
                                r"(is|are|do|does|can|could|should|would|what|why|how|when|will)\b",
        }

    def __init__(self, config: Dict[Text, Any], extractor: Optional[SymptomExtractor] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self.personal = re.compile(self.config["personal_pattern"], re.I)
        self.question = re.compile(self.config["question_pattern"], re.I)
        self._extractor = extractor

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "SymptomEntityExtractor":
        return cls(config)

    @property
    def extractor(self) -> SymptomExtractor:
        if self._extractor is None:
            self._extractor = default_extractor()
        return self._extractor

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            if not text or text.startswith("/"):
                continue
            findings = [f.as_dict() for f in self.extractor.extract(text)]
            entities = message.get(ENTITIES, []) + [to_entity(f) for f in findings]
            message.set(ENTITIES, entities, add_to_output=True)
            self._correct_intent(message, findings, bool(self.personal.search(text)))
        return messages

    def _correct_intent(self, message: Message, findings: List[Dict], personal: bool) -> None:
        intent = (message.get(INTENT) or {}).get("name")
        target = self.corrected_intent(intent, findings, personal, bool(self.question.search(message.get(TEXT))))
        if target and target != intent:
            message.set(INTENT, {"name": target, "confidence": 1.0}, add_to_output=True)

    def corrected_intent(self, intent: Optional[str], findings: List[Dict], personal: bool,
                         question: bool) -> Optional[str]:
        """The intent the findings call for, or None to keep the classifier's."""
        cfg = self.config
        kinds = {f["kind"] for f in findings if f["context"] == "present"}
        elsewhere = {f["kind"] for f in findings if f["context"] not in ("present", "denied", "uncertain")}
        overridable = intent in cfg["overridable_intents"]
        symptom_intents = {cfg["symptom_intent"], *cfg["overridable_intents"]}
        # a statement about one's back is a report; a question is one only when personal
        own_report = (personal or not question) and "region" in kinds and kinds & {"sensation", "trend"}
        if "red_flag" in kinds and (personal or overridable):
            return cfg["symptom_intent"]
        if overridable and any(f["kind"] == "red_flag" and f["context"] == "denied" for f in findings):
            return cfg["symptom_intent"]  # "I said my legs are NOT numb": about the check, not a yes, no or thanks
        if "stance" in kinds and not (own_report and not question):
            if intent in cfg["faq_intents"]:
                return None
            return cfg["general_intent"] if question or elsewhere else cfg["just_asking_intent"]
        if intent in symptom_intents and elsewhere and not kinds & {"sensation", "red_flag", "trend"}:
            return cfg["general_intent"]
        if intent in (cfg["just_asking_intent"], cfg["general_intent"]) and not question and not elsewhere:
            return cfg["symptom_intent"]  # "it just hangs around" answers a question; it is not "just asking"
        answers = {cfg["general_intent"], cfg["just_asking_intent"], *cfg["faq_intents"]}
        if own_report and (overridable or intent in answers):
            return cfg["symptom_intent"]
        if {"region", "sensation"} <= kinds and overridable:
            return cfg["symptom_intent"]
        if intent == cfg["symptom_intent"] and "other_region" in kinds and not kinds & {"region", "red_flag"}:
            return cfg["out_of_scope_intent"]
        return None
