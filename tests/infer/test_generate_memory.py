"""Memory bounds of hf inference (issue 13, peak RSS <= 1 GB): token-budgeted batches, heap trimming, lazy tables.

Batches are cut by padded prompt tokens (rows x longest prompt) as well as by rows, so prefill activations and the
KV cache stay bounded whatever the prompts; greedy outputs must not change (left padding keeps them exact).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cancerllm.data.instruct import prompt_token_ids
from cancerllm.infer.generate import generate, token_batches

PROMPTS = ["pT2 N0 M0.", "Invasive ductal carcinoma of the left breast, grade 2, measuring 2.3 cm in size.",
           "HER2", "Lymph nodes: 0/12 involved. Margins free.", "ER positive, PR positive, Ki-67 20%."]


def _record_prefills(model):
    """Shapes of the first forward of each generate call (the prefill: the whole padded batch)."""
    shapes: list[tuple[int, int]] = []
    orig = model.generate

    def wrapped(*args, **kwargs):
        shapes.append(tuple(kwargs["input_ids"].shape))
        return orig(*args, **kwargs)

    model.generate = wrapped
    return shapes


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 3000), max_size=40), st.integers(1, 16), st.integers(1, 8000))
def test_token_batches_respect_rows_and_token_budget(lengths, batch_size, budget):
    batches = token_batches(lengths, batch_size, budget)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))  # every prompt exactly once
    for b in batches:
        assert 1 <= len(b) <= batch_size
        # Padded size within budget, unless one prompt alone is longer than the budget.
        assert len(b) * max(lengths[i] for i in b) <= budget or len(b) == 1
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(flat)  # shortest first: neighbours in a batch pad little


def test_token_batches_without_a_budget_cut_by_rows_only():
    assert token_batches([5, 1, 3, 2, 4], batch_size=2) == [[1, 3], [2, 4], [0]]


def test_generate_batches_stay_within_the_token_budget_and_match_unbatched(tiny_model, tiny_tokenizer):
    lengths = [len(prompt_token_ids(tiny_tokenizer, p)) for p in PROMPTS]
    budget = 2 * max(lengths)  # room for two of the longest prompts, more of the short ones
    one = [generate(tiny_model, tiny_tokenizer, [p], max_new_tokens=6, batch_size=1)[0] for p in PROMPTS]
    shapes = _record_prefills(tiny_model)
    batched = generate(tiny_model, tiny_tokenizer, PROMPTS, max_new_tokens=6, batch_size=8, max_batch_tokens=budget)
    assert batched == one
    assert sum(rows for rows, _ in shapes) == len(PROMPTS)
    assert all(rows * width <= budget for rows, width in shapes), shapes
    assert len(shapes) > 1  # the budget, not batch_size=8, cut the batches


def test_generate_sorts_by_token_length(tiny_model, tiny_tokenizer):
    # Many characters but few tokens vs few characters but many tokens: batches follow tokens, which is what pads.
    prompts = ["a" * 60, "1 2 3 4 5 6 7 8 9 0 1 2 3", "a" * 61, "1 2 3 4 5 6 7 8 9 0 1 2 3 4"]
    lengths = [len(prompt_token_ids(tiny_tokenizer, p)) for p in prompts]
    shapes = _record_prefills(tiny_model)
    generate(tiny_model, tiny_tokenizer, prompts, max_new_tokens=2, batch_size=2, max_batch_tokens=None)
    widths = sorted(lengths)
    assert [w for _, w in shapes] == [max(widths[:2]), max(widths[2:])]


_TRIM_PROBE = """
from cancerllm.infer.generate import release_memory

def rss():
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))

# 64 KiB blocks sit below glibc's mmap threshold, so they come from the heap; small blocks kept between them pin the
# heap top, so freeing the big ones leaves holes that only malloc_trim hands back.
big, pins = [], []
for _ in range(1500):
    big.append(bytearray(b"x" * 65536))
    pins.append(bytearray(b"y" * 1024))  # over 512 bytes: from malloc, not pymalloc
before = rss()
del big
after_free = rss()
release_memory()
print(before, after_free, rss(), len(pins))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim and /proc are glibc/Linux")
def test_release_memory_returns_freed_heap_pages_to_the_os():
    # In a fresh interpreter: inside the test session the heap already holds other tests' holes, and glibc may place
    # (and free) the blocks elsewhere, so the probe would measure the session's history rather than the trim.
    out = subprocess.run([sys.executable, "-c", _TRIM_PROBE], capture_output=True, text=True, check=True, timeout=120)
    before, after_free, after_trim, pins = map(int, out.stdout.split())
    assert pins == 1500
    assert before - after_trim > 50_000  # ~94 MiB were freed; most of it must leave the process
    assert after_free - after_trim > 50_000  # and it was the trim that returned it


def test_inference_imports_do_not_load_the_icd_tables():
    # simple_icd_10_cm holds ~180 MiB of tables; extraction, scoring and the server load it only when a code is checked.
    code = ("import sys, cancerllm.infer.predictor, cancerllm.infer.scoring, cancerllm.infer.extract, "
            "cancerllm.bench.engines, cancerllm.serve.app; print('simple_icd_10_cm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
    from cancerllm.knowledge.icd import is_valid, normalize

    assert is_valid("C509") and normalize("c509") == "C50.9"  # still loaded, on first use
