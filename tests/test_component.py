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
    assert {"kind": "sensation", "value": "tight", "number": None, "context": "present", "negated": False} in findings
    assert {"kind": "severity", "value": "number", "number": 4.0, "context": "present", "negated": False} in findings


@pytest.mark.parametrize("text,role", [
    ("my dad has sciatica", "other_person"), ("had sciatica years ago, long gone", "past"),
    ("do squats cause sciatica?", "hypothetical"), ("maybe a bit tingly?", "uncertain"),
    ("feels like I got hit by a truck", "figurative"),
])
def test_a_finding_that_is_not_the_users_own_carries_its_context_as_the_role(text, role):
    [flag] = [e for e in run(text, "describe_symptom").get("entities") if e["entity"] == "red_flag"]
    assert flag["role"] == role


@pytest.mark.parametrize("text,intent,expected", [
    ("hey, my groin went numb after deadlifts", "greet", "describe_symptom"),            # warning sign wins
    ("yes and now I can't control my bladder", "affirm", "describe_symptom"),
    ("hi, my lower back is tight after rows", "greet", "describe_symptom"),              # region + sensation
    ("is numbness in the leg dangerous?", "ask_pump_dangerous", "ask_pump_dangerous"),  # a general question
    ("is a back pump dangerous", "ask_pump_dangerous", "ask_pump_dangerous"),
    ("my knee hurts after squats", "describe_symptom", "out_of_scope"),                  # only another body part
    ("my knee and lower back hurt", "describe_symptom", "describe_symptom"),
    ("thanks", "thank", "thank"),
    # a report phrased as a question is a report
    ("back's been aching since Tuesday, should I be worried?", "ask_general", "describe_symptom"),
    ("erectors are killing me after RDLs, can I still squat tomorrow?", "ask_prevent_soreness", "describe_symptom"),
    ("back is hurting after heavy squats, prob just doms right", "ask_general", "describe_symptom"),
    # someone else, the past, a general question: general information, no check
    ("asking for my dad, his back shoots down his leg since gardening", "describe_symptom", "ask_general"),
    ("do squats cause sciatica or is that just a bro myth", "describe_symptom", "ask_general"),
    ("a mate of mine had cauda equina, how common is that?", "describe_symptom", "ask_general"),
    ("How long does DOMS last in the lower back? Asking in general", "describe_symptom", "ask_general"),
    # nothing wrong, just curious: no check
    ("nah nothing wrong with me, just saw it on reddit", "describe_symptom", "just_asking"),
    ("its not me, my back is fine", "deny", "just_asking"),
    # ...but "just" in an answer is not "just asking"
    ("not really changing, it just hangs around", "just_asking", "describe_symptom"),
    ("my low back got tight and pumped during pulls, just wondering if I should change anything",
     "just_asking", "describe_symptom"),
])
def test_intent_correction(text, intent, expected):
    assert run(text, intent).get("intent")["name"] == expected


def test_button_payload_intents_are_left_alone():
    message = run("/restart", "restart", 1.0)
    assert message.get("entities", []) == [] and message.get("intent")["name"] == "restart"
