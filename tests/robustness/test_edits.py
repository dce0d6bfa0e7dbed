"""EditLog: span mapping edge rules, inverse round trip, and a randomized span-preservation property."""

from __future__ import annotations

import random

import pytest

from cancerllm.robustness.edits import Edit, EditLog


def test_edits_map_span_rules_at_boundaries():
    text = "aa BBB cc"
    # insertion at a span start belongs to the span, at its end does not
    log = EditLog([Edit(3, 3, "x"), Edit(6, 6, "y")])
    new = log.apply(text)
    assert new == "aa xBBBy cc"
    s, e = log.map_span(3, 6)
    assert new[s:e] == "xBBB"
    # an edit straddling the span start widens the span to the whole replacement
    log = EditLog([Edit(2, 4, "ZZ")])
    s, e = log.map_span(3, 6)
    assert log.apply(text)[s:e] == "ZZBB"
    assert log.touches(3, 6) and not log.touches(7, 9)


def test_edits_reject_overlaps_and_out_of_range():
    with pytest.raises(ValueError, match="overlap"):
        EditLog([Edit(0, 3, "a"), Edit(2, 4, "b")])
    with pytest.raises(ValueError, match="overlap"):
        EditLog([Edit(1, 1, "a"), Edit(1, 1, "b")])
    with pytest.raises(ValueError, match="characters"):
        EditLog([Edit(5, 9, "")]).apply("abc")


def test_edits_inverse_restores_text_and_spans():
    old = "Invasive ductal carcinoma, pT2 N0."
    log = EditLog.record(old, [Edit(10, 11, ""), Edit(16, 16, "x"), Edit(27, 28, "R")])
    new = log.apply(old)
    assert log.inverse().apply(new) == old
    s, e = log.map_span(16, 25)
    assert log.inverse().map_span(s, e) == (16, 25)


def test_edits_random_untouched_spans_keep_their_text():
    rng = random.Random(7)
    for _ in range(300):
        text = "".join(rng.choice("ab cd") for _ in range(40))
        cuts = sorted(rng.sample(range(41), 6))
        edits = [Edit(cuts[i], cuts[i + 1] if rng.random() < 0.5 else cuts[i], rng.choice(["", "Q", "QQ"]))
                 for i in range(0, 6, 2)]
        log = EditLog.record(text, edits)
        new = log.apply(text)
        assert log.inverse().apply(new) == text
        for _ in range(10):
            s = rng.randrange(40)
            e = rng.randrange(s, 41)
            ns, ne = log.map_span(s, e)
            assert 0 <= ns <= ne <= len(new)
            if not log.touches(s, e):
                assert new[ns:ne] == text[s:e]
