"""Shared test fixtures: a real (tiny) tokenizer and a tiny random-weight Llama model folder, built in milliseconds.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on a few oncology sentences, the model is a
2-layer, 64-dim ``LlamaForCausalLM`` built from a config. Pass ``tiny_model_dir`` as ``--model.path``.

Markers: ``slow`` (real embedded model, minutes) is excluded by the Makefile's ``-m "not slow and not gpu"``;
``gpu`` tests skip themselves without CUDA.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import pytest

# Set before any Hugging Face import so no test can reach the hub.
for _key in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_key, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# No fp32-merged copies of test runs in the user's cache (they would evict a real run's copy); the tests of that
# cache (tests/model/test_merged_cache.py) turn it on with CANCERLLM_CACHE in a tmp folder.
os.environ.setdefault("CANCERLLM_MERGED_CACHE", "0")
# One intra-op thread: on a shared 2-core machine two threads per tiny-model op wait on each other (measured: a
# 2-layer model step swings from 20 ms to 3 s with two threads under load, a steady 20-35 ms with one).
os.environ.setdefault("OMP_NUM_THREADS", "1")

ONCOLOGY_SENTENCES = [
    "Invasive ductal carcinoma of the left breast, grade 2, measuring 2.3 cm.",
    "Estrogen receptor positive, progesterone receptor positive, HER2 negative by FISH.",
    "Pathologic stage pT2 N1a M0; two of fourteen lymph nodes involved by metastatic carcinoma.",
    "Lung adenocarcinoma, right upper lobe, EGFR exon 19 deletion detected.",
    "No evidence of distant metastasis. Margins are negative for tumor.",
    "Family history of ovarian cancer in her mother; BRCA1 testing pending.",
    "Glioblastoma, WHO grade IV, with extensive necrosis and microvascular proliferation.",
    "Colon, sigmoid, resection: moderately differentiated adenocarcinoma invading the muscularis propria.",
    "History of prostate cancer treated with radiation in 2015. Gleason score 3+4=7.",
    "Possible recurrence of melanoma; biopsy suggested. Ki-67 proliferation index 30%.",
    "Diagnosis: clear cell renal cell carcinoma, Fuhrman grade 3, ICD-10-CM C64.1.",
    '{"mentions":[{"type":"stage_t","text":"pT2","value":"T2"}]} {"diagnosis":"breast cancer","icd10":"C50.912"}',
]

CHAT_TEMPLATE = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests when CUDA is absent (``slow`` is deselected by ``-m`` in the Makefile)."""
    if not any("gpu" in item.keywords for item in items):
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def build_tiny_tokenizer(vocab_size: int = 400):
    """A byte-level BPE (so every Unicode string round-trips) with ChatML special tokens; pad = eos like SmolLM2."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(ONCOLOGY_SENTENCES * 3, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  unk_token="<|endoftext|>", pad_token="<|im_end|>")
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = 2048
    return tok


def build_tiny_model(tokenizer, seed: int = 0):
    """A 2-layer, 64-dim LlamaForCausalLM with random weights (tied embeddings, GQA like SmolLM2)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return LlamaForCausalLM(config)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """A real PreTrainedTokenizerFast (byte-level BPE, ~400 tokens, ChatML template). Do not mutate it."""
    return build_tiny_tokenizer()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_tokenizer):
    """A folder holding the tiny model + tokenizer (``save_pretrained``); use it as ``--model.path``."""
    path = tmp_path_factory.mktemp("tiny-llama")
    build_tiny_model(tiny_tokenizer).save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    """A JSONL pretraining corpus (field ``text``) of 24 short oncology documents."""
    import json

    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    docs = [" ".join(ONCOLOGY_SENTENCES[i % 12:] + ONCOLOGY_SENTENCES[:i % 12]) for i in range(24)]
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    return path


@pytest.fixture(scope="session")
def tiny_notes_file(tmp_path_factory, tiny_notes):
    """``tiny_notes`` written as a Note JSONL file (for ``--data.train``)."""
    from cancerllm.data.io import write_jsonl

    return write_jsonl(tiny_notes, tmp_path_factory.mktemp("notes") / "notes.jsonl")


@pytest.fixture(scope="session")
def tiny_notes():
    """A few labelled synthetic-style notes (mentions with exact spans + diagnosis) for training tests."""
    from cancerllm.data.schema import Diagnosis, Mention, Note

    notes = []
    for i, sent in enumerate(ONCOLOGY_SENTENCES[:11]):
        text = f"Report {i}. {sent} Final diagnosis: carcinoma, pT2 N0 M0."
        start = text.index("pT2")
        notes.append(Note(id=f"n{i}", text=text, mentions=[
            Mention(type="stage_t", text="pT2", start=start, end=start + 3, value="T2")],
            diagnosis=Diagnosis(text="malignant neoplasm of breast", icd10="C50.919")))
    return notes


@pytest.fixture
def tiny_model(tiny_tokenizer):
    """A fresh tiny LlamaForCausalLM (seeded random weights) per test."""
    return build_tiny_model(tiny_tokenizer)


SERVE_TINY = ["model.device=cpu", "model.dtype=fp32", "generate.batch_size=4", "port=0"]


@contextmanager
def real_server(model_dir, *overrides: str):
    """A real uvicorn server (the CLI's loader) on 127.0.0.1 and a free port, for ``ServeConfig`` overrides
    (``max_notes=3``, ``review_db=...``); ``model_dir`` None keeps the default model. Yields ``(url, cfg)``;
    leaving the block stops it, as Ctrl-C would."""
    from cancerllm.config import load_config
    from cancerllm.serve.app import create_app
    from cancerllm.serve.server import ServeConfig, predictor_factory, start_in_thread

    model = [f"model.path={model_dir}"] if model_dir is not None else []
    cfg = load_config(ServeConfig, overrides=[*model, *SERVE_TINY, *overrides])
    server, url = start_in_thread(create_app(predictor_factory(cfg), cfg), port=0)
    try:
        yield url, cfg
    finally:
        server.should_exit = True
        server.thread.join(timeout=30)


@pytest.fixture(scope="session")
def running_server():
    """``with running_server(model_dir, "max_notes=3") as (url, cfg):`` a real server with those settings."""
    return real_server
