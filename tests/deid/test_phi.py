"""The de-identification gold set: fake PHI inserted into synthetic notes with exact spans, mentions still exact,
the generator's own output untouched."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from cancerllm.data.synth import synthesize
from cancerllm.data.synth.phi import PHI_TYPES, Identity, add_phi, synth_phi_notes


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6), st.floats(0, 0.05), st.booleans())
def test_phi_keeps_mention_spans_exact(seed, n, typo_rate, long_notes):
    notes = synthesize(n, seed, typo_rate=typo_rate, long_rate=0.5 if long_notes else 0.0)
    before = [note.model_dump_json() for note in notes]
    for note in notes:
        out = add_phi(note, seed)
        assert [m.text for m in out.mentions] == [m.text for m in note.mentions]
        assert all(out.text[m.start:m.end] == m.text for m in out.mentions)
        assert all(out.text[p["start"]:p["end"]] == p["text"] for p in out.phi)
        assert all(p["type"] in PHI_TYPES for p in out.phi)
        spans = sorted((p["start"], p["end"]) for p in out.phi)
        assert all(a[1] <= b[0] for a, b in pairwise(spans))  # disjoint
        # No generator placeholder survives ("Testperson, Alpha", "FAKE-0001234", "Dr. Zulu Fakedoc").
        assert not re.search(r"Testperson|Fakedoc|FAKE-\d", out.text)
    # add_phi never changes the generator's notes (the default synth output stays byte-identical).
    assert [note.model_dump_json() for note in notes] == before


def test_phi_covers_every_type_and_is_deterministic_per_patient():
    notes = synth_phi_notes(120, seed=0)
    assert set(Counter(p["type"] for n in notes for p in n.phi)) == set(PHI_TYPES)
    assert [n.model_dump_json() for n in synth_phi_notes(5, seed=0)] == [n.model_dump_json() for n in notes[:5]]
    # One patient, one identity: both notes of a paired patient carry the same MRN.
    by_patient: dict[str, set[str]] = {}
    for n in notes:
        by_patient.setdefault(n.patient_id, set()).update(p["text"] for p in n.phi if p["type"] == "MRN")
    assert all(len(mrns) == 1 for mrns in by_patient.values())
    # Ages over 89 only for the "old" identities, and only as the number before "-year-old"/"y/o"/"yo".
    for n in notes:
        for p in n.phi:
            if p["type"] == "AGE":
                assert Identity.draw(n.patient_id, 0).old and 90 <= int(p["text"]) <= 99
