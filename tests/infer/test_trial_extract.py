"""Trial extraction: SFT examples from Chia-shaped notes, the JSON answer round trip, grounding, relation remapping,
and one grounded record per note from a real (tiny, random) model through the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import GenerateArgs
from cancerllm.data.instruct import build_examples, trial_chunk_target
from cancerllm.data.paths import has_dataset
from cancerllm.data.prompts import get_style
from cancerllm.data.schema import Mention, Note
from cancerllm.infer.predictor import Predictor
from cancerllm.infer.trial import ground_trial, predict_trial

TEXT = "No history of seizures\nHbA1c > 7%\nPrior anti-PD-1 therapy"


def _note() -> Note:
    def m(t, s, e, a="present"):
        return Mention(type=t, text=TEXT[s:e], start=s, end=e, assertion=a)

    return Note(id="NCT0_exc", text=TEXT, kind="trial", criteria=[[0, 22], [23, 33], [34, 57]],
                mentions=[m("Negation", 0, 2), m("Condition", 14, 22, "negated"), m("Measurement", 23, 28),
                          m("Value", 29, 33), m("Drug", 40, 49)],
                relations=[{"type": "Has_negation", "head": 1, "tail": 0}, {"type": "Has_value", "head": 2, "tail": 3}])


def test_sft_examples_carry_chunk_relations_and_round_trip(tiny_tokenizer):
    note = _note()
    exs = build_examples([note], tokenizer=tiny_tokenizer, tasks=["trial"], max_prompt_tokens=400)
    assert [e.task for e in exs] == ["trial"] and "Criteria:\n" + TEXT in exs[0].prompt
    style = get_style("json.v1")
    mentions, relations, errors = style.parse_trial(exs[0].completion)
    assert errors == [] and relations == [("Has_negation", 1, 0), ("Has_value", 2, 3)]
    kept, rels, gerr = ground_trial(TEXT, 0, mentions, relations)
    # Grounding the gold answer gives back the gold spans, assertions and relations exactly.
    assert [(m.type, m.start, m.end, m.assertion) for m in kept] == \
        [(m.type, m.start, m.end, m.assertion) for m in note.mentions]
    assert rels == relations and gerr == []


def test_small_budget_splits_by_criterion_and_keeps_only_inner_relations(tiny_tokenizer):
    from cancerllm.data.corpora.chia import criterion_chunks

    note = _note()
    chunks = criterion_chunks(TEXT, note.criteria, 12, lambda s: len(tiny_tokenizer(s)["input_ids"]))
    assert len(chunks) > 1 and all(TEXT[c.start:c.end] == c.text for c in chunks)
    targets = [trial_chunk_target(note, c) for c in chunks]
    assert sum(len(m) for m, _ in targets) == 5 and sum(len(r) for _, r in targets) == 2


def test_invalid_items_are_dropped_with_their_relations():
    style = get_style("json.v1")
    out = ('{"mentions":[{"type":"Negation","text":"No"},{"type":"Disease","text":"x"},'
           '{"type":"Condition","text":"seizures","assertion":"denied"}],'
           '"relations":[["Has_negation",2,0],["Has_value",1,0],["Treats",2,0],["Has_value",0,9]]}')
    mentions, relations, errors = style.parse_trial(out)
    assert mentions[1] is None and mentions[2]["assertion"] == "present"
    assert relations == [("Has_negation", 2, 0)] and len(errors) == 5
    kept, rels, _ = ground_trial("No seizures", 100, mentions, relations)
    assert [(m.text, m.start) for m in kept] == [("No", 100), ("seizures", 103)] and rels == [("Has_negation", 1, 0)]


def test_random_model_gives_one_grounded_record_per_note(tiny_model, tiny_tokenizer):
    gen = GenerateArgs(max_new_tokens=12, batch_size=4, max_prompt_tokens=700)
    predictor = Predictor(tiny_model, tiny_tokenizer, gen=gen)
    notes = [_note(), Note(id="pasted", text="Age >= 18\nECOG 0-1\n"), Note(id="empty", text=" ")]
    preds = predict_trial(predictor, notes)
    assert [p.id for p in preds] == ["NCT0_exc", "pasted", "empty"] and all(p.task == "trial" for p in preds)
    assert preds[2].errors and not preds[2].raw
    for note, p in zip(notes, preds):
        assert all(note.text[m.start:m.end] == m.text for m in p.mentions)
        assert all(0 <= r.head < len(p.mentions) and 0 <= r.tail < len(p.mentions) for r in p.relations)
        if p.raw and not p.mentions:
            assert p.errors  # random weights: unparseable output is reported, not hidden
    assert preds[1].coverage["chunks"] >= 1


def test_cli_extract_task_trial(tmp_path, tiny_model_dir):
    path = tmp_path / "criteria.txt"
    path.write_text("Inclusion: age >= 18\nNo prior anti-PD-1 therapy\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["extract", "--task", "trial", str(path), "--out", str(tmp_path / "o"),
                                 "--method", "llm", f"--model.path={tiny_model_dir}", "--generate.max_new_tokens=8",
                                 "--generate.max_prompt_tokens=700"])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "o" / "predictions.jsonl").read_text().splitlines()[0])
    assert rec["id"] == "criteria" and rec["task"] == "trial"
    bad = CliRunner().invoke(app, ["extract", "--task", "staging", str(path)])
    assert bad.exit_code != 0 and "expected one of ['phenotype', 'trial']" in bad.output


@pytest.mark.skipif(not has_dataset("chia"), reason="shared chia data absent")
def test_cli_extract_task_trial_without_run_uses_rules_and_normalises(tmp_path):
    path = tmp_path / "criteria.txt"
    path.write_text("No prior treatment with pembrolizumab\nHbA1c > 7%\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["extract", "--task", "trial", str(path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    rec = json.loads((tmp_path / "o" / "predictions.jsonl").read_text())
    text = path.read_text()
    assert rec["meta"]["baseline"] == "gazetteer.v1" and rec["mentions"]
    assert all(text[m["start"]:m["end"]] == m["text"] for m in rec["mentions"])
    drug = [m for m in rec["mentions"] if m["type"] == "Drug"]
    assert [(m["text"], m["code"]) for m in drug] == [("pembrolizumab", "DRUGBANK:DB09037")]
    bad = CliRunner().invoke(app, ["extract", "--task", "trial", str(path), "--method", "magic"])
    assert bad.exit_code != 0 and "expected one of ['auto', 'llm', 'rules']" in bad.output


def test_guided_random_model_answers_parse_as_trial_json(tiny_model, tiny_tokenizer):
    pytest.importorskip("xgrammar")
    gen = GenerateArgs(max_new_tokens=48, batch_size=2, max_prompt_tokens=700, guided=True)
    preds = predict_trial(Predictor(tiny_model, tiny_tokenizer, gen=gen), [_note()])
    style = get_style("json.v1")
    for raw in preds[0].raw:
        # Even random weights give schema-shaped JSON: no "unparseable output" and no invalid type.
        _, _, errors = style.parse_trial(raw)
        assert not any("unparseable" in e or "is not {type" in e for e in errors), errors
