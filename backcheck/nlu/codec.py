"""Findings <-> Rasa entity dicts. Shared by the NLU component and the actions; no Rasa imports.

A finding that is not the user's own present symptom carries its context as the entity role
(denied, past, hypothetical, other_person, figurative, uncertain).
"""
from typing import Dict, Iterable, List, Mapping

EXTRACTOR = "SymptomExtractor"
PRESENT = "present"
DENIED_ROLE = "denied"
NUMERIC_KINDS = {"severity", "elapsed"}


def to_entity(finding: Mapping) -> Dict:
    numeric = finding["kind"] in NUMERIC_KINDS
    entity = {
        "entity": finding["kind"],
        "value": finding["number"] if numeric else finding["value"],
        "start": finding["start"],
        "end": finding["end"],
        "confidence_entity": 1.0,
        "extractor": EXTRACTOR,
    }
    context = finding.get("context") or (DENIED_ROLE if finding.get("negated") else PRESENT)
    if context != PRESENT:
        entity["role"] = context
    return entity


def from_entities(entities: Iterable[Mapping]) -> List[Dict]:
    """The findings carried by one message's entities (other extractors' entities are skipped)."""
    findings = []
    for e in entities or ():
        if e.get("extractor") != EXTRACTOR:
            continue
        numeric = e["entity"] in NUMERIC_KINDS
        context = e.get("role") or PRESENT
        findings.append({
            "kind": e["entity"],
            "value": "number" if numeric else e["value"],
            "number": e["value"] if numeric else None,
            "context": context,
            "negated": context == DENIED_ROLE,
        })
    return findings
