"""After the verdict: answers for the user's own case, from `followups.yml` (pure, no Rasa).

A follow-up intent names a topic; the answer is that topic's text for the verdict's category. Before any
verdict, case-specific questions get a nudge to describe the back first.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

import yaml

FOLLOWUPS = Path(__file__).parent / "followups.yml"

# intent -> topic in followups.yml
TOPICS = {
    "ask_train": "train", "ask_ice_heat": "ice_heat", "ask_duration": "duration", "ask_stretches": "stretches",
    "ask_return": "return_heavy", "ask_why": "why", "ask_form": "form", "ask_professional": "professional",
    "ask_painkillers": "painkillers", "ask_where_emergency": "where_emergency", "report_better": "better",
    "report_worse": "worse", "ask_summary": "summary",
    "accept_checkin": "checkin",
}
# answered the same whatever the verdict (and before one)
GENERAL = {"ask_warning_signs": "warning_signs", "smalltalk": "smalltalk"}
# answers that already say "go now" after an emergency verdict
URGING = {"where_emergency", "worse", "train", "duration", "better"}
# intents that never answer an interview question on their own
FOLLOWUP_INTENTS = set(TOPICS) | set(GENERAL)


@lru_cache(maxsize=1)
def followup_texts() -> Dict:
    with open(FOLLOWUPS, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def followup_answer(intent: str, category: Optional[str], evidence: Iterable[str] = (),
                    trend: Optional[str] = None) -> Optional[str]:
    """The answer to a follow-up for this verdict's category, or None when the intent is not a follow-up.
    "Much better now - when can I squat heavy?" answers both: the news first, then the question."""
    texts = followup_texts()
    if intent in GENERAL:
        answer = texts[GENERAL[intent]]
        return f"{answer} {texts['emergency_reminder']}" if category == "emergency" else answer
    topic = TOPICS.get(intent)
    if topic is None:
        return None
    if category is None:
        return None if intent == "report_worse" else texts["before_verdict"].get(topic, texts["before_verdict"]["any"])
    answer = texts["topics"].get(topic, {}).get(category)  # the summary and the check-in are the action's
    if answer is None:
        return None
    news = {"improving": "better", "resolved": "better", "worsening": "worse"}.get(trend or "")
    if news and news != topic and topic in texts["topics"]:
        answer = f"{texts['topics'][news][category]} {answer}"
    evidence = list(evidence)
    if topic == "why" and evidence:
        answer = f"{answer} {texts['evidence_intro']} {'; '.join(evidence)}."
    if category == "emergency" and topic not in URGING:
        answer = f"{answer} {texts['emergency_reminder']}"
    return answer


def verdict_reply(verdict, previous: tuple, denied_now: Iterable[str]) -> str:
    """The verdict as a message: in full the first time or when it changed (saying so), else a short "got it"."""
    texts = followup_texts()
    if previous[0] and tuple(previous) == (verdict.category, verdict.urgency):
        denied = list(dict.fromkeys(denied_now))
        what = (": " + ", ".join(f"no {d}" for d in denied)) if denied else ""
        return texts["unchanged"].format(what=what, name=verdict.name, get_help=verdict.get_help)
    reply = verdict.as_markdown(previous=previous)
    offer = texts["offers"].get(verdict.urgency)
    return f"{reply}\n{offer}" if offer else reply


def _label(key: str, labels: Dict) -> str:
    return labels.get(key) or key.split(":", 1)[1].replace("_", " ")


def summary(case, verdict, labels: Dict, words: Optional[Dict[str, List[str]]] = None) -> str:
    """A plain-text summary to show a physio or doctor: what, when and how, how it feels, course, signs ruled out,
    and what was advised. `words` are the user's own words for a kind of finding (the exercises), where known."""
    texts = followup_texts()["summary"]
    words = words or {}

    def said(*kinds: str) -> str:
        found = [w for k in kinds for w in words.get(k, ())]
        found += [_label(k, labels) for k in case.present if k.split(":", 1)[0] in kinds and not words.get(k.split(":")[0])]
        return ", ".join(dict.fromkeys(found)) or texts["unknown"]

    course = [f"about {case.elapsed_days:g} days"] if case.elapsed_days else []
    course += [_label(k, labels) for k in case.present if k.startswith("trend:")]
    ruled_out = [f"no {_label(k, labels)}" for k in case.absent if k.startswith("red_flag:")]
    if not ruled_out and "screen:clear" in case.present:
        ruled_out = [labels["screen:clear"]]
    lines = [
        texts["title"],
        f"- {texts['what']}: back discomfort after training ({said('region')}); exercise: {said('exercise')}",
        f"- {texts['started']}: {said('onset')}" + (f"; likely causes: {said('cause')}" if case.values("cause") else ""),
        f"- {texts['feels']}: {said('sensation')}" + (f", {case.severity:g}/10" if case.severity is not None else ""),
        *([f"- {texts['signs']}: {said('red_flag')}"] if case.values("red_flag") else []),
        f"- {texts['course']}: {', '.join(course) or texts['unknown']}",
        f"- {texts['ruled_out']}: {', '.join(ruled_out) or texts['unknown']}",
        f"- {texts['advised']}: most likely {verdict.name} ({verdict.urgency_name}). {verdict.get_help}",
        texts["footer"],
    ]
    return "\n".join(lines)


def new_problem_preface(findings: Iterable[Mapping], labels: Dict) -> str:
    """"Okay - a separate problem (your upper back), so a fresh check for this one." """
    where = [_label(f"region:{f['value']}", labels) for f in findings if f["kind"] == "region" and f["context"] == "present"]
    return followup_texts()["new_problem"].format(where=f" (your {', '.join(dict.fromkeys(where))})" if where else "")
