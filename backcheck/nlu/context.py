"""Finding context with medspaCy's ConText: present, denied, past, hypothetical, someone else's, figurative, uncertain.

The rules live in `patterns/context.yml`. No Rasa here.
"""

import itertools
import re
from pathlib import Path
from typing import Callable, Dict, List, Optional

import yaml
from medspacy.context import ConText, ConTextRule
from spacy.language import Language

from backcheck.nlu.codec import PRESENT
from spacy.tokens import Span

CONTEXT_PATH = Path(__file__).parent / "patterns" / "context.yml"
COMPONENT = "backcheck_context"


def load_rules(path: Path = CONTEXT_PATH) -> Dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _expand(phrase: str, classes: Dict[str, List[str]]) -> List[str]:
    parts = re.split(r"(\{[A-Z_]+\})", phrase)
    options = [classes[p[1:-1]] if p.startswith("{") else [p] for p in parts]
    return ["".join(combo) for combo in itertools.product(*options)]


def _only_if(pattern: Optional[str]) -> Optional[Callable[[Span, Span, Span], bool]]:
    if not pattern:
        return None
    rx = re.compile(pattern)
    return lambda target, modifier, between: bool(rx.search(target.text))


def context_rules(config: Dict) -> List[ConTextRule]:
    """The ConTextRule objects of the data file (one per phrase)."""
    classes = config.get("classes", {})
    default_scope = config.get("max_scope")
    rules = []
    for group in config["rules"]:
        direction = group["direction"]
        # a terminator needs a small scope of its own: medspaCy 1.1.6 only sees scopes that overlap at an edge
        scoped = direction not in ("TERMINATE", "PSEUDO")
        types = group.get("allowed_types")
        options = dict(
            direction=direction,
            max_scope=group.get("max_scope", default_scope) if scoped else 1,
            allowed_types={t.upper() for t in types} if types else None,
            terminated_by=group.get("terminated_by"),
            on_modifies=_only_if(group.get("only_if")),
        )
        literals = [lit for phrase in group.get("phrases", ()) for lit in _expand(str(phrase), classes)]
        rules += [ConTextRule(lit, group["category"], **options) for lit in literals]
        rules += [ConTextRule(str(p), group["category"], pattern=p, **options) for p in group.get("patterns", ())]
    # medspaCy keys rules by their literal: a phrase in two groups would silently keep only one
    seen = set()
    duplicates = {r.literal for r in rules if r.literal in seen or seen.add(r.literal)}
    if duplicates:
        raise ValueError(f"context rules repeat these phrases: {sorted(duplicates)}")
    return rules


@Language.factory(COMPONENT, default_config={"path": str(CONTEXT_PATH)})
def make_context(nlp: Language, name: str, path: str) -> ConText:
    context = ConText(nlp, name=name, rules=None, span_attrs=None, prune_on_target_overlap=True)
    context.add(context_rules(load_rules(Path(path))))
    return context


class ContextReader:
    """Reads a span's ConText modifiers as one finding context, by the data file's priority."""

    def __init__(self, config: Dict):
        self.categories: Dict[str, str] = config["categories"]
        self.rank = {ctx: i for i, ctx in enumerate(config["priority"])}

    def __call__(self, span: Span) -> str:
        found = [self.categories[m.category] for m in span._.modifiers if m.category in self.categories]
        return min(found, key=self.rank.__getitem__, default=PRESENT)
