"""The out-of-the-box extractor: `extract` without --run gives grounded mentions and honest labels, no model."""

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cancerllm.data.io import write_jsonl
from cancerllm.data.schema import Note
from cancerllm.errors import ResourceError
from cancerllm.infer.extract import ExtractConfig, run
from cancerllm.infer.rules import RULE_TYPES, RulePredictor, find_mentions

NOTE = ("FINAL DIAGNOSIS: Left breast, lumpectomy: Invasive ductal carcinoma, Nottingham grade 2, measuring 2.3 cm. "
        "Two of fourteen lymph nodes positive (2/14). ER positive (90%), PR negative, HER2 negative (IHC 1+). "
        "Negative for lymphovascular invasion. No residual carcinoma in the margins. History of melanoma. "
        "Mother had ovarian carcinoma. Pathologic stage: pT2 pN1a.")


def _by_type(mentions):
    out = {}
    for m in mentions:
        out.setdefault(m.type, []).append(m)
    return out


def test_mentions_are_grounded_typed_and_asserted():
    ms = find_mentions(NOTE)
    for m in ms:
        assert NOTE[m.start:m.end] == m.text and m.type in RULE_TYPES
    by = _by_type(ms)
    assert [m.value for m in by["stage_t"]] == ["T2"] and [m.value for m in by["stage_n"]] == ["N1"]
    assert {m.value for m in by["biomarker"]} == {"ER: positive", "PR: negative", "HER2: negative"}
    assert all(m.assertion == "present" for m in by["biomarker"])  # "negative" is a result, not a negation
    assert by["tumor_size"][0].value == "2.3 cm" and by["grade"][0].text == "Nottingham grade 2"
    assertions = {m.text: m.assertion for m in by["histology"]}
    assert assertions["Invasive ductal carcinoma"] == "present"
    assert assertions["melanoma"] == "historical"
    # "ovarian carcinoma" names a diagnosis (site + histology): a cancer_diagnosis mention, the mother's.
    family = [m for m in by["cancer_diagnosis"] if m.start > NOTE.index("Mother")]
    assert family and all(m.assertion == "family" for m in family)
    residual = [m for m in by["histology"] if NOTE.index("No residual") < m.start < NOTE.index("History")]
    assert residual and all(m.assertion == "negated" for m in residual)
    assert [m.value for m in by["laterality"]] == ["left"]


def test_extract_without_run_returns_grounded_mentions_and_stated_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("CANCERLLM_CACHE", str(tmp_path / "cache"))  # no `make model` labeller: a fresh install
    notes = [Note(id="a", text=NOTE), Note(id="empty", text="   "), Note(id="b", text="Lung, RUL: adenocarcinoma.")]
    src = write_jsonl(notes, tmp_path / "notes.jsonl")
    summary = run(ExtractConfig(input=str(src), out=str(tmp_path / "out"), method="auto"))
    lines = (tmp_path / "out" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    recs = {r["id"]: r for r in map(json.loads, lines)}
    assert summary["notes"] == 3 and summary["prompt_style"] == "rules"
    a = recs["a"]
    assert a["meta"]["method"] == "rules" and len(a["mentions"]) >= 10 and not a["errors"]
    for m in a["mentions"]:
        assert NOTE[m["start"]:m["end"]] == m["text"]
    assert a["labels"]["t_stage"] == "T2" and a["labels"]["n_stage"] == "N1"
    src_t = a["meta"]["label_sources"]["t_stage"]
    assert src_t["source"] == "evidence" and NOTE[src_t["start"]:src_t["end"]] == src_t["text"]
    assert a["labels"]["m_stage"] is None  # nothing states M and no labels model: never guessed
    assert recs["empty"]["errors"] and recs["b"]["mentions"]


def test_labels_model_adds_calibrated_inferred_labels(tmp_path, monkeypatch):
    from cancerllm.classify.recipe import ClassifyConfig
    from cancerllm.classify.recipe import run as classify
    from cancerllm.data.synth import synthesize

    notes = synthesize(260, seed=5)
    tr, dv = write_jsonl(notes[:200], tmp_path / "tr.jsonl"), write_jsonl(notes[200:], tmp_path / "dv.jsonl")
    classify(ClassifyConfig(train=str(tr), dev=str(dv), predict=[], out=str(tmp_path / "cls"), folds=3, trees=20,
                            hard=False))
    rec = RulePredictor(labels=tmp_path / "cls").predict([Note(id="x", text=NOTE)])[0]
    sources = rec.meta["label_sources"]
    assert rec.labels["t_stage"] == "T2" and sources["t_stage"]["source"] == "evidence"
    assert sources["cancer_type"]["source"] == "inferred" and 0 < sources["cancer_type"]["probability"] <= 1
    assert sources["m_stage"]["source"] == "inferred" and rec.labels["m_stage"] in ("M0", "M1")

    # `make model` puts the labeller in $CANCERLLM_CACHE/classify/default; extract then uses it without --labels.
    import shutil

    monkeypatch.setenv("CANCERLLM_CACHE", str(tmp_path / "cache"))
    src = write_jsonl([Note(id="x", text=NOTE)], tmp_path / "one.jsonl")
    run(ExtractConfig(input=str(src), out=str(tmp_path / "out"), method="auto"))  # before `make model`
    shutil.copytree(tmp_path / "cls", tmp_path / "cache" / "classify" / "default")
    run(ExtractConfig(input=str(src), out=str(tmp_path / "out"), method="auto"))  # same --out, now labelled
    got = json.loads((tmp_path / "out" / "predictions.jsonl").read_text(encoding="utf-8"))
    assert got["labels"]["cancer_type"] and got["meta"]["labels_model"].endswith("default")
    assert (tmp_path / "out" / "predictions.jsonl.prev").is_file()  # the unlabelled record was moved aside


def test_a_labeller_fitted_with_other_report_readers_is_flagged_when_loaded(tmp_path, caplog):
    import joblib

    from cancerllm.classify.recipe import ClassifyConfig, reader_fingerprint
    from cancerllm.classify.recipe import run as classify
    from cancerllm.data.synth import synthesize

    notes = synthesize(120, seed=3)
    tr, dv = write_jsonl(notes[:90], tmp_path / "tr.jsonl"), write_jsonl(notes[90:], tmp_path / "dv.jsonl")
    classify(ClassifyConfig(train=str(tr), dev=str(dv), predict=[], out=str(tmp_path / "cls"), folds=3, trees=10,
                            hard=False))
    with caplog.at_level("WARNING", logger="cancerllm"):
        RulePredictor(labels=tmp_path / "cls")
    assert not caplog.records  # fitted with the installed readers
    model = joblib.load(tmp_path / "cls" / "model.joblib")
    assert model.reader == reader_fingerprint() and len(model.reader) == 12
    for fitted in ("0" * 12, None):  # other readers; a model saved before the fingerprint
        model.reader = fitted
        joblib.dump(model, tmp_path / "cls" / "model.joblib")
        caplog.clear()
        with caplog.at_level("WARNING", logger="cancerllm"):
            labeller = RulePredictor(labels=tmp_path / "cls")
        text = caplog.text
        assert "not the installed " + reader_fingerprint() in text and "make model" in text and str(tmp_path / "cls") in text
        assert labeller.predict([Note(id="x", text=NOTE)])[0].labels["cancer_type"]  # still labels, flagged


def test_missing_labels_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ResourceError, match="model.joblib"):
        RulePredictor(labels=tmp_path / "nowhere")


_WORDS = st.sampled_from(["no", "history of", "left", "breast", "ER", "positive", "pT2", "N0", "2.3 cm", "grade 2",
                          "adenocarcinoma", "carcinoma", ".", "\n", "mother", "stage IIA", "tamoxifen", "HER2 3+",
                          "suspicious for", "🩺", "lobe", "right upper lobe", "Gleason 4+3=7", "x"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, max_size=40))
def test_spans_always_slice_the_text(words):
    text = " ".join(words)
    spans = []
    for m in find_mentions(text):
        assert text[m.start:m.end] == m.text
        spans.append((m.start, m.end))
    spans.sort()
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # no two mentions overlap


def test_cli_defaults_to_rules_only_when_nothing_trained_is_given(tmp_path):
    from cancerllm.config import ModelArgs
    from cancerllm.infer.extract import resolved_method

    assert resolved_method(ExtractConfig(method="auto")) == "rules"
    assert resolved_method(ExtractConfig(method="auto", run="out/sft/x")) == "llm"
    assert resolved_method(ExtractConfig(method="auto", model=ModelArgs(path="some/model"))) == "llm"
    assert resolved_method(ExtractConfig()) == "llm"  # the Python API keeps the language model by default


def test_asking_only_for_types_it_cannot_find_returns_no_mentions():
    assert RulePredictor(types=["outcome"]).predict([Note(id="a", text=NOTE)])[0].mentions == []
    assert {m.type for m in RulePredictor(types=["stage_t"]).predict([Note(id="a", text=NOTE)])[0].mentions} == {
        "stage_t"}


def test_diagnose_without_a_run_names_the_project_of_a_stated_diagnosis_or_says_nothing_was_found():
    from cancerllm.knowledge.icd import is_valid

    rec = RulePredictor().predict([Note(id="k", text="Left kidney: renal cell carcinoma, chromophobe type, 4 cm.")],
                                  task="diagnosis")[0]
    assert rec.diagnosis.cancer_type == "KICH" and is_valid(rec.diagnosis.icd10) and not rec.errors
    none = RulePredictor().predict([Note(id="n", text="Benign fibroadipose tissue.")], task="diagnosis")[0]
    assert none.diagnosis is None and "nothing was guessed" in none.errors[0]
