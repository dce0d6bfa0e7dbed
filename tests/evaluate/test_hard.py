"""Deterministic TNM masking with span remapping."""

import json
from pathlib import Path

import pytest

from cancerllm.data.schema import Mention, Note
from cancerllm.evaluate.baselines import regex_labels
from cancerllm.evaluate.hard import MASK, mask_text, mask_tnm

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "tcga_path_reports"


@pytest.mark.parametrize("text", ["pT2", "pN1a", "ypT3", "T2 N0 M0", "pT2N1M0", "pT2 pNO pMX", "pT1c(m)",
                                  "pN0 (i-)", "pT1.NO.MX", "p T 3", "T3c/N1/M0", "pT1b2"])
def test_hard_masks_explicit_tnm(text):
    masked, spans = mask_text(f"Stage: {text}. Margins free.")
    assert masked == f"Stage: {MASK}. Margins free." and len(spans) == 1
    assert all(v is None for v in regex_labels(masked).values())


@pytest.mark.parametrize("text", ["NO tumor seen", "TO THE PLEURA", "M8500/3", "stage IIB", "T cells", "C34.1",
                                  "MOD", "PT INR 1.2", "N4"])
def test_hard_leaves_non_tnm_text(text):
    assert mask_text(text) == (text, [])


def test_hard_mask_tnm_remaps_spans_and_is_deterministic():
    text = "Tumor pT2 pN1a. Grade 2. ER positive; T2 N0 M0 per AJCC."
    ms = [Mention(type="stage_t", text="pT2", start=6, end=9),
          Mention(type="grade", text="Grade 2", start=16, end=23),
          Mention(type="biomarker", text="ER positive", start=25, end=36)]
    note = Note(id="x", text=text, mentions=ms, labels={"t_stage": "T2"})
    h = mask_tnm(note)
    h.check_spans()
    assert [m.type for m in h.mentions] == ["grade", "biomarker"]
    assert h.text == "Tumor [TNM]. Grade 2. ER positive; [TNM] per AJCC." and h.labels == {"t_stage": "T2"}
    assert mask_tnm(note) == h


@pytest.mark.skipif(not (DATA / "test.jsonl").is_file(), reason="shared TCGA data absent")
def test_hard_on_tcga_test_removes_nearly_all_regex_answers():
    rows = [json.loads(x) for x in (DATA / "test.jsonl").read_text().splitlines()]
    before = sum(1 for r in rows if regex_labels(r["text"])["t_stage"])
    after = sum(1 for r in rows if regex_labels(mask_text(r["text"])[0])["t_stage"])
    assert before > 150 and after == 0
