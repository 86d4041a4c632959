"""The Rasa graph component: findings become entities, and the intent is corrected where findings are unambiguous."""
import pytest
from rasa.shared.nlu.training_data.message import Message

from backcheck.nlu.codec import from_entities
from backcheck.nlu.component import SymptomEntityExtractor


def run(text, intent, confidence=0.6):
    message = Message(data={"text": text, "intent": {"name": intent, "confidence": confidence}})
    SymptomEntityExtractor.create({}, None, None, None).process([message])
    return message


def test_findings_arrive_as_entities_with_denied_role():
    message = run("no numbness or tingling, just tight lower back, 4/10", "describe_symptom")
    entities = message.get("entities")
    assert {"entity": "red_flag", "value": "numbness", "role": "denied"}.items() <= entities[0].items()
    findings = from_entities(entities)
    assert {"kind": "sensation", "value": "tight", "number": None, "negated": False} in findings
    assert {"kind": "severity", "value": "number", "number": 4.0, "negated": False} in findings


@pytest.mark.parametrize("text,intent,expected", [
    ("hey, my groin went numb after deadlifts", "greet", "describe_symptom"),            # warning sign wins
    ("yes and now I can't control my bladder", "affirm", "describe_symptom"),
    ("hi, my lower back is tight after rows", "greet", "describe_symptom"),              # region + sensation
    ("is numbness in the leg dangerous?", "ask_pump_dangerous", "ask_pump_dangerous"),  # a general question
    ("is a back pump dangerous", "ask_pump_dangerous", "ask_pump_dangerous"),
    ("my knee hurts after squats", "describe_symptom", "out_of_scope"),                  # only another body part
    ("my knee and lower back hurt", "describe_symptom", "describe_symptom"),
    ("thanks", "thank", "thank"),
])
def test_intent_correction(text, intent, expected):
    assert run(text, intent).get("intent")["name"] == expected


def test_button_payload_intents_are_left_alone():
    message = run("/restart", "restart", 1.0)
    assert message.get("entities", []) == [] and message.get("intent")["name"] == "restart"
