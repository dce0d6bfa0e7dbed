"""Non-LLM baselines for trial criteria (Chia): a train-mention gazetteer, a CRF, and relation rules.

They are the floor every model is compared to, and they write ``Prediction`` records (task ``trial``) scored by
``cancerllm evaluate --task trial``.

* **gazetteer** (``gazetteer.v1``): every train mention surface (lower-cased word tokens, at most
  ``MAX_TOKENS``) with its majority type; an entry is kept when, in train, the surface is annotated at least
  ``min_precision`` (0.2, chosen on dev) of the times it occurs as whole words (so "age" stays a Person only if annotators mostly
  marked it). Matching is whole-word, case-insensitive, longest first, left to right, without overlaps.
* **crf** (``crf.v1``): a linear-chain CRF (sklearn-crfsuite, BIO tags over word tokens, word/shape/affix/context
  features). Chia nests mentions; training keeps the longest mention where spans overlap.
* **relation rules** (``rules.v1``, used by both): each modifier mention (Value, Temporal, Qualifier, Negation,
  Mood, Multiplier) is attached to the nearest entity in its criterion line whose type heads that relation in
  train, looking first on the side where train puts the head ("HbA1c > 7%": a Value looks left; "no
  [seizures]": a Negation looks right). A Reference_point is attached to the nearest Temporal before it
  (``Has_index``). Heads of ``Has_negation`` / ``Has_mood`` get the assertion ``negated`` / ``possible``.

Example:
    >>> from cancerllm.data.schema import Mention, Note
    >>> train = [Note(id="t", text="HbA1c > 7%\\nno diabetes", mentions=[
    ...     Mention(type="Measurement", text="HbA1c", start=0, end=5), Mention(type="Value", text="> 7%", start=6,
    ...     end=10), Mention(type="Negation", text="no", start=11, end=13),
    ...     Mention(type="Condition", text="diabetes", start=14, end=22)],
    ...     relations=[{"type": "Has_value", "head": 0, "tail": 1}, {"type": "Has_negation", "head": 3, "tail": 2}])]
    >>> model = Gazetteer.fit(train)
    >>> pred = predict_note(Note(id="x", text="No diabetes; HbA1c > 7%"), model.find, RelationRules.fit(train))
    >>> [(m.type, m.text, m.assertion) for m in pred.mentions]
    [('Negation', 'No', 'present'), ('Condition', 'diabetes', 'negated'), ('Measurement', 'HbA1c', 'present'), ('Value', '> 7%', 'present')]
    >>> [(r.type, pred.mentions[r.head].text, pred.mentions[r.tail].text) for r in pred.relations]
    [('Has_negation', 'diabetes', 'No'), ('Has_value', 'HbA1c', '> 7%')]
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cancerllm.data.corpora.chia import criterion_lines
from cancerllm.data.schema import Mention, Note, Prediction, Relation
from cancerllm.knowledge.trial import MODIFIER_RELATIONS, assertion_of

__all__ = ["TRIAL_BASELINES", "Gazetteer", "RelationRules", "predict_note", "run_trial_baseline", "tokens"]

TRIAL_BASELINES = ("gazetteer", "crf", "gold-entities")
MAX_TOKENS = 8
_TOKEN = re.compile(r"\w+|[^\w\s]")
Span = tuple[int, int, str]  # (start, end, type)


def tokens(text: str) -> list[tuple[int, int]]:
    """Word and punctuation tokens as ``(start, end)``: "HbA1c>7%" -> HbA1c, >, 7, %."""
    return [(m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _key(text: str, toks: Sequence[tuple[int, int]]) -> tuple[str, ...]:
    return tuple(text[s:e].lower() for s, e in toks)


@dataclass
class Gazetteer:
    """Lower-cased token tuples -> entity type (majority over train mentions)."""

    entries: dict[tuple[str, ...], str] = field(default_factory=dict)

    @classmethod
    def fit(cls, notes: Sequence[Note], min_precision: float = 0.2) -> Gazetteer:
        """Build from train mentions; keep surfaces annotated in >= ``min_precision`` of their occurrences.

        0.2 was chosen on Chia dev (strict micro F1 0.454; 0.0 / 0.1 / 0.5 / 0.7 gave 0.321 / 0.435 / 0.411 /
        0.301): without the filter every "age" and "history" becomes a mention.
        """
        types: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for n in notes:
            for m in n.mentions:
                k = _key(m.text, tokens(m.text))
                if 0 < len(k) <= MAX_TOKENS:
                    types[k][m.type] += 1
        # How often each surface occurs as whole words at all, annotated or not: the denominator of its precision.
        seen: Counter = Counter()
        for n in notes:
            toks = tokens(n.text)
            low = [n.text[s:e].lower() for s, e in toks]
            for i in range(len(toks)):
                for j in range(i + 1, min(len(toks), i + MAX_TOKENS) + 1):
                    k = tuple(low[i:j])
                    if k in types:
                        seen[k] += 1
        entries = {}
        for k, c in types.items():
            if sum(c.values()) >= min_precision * max(1, seen[k]):
                # Majority type; ties by name so the table is the same on every run.
                entries[k] = min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        return cls(entries)

    def find(self, text: str) -> list[Span]:
        """Longest whole-word, case-insensitive, non-overlapping matches, left to right."""
        toks = tokens(text)
        low = [text[s:e].lower() for s, e in toks]
        out, i = [], 0
        while i < len(toks):
            for j in range(min(len(toks), i + MAX_TOKENS), i, -1):
                etype = self.entries.get(tuple(low[i:j]))
                if etype is not None:
                    out.append((toks[i][0], toks[j - 1][1], etype))
                    i = j
                    break
            else:
                i += 1
        return out


@dataclass
class RelationRules:
    """Per modifier relation: the entity types that head it in train and on which side the head usually is."""

    heads: dict[str, set[str]] = field(default_factory=dict)
    head_first: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def fit(cls, notes: Sequence[Note], min_share: float = 0.02) -> RelationRules:
        """Learn allowed head types (>= ``min_share`` of a relation's heads) and the usual head side."""
        head_types: dict[str, Counter] = defaultdict(Counter)
        before: dict[str, Counter] = defaultdict(Counter)
        for n in notes:
            for r in n.relations:
                h, t = n.mentions[r.head], n.mentions[r.tail]
                head_types[r.type][h.type] += 1
                before[r.type][h.start < t.start] += 1
        heads = {rt: {t for t, c in cnt.items() if c >= min_share * sum(cnt.values())}
                 for rt, cnt in head_types.items()}
        return cls(heads, {rt: c[True] >= c[False] for rt, c in before.items()})

    def relations(self, mentions: Sequence[Mention], lines: list[list[int]]) -> list[Relation]:
        """Attach every modifier mention to one head in its criterion line (see module docstring)."""
        line_of = [next((i for i, (s, e) in enumerate(lines) if s <= m.start < e), -1) for m in mentions]
        out = []
        for ti, tail in enumerate(mentions):
            rtype = "Has_index" if tail.type == "Reference_point" else MODIFIER_RELATIONS.get(tail.type)
            if rtype is None or rtype not in self.heads:
                continue
            cands = [hi for hi, h in enumerate(mentions)
                     if hi != ti and line_of[hi] == line_of[ti] and h.type in self.heads[rtype]]
            # Distance between the two spans; the usual side first, then the other.
            side = [hi for hi in cands if (mentions[hi].start < tail.start) == self.head_first[rtype]]
            pool = side or cands
            if pool:
                best = min(pool, key=lambda hi: (max(mentions[hi].start - tail.end, tail.start - mentions[hi].end),
                                                 hi))
                out.append(Relation(type=rtype, head=best, tail=ti))
        return out


def predict_note(note: Note, find: Callable[[str], list[Span]], rules: RelationRules,
                 name: str = "gazetteer.v1") -> Prediction:
    """Mentions from ``find``, relations from ``rules``, assertions from the negation/mood relations."""
    spans = sorted(find(note.text))
    mentions = [Mention(type=t, text=note.text[s:e], start=s, end=e) for s, e, t in spans]
    lines = getattr(note, "criteria", None) or criterion_lines(note.text)
    rels = rules.relations(mentions, lines)
    headed: dict[int, set[str]] = defaultdict(set)
    for r in rels:
        headed[r.head].add(r.type)
    for i, a in ((i, assertion_of(t)) for i, t in headed.items()):
        mentions[i] = mentions[i].model_copy(update={"assertion": a})
    return Prediction(id=note.id, task="trial", mentions=mentions, relations=rels,
                      meta={"baseline": name, "relations": "rules.v1"})


def run_trial_baseline(name: str, train: Path, input: Path, out: Path, normalize: bool = True) -> Path:
    """Fit ``gazetteer`` or ``crf`` on ``train`` (trial Note JSONL), predict ``input``, write ``out``.

    ``gold-entities`` takes the input's own gold mentions and predicts only relations and assertions: an oracle
    that measures the relation rules apart from entity errors.

    With ``normalize`` every Drug and gene/biomarker mention gets a concept (:mod:`cancerllm.knowledge.normalize`).
    """
    from cancerllm.data.io import read_notes_reporting, write_jsonl
    from cancerllm.errors import ConfigError

    if name not in TRIAL_BASELINES:
        raise ConfigError(f"baseline: got {name!r}, expected one of {list(TRIAL_BASELINES)} for trial criteria")
    train_notes = read_notes_reporting(train, "train")
    notes = read_notes_reporting(input, "input")
    rules = RelationRules.fit(train_notes)
    if name == "gazetteer":
        finders = [Gazetteer.fit(train_notes).find] * len(notes)
    elif name == "crf":
        from cancerllm.evaluate.trial_crf import CrfTagger

        finders = [CrfTagger.fit(train_notes).find] * len(notes)
    else:  # oracle entities: scores the relation rules alone (input must hold gold mentions)
        finders = [lambda _t, n=n: [(m.start, m.end, m.type) for m in n.mentions if m.start is not None]
                   for n in notes]
    tag = {"gazetteer": "gazetteer.v1", "crf": "crf.v1", "gold-entities": "gold-entities"}[name]
    preds = [predict_note(n, f, rules, tag) for n, f in zip(notes, finders)]
    if normalize:
        from cancerllm.knowledge.normalize import normalize_prediction

        for p in preds:
            normalize_prediction(p)
    return write_jsonl(preds, out)
