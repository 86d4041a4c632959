"""spaCy symptom extractor: a blank English pipeline built from code.

Pipeline: sentencizer -> spelling normaliser -> EntityRuler (lexicon.yml)
-> medspaCy ConText (context.yml), which gives every finding its context: present, denied, past, hypothetical,
someone else's, figurative or uncertain. Numbers (severity, elapsed time) come from regexes in the same lexicon;
a duration counts only inside a clause about the discomfort. The output is a list of findings; no Rasa here.
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
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.util import filter_spans

from backcheck.nlu.codec import DENIED_ROLE as DENIED, PRESENT
from backcheck.nlu.context import COMPONENT as CONTEXT_COMPONENT, ContextReader, load_rules

LEXICON_PATH = Path(__file__).parent / "patterns" / "lexicon.yml"
IGNORED_LABEL = "ignore"
SEVERITY_PATTERNS = "severity"
GAP_STOPS = ["no", "not", "n't", "nt", "never", "nothing", "without", "none", "nor", "but", "except", "apart", "besides",
             "though", "although", "however"]


@dataclass(frozen=True)
class Finding:
    """One thing the user said: kind (region, sensation, red_flag...), value, and its context (present, denied...)."""

    kind: str
    value: str
    text: str
    start: int
    end: int
    context: str = PRESENT
    number: Optional[float] = None

    @property
    def negated(self) -> bool:
        return self.context == DENIED

    def as_dict(self) -> Dict:
        return {**asdict(self), "negated": self.negated}


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
            # a gap never swallows punctuation or a negation ("legs no numb" is not numb legs)
            slots.append([[{"IS_PUNCT": False, "LOWER": {"NOT_IN": GAP_STOPS}, "OP": "?"}] * int(part[1:])])
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


@Language.component("backcheck_drop_ignored")
def drop_ignored(doc: Doc) -> Doc:
    doc.ents = [e for e in doc.ents if e.label_ != IGNORED_LABEL]
    return doc


# --- the extractor ----------------------------------------------------------

class SymptomExtractor:
    """Builds the pipeline once; `extract(text)` returns the findings of one message."""

    def __init__(self, lexicon: Optional[Dict] = None):
        self.lexicon = lexicon or load_lexicon()
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer", config={"punct_chars": [".", "!", "?", ";", "\n", "...", "…"]})
        self.normaliser = SpellingNormaliser(vocabulary(self.lexicon, nlp.tokenizer),
                                             self.lexicon.get("typos"))
        context = set(self.lexicon.get("context_labels", []))
        symptom_labels = [label for label in self.lexicon["entities"] if label not in context]
        ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": None, "validate": False})
        ruler.add_patterns(ruler_patterns(self.lexicon, nlp.tokenizer, symptom_labels))
        self.context_matcher = Matcher(nlp.vocab)
        for p in ruler_patterns(self.lexicon, nlp.tokenizer, context):
            self.context_matcher.add(f"{p['label']}|{p['id']}", [p["pattern"]])
        nlp.add_pipe("backcheck_drop_ignored")  # false friends win the match, then free their words for ConText
        nlp.add_pipe(CONTEXT_COMPONENT)
        self.context_of = ContextReader(load_rules())
        self.nlp = nlp
        numeric = self.lexicon.get("numeric", {})
        self.severity_res = [re.compile(p, re.I) for p in numeric.get(SEVERITY_PATTERNS, [])]
        self.elapsed_res = [re.compile(p, re.I) for p in numeric.get("elapsed", [])]
        self.word_numbers = numeric.get("word_numbers", {})
        self.unit_days = numeric.get("unit_days", {})
        self.elapsed_ignore_before = re.compile(numeric.get("elapsed_ignore_before", "(?!)"), re.I)
        self.elapsed_ignore_after = re.compile(numeric.get("elapsed_ignore_after", "(?!)"), re.I)
        self.clause_break = re.compile(numeric.get("clause_break", "(?!)"), re.I)
        self.other_timeline = re.compile(numeric.get("other_timeline", "(?!)"), re.I)
        self.symptom_anchor = re.compile(numeric.get("symptom_anchor", "(?!)"), re.I)

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
            Finding(ent.label_, ent.ent_id_, ent.text, ent.start_char, ent.end_char, self.context_of(ent))
            for ent in doc.ents
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
                if (self.elapsed_ignore_before.search(text[:m.start()]) or self.elapsed_ignore_after.search(text[m.end():])
                        or not self._symptom_clause(text, m.start(), m.end())):
                    continue
                count = m.group(1).lower()
                n = float(count) if count.isdigit() else float(self.word_numbers.get(count, 1))
                unit = m.group(2).lower().rstrip("s") if m.lastindex >= 2 else "day"
                days = n * float(self.unit_days.get(unit, 1))
                found.append(Finding("elapsed", "days", m.group(0).strip(), m.start(), m.end(), number=round(days, 2)))
        return found


    def _symptom_clause(self, text: str, start: int, end: int) -> bool:
        """Is this duration the discomfort's? Not when its clause is about the programme, a break or a meet."""
        left = max((m.end() for m in self.clause_break.finditer(text, 0, start)), default=0)
        right = next((m.start() for m in self.clause_break.finditer(text, end)), len(text))
        clause = text[left:right]
        return not self.other_timeline.search(clause) or bool(self.symptom_anchor.search(clause))


@lru_cache(maxsize=1)
def default_extractor() -> SymptomExtractor:
    """The shared extractor, built on first use (never at import time)."""
    return SymptomExtractor()
