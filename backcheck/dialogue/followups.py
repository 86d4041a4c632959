"""After the verdict: answers for the user's own case, from `followups.yml` (pure, no Rasa).

A follow-up intent names a topic; the answer is that topic's text for the verdict's category. Before any
verdict, case-specific questions get a nudge to describe the back first.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, Optional

import yaml

FOLLOWUPS = Path(__file__).parent / "followups.yml"

# intent -> topic in followups.yml
TOPICS = {
    "ask_train": "train", "ask_ice_heat": "ice_heat", "ask_duration": "duration", "ask_stretches": "stretches",
    "ask_return": "return_heavy", "ask_why": "why", "ask_form": "form", "ask_professional": "professional",
    "ask_painkillers": "painkillers", "ask_where_emergency": "where_emergency", "report_better": "better",
    "report_worse": "worse", "affirm": "acknowledge", "thank": "thanks",
}
# answered the same whatever the verdict (and before one)
GENERAL = {"ask_warning_signs": "warning_signs", "smalltalk": "smalltalk"}
# intents that never answer an interview question ("yes" may answer the warning-sign question)
FOLLOWUP_INTENTS = (set(TOPICS) | set(GENERAL)) - {"affirm"}


@lru_cache(maxsize=1)
def followup_texts() -> Dict:
    with open(FOLLOWUPS, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def followup_answer(intent: str, category: Optional[str], evidence: Iterable[str] = ()) -> Optional[str]:
    """The answer to a follow-up for this verdict's category, or None when the intent is not a follow-up."""
    texts = followup_texts()
    if intent in GENERAL:
        return texts[GENERAL[intent]]
    topic = TOPICS.get(intent)
    if topic is None:
        return None
    if category is None:
        return None if intent == "report_worse" else texts["before_verdict"].get(topic, texts["before_verdict"]["any"])
    answer = (texts["topics"].get(topic) or texts[topic])[category]
    evidence = list(evidence)
    if topic == "why" and evidence:
        answer = f"{answer} {texts['evidence_intro']} {'; '.join(evidence)}."
    return answer
