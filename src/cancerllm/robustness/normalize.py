"""Mitigation: normalise noisy notes before prediction, and point the predictions back into the original note.

Three steps, each an edit of the text recorded in one :class:`~cancerllm.robustness.edits.EditLog`:

1. **Spelling correction** against a :class:`Lexicon` of word frequencies from the *training* corpus, SymSpell
   style (Garbe 2012): a dictionary of deletions finds every known word within Damerau-Levenshtein distance 1
   (distance 2 only for words of 8+ characters, towards a word seen 10+ times), and the closest, then most
   frequent one wins. "carinoma" -> "carcinoma", "pR2a" -> "pT2a" (the corpus' usual casing is restored).
   Digits never change ("pT3a" is not "corrected" to a commoner "pT2a"); a token with digits is corrected only
   when short (TNM-like, up to 5 characters) and one edit away; known words are left alone, so a real-word
   error ("from" -> "form") stays. Rare valid words can be "corrected" wrongly: the clean-text (rate 0) score
   of the mitigated curve measures that cost.
2. **Split repair**: "carci noma" -> "carcinoma" when the two pieces are unknown and their join is known.
3. **Surface variants** (HER-2, erbB2 -> the training corpus' most frequent spelling, e.g. HER2), and optionally
   abbreviation expansion with the oncology table (:func:`cancerllm.knowledge.abbreviations.expand`).

Predictions are made on the normalised text; :func:`restore_prediction` maps their spans through the inverse
log, so ``original[start:end]`` is what the user sees.

Example:
    >>> from cancerllm.data.schema import Note
    >>> lex = Lexicon.from_texts(["invasive ductal carcinoma pT2a HER2 positive"] * 3)
    >>> norm = Normalizer(lex)
    >>> note = Note(id="n", text="Invasive ductl carinoma, pR2a, HER-2 positive.")
    >>> fixed, log = norm.normalize(note)
    >>> fixed.text
    'Invasive ductal carcinoma, pT2a, HER2 positive.'
    >>> s, e = log.inverse().map_span(16, 25); note.text[s:e]
    'carinoma'
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from cancerllm.data.schema import Note, Prediction
from cancerllm.robustness.edits import Edit, EditLog
from cancerllm.robustness.perturb import _VARIANTS, apply_log, remap_mentions
from cancerllm.robustness.tables import KEYBOARD_NEIGHBOURS, VARIANT_GROUPS

__all__ = ["Lexicon", "Normalizer", "damerau_levenshtein", "restore_prediction"]

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_PREFIX = 7  # SymSpell prefix length: deletions are indexed on the first 7 characters only (memory / speed)


def damerau_levenshtein(a: str, b: str, limit: int = 2) -> int:
    """Optimal-string-alignment distance, returning ``limit + 1`` as soon as it exceeds ``limit``.

    Example:
        >>> damerau_levenshtein("carcinoma", "carcinmoa"), damerau_levenshtein("abc", "xyz")
        (1, 3)
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:  # every alignment is already too far
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def _deletes(word: str, depth: int) -> set[str]:
    out, frontier = {word}, {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        out |= frontier
    return out


def _far_key(typed: str, cand: str) -> int:
    """1 if ``typed`` is ``cand`` with one letter replaced by a key that is *not* its keyboard neighbour, else 0."""
    if len(typed) != len(cand):
        return 0
    diff = [(a, b) for a, b in zip(typed, cand) if a != b]
    if len(diff) != 1:
        return 0
    a, b = diff[0]
    return int(b not in KEYBOARD_NEIGHBOURS.get(a, ""))


class Lexicon:
    """Lower-case word counts from a training corpus, plus the corpus' preferred spelling of each variant group.

    Args:
        counts: word -> frequency (lower case).
        variants: variant form (as written) -> frequency, used to pick the canonical spelling.
        min_count: a correction must be seen at least this often (one-off OCR garbage is not a target). Any word
            seen in training, even once, counts as known and is never corrected.
    """

    def __init__(self, counts: dict[str, int], variants: dict[str, int] | None = None, min_count: int = 2,
                 forms: dict[str, str] | None = None):
        self.counts, self.variants, self.min_count = dict(counts), dict(variants or {}), min_count
        self.forms = dict(forms or {})
        """lower-case word -> its most frequent casing in the corpus ("pt2a" -> "pT2a")."""
        self._index: dict[str, list[str]] | None = None

    @classmethod
    def from_texts(cls, texts: Iterable[str], min_count: int = 2) -> Lexicon:
        surfaces: Counter[str] = Counter()
        variants: Counter[str] = Counter()
        for t in texts:
            surfaces.update(_TOKEN.findall(t))
            variants.update(m.group() for m in _VARIANTS.finditer(t))
        counts: Counter[str] = Counter()
        forms: dict[str, tuple[int, str]] = {}
        for w, c in sorted(surfaces.items()):  # sorted: ties between casings resolve the same way every run
            low = w.lower()
            counts[low] += c
            if c > forms.get(low, (0, ""))[0]:
                forms[low] = (c, w)
        return cls(dict(counts), dict(variants), min_count, {k: v[1] for k, v in forms.items()})

    @classmethod
    def from_notes(cls, notes: Iterable[Note], min_count: int = 2) -> Lexicon:
        """Build from training notes (never from the test notes: that would leak their spellings)."""
        return cls.from_texts((n.text for n in notes), min_count)

    def save(self, path: str | Path) -> Path:
        p = Path(path)
        p.write_text(json.dumps({"min_count": self.min_count, "counts": self.counts, "variants": self.variants,
                                 "forms": self.forms}, sort_keys=True))
        return p

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        d = json.loads(Path(path).read_text())
        return cls(d["counts"], d.get("variants"), d.get("min_count", 2), d.get("forms"))

    def known(self, word: str) -> bool:
        return word.lower() in self.counts

    def _build_index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for w, c in self.counts.items():
            if c >= self.min_count and any(ch.isalpha() for ch in w):
                for d in _deletes(w[:_PREFIX], 2):
                    index.setdefault(d, []).append(w)
        return index

    def suggest(self, word: str, max_distance: int = 2, min_count: int = 0) -> str | None:
        """The closest known word (then the most frequent), lower case; None if none is close enough.

        Example:
            >>> Lexicon({"tumor": 9, "tumors": 3}).suggest("tumro")
            'tumor'
        """
        if self._index is None:
            self._index = self._build_index()
        w = word.lower()
        digits = re.sub(r"\D", "", w)
        best: tuple[int, int, int, str] | None = None
        seen: set[str] = set()
        for d in sorted(_deletes(w[:_PREFIX], max_distance)):  # sorted: set order varies between processes
            for cand in self._index.get(d, ()):
                if cand in seen:
                    continue
                seen.add(cand)
                if re.sub(r"\D", "", cand) != digits or self.counts[cand] < min_count:  # numbers are data
                    continue
                dist = damerau_levenshtein(w, cand, max_distance)
                if dist > max_distance:
                    continue
                # Rank: fewest edits, then a plausible key slip ("b0" is "n0", not "m0"), then frequency, then name.
                key = (dist, _far_key(w, cand), -self.counts[cand], cand)
                if best is None or key < best:
                    best = key
        return best[3] if best else None

    def canonical(self, form: str) -> str | None:
        """The most frequent training spelling of ``form``'s variant group (None if the group is unseen)."""
        for group in VARIANT_GROUPS:
            if any(form.lower() == g.lower() for g in group):
                # Counts are per written form; "ADENOCARCINOMA" and "adenocarcinoma" are one member.
                seen = [(sum(c for v, c in self.variants.items() if v.lower() == g.lower()), -i, g)
                        for i, g in enumerate(group)]
                top = max(seen)
                return top[2] if top[0] > 0 else None
        return None


def _case_like(src: str, new: str, usual: str | None = None) -> str:
    """Case for a correction: SHOUTED stays shouted, a mixed-case corpus form ("pT2a", "HER2") is restored,
    else the source's capitalisation.

    Example:
        >>> _case_like("EGATIVE", "negative"), _case_like("p2a", "pt2a", "pT2a"), _case_like("Tumro", "tumor")
        ('NEGATIVE', 'pT2a', 'Tumor')
    """
    letters = [c for c in src if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return new.upper()
    if usual and usual not in (usual.lower(), usual.upper(), usual.capitalize()):
        return usual
    return new[0].upper() + new[1:] if src[0].isupper() else new


_NEGATING_PREFIXES = ("a", "in", "un", "im", "ir", "il", "non", "dis", "anti")


def _drops_negation(word: str, fix: str) -> bool:
    """True for a "fix" that deletes a negating prefix: "insignificant" -> "significant" flips the meaning.

    Example:
        >>> _drops_negation("insignificant", "significant"), _drops_negation("carinoma", "carcinoma")
        (True, False)
    """
    return word.endswith(fix) and word[:len(word) - len(fix)] in _NEGATING_PREFIXES


class Normalizer:
    """Spelling correction + split repair + variant canonicalisation (+ optional abbreviation expansion).

    Args:
        lexicon: built from the training notes.
        min_length: shorter words are never corrected (too many near neighbours: "no" / "on" / "nd"); tokens
            with a digit are corrected from 2 characters ("B0" -> "N0").
        expand_abbreviations: also replace table abbreviations by their context-chosen expansion. Off by
            default: a model tuned on the raw notes reads "ER" better than a text it never saw.
    """

    def __init__(self, lexicon: Lexicon, min_length: int = 3, expand_abbreviations: bool = False):
        self.lexicon, self.min_length, self.expand_abbreviations = lexicon, min_length, expand_abbreviations

    def _word_edits(self, text: str) -> list[Edit]:
        edits: list[Edit] = []
        toks = list(_TOKEN.finditer(text))
        skip = -1
        for i, m in enumerate(toks):
            if i <= skip:
                continue
            word = m.group()
            if self.lexicon.known(word) or not any(c.isalpha() for c in word):
                continue
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            # Split repair first: "carci noma" is two unknown pieces of one known word.
            if nxt is not None and nxt.start() == m.end() + 1 and text[m.end()] == " " \
                    and not self.lexicon.known(nxt.group()) and self.lexicon.known(word + nxt.group()):
                edits.append(Edit(m.end(), m.end() + 1, ""))
                skip = i + 1
                continue
            has_digit = any(c.isdigit() for c in word)
            # Short words have too many neighbours ("no"/"on"), but a 2-character TNM token ("B0" for "N0") has
            # one digit that must stay, which leaves few candidates. Long alphanumerics are codes, not typos.
            if len(word) < (2 if has_digit else self.min_length) or (has_digit and len(word) > 5):
                continue
            far = len(word) >= 8 and not has_digit
            fix = self.lexicon.suggest(word, 2 if far else 1)
            if fix is not None and damerau_levenshtein(word.lower(), fix) == 2:
                fix = self.lexicon.suggest(word, 2, min_count=10)  # a distance-2 fix needs a well-attested word
            if fix is not None and fix != word.lower() and not _drops_negation(word.lower(), fix):
                edits.append(Edit(m.start(), m.end(), _case_like(word, fix, self.lexicon.forms.get(fix))))
        return edits

    def _variant_edits(self, text: str, taken: list[Edit]) -> list[Edit]:
        out = []
        for m in _VARIANTS.finditer(text):
            canon = self.lexicon.canonical(m.group())
            if canon and canon.lower() != m.group().lower() and not any(e.start < m.end() and e.end > m.start() for e in taken):
                out.append(Edit(m.start(), m.end(), canon))
        return out

    def _abbrev_edits(self, text: str, taken: list[Edit]) -> list[Edit]:
        from cancerllm.knowledge.abbreviations import ABBREVIATIONS, expand

        out = []
        for m in _TOKEN.finditer(text):
            if m.group() in ABBREVIATIONS and not any(e.start < m.end() and e.end > m.start() for e in taken):
                context = text[max(0, m.start() - 80):m.end() + 80]  # about a sentence either side
                exp = expand(m.group(), context)
                if exp:
                    out.append(Edit(m.start(), m.end(), exp))
        return out

    def edits(self, text: str) -> EditLog:
        """The log of every normalisation edit of ``text`` (spelling first; variants only on untouched words)."""
        edits = self._word_edits(text)
        edits += self._variant_edits(text, edits)
        if self.expand_abbreviations:
            edits += self._abbrev_edits(text, edits)
        return EditLog.record(text, edits)

    def normalize(self, note: Note) -> tuple[Note, EditLog]:
        """The normalised note (gold mentions remapped) and the log that maps it back."""
        log = self.edits(note.text)
        return apply_log(note, log), log


def restore_prediction(pred: Prediction, log: EditLog, original_text: str) -> Prediction:
    """Map a prediction made on normalised text back onto ``original_text`` (spans and surface text).

    Example:
        >>> from cancerllm.data.schema import Mention
        >>> log = EditLog.record("pR2a", [Edit(1, 2, "T")])
        >>> p = Prediction(id="n", task="phenotype", mentions=[Mention(type="stage_t", text="pT2a", start=0, end=4)])
        >>> restore_prediction(p, log, "pR2a").mentions[0].text
        'pR2a'
    """
    if not log:
        return pred
    inv = log.inverse()
    mentions = remap_mentions(pred.mentions, inv, original_text)
    # remap_mentions keeps the text of untouched spans; edited ones take the original characters.
    return pred.model_copy(update={"mentions": mentions})
