"""spaCy symptom extractor: a blank English pipeline built from code.

Pipeline: sentencizer -> spelling normaliser -> EntityRuler (lexicon.yml)
-> windowed NegEx. Numbers (severity, elapsed time) come from regexes in the
same lexicon. The output is a list of plain-dict findings; no Rasa here.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import spacy
import yaml
from negspacy.negation import Negex
from negspacy.termsets import termset
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.util import filter_spans

LEXICON_PATH = Path(__file__).parent / "patterns" / "lexicon.yml"
NEGATED = "negex"
IGNORED_LABEL = "ignore"
SEVERITY_PATTERNS = "severity"


@dataclass(frozen=True)
class Finding:
    """One thing the user said: kind (region, sensation, red_flag...), value, and whether it was negated."""

    kind: str
    value: str
    text: str
    start: int
    end: int
    negated: bool = False
    number: Optional[float] = None

    def as_dict(self) -> Dict:
        return asdict(self)


def load_lexicon(path: Path = LEXICON_PATH) -> Dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# --- pattern expansion -----------------------------------------------------

def _split_tokens(tokenizer, phrase: str) -> List[str]:
    return [t.norm_ for t in tokenizer(phrase.lower())]


def _expand(pattern: str, classes: Dict[str, List[str]], tokenizer) -> List[List[Dict]]:
    """Turn one lexicon phrase into spaCy token patterns (a list of alternatives)."""
    slots: List[List[List[Dict]]] = []  # per element: alternatives, each a token sequence
    for part in pattern.split():
        if part.startswith("{") and part.endswith("}"):
            entries = classes[part[1:-1]]
            single = [_split_tokens(tokenizer, e) for e in entries]
            one = sorted({toks[0] for toks in single if len(toks) == 1})
            alts = [[{"NORM": {"IN": one}}]] if one else []
            alts += [[{"NORM": t} for t in toks] for toks in single if len(toks) > 1]
            slots.append(alts)
        elif part.startswith("~"):
            slots.append([[{"IS_PUNCT": False, "OP": "?"}] * int(part[1:])])
        elif "|" in part:
            words = sorted({w for alt in part.split("|") for w in _split_tokens(tokenizer, alt)})
            slots.append([[{"NORM": {"IN": words}}]])
        elif part.endswith("?") and len(part) > 1:
            slots.append([[{"NORM": t, "OP": "?"} for t in _split_tokens(tokenizer, part[:-1])]])
        else:
            slots.append([[{"NORM": t} for t in _split_tokens(tokenizer, part)]])
    return [list(itertools.chain.from_iterable(combo)) for combo in itertools.product(*slots)]


def ruler_patterns(lexicon: Dict, tokenizer, labels: Optional[Iterable[str]] = None) -> List[Dict]:
    classes = lexicon.get("classes", {})
    patterns = []
    for label, values in lexicon["entities"].items():
        if labels is not None and label not in labels:
            continue
        for value, phrases in values.items():
            for phrase in phrases:
                for tokens in _expand(str(phrase), classes, tokenizer):
                    patterns.append({"label": label, "id": value, "pattern": tokens})
    return patterns


def vocabulary(lexicon: Dict, tokenizer) -> List[str]:
    words = set()
    for phrases in lexicon.get("classes", {}).values():
        for p in phrases:
            words.update(_split_tokens(tokenizer, p))
    for values in lexicon["entities"].values():
        for phrases in values.values():
            for p in phrases:
                words.update(w for w in _split_tokens(tokenizer, re.sub(r"[{}~|?\d]", " ", str(p))))
    return sorted(w for w in words if w.isalpha())


# --- spelling ---------------------------------------------------------------

def _within_one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance <= 1 (one insert, delete, substitute or swap)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:]


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


class SpellingNormaliser:
    """Maps near-miss spellings of lexicon words ("tingeling", "dedlift") onto them via token.norm_."""

    def __init__(self, words: Iterable[str], typos: Optional[Dict[str, str]] = None, min_length: int = 5,
                 min_substitution_length: int = 7):
        self.words = set(words)
        self.typos = dict(typos or {})
        self.min_length = min_length
        # a changed letter in a short word is often another real word ("fewer" is not "fever")
        self.min_substitution_length = min_substitution_length
        self.by_initial: Dict[str, List[str]] = {}
        for w in self.words:
            if len(w) >= min_length - 1:
                self.by_initial.setdefault(w[0], []).append(w)

    @lru_cache(maxsize=4096)
    def correct(self, word: str) -> Optional[str]:
        if word in self.typos:
            return self.typos[word]
        if word in self.words or len(word) < self.min_length or not word.isalpha():
            return None
        candidates = [c for c in self.by_initial.get(word[0], ()) if _within_one_edit(word, c)
                      and (len(c) != len(word) or len(word) >= self.min_substitution_length)]
        # ambiguous ("poped": popped or pooped?): the longest shared prefix wins, then the alphabet
        return min(candidates, key=lambda c: (-_shared_prefix(word, c), c), default=None)

    def __call__(self, doc: Doc) -> Doc:
        for token in doc:
            fixed = self.correct(token.lower_)
            if fixed:
                token.norm_ = fixed
        return doc


# --- negation ---------------------------------------------------------------

class WindowedNegex(Negex):
    """negspacy's NegEx with a reach limit; trailing negations ("bladder is fine") apply to red flags only."""

    def __init__(self, nlp, name, neg_termset, ent_types, extension_name, chunk_prefix, window, following_types):
        super().__init__(nlp, name, neg_termset, ent_types, extension_name, chunk_prefix)
        self.window = window
        self.following_types = set(following_types)

    def negex(self, doc: Doc) -> Doc:
        preceding, following, terminating = self.process_negations(doc)
        inside = {i for ent in doc.ents for i in range(ent.start, ent.end)}  # "can't" in "can't pee" is the finding
        preceding = [m for m in preceding if m[1] not in inside]
        for b_start, b_end in self.termination_boundaries(doc, terminating):
            pre = [(s, e) for _, s, e in preceding if b_start <= s < b_end]
            fol = [(s, e) for _, s, e in following if b_start <= s < b_end]
            chain_end = None  # a negated list ("no numbness, tingling or weakness") extends the reach
            for ent in doc[b_start:b_end].ents:
                reach = [s for s, e in pre if e <= ent.start and ent.start - e <= self.window]
                chained = chain_end is not None and ent.start - chain_end <= 3
                if reach or chained:
                    ent._.set(self.extension_name, True)
                    chain_end = ent.end
                elif ent.label_ in self.following_types and any(s >= ent.end and s - ent.end <= 4 for s, _ in fol):
                    ent._.set(self.extension_name, True)
        return doc


@Language.factory(
    "backcheck_negex",
    default_config={"neg_termset": {}, "window": 8, "following_types": ["red_flag"]},
)
def make_negex(nlp, name, neg_termset, window, following_types):
    return WindowedNegex(nlp, name, neg_termset, [], NEGATED, [], window, following_types)


def negation_termset(lexicon: Dict) -> Dict[str, List[str]]:
    base = termset("en").get_patterns()
    extra = lexicon.get("negation", {})
    merged = {}
    for key, more in (("pseudo_negations", "pseudo"), ("preceding_negations", "preceding"),
                      ("following_negations", "following"), ("termination", "termination")):
        merged[key] = sorted(set(base[key]) | set(extra.get(more, [])))
    return merged


# --- the extractor ----------------------------------------------------------

class SymptomExtractor:
    """Builds the pipeline once; `extract(text)` returns the findings of one message."""

    def __init__(self, lexicon: Optional[Dict] = None):
        self.lexicon = lexicon or load_lexicon()
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer", config={"punct_chars": [".", "!", "?", ";", "\n"]})
        self.normaliser = SpellingNormaliser(vocabulary(self.lexicon, nlp.tokenizer),
                                             self.lexicon.get("typos"))
        context = set(self.lexicon.get("context_labels", []))
        symptom_labels = [label for label in self.lexicon["entities"] if label not in context]
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": None, "validate": False})
        ruler.add_patterns(ruler_patterns(self.lexicon, nlp.tokenizer, symptom_labels))
        self.context_matcher = Matcher(nlp.vocab)
        for p in ruler_patterns(self.lexicon, nlp.tokenizer, context):
            self.context_matcher.add(f"{p['label']}|{p['id']}", [p["pattern"]])
        neg = self.lexicon.get("negation", {})
        nlp.add_pipe("backcheck_negex", config={"neg_termset": negation_termset(self.lexicon),
                                                "window": neg.get("window", 8)})
        self.nlp = nlp
        numeric = self.lexicon.get("numeric", {})
        self.severity_res = [re.compile(p, re.I) for p in numeric.get(SEVERITY_PATTERNS, [])]
        self.elapsed_res = [re.compile(p, re.I) for p in numeric.get("elapsed", [])]
        self.word_numbers = numeric.get("word_numbers", {})
        self.unit_days = numeric.get("unit_days", {})
        self.elapsed_ignore_before = re.compile(numeric.get("elapsed_ignore_before", "(?!)"), re.I)
        self.elapsed_ignore_after = re.compile(numeric.get("elapsed_ignore_after", "(?!)"), re.I)

    def doc(self, text: str) -> Doc:
        doc = self.nlp.make_doc(text)
        doc = self.normaliser(doc)
        for _, proc in self.nlp.pipeline:
            doc = proc(doc)
        return doc

    def extract(self, text: str) -> List[Finding]:
        text = (text or "").strip()
        if not text:
            return []
        doc = self.doc(text)
        findings = [
            Finding(ent.label_, ent.ent_id_, ent.text, ent.start_char, ent.end_char, bool(ent._.get(NEGATED)))
            for ent in doc.ents
            if ent.label_ != IGNORED_LABEL
        ]
        findings += self._context(doc)
        findings += self._numbers(text)
        return sorted(findings, key=lambda f: f.start)

    def _context(self, doc: Doc) -> List[Finding]:
        matches = self.context_matcher(doc)
        by_span = {(s, e): self.nlp.vocab.strings[m] for m, s, e in matches}
        spans = filter_spans([doc[s:e] for _, s, e in matches])
        found = []
        for span in spans:
            label, value = by_span[(span.start, span.end)].split("|")
            found.append(Finding(label, value, span.text, span.start_char, span.end_char))
        return found

    def _numbers(self, text: str) -> List[Finding]:
        found = []
        for rx in self.severity_res:
            for m in rx.finditer(text):
                value = float(m.group(1))
                if 0 <= value <= 10:
                    found.append(Finding("severity", "score", m.group(0), m.start(), m.end(), number=value))
            if found:
                break
        for rx in self.elapsed_res:
            for m in rx.finditer(text):
                if self.elapsed_ignore_before.search(text[:m.start()]) or self.elapsed_ignore_after.search(text[m.end():]):
                    continue
                count = m.group(1).lower()
                n = float(count) if count.isdigit() else float(self.word_numbers.get(count, 1))
                unit = m.group(2).lower().rstrip("s")
                days = n * float(self.unit_days.get(unit, 1))
                found.append(Finding("elapsed", "days", m.group(0).strip(), m.start(), m.end(), number=round(days, 2)))
        return found


@lru_cache(maxsize=1)
def default_extractor() -> SymptomExtractor:
    """The shared extractor, built on first use (never at import time)."""
    return SymptomExtractor()
