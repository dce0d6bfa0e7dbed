"""Counterfactual label noise: exact counts, valid and different labels, consistent mentions and diagnosis."""

from __future__ import annotations

import pytest

from cancerllm.data.icd import TCGA_PROJECTS, diagnosis_for
from cancerllm.data.schema import Diagnosis, Mention, Note
from cancerllm.errors import ConfigError
from cancerllm.robustness.label_noise import LABEL_SPACE, noise_labels


def _notes(n: int = 40) -> list[Note]:
    out = []
    for i in range(n):
        t = f"T{1 + i % 4}"
        out.append(Note(id=f"n{i}", text=f"Stage p{t} N0.", cancer_type="BRCA" if i % 2 else "LUAD",
                        labels={"t_stage": t, "n_stage": "N0" if i % 5 else None, "m_stage": None},
                        diagnosis=diagnosis_for("BRCA" if i % 2 else "LUAD"),
                        mentions=[Mention(type="stage_t", text=f"p{t}", start=6, end=9, value=t),
                                  Mention(type="stage_n", text="N0", start=10, end=12, value="N0")]))
    return out


def test_label_noise_flips_exact_share_to_other_valid_labels():
    notes = _notes()
    noisy, report = noise_labels(notes, 0.25, seed=0, fields=("t_stage", "n_stage"))
    assert report["t_stage"] == {"eligible": 40, "flipped": 10, "with_mentions": 10}
    assert report["n_stage"]["eligible"] == 32 and report["n_stage"]["flipped"] == 8
    flipped = [(a, b) for a, b in zip(notes, noisy) if a.labels["t_stage"] != b.labels["t_stage"]]
    assert len(flipped) == 10
    for a, b in flipped:
        assert b.labels["t_stage"] in LABEL_SPACE["t_stage"]
        # the stage mention's value moves with the label, its span and text stay
        assert b.mentions[0].value == b.labels["t_stage"] and b.mentions[0].text == a.mentions[0].text
        assert b.meta["label_noise"]["t_stage"] == a.labels["t_stage"]
    assert all(n.labels["n_stage"] in (None, "N0") for n in notes)  # the input is not modified


def test_label_noise_cancer_type_changes_diagnosis_consistently():
    notes = _notes(20)
    noisy, report = noise_labels(notes, 0.5, seed=3, fields=("cancer_type",))
    assert report["cancer_type"]["flipped"] == 10
    changed = [b for a, b in zip(notes, noisy) if a.cancer_type != b.cancer_type]
    assert len(changed) == 10
    for b in changed:
        assert b.cancer_type in TCGA_PROJECTS
        assert b.diagnosis == diagnosis_for(b.cancer_type)
        assert isinstance(b.diagnosis, Diagnosis) and b.diagnosis.icd10


def test_label_noise_deterministic_and_seed_dependent():
    notes = _notes()
    a, _ = noise_labels(notes, 0.3, seed=1)
    b, _ = noise_labels(notes, 0.3, seed=1)
    c, _ = noise_labels(notes, 0.3, seed=2)
    dump = lambda ns: [n.model_dump_json() for n in ns]
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)
    zero, rep = noise_labels(notes, 0.0)
    assert dump(zero) == dump(notes) and rep["t_stage"]["flipped"] == 0


def test_label_noise_rejects_bad_rate_and_field():
    with pytest.raises(ConfigError) as err:
        noise_labels(_notes(2), 1.5, fields=("grade",))
    assert len(err.value.problems) == 2
