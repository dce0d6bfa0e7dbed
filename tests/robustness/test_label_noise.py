"""Counterfactual label noise: exact counts, valid and different labels, consistent mentions and diagnosis."""

from __future__ import annotations

import pytest

from cancerllm.data.schema import Diagnosis, Mention, Note
from cancerllm.errors import ConfigError
from cancerllm.knowledge.icd import TCGA_PROJECTS, diagnosis_for
from cancerllm.robustness.label_noise import LABEL_SPACE, noise_labels


def _notes(n: int = 40) -> list[Note]:
    out = []
    for i in range(n):
        t = f"T{1 + i % 4}"
        out.append(Note(id=f"n{i}", text=f"Stage p{t} N0.", cancer_type="BRCA" if i % 2 else "LUAD",
                        labels={"t_stage": t, "n_stage": "N0" if i % 5 else None, "m_stage": None},
                        diagnosis=diagnosis_for("BRCA" if i % 2 else "LUAD"),
                        mentions=[Mention(type="stage_t", text=f"p{t}", start=6, end=9, value=t),
                                  Mention(type="stage_n", text="N0", start=10, end=12, value="N0")]))
    return out


def test_label_noise_flips_exact_share_to_other_valid_labels():
    notes = _notes()
    noisy, report = noise_labels(notes, 0.25, seed=0, fields=("t_stage", "n_stage"))
    assert report["t_stage"] == {"eligible": 40, "flipped": 10, "with_mentions": 10}
    assert report["n_stage"]["eligible"] == 32 and report["n_stage"]["flipped"] == 8
    flipped = [(a, b) for a, b in zip(notes, noisy) if a.labels["t_stage"] != b.labels["t_stage"]]
    assert len(flipped) == 10
    for a, b in flipped:
        assert b.labels["t_stage"] in LABEL_SPACE["t_stage"]
        # the stage mention's value moves with the label, its span and text stay
        assert b.mentions[0].value == b.labels["t_stage"] and b.mentions[0].text == a.mentions[0].text
        assert b.meta["label_noise"]["t_stage"] == a.labels["t_stage"]
    assert all(n.labels["n_stage"] in (None, "N0") for n in notes)  # the input is not modified


def test_label_noise_cancer_type_changes_diagnosis_consistently():
    notes = _notes(20)
    noisy, report = noise_labels(notes, 0.5, seed=3, fields=("cancer_type",))
    assert report["cancer_type"]["flipped"] == 10
    changed = [b for a, b in zip(notes, noisy) if a.cancer_type != b.cancer_type]
    assert len(changed) == 10
    for b in changed:
        assert b.cancer_type in TCGA_PROJECTS
        assert b.diagnosis == diagnosis_for(b.cancer_type)
        assert isinstance(b.diagnosis, Diagnosis) and b.diagnosis.icd10


def test_label_noise_deterministic_and_seed_dependent():
    notes = _notes()
    a, _ = noise_labels(notes, 0.3, seed=1)
    b, _ = noise_labels(notes, 0.3, seed=1)
    c, _ = noise_labels(notes, 0.3, seed=2)
    dump = lambda ns: [n.model_dump_json() for n in ns]
    assert dump(a) == dump(b)
    assert dump(a) != dump(c)
    zero, rep = noise_labels(notes, 0.0)
    assert dump(zero) == dump(notes) and rep["t_stage"]["flipped"] == 0


def test_label_noise_rejects_bad_rate_and_field():
    with pytest.raises(ConfigError) as err:
        noise_labels(_notes(2), 1.5, fields=("grade",))
    assert len(err.value.problems) == 2


# --- issue 11.9: the LLM testbed must see T/N/M noise --------------------------------------------------------------

def _stage_notes(n: int = 8) -> list[Note]:
    """One-chunk notes whose T token is the only stage mention (the note id in the text tells them apart)."""
    out = []
    for i in range(n):
        t = f"T{1 + i % 4}"
        text = f"Case {i:02d}. Invasive carcinoma, stage p{t} N0."
        s = text.index(f"p{t}")
        out.append(Note(id=f"s{i}", text=text, labels={"t_stage": t, "n_stage": None, "m_stage": None},
                        mentions=[Mention(type="stage_t", text=f"p{t}", start=s, end=s + 3, value=t)]))
    return out


def _memorizing_predictor(monkeypatch, tokenizer, model, train: list[Note]):
    """The real Predictor whose generations are the SFT targets built from ``train``: a model that has learned
    its (possibly noised) training set perfectly. Only decoding is replaced: no model trains to that in ms."""
    import cancerllm.infer.predictor as infer_predictor
    from cancerllm.config import GenerateArgs
    from cancerllm.data.instruct import build_examples

    examples = build_examples(train, style="json.v1", tokenizer=tokenizer, tasks=["phenotype"],
                              types=["stage_t"], max_prompt_tokens=512, max_empty_ratio=None)
    by_case = {n.text[:8]: ex.completion for n in train for ex in examples if ex.note_id == n.id}

    def replay(model, tok, prompts, *args, **kwargs):
        return [next(c for case, c in by_case.items() if case in p) for p in prompts]

    monkeypatch.setattr(infer_predictor, "generate", replay)
    gen = GenerateArgs(prompt_style="json.v1", max_prompt_tokens=512)
    return infer_predictor.Predictor(model, tokenizer, style="json.v1", types=["stage_t"], gen=gen)


def test_label_noise_model_testbed_scores_the_taught_category(monkeypatch, tiny_tokenizer, tiny_model):
    """At rate 1.0 a model that learned its noised targets must score 0 on T, not 1 (the quoted text is clean)."""
    from cancerllm.robustness.curves import score
    from cancerllm.robustness.predictors import StatedValuePredictor

    clean = _stage_notes()
    noisy, report = noise_labels(clean, 1.0, seed=0, fields=("t_stage",))
    assert report["t_stage"]["flipped"] == len(clean)
    learned_noise = _memorizing_predictor(monkeypatch, tiny_tokenizer, tiny_model, noisy)
    # The defect: inference reads the category back from the quoted (clean) token, so the noise is invisible.
    assert score(clean, learned_noise.predict(clean))["metrics"]["t_stage_acc"] == 1.0
    # The testbed's predictor scores the category the model states: what the noised examples taught.
    preds = StatedValuePredictor(learned_noise).predict(clean)
    assert [p.labels["t_stage"] for p in preds] == [n.labels["t_stage"] for n in noisy]
    assert score(clean, preds)["metrics"]["t_stage_acc"] == 0.0
    assert all(p.meta["quoted_labels"]["t_stage"] == n.labels["t_stage"] for p, n in zip(preds, clean))
    # At rate 0 the same path gives the clean labels back.
    learned_clean = _memorizing_predictor(monkeypatch, tiny_tokenizer, tiny_model, clean)
    assert score(clean, StatedValuePredictor(learned_clean).predict(clean))["metrics"]["t_stage_acc"] == 1.0


def test_label_noise_refuses_a_style_without_stated_values(tiny_tokenizer, tiny_model):
    """qa.v1 answers quote text only: a noised stage label never reaches what the model is taught to say."""
    from cancerllm.data.instruct import build_examples
    from cancerllm.infer.predictor import Predictor
    from cancerllm.robustness.predictors import StatedValuePredictor

    clean = _stage_notes(4)
    noisy, _ = noise_labels(clean, 1.0, seed=0, fields=("t_stage",))
    kw = {"style": "qa.v1", "tasks": ["phenotype"], "types": ["stage_t"], "max_empty_ratio": None}
    # the evidence: with qa.v1 the noised training set is byte-identical to the clean one
    assert [e.completion for e in build_examples(noisy, **kw)] == [e.completion for e in build_examples(clean, **kw)]
    with pytest.raises(ConfigError, match="prompt_style: got 'qa.v1'"):
        StatedValuePredictor(Predictor(tiny_model, tiny_tokenizer, style="qa.v1"))
