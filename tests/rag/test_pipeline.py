"""The inference-facing API: leakage guard, short grounded examples, prompt-budget fitting."""

from __future__ import annotations

import json

import pytest

from cancerllm.data.prompts import Example, get_style
from cancerllm.data.schema import Mention, Note
from cancerllm.rag.index import IndexConfig, build_index
from cancerllm.rag.pipeline import answer_phrases, fit_examples, load_retriever, render_examples


@pytest.fixture()
def ret(corpus, tmp_path):
    path, _ = corpus
    build_index(IndexConfig(retriever="bm25.v1", corpus=str(path), out=str(tmp_path / "idx")))
    return load_retriever(tmp_path / "idx")


def test_pipeline_leakage_guard_excludes_self_patient_and_copies(ret, corpus):
    _, notes = corpus
    d0 = notes[0]
    for k in (1, 3, 10):
        ids = [e.id for e in ret.examples_for(d0, k, "phenotype", "json.v1", ["stage_t"])]
        assert "d0" not in ids and "d5" not in ids  # itself, and d5 of the same patient p0
    # The same report filed under a new id and patient is still excluded (verbatim copy).
    copy = Note(id="new", text=notes[1].text, patient_id="p99")
    assert "d1" not in [e.id for e in ret.examples_for(copy, 5, "phenotype", "json.v1", ["stage_t"])]
    assert all(i not in ("d0", "d5") for i, _ in ret.search(d0.text, 10, ["d0"], ["p0"]))
    # Without the guard, the note itself is the best BM25 match: the guard is what removes it.
    assert ret.search(d0.text, 1)[0][0] == "d0"


def test_pipeline_examples_are_short_and_grounded(ret, corpus):
    _, notes = corpus
    long_text = ("Specimen received fresh. " * 60) + notes[2].text[:-1] + " " + ("Gross description. " * 60)
    s = long_text.index("pT2")
    nb = Note(id="long", text=long_text, patient_id="p7",
              mentions=[Mention(type="stage_t", text="pT2", start=s, end=s + 3, value="T2")])
    ex = ret._example(nb, "phenotype", get_style("json.v1"), ["stage_t"], 1.0)  # nb as a retrieved neighbour
    assert len(ex.text) <= 600 and "pT2" in ex.text
    assert json.loads(ex.answer) == {"mentions": [{"type": "stage_t", "text": "pT2", "value": "T2"}]}


def test_pipeline_examples_for_tasks_and_styles(ret, corpus):
    _, notes = corpus
    query = Note(id="q", text="Glioblastoma with necrosis, WHO grade IV, adenocarcinoma", patient_id="px")
    dx = ret.examples_for(query, 5, "diagnosis", "json.v1", [])
    assert "d4" not in [e.id for e in dx] and len(dx) == 5  # d4 has no gold diagnosis: skipped, next used
    assert json.loads(dx[0].answer) == {"diagnosis": "malignant neoplasm", "icd10": "C80.1"}
    ph = ret.examples_for(query, 2, "phenotype", "qa.v1", ["stage_t"])
    assert len(ph) == 2 and all(e.score >= ph[-1].score for e in ph)
    for e in ph:  # qa.v1 answers list the gold phrases, or "none"
        assert e.answer == "none" or all(p in e.text for p in e.answer.split(", "))
    multi = ret.examples_for(notes[1], 1, "phenotype", "qa.v1", ["stage_t", "histology"])
    assert multi[0].answer.startswith("stage_t: ") and "; histology: none" in multi[0].answer
    assert ret.examples_for(query, 0, "diagnosis", "json.v1", []) == []


def test_pipeline_qa_examples_answer_only_the_type_each_prompt_asks(ret, corpus):
    """Issue 11(a): qa.v1 asks one entity type per prompt, so each shown example answers that type alone."""
    _, notes = corpus
    types = ["stage_t", "histology"]
    qa = get_style("qa.v1")
    examples = ret.examples_for(notes[1], 2, "phenotype", "qa.v1", types)
    prompts = dict(qa.phenotype_prompts("Lung, right upper lobe. pT1a.", types, None, examples))
    assert set(prompts) == set(types)
    for etype, prompt in prompts.items():
        shown = [line.removeprefix("Answer: ") for line in prompt.splitlines() if line.startswith("Answer: ")]
        expected = [qa.phenotype_target([m.model_dump() for m in ret.index.note(e.id).mentions], etype)
                    for e in examples]
        assert shown == expected, etype
        assert not any(f"{t}: " in a for a in shown for t in types)  # no "stage_t: ...; histology: ..." lists
    assert any(a != "none" for a in [qa.phenotype_target([m.model_dump() for m in ret.index.note(e.id).mentions],
                                                         "stage_t") for e in examples])
    # Budget fitting counts the block one prompt shows and keeps the per-type answers.
    block = render_examples(examples)
    assert any(block in prompt for prompt in prompts.values()) and "histology: " not in block
    fitted = fit_examples(examples, budget_tokens=10_000, count_tokens=len)
    assert [e.answers for e in fitted] == [e.answers for e in examples]


def _ex(i, text, answer, score):
    return Example(id=i, text=text, answer=answer, score=score)


def test_pipeline_fit_examples_never_exceeds_budget_and_keeps_best():
    words = lambda s: len(s.split())
    exs = [_ex("lo", "Colon. Margins clear. Node 0/12. pT3 N0.", "pT3", 0.1),
           _ex("hi", "Breast. ER positive. Grade 2. pT2 N1.", "pT2", 0.9),
           _ex("mid", "Lung. Right upper lobe. pT1a N0.", "pT1a", 0.5)]
    full = words(render_examples(sorted(exs, key=lambda e: -e.score)))
    assert [e.id for e in fit_examples(exs, full, words)] == ["hi", "mid", "lo"]
    for budget in range(full + 1):
        kept = fit_examples(exs, budget, words)
        assert not kept or words(render_examples(kept)) <= budget
        assert [e.id for e in kept] == ["hi", "mid", "lo"][:len(kept)]  # drops lowest-scored first
        for e in kept:  # trimming never removes the phrase the answer quotes
            assert e.answer in e.text


def test_pipeline_fit_examples_trims_before_dropping():
    words = lambda s: len(s.split())
    exs = [_ex("a", "Intro words here. More filler text. pT2 N0. Trailing sentence here.", "pT2", 0.9),
           _ex("b", "Some text. pT1 here. End text now.", "pT1", 0.5)]
    budget = words(render_examples(exs)) - 3
    kept = fit_examples(exs, budget, words)
    assert [e.id for e in kept] == ["a", "b"] and kept[1].text == "pT1 here."
    assert fit_examples(exs, 3, words) == []


def test_pipeline_answer_phrases():
    assert answer_phrases('{"mentions":[{"type":"stage_t","text":"pT2"},{"type":"grade","value":"G2"}]}') == ["pT2"]
    assert answer_phrases('{"diagnosis":"lung adenocarcinoma","icd10":"C34.90"}') == []
    assert answer_phrases("none") == []
