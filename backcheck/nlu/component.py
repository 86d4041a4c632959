"""Rasa graph component: runs the spaCy symptom extractor on every message.

Findings arrive as entities (role "denied" when negated). The component also
keeps the intent honest where the findings are unambiguous: a warning sign is
always a symptom report, and a report that names only other body parts is out
of scope.
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
            # intents a warning sign or a back symptom overrules
            "overridable_intents": ["nlu_fallback", "out_of_scope", "greet", "affirm", "deny", "thank",
                                    "goodbye", "help"],
            # a warning sign in a general question ("is numbness dangerous?") is not a report, unless personal
            "personal_pattern": r"\b(i|i'm|im|i've|ive|me|my|mine|myself)\b",
        }

    def __init__(self, config: Dict[Text, Any], extractor: Optional[SymptomExtractor] = None) -> None:
        self.config = {**self.get_default_config(), **config}
        self.personal = re.compile(self.config["personal_pattern"], re.I)
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
        present = [f for f in findings if not f["negated"]]
        kinds = {f["kind"] for f in present}
        overridable = intent in self.config["overridable_intents"]
        target = None
        if ("red_flag" in kinds and (personal or overridable)) or ({"region", "sensation"} <= kinds and overridable):
            target = self.config["symptom_intent"]
        elif intent == self.config["symptom_intent"] and "other_region" in kinds and not kinds & {"region", "red_flag"}:
            target = self.config["out_of_scope_intent"]
        if target and target != intent:
            message.set(INTENT, {"name": target, "confidence": 1.0}, add_to_output=True)
