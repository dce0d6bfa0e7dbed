"""Review-loop fixtures: a note with non-BMP characters and a phenotype Prediction record for it."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from cancerllm.data.schema import Mention, Prediction
from tests.conftest import real_server

# Emoji and a mathematical letter before the mentions: one code point each in Python, two UTF-16 units in JS.
NOTE = "Pt 🩺 seen. 𝐀ssessment: invasive ductal carcinoma, left breast, pT2 N0 M0. No 😀 distant metastasis."


def mention(type_: str, text: str, assertion: str = "present", value: str | None = None) -> Mention:
    start = NOTE.index(text)
    return Mention(type=type_, text=text, start=start, end=start + len(text), assertion=assertion, value=value)


def prediction(note_id: str = "u1") -> Prediction:
    """The model's record: one right mention, one wrong span, one wrong type, one negated finding."""
    return Prediction(id=note_id, task="phenotype", mentions=[
        mention("cancer_diagnosis", "invasive ductal carcinoma"),
        mention("stage_t", "pT2 N0", value="T2"),             # span too long: the reviewer cuts it to "pT2"
        mention("histology", "left breast"),                  # wrong type: the reviewer rejects it
        mention("metastasis_site", "distant metastasis", "negated"),
    ], labels={"t_stage": "T2", "n_stage": None, "m_stage": "M1"})  # M1 is wrong (the note says M0)


@pytest.fixture
def note_text() -> str:
    return NOTE


@pytest.fixture
def record() -> Prediction:
    return prediction()


@contextmanager
def review_server(model_dir, db_path, *overrides: str):
    """A real uvicorn server (tiny model, loopback, free port) with the review routes on ``db_path``; yields its url.

    Same loader as ``cancerllm serve`` (``tests.conftest.real_server``); leaving the block stops it, as Ctrl-C would.
    """
    with real_server(model_dir, "generate.max_new_tokens=8", f"review_db={db_path}", *overrides) as (url, _cfg):
        yield url


# The SFT settings tests/train/test_sft.py uses for the tiny model: one step, completion-only loss, fp32.
SFT_ONE_STEP = ["lora.r=4", "train.max_steps=1", "train.batch_size=1", "data.max_seq_len=640", "max_prompt_tokens=480",
                "train.precision=fp32", "model.dtype=fp32", "train.logging_steps=1", "train.eval_steps=0",
                "train.lr=1e-2", "data.max_dev_examples=1"]
