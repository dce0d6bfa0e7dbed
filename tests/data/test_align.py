"""align: whole-word grounding of quoted text, nearest free occurrence, code-point offsets (unit + properties)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cancerllm.data.align import align, align_all


def test_align_er_is_not_found_inside_her2():
    text = "HER2 negative. ER positive"
    assert align(text, "ER") == (15, 17)
    assert align("HER2 negative", "ER") is None
    assert align("her2 negative", "ER") is None  # case-insensitive strategy is whole-word too
    assert align("HER-2 / HER 2; SHERPA", "er") is None  # and so is the loose one


def test_align_no_is_not_found_inside_not():
    assert align("NOT identified", "NO") is None
    assert align("NOT identified; pT2 NO MX", "NO") == (20, 22)


def test_align_packed_tnm_tokens_count_as_words():
    # "pT2N1M0" packs three tokens of the staging grammar: each can be quoted on its own.
    text = "Final: pT2N1M0."
    assert [align(text, t) for t in ("pT2", "N1", "M0", "T2", "pT2N1M0")] == [
        (7, 10), (10, 12), (12, 14), (8, 10), (7, 14)]
    assert align("T12 vertebra", "T1") is None  # not a TNM token, so no word edge inside "T12"


def test_align_prefers_the_nearest_free_occurrence():
    text = "pT2 pN0. ER positive. Summary: pT2 pN0."
    assert align(text, "pT2", after=11) == (0, 3)  # listed out of order: nearest is the first, not the repeat
    assert align(text, "pT2", after=11, taken={(0, 3)}) == (31, 34)  # used already: the other one
    assert align(text, "pT2", after=30) == (31, 34)
    assert align(text, "pT2", taken={(0, 3), (31, 34)}) is None


def test_align_accept_skips_rejected_spans_and_falls_through_strategies():
    text = "No tumor. pT2 NO MX"
    assert align(text, "NO") == (14, 16)  # exact beats case-insensitive
    assert align(text, "no", accept=lambda s, e: s > 5) == (14, 16)
    assert align(text, "NO", accept=lambda s, e: False) is None


def test_align_strategies_in_order():
    text = "Infiltrating   ductal\ncarcinoma, PT2"
    assert align_all(text, "ductal carcinoma") == [(15, 31)]
    assert align_all(text, "pt2") == [(33, 36)]
    assert align_all(text, "  ") == [] and align_all(text, "") == []


def test_align_offsets_are_code_points():
    text = "Résumé 🧬: carcinome canalaire — pT2"
    s, e = align(text, "pT2")
    assert text[s:e] == "pT2" and s == len("Résumé 🧬: carcinome canalaire — ")


# --------------------------------------------------------------------------- properties

_WORD = re.compile(r"\w")


def _whole_word(text: str, i: int, j: int) -> bool:
    """text[i:j] cuts no word at either end (written here independently of the module)."""
    def cut(a: str, b: str) -> bool:
        return bool(_WORD.match(a) and _WORD.match(b))
    return not (i > 0 and cut(text[i - 1], text[i])) and not (j < len(text) and cut(text[j - 1], text[j]))


_ALPHABET = st.sampled_from(list("abcABC xyz.,-()\n\tÉé ß𝔘漢字0123") + ["pT2", "N0", "ER", "HER2", "NO"])
texts = st.lists(_ALPHABET, max_size=40).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts, st.data())
def test_align_property_whole_word_substring_is_found_exactly(text, data):
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    phrase = text[i:j]
    if not phrase.strip() or phrase != phrase.strip() or not _whole_word(text, i, j):
        return  # hypothesis: only whole-word occurrences without outer whitespace are promised
    span = align(text, phrase)
    assert span is not None
    assert text[span[0]:span[1]] == phrase


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.text(max_size=12), st.integers(-5, 80))
def test_align_property_never_raises_and_returns_a_real_span(text, phrase, after):
    span = align(text, phrase, after=after)
    assert span is None or 0 <= span[0] < span[1] <= len(text)
    for s, e in align_all(text, phrase):
        assert 0 <= s < e <= len(text)
        # Word edges are only relaxed at packed TNM tokens ("pT2N1"), which need a T/N/M letter in the text.
        assert _whole_word(text, s, e) or re.search("[TNM]", text)


@settings(max_examples=200, deadline=None)
@given(texts, st.data())
def test_align_property_taken_spans_are_never_returned(text, data):
    i = data.draw(st.integers(0, len(text)))
    j = data.draw(st.integers(i, len(text)))
    phrase = text[i:j].strip()
    spans = align_all(text, phrase)
    taken = set(data.draw(st.lists(st.sampled_from(spans), unique=True))) if spans else set()
    got = align(text, phrase, after=data.draw(st.integers(0, len(text) + 1)), taken=taken)
    assert got is None or got not in taken
    if not set(spans) <= taken:
        assert got is not None  # a free occurrence exists, so one is returned
