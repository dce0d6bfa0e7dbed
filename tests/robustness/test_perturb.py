"""Perturbations: spans remapped exactly, seeded determinism (bytes), rates, letter-only typos, TCGA notes."""

from __future__ import annotations

import re

import pytest

from cancerllm.data.io import write_jsonl
from cancerllm.data.paths import data_root
from cancerllm.data.schema import Mention, Note
from cancerllm.data.synth import synthesize
from cancerllm.errors import CancerLLMError
from cancerllm.registry import perturbations
from cancerllm.robustness.perturb import PERTURBATION_NAMES


def _has_tcga() -> bool:
    try:
        return (data_root() / "tcga_path_reports" / "test.jsonl").is_file()
    except CancerLLMError:  # no data folder found
        return False


@pytest.fixture(scope="module")
def notes() -> list[Note]:
    return synthesize(30, seed=3)


def _check(orig: Note, new: Note) -> tuple[int, int]:
    """Assert every remapped span is exact; return (mentions kept verbatim, mentions whose text changed)."""
    kept = changed = 0
    assert len(orig.mentions) == len(new.mentions)
    for a, b in zip(orig.mentions, new.mentions):
        assert (a.type, a.value, a.assertion) == (b.type, b.value, b.assertion)
        assert new.text[b.start:b.end] == b.text
        if a.text == b.text:
            kept += 1
        else:
            changed += 1
    assert new.labels == orig.labels and new.diagnosis == orig.diagnosis
    return kept, changed


def test_perturb_registry_names():
    assert set(PERTURBATION_NAMES) <= set(perturbations.names())


@pytest.mark.parametrize("name", PERTURBATION_NAMES)
def test_perturb_spans_remapped_for_every_mention(notes, name):
    fn = perturbations.get(name)
    totals = [0, 0]
    for rate in (0.1, 0.5, 1.0):
        for n in notes:
            new = fn(n, rate, seed=1)
            kept, changed = _check(n, new)
            totals[0] += kept
            totals[1] += changed
    assert totals[0] > 0  # most mentions are untouched and keep their exact text...
    if name != "abbrev_swap.v1":
        assert totals[1] > 0  # ...and some were hit, with their text updated to the new characters


def test_perturb_clinical_mode_hits_mentions_more_than_keyboard(notes):
    def hit(name: str) -> int:
        fn = perturbations.get(name)
        return sum(_check(n, fn(n, 0.3, seed=0))[1] for n in notes)

    assert hit("typo.clinical.v1") > hit("typo.keyboard.v1")


def test_perturb_rate_zero_is_identity_and_rate_sets_edit_count(notes):
    n = notes[0]
    fn = perturbations.get("typo.keyboard.v1")
    assert fn(n, 0.0, seed=5).text == n.text
    words = [w for w in re.findall(r"[A-Za-z0-9]+(?:[-/][A-Za-z0-9]+)*", n.text) if sum(c.isalpha() for c in w) >= 3]
    _, log = fn.with_log(n, 0.5, seed=5)
    assert len(log) == round(0.5 * len(words))
    with pytest.raises(ValueError, match="rate"):
        fn(n, 1.5)


def test_perturb_typos_touch_letters_only(notes):
    fn = perturbations.get("typo.clinical.v1")
    for n in notes:
        new = fn(n, 1.0, seed=2)
        assert sorted(c for c in new.text if c.isdigit()) == sorted(c for c in n.text if c.isdigit())


def test_perturb_same_seed_same_bytes_other_seed_differs(tmp_path, notes):
    for name in PERTURBATION_NAMES:
        fn = perturbations.get(name)
        a = write_jsonl([fn(n, 0.3, seed=11) for n in notes], tmp_path / "a.jsonl").read_bytes()
        b = write_jsonl([fn(n, 0.3, seed=11) for n in notes], tmp_path / "b.jsonl").read_bytes()
        c = write_jsonl([fn(n, 0.3, seed=12) for n in notes], tmp_path / "c.jsonl").read_bytes()
        assert a == b, name
        assert a != c, name
    # a note's noise does not depend on the rest of the batch
    fn = perturbations.get("ocr.v1")
    assert fn(notes[4], 0.3, seed=1).text == [fn(n, 0.3, seed=1) for n in notes[3:6]][1].text


def test_perturb_abbrev_swap_variants_and_tnm_prefix():
    text = "HER2 positive by IHC. Stage pT2 N0 M0."
    n = Note(id="x", text=text, mentions=[Mention(type="stage_t", text="pT2", start=28, end=31, value="T2")])
    new = perturbations.get("abbrev_swap.v1")(n, 1.0, seed=0)
    assert "HER2 " not in new.text and "IHC" not in new.text
    m = new.mentions[0]
    assert m.text == "T2" and new.text[m.start:m.end] == "T2" and m.value == "T2"
    assert "pN0" in new.text and "pM0" in new.text


@pytest.mark.skipif(not _has_tcga(), reason="shared TCGA data absent")
def test_perturb_tcga_notes_spans_remapped():
    from cancerllm.data.corpora.tcga import load_tcga

    tcga = [n for n in load_tcga("test") if n.mentions][:25]
    changed = 0
    for name in PERTURBATION_NAMES:
        fn = perturbations.get(name)
        for n in tcga:
            changed += _check(n, fn(n, 0.3, seed=0))[1]
    assert changed > 0
