"""Noise-aware augmentation: originals + perturbed copies with remapped spans and unchanged labels."""

from __future__ import annotations

import pytest

from cancerllm.data.synth import synthesize
from cancerllm.errors import ConfigError
from cancerllm.robustness.augment import augment_notes


def test_augment_adds_perturbed_copies_with_valid_spans():
    notes = synthesize(6, seed=1)
    out = augment_notes(notes, ["typo.clinical.v1", "ocr.v1"], rates=[0.2, 0.4], copies=2, seed=0)
    assert len(out) == 18 and [n.id for n in out[:6]] == [n.id for n in notes]
    copies = out[6:]
    assert {n.id for n in copies} == {f"{n.id}#aug{k}" for n in notes for k in range(2)}
    assert sum(c.text != notes[i // 2].text for i, c in enumerate(copies)) >= 10
    for i, c in enumerate(copies):
        src = notes[i // 2]
        assert c.labels == src.labels and c.diagnosis == src.diagnosis
        for m in c.mentions:
            assert c.text[m.start:m.end] == m.text


def test_augment_rejects_unknown_perturbation():
    with pytest.raises(ConfigError, match="typo.nope"):
        augment_notes(synthesize(1, 0), ["typo.nope.v1"])
