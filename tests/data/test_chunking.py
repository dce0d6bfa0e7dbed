"""Chunking keeps its three promises with a real tokenizer: budget respected, every character covered, overlap kept.

The tokenizer is the tiny byte-level BPE of ``tests/conftest.py`` (real merges: "carcinoma" is a few tokens, a rare
letter string is one token per byte), so windows sized by an average characters-per-token ratio overflow it.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cancerllm.data.chunking import chunk_text
from cancerllm.data.instruct import token_counter

# Words the tiny BPE knows well, rare letter runs it spells byte by byte, TNM tokens, and separators.
WORDS = ["carcinoma", "invasive", "ductal", "grade", "lymph", "nodes", "pT2", "pN1a", "M0", "HER2", "negative",
         "xqzvkj", "QQQQ", "ÿéü", "日本", "3.2", "cm", "(pT3)", "1/14"]
SEPS = [" ", " ", " ", ". ", "; ", "\n", ", ", "", "  "]

notes = st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPS)), min_size=1, max_size=120).map(
    lambda parts: "".join(w + s for w, s in parts))
any_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=300)
HYPO = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@pytest.fixture(scope="module")
def count(tiny_tokenizer):
    return token_counter(tiny_tokenizer)


def _check(text, chunks, budget, overlap, count):
    """Every promise of chunk_text, asserted on one result."""
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for c in chunks:
        assert text[c.start:c.end] == c.text  # offsets exact
        assert count(c.text) <= budget, (c.start, c.end, count(c.text))  # budget measured with the tokenizer
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start < nxt.start <= prev.end < nxt.end  # in order, no gap, always progressing
        want = min(overlap, (prev.end - prev.start) // 2)
        if prev.end - nxt.start < want:  # only allowed when that overlap plus one new character cannot fit
            assert count(text[prev.end - want:prev.end + 1]) > budget


@HYPO
@given(text=notes, budget=st.integers(8, 80), overlap=st.integers(0, 60))
def test_chunking_clinical_text_keeps_budget_coverage_and_overlap(count, text, budget, overlap):
    _check(text, chunk_text(text, budget, count, overlap), budget, overlap, count)


@HYPO
@given(text=any_text, budget=st.integers(8, 40), overlap=st.integers(0, 40))
def test_chunking_any_unicode_keeps_budget_coverage_and_overlap(count, text, budget, overlap):
    _check(text, chunk_text(text, budget, count, overlap), budget, overlap, count)


def test_chunking_one_long_sentence_mixing_dense_and_rare_text_stays_in_budget(count):
    # No sentence boundary: the old code cut this piece into windows sized by the average chars/token, and the
    # windows over the rare-letter half held about twice the budget.
    text = "carcinoma " * 40 + "xqzvkjwpfh" * 40
    chunks = chunk_text(text, 50, count, overlap_chars=0)
    assert max(count(c.text) for c in chunks) <= 50
    assert "".join(c.text for c in chunks) == text


def test_chunking_a_tnm_token_cut_at_an_edge_is_seen_whole(count):
    # One sentence with no boundary: every edge falls inside the text, so some edge cuts a stage token; with an
    # overlap the token must still appear whole in some chunk.
    text = " ".join(f"pT{i % 4 + 1}N{i % 3}" for i in range(80))
    chunks = chunk_text(text, 40, count, overlap_chars=30)
    assert len(chunks) > 3
    for i in range(80):
        token = f"pT{i % 4 + 1}N{i % 3}"
        at = len(" ".join(f"pT{j % 4 + 1}N{j % 3}" for j in range(i))) + (1 if i else 0)
        assert text[at:at + len(token)] == token
        assert any(c.start <= at and at + len(token) <= c.end for c in chunks), token


def test_chunking_ends_at_sentence_boundaries_when_it_can(count):
    text = " ".join(f"Lymph node {i}: negative for carcinoma." for i in range(30))
    chunks = chunk_text(text, 60, count, overlap_chars=20)
    assert all(c.text[-2:] in (". ", ": ") or c.end == len(text) for c in chunks)
    _check(text, chunks, 60, 20, count)


def test_chunking_rejects_a_budget_no_character_fits(count):
    with pytest.raises(ValueError, match="offset 0"):
        chunk_text("日本" * 10, 1, count, overlap_chars=0)
    with pytest.raises(ValueError, match="overlap_chars"):
        chunk_text("abc", 5, count, overlap_chars=-1)


@pytest.fixture(scope="module")
def smollm2_count():
    """The embedded model's own tokenizer (49k BPE), when its converted folder is already cached (no conversion)."""
    from cancerllm.model.load import _EMBEDDED_DIRNAME, cache_root

    folder = cache_root() / "models" / _EMBEDDED_DIRNAME
    if not (folder / "tokenizer.json").is_file():
        pytest.skip("embedded model not converted yet (run any command with --model.path=embedded once)")
    from tokenizers import Tokenizer  # the fast tokenizer's own engine: same counts, loads in milliseconds

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return lambda s: len(tok.encode(s, add_special_tokens=False).ids)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=notes, budget=st.integers(8, 60), overlap=st.integers(0, 80))
def test_chunking_smollm2_tokenizer_keeps_the_promises(smollm2_count, text, budget, overlap):
    _check(text, chunk_text(text, budget, smollm2_count, overlap), budget, overlap, smollm2_count)


def test_chunking_real_tcga_reports_keep_the_promises(smollm2_count):
    import json

    from cancerllm.data.paths import dataset_dir, has_dataset

    if not has_dataset("tcga_path_reports"):
        pytest.skip("shared TCGA reports not present")
    lines = (dataset_dir("tcga_path_reports") / "test.jsonl").read_text(encoding="utf-8").splitlines()
    texts = sorted((json.loads(line)["text"] for line in lines if line.strip()), key=len)
    for text in texts[-4:]:  # the longest reports (11-16k characters), at a 128-token budget and 200-char overlap
        _check(text, chunk_text(text, 128, smollm2_count, 200), 128, 200, smollm2_count)
