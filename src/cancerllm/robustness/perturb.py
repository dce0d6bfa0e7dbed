"""Seeded, deterministic text perturbations for the misspelling testbed, with gold spans remapped.

Registered in :data:`cancerllm.registry.perturbations` (``cancerllm ls``):

* ``typo.keyboard.v1``: a share ``rate`` of the words (3+ letters) gets one typo: keyboard-neighbour
  substitution, deletion, insertion of a neighbour key, or transposition ("carcinoma" -> "carcinima").
  Only letters are touched, so "pT2" never silently becomes "pT3".
* ``typo.clinical.v1``: the same typos on clinical words only: oncology terms ("lymphovascular"), abbreviations
  and every word inside a gold mention ("pT2a" -> "pR2a"). This is the mode that hits the extracted values.
* ``abbrev_swap.v1``: a share of the abbreviation / surface-variant occurrences is swapped for another variant
  of the same concept (HER2 <-> HER-2 <-> erbB2, "estrogen receptor" <-> "ER", TNM "pT2" <-> "T2").
* ``ocr.v1``: a share of the tokens gets an OCR-like confusion ("rn" -> "m", "0" -> "O", "l" -> "1"), a split
  ("carci noma") or a merge with the next word.

Each entry is called as ``fn(note, rate, seed=0) -> Note``. The random stream is seeded by (name, seed, note id),
so a note's perturbation does not depend on which other notes are in the batch, and a rerun gives the same bytes.
Labels and the diagnosis are never changed: they are the truth the model should still recover. Mentions are
moved with :class:`~cancerllm.robustness.edits.EditLog`; a mention whose characters were edited gets the new
surface ``text`` (its normalised ``value`` stays the gold value).

Example:
    >>> from cancerllm.data.schema import Mention, Note
    >>> note = Note(id="n1", text="Invasive ductal carcinoma, pT2 N0.",
    ...             mentions=[Mention(type="stage_t", text="pT2", start=27, end=30, value="T2")])
    >>> noisy = perturbations.get("typo.keyboard.v1")(note, rate=1.0, seed=0)
    >>> noisy.text != note.text, noisy.mentions[0].text
    (True, 'pT2')
    >>> m = noisy.mentions[0]; noisy.text[m.start:m.end]
    'pT2'
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cancerllm.data.schema import Mention, Note
from cancerllm.registry import perturbations
from cancerllm.robustness.edits import Edit, EditLog
from cancerllm.robustness.tables import CLINICAL_TERMS, KEYBOARD_NEIGHBOURS, OCR_CONFUSIONS, VARIANT_GROUPS

__all__ = ["PERTURBATION_NAMES", "Perturbation", "apply_log", "remap_mentions", "typo_edit"]

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*")
Planner = Callable[[Note, float, random.Random], list[Edit]]


def remap_mentions(mentions: Sequence[Mention], log: EditLog, new_text: str) -> list[Mention]:
    """Move each grounded mention through ``log``; an edited mention takes its new surface text.

    Example:
        >>> log = EditLog([Edit(0, 0, "Dx: ")])
        >>> g2 = Mention(type="grade", text="G2", start=6, end=8)
        >>> [(m.start, m.end) for m in remap_mentions([g2], log, "Dx: Grade G2")]
        [(10, 12)]
    """
    out = []
    for m in mentions:
        if m.start is None:  # inferred values have no span to move
            out.append(m.model_copy())
            continue
        s, e = log.map_span(m.start, m.end)
        text = new_text[s:e] if log.touches(m.start, m.end) else m.text
        out.append(m.model_copy(update={"start": s, "end": e, "text": text}))
    return out


def apply_log(note: Note, log: EditLog) -> Note:
    """A new Note with ``log`` applied to its text and its mentions remapped (labels untouched)."""
    new_text = log.apply(note.text)
    return note.model_copy(update={"text": new_text, "mentions": remap_mentions(note.mentions, log, new_text)})


def _case_like(src: str, new: str) -> str:
    return new.upper() if src.isupper() else new


def typo_edit(token: str, start: int, rng: random.Random) -> Edit | None:
    """One keyboard typo inside ``token`` (found at ``start``); letters only, case kept.

    Example:
        >>> e = typo_edit("tumor", 10, random.Random(1)); e.start >= 10 and e.end <= 15
        True
    """
    letters = [i for i, c in enumerate(token) if c.isalpha() and c.lower() in KEYBOARD_NEIGHBOURS]
    if not letters:
        return None
    ops = ["sub", "ins"] + (["del"] if len(token) > 1 else [])
    pairs = [i for i in letters if i + 1 < len(token) and token[i + 1].isalpha() and token[i + 1] != token[i]]
    if pairs:
        ops.append("swap")
    op = rng.choice(ops)
    if op == "swap":
        i = rng.choice(pairs)
        return Edit(start + i, start + i + 2, token[i + 1] + token[i])
    i = rng.choice(letters)
    c = token[i]
    near = _case_like(c, rng.choice(KEYBOARD_NEIGHBOURS[c.lower()]))
    if op == "sub":
        return Edit(start + i, start + i + 1, near)
    if op == "ins":  # a neighbour key struck just before this letter
        return Edit(start + i, start + i, near)
    return Edit(start + i, start + i + 1, "")


def _sample(items: list, rate: float, rng: random.Random) -> list:
    """Exactly round(rate * n) items, in text order: curves get the rate they ask for, not a noisy one."""
    k = min(len(items), round(rate * len(items)))
    return [items[i] for i in sorted(rng.sample(range(len(items)), k))]


def _plan_keyboard(note: Note, rate: float, rng: random.Random) -> list[Edit]:
    words = [m for m in _TOKEN.finditer(note.text) if sum(c.isalpha() for c in m.group()) >= 3]
    return [e for m in _sample(words, rate, rng) if (e := typo_edit(m.group(), m.start(), rng))]


def _is_clinical(tok: re.Match, spans: list[tuple[int, int]]) -> bool:
    word = tok.group()
    if word.lower() in CLINICAL_TERMS or (word.isupper() and len(word) >= 2 and any(c.isalpha() for c in word)):
        return True
    return any(tok.start() < e and tok.end() > s for s, e in spans)


def _plan_clinical(note: Note, rate: float, rng: random.Random) -> list[Edit]:
    spans = [(m.start, m.end) for m in note.mentions if m.start is not None]
    words = [m for m in _TOKEN.finditer(note.text) if any(c.isalpha() for c in m.group()) and _is_clinical(m, spans)]
    return [e for m in _sample(words, rate, rng) if (e := typo_edit(m.group(), m.start(), rng))]


def _variant_pattern() -> re.Pattern[str]:
    forms = sorted({f for g in VARIANT_GROUPS for f in g}, key=len, reverse=True)  # longest first
    alts = [re.escape(f) if f.upper() == f else "(?i:" + re.escape(f) + ")" for f in forms]
    return re.compile(r"(?<![\w-])(?:" + "|".join(alts) + r")(?![\w-])")


_VARIANTS = _variant_pattern()
_GROUP_OF = {f.lower() if f.upper() != f else f: g for g in VARIANT_GROUPS for f in g}
_TNM_PREFIX = re.compile(r"^(?:yp|p|c)(?=[TNM])")


def _plan_abbrev(note: Note, rate: float, rng: random.Random) -> list[Edit]:
    from cancerllm.knowledge.tnm import find_tnm

    cands: list[tuple[int, int, list[str]]] = []
    for m in _VARIANTS.finditer(note.text):
        f = m.group()
        group = _GROUP_OF.get(f) or _GROUP_OF.get(f.lower(), ())
        others = [g for g in group if g.lower() != f.lower()]
        if others:
            cands.append((m.start(), m.end(), [o[0].upper() + o[1:] if f[0].isupper() and o.islower() else o
                                               for o in others]))
    taken = [(s, e) for s, e, _ in cands]
    for _, s, e, _ in find_tnm(note.text):  # "pT2" <-> "T2": drop a prefix, or add the pathologic one
        tok = note.text[s:e]
        if any(s < b and e > a for a, b in taken) or " " in tok:
            continue
        pre = _TNM_PREFIX.match(tok)
        cands.append((s, e, [tok[pre.end():]] if pre else ["p" + tok]))
    cands.sort()
    return [Edit(s, e, rng.choice(opts)) for s, e, opts in _sample(cands, rate, rng)]


def _ocr_edit(tok: re.Match, text: str, rng: random.Random) -> Edit | None:
    word, start = tok.group(), tok.start()
    opts: list[Edit] = []
    for src, dst in OCR_CONFUSIONS:
        for m in re.finditer(re.escape(src), word):
            opts.append(Edit(start + m.start(), start + m.end(), dst))
    if len(word) >= 4:  # a space read inside a long word: "carci noma"
        cut = rng.randrange(2, len(word) - 1)
        opts.append(Edit(start + cut, start + cut, " "))
    if tok.end() < len(text) - 1 and text[tok.end()] == " " and text[tok.end() + 1].isalnum():
        opts.append(Edit(tok.end(), tok.end() + 1, ""))  # two words merged: "lymphnode"
    return rng.choice(opts) if opts else None


def _plan_ocr(note: Note, rate: float, rng: random.Random) -> list[Edit]:
    toks = [m for m in _TOKEN.finditer(note.text) if len(m.group()) >= 2]
    return [e for m in _sample(toks, rate, rng) if (e := _ocr_edit(m, note.text, rng))]


@dataclass(frozen=True)
class Perturbation:
    """A named planner of edits; calling it perturbs one note deterministically.

    Args:
        name: registry name, also part of the random seed.
        plan: ``plan(note, rate, rng) -> edits`` (non-overlapping).
    """

    name: str
    plan: Planner

    def with_log(self, note: Note, rate: float, seed: int = 0) -> tuple[Note, EditLog]:
        """The perturbed note and the edit log that produced it."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{self.name}: rate got {rate}, expected 0 <= rate <= 1")
        # A string seed is hashed with SHA-512 by `random`, so it is stable across processes and Python runs.
        rng = random.Random(f"{self.name}|{seed}|{note.id}")
        log = EditLog.record(note.text, self.plan(note, rate, rng) if rate > 0 else [])
        return apply_log(note, log), log

    def __call__(self, note: Note, rate: float, seed: int = 0) -> Note:
        return self.with_log(note, rate, seed)[0]


for _name, _plan in [("typo.keyboard.v1", _plan_keyboard), ("typo.clinical.v1", _plan_clinical),
                     ("abbrev_swap.v1", _plan_abbrev), ("ocr.v1", _plan_ocr)]:
    perturbations.register(_name)(Perturbation(_name, _plan))

PERTURBATION_NAMES = ("typo.keyboard.v1", "typo.clinical.v1", "abbrev_swap.v1", "ocr.v1")
