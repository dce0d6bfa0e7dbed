"""Synthetic oncology notes with exact gold spans, assertions, ICD-10-CM diagnoses and TNM labels.

Each patient is first drawn as a coherent *case* (cancer type, site, side, histology, grade, TNM, size,
biomarkers gated by type, treatments gated by biomarkers, metastases, outcomes, distractor history) and then
written as one or two notes of different kinds: pathology, progress, discharge, radiology, trial. Text is built
piece by piece, so every gold mention's span is known exactly; typos are applied afterwards to plain words only
(never to mentions, assertion cues or fake identifiers).

Clinical semantics the generator encodes (and the tests check):

* "No evidence of hepatic metastases."            -> metastasis_site "hepatic" = liver, negated
* "Pulmonary metastasis cannot be excluded."      -> metastasis_site, possible
* "History of stage I melanoma (pT1a N0), s/p WLE" -> historical; never a label of today's cancer
* "Mother had breast cancer at 52."               -> cancer_diagnosis BRCA, family
* ``labels`` are the present T/N/M of the current cancer only.

Determinism: one ``random.Random(seed)`` drives everything (no global random, no clock, no set order), so the
same seed and version give the same bytes.

Example:
    >>> notes = synthesize(3, seed=1)
    >>> [n.id for n in notes]
    ['synth-000000', 'synth-000001', 'synth-000002']
    >>> all(n.text[m.start:m.end] == m.text for n in notes for m in n.mentions)
    True
"""

from __future__ import annotations

import hashlib
import random
import re
from pathlib import Path

from cancerllm.data.schema import Diagnosis, Mention, Note
from cancerllm.data.synth import notes as _notes
from cancerllm.data.synth.case import Case, make_case
from cancerllm.data.synth.vocab import NOTE_KINDS
from cancerllm.errors import ConfigError
from cancerllm.knowledge.values import labels_from_mentions

__all__ = ["SYNTH_VERSION", "Doc", "split_of", "synthesize", "write_synth"]

SYNTH_VERSION = "synth.v1"
_PAIR_RATE = 0.2  # share of patients written as two notes of different kinds
_TYPO_WORD = re.compile(r"[A-Za-z]{4,}")
_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


class Doc:
    """A note under construction: a list of pieces whose kind decides what typos may touch.

    Example:
        >>> d = Doc()
        >>> d.t("Tumor size: "); d.m("tumor_size", "23 mm", "2.3 cm"); d.t(".")
        >>> text, mentions, phi = d.render(random.Random(0), typo_rate=0.0)
        >>> text, text[mentions[0].start:mentions[0].end]
        ('Tumor size: 23 mm.', '23 mm')
    """

    def __init__(self) -> None:
        self.parts: list[tuple[str, str, tuple]] = []  # (text, kind, payload)

    def t(self, *texts: str) -> None:
        """Plain text (typos allowed)."""
        self.parts.extend((x, "plain", ()) for x in texts if x)

    def cue(self, text: str) -> None:
        """An assertion cue ("no evidence of"): protected from typos so the cue stays recognisable."""
        self.parts.append((text, "cue", ()))

    def m(self, etype: str, text: str, value: str, assertion: str = "present") -> None:
        """A gold mention."""
        self.parts.append((text, "mention", (etype, value, assertion)))

    def phi(self, kind: str, text: str) -> None:
        """A fake identifier (name, mrn, date): protected, recorded with its span."""
        self.parts.append((text, "phi", (kind,)))

    def __len__(self) -> int:
        return sum(len(p[0]) for p in self.parts)

    def render(self, rng: random.Random, typo_rate: float) -> tuple[str, list[Mention], list[dict]]:
        """Join the pieces; return text, mentions and PHI spans with exact offsets."""
        out: list[str] = []
        mentions: list[Mention] = []
        phi: list[dict] = []
        pos = 0
        for text, kind, payload in self.parts:
            if kind == "plain" and typo_rate > 0:
                text = _TYPO_WORD.sub(lambda w: _typo(w.group(0), rng) if rng.random() < typo_rate else w.group(0),
                                      text)
            if kind == "mention":
                etype, value, assertion = payload
                mentions.append(Mention(type=etype, text=text, start=pos, end=pos + len(text), value=value,
                                        assertion=assertion))
            elif kind == "phi":
                phi.append({"type": payload[0], "text": text, "start": pos, "end": pos + len(text)})
            out.append(text)
            pos += len(text)
        return "".join(out), mentions, phi


def _typo(word: str, rng: random.Random) -> str:
    """One keyboard-style error inside the word (first letter kept, so capitalised headers stay readable)."""
    i = rng.randrange(1, len(word) - 1)
    op = rng.randrange(4)
    if op == 0:  # transposition
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if op == 1:  # deletion
        return word[:i] + word[i + 1:]
    if op == 2:  # doubled letter
        return word[:i] + word[i] + word[i:]
    sub = _KEYBOARD[(_KEYBOARD.find(word[i].lower()) + 1) % len(_KEYBOARD)]  # neighbouring key, roughly
    return word[:i] + (sub.upper() if word[i].isupper() else sub) + word[i + 1:]


def split_of(patient_id: str) -> str:
    """Deterministic 80/10/10 split from the patient id (same patient, same split, whatever the seed).

    Example:
        >>> split_of("FAKE-PT-00042") == split_of("FAKE-PT-00042")
        True
        >>> split_of("FAKE-PT-00001") in ("train", "dev", "test")
        True
    """
    bucket = int(hashlib.sha256(patient_id.encode()).hexdigest(), 16) % 10
    return "train" if bucket < 8 else ("dev" if bucket == 8 else "test")


def _check_args(n: int, typo_rate: float, long_rate: float) -> None:
    problems = []
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        problems.append(f"--n: got {n!r}, expected an integer >= 1 (number of notes)")
    for flag, rate in (("--typo-rate", typo_rate), ("--long-rate", long_rate)):
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0.0 <= rate <= 1.0:
            problems.append(f"{flag}: got {rate!r}, expected a number in [0, 1]")
    if problems:
        raise ConfigError(problems)


def _note(index: int, case: Case, kind: str, rng: random.Random, typo_rate: float, long_rate: float) -> Note:
    doc = Doc()
    long_note = rng.random() < long_rate
    with_phi = rng.random() < 0.4
    _notes.WRITERS[kind](doc, case, rng, long_note=long_note, with_phi=with_phi)
    text, mentions, phi = doc.render(rng, typo_rate)
    note = Note(id=f"synth-{index:06d}", text=text, patient_id=case.patient_id, kind=kind,
                cancer_type=case.cancer.code, split=split_of(case.patient_id), mentions=mentions,
                diagnosis=Diagnosis(text=case.diagnosis_text, icd10=case.icd10, cancer_type=case.cancer.code),
                labels=labels_from_mentions(mentions), phi=phi, generator=SYNTH_VERSION)
    note.check_spans()  # cheap; a broken span here is a generator bug, never a user error
    return note


def synthesize(n: int, seed: int, typo_rate: float = 0.0, long_rate: float = 0.1) -> list[Note]:
    """Generate ``n`` synthetic notes in memory.

    Args:
        n: Number of notes (>= 1).
        seed: Random seed; same seed and version give identical notes.
        typo_rate: Per-word typo probability in plain words (never inside mentions, cues or fake identifiers).
        long_rate: Fraction of notes padded with history, exam, labs and visit narrative into long notes.

    Returns:
        Notes ``synth-000000`` ... with gold mentions, diagnosis, labels and extra fields ``phi`` (fake identifier
        spans) and ``generator``.

    Raises:
        ConfigError: ``n`` < 1 or a rate outside [0, 1] (names the CLI flag).

    Example:
        >>> note = synthesize(1, seed=7)[0]
        >>> note.kind in ("pathology", "progress", "discharge", "radiology", "trial"), note.split is not None
        (True, True)
    """
    _check_args(n, typo_rate, long_rate)
    rng = random.Random(seed)
    notes: list[Note] = []
    patient = 0
    while len(notes) < n:
        patient += 1
        case = make_case(random.Random(rng.getrandbits(64)), patient)
        # Some patients get a second note of another kind: same case, so same labels and same split.
        count = 2 if rng.random() < _PAIR_RATE and n - len(notes) >= 2 else 1
        kinds = rng.sample(case.kinds, count)
        for kind in kinds:
            notes.append(_note(len(notes), case, kind, random.Random(rng.getrandbits(64)), typo_rate, long_rate))
    return notes


def write_synth(n: int, seed: int, out: Path, typo_rate: float = 0.0, long_rate: float = 0.1) -> Path:
    """Generate ``n`` notes and write them as Note JSONL to ``out`` (parent folders created).

    Example:
        >>> import tempfile
        >>> from cancerllm.data.io import read_notes
        >>> path = write_synth(5, seed=0, out=Path(tempfile.mkdtemp()) / "synth.jsonl")
        >>> len(read_notes(path))
        5
    """
    from cancerllm.data.io import write_jsonl

    return write_jsonl(synthesize(n, seed, typo_rate=typo_rate, long_rate=long_rate), Path(out))


assert set(_notes.WRITERS) == set(NOTE_KINDS)
