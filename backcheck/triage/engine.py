"""BackCheck triage engine: pure Python, no Rasa.

It turns the findings of a whole conversation (dicts with kind, value,
negated, number) into a Case, tells which interview questions are still
open, and gives a Verdict. The decision table and the texts are data files in
`knowledge/`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

import yaml

KNOWLEDGE = Path(__file__).parent / "knowledge"
QUESTIONS = ("onset", "sensation", "course", "screen")
SCREEN_CLEAR = "screen:clear"
SCREEN_UNCLEAR = "screen:unclear"  # asked twice, still no clear answer: the warning signs are not ruled out
PRESENT, DENIED, UNCERTAIN = "present", "denied", "uncertain"


def _load(name: str) -> Dict:
    with open(KNOWLEDGE / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@dataclass
class Case:
    """What is known so far: keys like "sensation:tight" that are present, denied or uncertain.

    Only the user's own findings count: past, hypothetical, someone else's and figurative ones are left out.
    A correction wins ("actually it wasn't the next day"): the latest word on a finding counts, except that a
    warning sign once said stays (the dialogue clears it only after a clear no to a plain question about it).
    """

    present: List[str] = field(default_factory=list)
    absent: List[str] = field(default_factory=list)
    uncertain: List[str] = field(default_factory=list)
    severity: Optional[float] = None
    elapsed_days: Optional[float] = None

    @classmethod
    def from_findings(cls, findings: Iterable[Mapping]) -> "Case":
        case = cls()
        where = {PRESENT: case.present, DENIED: case.absent, UNCERTAIN: case.uncertain}
        trend_turn: Dict[str, int] = {}
        for f in findings:
            key = f"{f['kind']}:{f['value']}"
            context = f.get("context") or (DENIED if f.get("negated") else PRESENT)
            if f["kind"] == "severity" and f.get("number") is not None:
                case.severity = float(f["number"])
            elif f["kind"] == "elapsed" and f.get("number") is not None:
                case.elapsed_days = max(case.elapsed_days or 0.0, float(f["number"]))
            elif context in where and key not in where[context]:
                if context == DENIED and key in case.present and f["kind"] != "red_flag":
                    case.present.remove(key)  # corrected
                if context == PRESENT and f["kind"] == "trend":  # a later message's trend replaces earlier ones
                    turn = f.get("turn", 0)
                    case.present[:] = [k for k in case.present if not (k.startswith("trend:") and trend_turn[k] < turn)]
                    trend_turn[key] = turn
                where[context].append(key)
        # Something said outright outweighs an earlier denial or doubt of it.
        case.absent = [k for k in case.absent if k not in case.present]
        case.uncertain = [k for k in case.uncertain if k not in case.present and k not in case.absent]
        return case

    def has(self, key: str) -> bool:
        return key in self.present or any(k.startswith(key + ":") for k in self.present)

    def values(self, kind: str) -> List[str]:
        return [k.split(":", 1)[1] for k in self.present if k.startswith(kind + ":")]


@dataclass
class Verdict:
    category: str
    urgency: str
    name: str
    summary: str
    evidence: List[str]
    steps: List[str]
    get_help: str
    persistent: bool
    disclaimer: str
    urgency_name: str = ""

    def as_markdown(self, previous: tuple = (None, None)) -> str:
        lines = []
        if previous[0] and tuple(previous) != (self.category, self.urgency):
            lines.append(f"_Updated with what you've told me: this now looks like {self.name} - {self.urgency_name}._")
        lines.append(f"**Most likely: {self.name}.** {self.summary}")
        if self.evidence:
            lines.append(f"**Why I think so:** {'; '.join(self.evidence)}")
        lines.append("**What to do now:**")
        lines += [f"- {s}" for s in self.steps]
        lines.append(f"**When to get help:** {self.get_help}")
        lines.append(f"_{self.disclaimer}_")
        return "\n".join(lines)


class TriageEngine:
    def __init__(self, table: Optional[Dict] = None, advice: Optional[Dict] = None):
        self.table = table or _load("decision_table.yml")
        self.advice = advice or _load("advice.yml")
        self.flag_tier = {flag: tier for tier, flags in self.table["red_flags"].items() for flag in flags}

    # --- interview ---------------------------------------------------------
    def red_flags(self, case: Case) -> List[str]:
        return [v for v in case.values("red_flag") if v in self.flag_tier]

    def screen_groups(self, case: Case) -> List[str]:
        """The warning-sign groups this case must be screened for: the usual ones, plus the chest after upper or
        mid back pain and the urine after an extreme workout or extreme soreness."""
        screen = self.table["screen"]
        return [g for g in screen["groups"]
                if g in screen["always"] or any(case.has(k) for k in screen["ask_when"].get(g, ()))]

    def screen_gaps(self, case: Case) -> List[str]:
        """Warning-sign groups not yet ruled out: denying numbness says nothing about the bladder."""
        if SCREEN_CLEAR in case.present or SCREEN_UNCLEAR in case.present or self.red_flags(case):
            return []
        denied = {k.split(":", 1)[1] for k in case.absent if k.startswith("red_flag:")}
        doubted = {k.split(":", 1)[1] for k in case.uncertain if k.startswith("red_flag:")}
        groups = self.table["screen"]["groups"]
        return [g for g in self.screen_groups(case) if not (denied & set(groups[g])) or doubted & set(groups[g])]

    def screened(self, case: Case) -> bool:
        return not self.screen_gaps(case)

    def course_known(self, case: Case) -> bool:
        """Duration and trend matter unless known, or unless it is a pump or fatigue of the session itself."""
        if (case.elapsed_days is None and self.leading(case) == "doms" and case.has("trend:worsening")
                and not case.has("trend:peaking")):
            return False  # worse DOMS: which day it is decides between its peak and real worsening
        if case.elapsed_days is not None or case.values("trend"):
            return True
        in_session = any(case.has(k) for k in self.table["interview"]["in_session"])
        return in_session and self.leading(case) in self.table["interview"]["session_categories"]

    def answered(self, case: Case, question: str) -> bool:
        if question == "screen":
            return self.screened(case)
        if question == "course":
            return self.course_known(case)
        return any(case.has(k) for k in self.table["interview"][question])

    def open_questions(self, case: Case) -> List[str]:
        """The interview questions still needed; none once a red flag is known."""
        if self.red_flags(case):
            return []
        return [q for q in QUESTIONS if not self.answered(case, q)]

    # --- verdict -----------------------------------------------------------
    def evidence_keys(self, case: Case) -> List[str]:
        """What was said, plus "severity:high" for a high pain score."""
        keys = list(case.present)
        if case.severity is not None and case.severity >= self.table["severity"]["high"]:
            keys.append("severity:high")
        return keys

    def scores(self, case: Case) -> Dict[str, float]:
        scores: Dict[str, float] = {c: 0.0 for c in self.table["tie_break"]}
        for key in self.evidence_keys(case):
            for cat, w in (self.table["weights"].get(key) or {}).items():
                scores[cat] += float(w)
        return scores

    def classify(self, case: Case) -> str:
        tiers = {self.flag_tier[f] for f in self.red_flags(case)}
        for tier in ("emergency", "nerve_involvement"):
            if tier in tiers:
                return tier
        return self.leading(case)

    def leading(self, case: Case) -> str:
        """The best-scoring self-limiting category or acute injury, warning signs aside."""
        scores = self.scores(case)
        best = max(scores.values())
        if best <= 0:
            return self.table["default_category"]
        return next(c for c in self.table["tie_break"] if scores[c] == best)

    def worsening(self, case: Case) -> bool:
        """Getting worse; but worse in the first days of DOMS is its normal peak ("worse today than yesterday"
        says it is early days; plain "getting worse" needs the day known to be early)."""
        peak = self.table["doms_peak"]
        worse = any(case.has(k) for k in self.table["escalate_if"])
        peaking = any(case.has(k) for k in peak["trends"])
        if not (worse or peaking):
            return False
        early = case.elapsed_days is not None and case.elapsed_days <= peak["days"]
        in_peak = self.leading(case) == "doms" and (early or (peaking and case.elapsed_days is None))
        return not in_peak

    def persistent(self, case: Case) -> bool:
        lasting = (case.elapsed_days or 0) >= self.table["persistent_days"] and not case.has("trend:resolved")
        return lasting or self.worsening(case)

    def urgency(self, case: Case, category: str) -> str:
        urgency = self.table["urgency"][category]
        order = self.table["urgencies"]
        if category == "acute_injury" and (
            (case.severity or 0) >= self.table["severity"]["urgent"] or any(case.has(k) for k in self.table["urgent_if"])
        ):
            urgency = "urgent"
        if self.persistent(case) and order.index(urgency) < order.index("see_professional"):
            urgency = "see_professional"
        if SCREEN_UNCLEAR in case.present and order.index(urgency) < order.index("urgent"):
            urgency = "urgent"
        return urgency

    def evidence(self, case: Case, category: str) -> List[str]:
        labels = self.table["labels"]
        weights = self.table["weights"]
        if category in self.table["red_flags"]:
            keys = [f"red_flag:{f}" for f in self.red_flags(case) if self.flag_tier[f] == category]
        else:  # what points to this category most: "right after training" is no evidence for DOMS
            keys = [k for k in self.evidence_keys(case)
                    if (weights.get(k) or {}).get(category) and weights[k][category] == max(weights[k].values())]
        said = [labels[k] for k in keys if k in labels]
        if case.severity is not None:
            said.append(f"{case.severity:g}/10")
        if self.persistent(case):
            said.append(f"{case.elapsed_days:g} days" if (case.elapsed_days or 0) >= self.table["persistent_days"]
                        else labels["trend:worsening"])
        denied = [labels[k] for k in case.absent if k.startswith("red_flag:") and k in labels]
        if SCREEN_UNCLEAR in case.present:
            said.append(labels[SCREEN_UNCLEAR])
        elif denied:
            said.append(", ".join("no " + d for d in dict.fromkeys(denied)))
        elif SCREEN_CLEAR in case.present:
            said.append(labels[SCREEN_CLEAR])
        return said

    def assess(self, findings: Iterable[Mapping]) -> Verdict:
        case = Case.from_findings(findings)
        category = self.classify(case)
        urgency = self.urgency(case, category)
        text = self.advice["categories"][category]
        steps = list(text["steps"])
        if category not in self.table["red_flags"]:
            steps += [self.advice["causes"][c] for c in case.values("cause") if c in self.advice["causes"]]
        get_help = self.advice["get_help"][urgency]
        if SCREEN_UNCLEAR in case.present and category not in self.table["red_flags"]:
            get_help = self.advice["screen_unclear"]
        persistent = self.persistent(case)
        if persistent and category not in self.table["red_flags"]:
            get_help = f"{self.advice['persistent']} {get_help}"
        return Verdict(category, urgency, text["name"], text["summary"], self.evidence(case, category), steps,
                       get_help, persistent, self.advice["disclaimer"], self.advice["urgency_names"][urgency])


@lru_cache(maxsize=1)
def default_engine() -> TriageEngine:
    return TriageEngine()
