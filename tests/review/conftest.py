"""Review-loop fixtures: a note with non-BMP characters and a phenotype Prediction record for it."""

from __future__ import annotations

import pytest

from cancerllm.data.schema import Mention, Prediction

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
