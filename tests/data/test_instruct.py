"""SFT example building: chunk-relative targets, no lost spans, balanced tasks, deterministic order."""

from __future__ import annotations

import json

from cancerllm.data.chunking import chunk_text
from cancerllm.data.instruct import build_examples, chunk_mentions
from cancerllm.data.prompts import get_style
from cancerllm.data.schema import Diagnosis, Mention, Note


def _long_note(i: int) -> Note:
    mentions = []
    text = ""
    for j in range(30):
        sent = f"Block {j}: tissue examined, margins clear. "
        if j == 20:
            sent = "FINAL: invasive carcinoma, pT3 pN1 noted. "
        text += sent
    start = text.index("pT3")
    mentions.append(Mention(type="stage_t", text="pT3", start=start, end=start + 3, value="T3"))
    return Note(id=f"long{i}", text=text, mentions=mentions, diagnosis=Diagnosis(text="colon adenocarcinoma",
                                                                                  icd10="C18.9"))


def test_instruct_targets_quote_text_inside_their_chunk():
    notes = [_long_note(i) for i in range(3)]
    exs = build_examples(notes, types=["stage_t"], max_prompt_tokens=230, max_empty_ratio=None,
                         max_diagnosis_ratio=None)
    pheno = [e for e in exs if e.task == "phenotype"]
    assert len(pheno) > 3  # long notes were chunked, not cut
    with_m = [e for e in pheno if json.loads(e.completion)["mentions"]]
    assert len(with_m) >= 3
    for e in with_m:
        a, b = e.meta["chunk"]
        chunk = next(n for n in notes if n.id == e.note_id).text[a:b]
        for m in json.loads(e.completion)["mentions"]:
            assert m["text"] in chunk and m["text"] in e.prompt


def test_instruct_balances_empty_and_diagnosis_examples_deterministically():
    notes = [_long_note(i) for i in range(4)]
    a = build_examples(notes, types=["stage_t"], max_prompt_tokens=230, seed=1)
    b = build_examples(notes, types=["stage_t"], max_prompt_tokens=230, seed=1)
    assert [e.id for e in a] == [e.id for e in b]
    n_with = sum(1 for e in a if e.task == "phenotype" and json.loads(e.completion)["mentions"])
    n_empty = sum(1 for e in a if e.task == "phenotype" and not json.loads(e.completion)["mentions"])
    n_dx = sum(1 for e in a if e.task == "diagnosis")
    assert n_empty <= n_with and n_dx <= n_with + n_empty
    assert {e.note_id for e in a if e.id.endswith("#c0#dx")} == {n.id for n in notes}  # first chunks kept first


def test_instruct_chunk_mentions_rebases_and_skips_straddling_spans():
    note = _long_note(0)
    chunks = chunk_text(note.text, 40, lambda s: max(1, len(s) // 4), overlap_chars=0)
    found = [m for c in chunks for m in chunk_mentions(note.mentions, c)]
    assert len(found) == 1
    c = next(c for c in chunks if chunk_mentions(note.mentions, c))
    m = found[0]
    assert c.text[m["start"]:m["end"]] == "pT3"


def test_instruct_qa_style_one_example_per_type_and_none_answers():
    note = _long_note(0)
    exs = build_examples([note], style="qa.v1", types=["stage_t", "stage_n"], tasks=("phenotype",),
                         max_prompt_tokens=4000, max_empty_ratio=None)
    assert sorted(e.completion for e in exs) == ["none", "pT3"]
    assert all("### Response:" in e.prompt for e in exs)
    assert get_style("qa.v1").parse_phenotype("none", "stage_n") == ([], [])
