"""Pathology relations from the rule extractor: Treats and Indicated_by on real synthetic notes and plain text."""

import json

from cancerllm.data.io import write_jsonl
from cancerllm.data.schema import Note
from cancerllm.data.synth import synthesize
from cancerllm.data.synth.relations import with_relations
from cancerllm.evaluate.trial import score_trial
from cancerllm.infer.extract import ExtractConfig, run
from cancerllm.infer.rules import RulePredictor
from cancerllm.knowledge.indications import indicates
from cancerllm.knowledge.phenotypes import ENTITY_TYPES
from cancerllm.knowledge.trial import PATHOLOGY_RELATION_TYPES


def _pairs(text):
    """(type, head text, tail text) of every relation the rule extractor finds in ``text``."""
    rec = RulePredictor().predict([Note(id="x", text=text)])[0]
    return {(r.type, rec.mentions[r.head].text, rec.mentions[r.tail].text) for r in rec.relations}


def test_rules_predict_the_synthetic_gold_relations():
    gold = with_relations(synthesize(200, seed=11))
    preds = {p.id: p for p in RulePredictor().predict(gold)}
    for p in preds.values():  # every relation links two grounded mentions of its own note, head = a treatment
        for r in p.relations:
            assert p.mentions[r.head].type == "treatment" and p.mentions[r.head].start is not None
            assert p.mentions[r.tail].type == ("cancer_diagnosis" if r.type == "Treats" else "biomarker")
    m = score_trial(gold, preds, bootstrap=0, etypes=list(ENTITY_TYPES), rtypes=list(PATHOLOGY_RELATION_TYPES))
    per = m["relations"]["strict"]["per_type"]
    assert per["Treats"]["tp"] > 0.3 * per["Treats"]["gold"] and per["Treats"]["precision"] > 0.5
    assert per["Indicated_by"]["tp"] >= 1


def test_a_drug_is_indicated_only_by_the_result_it_requires():
    pos = _pairs("Invasive breast cancer, HER2 3+ and ER positive (90%). Started trastuzumab and letrozole.")
    assert ("Indicated_by", "trastuzumab", "HER2 3+") in pos
    assert ("Indicated_by", "letrozole", "ER positive") in pos
    assert ("Treats", "trastuzumab", "breast cancer") in pos
    neg = _pairs("Invasive breast cancer, HER2 negative (IHC 1+), ER negative. Started trastuzumab and letrozole.")
    assert not [p for p in neg if p[0] == "Indicated_by"]  # a negative result never indicates the drug
    crc = _pairs("Metastatic colon cancer, KRAS wild-type. Cetuximab added. Lung cancer, KRAS G12C mutated.")
    assert ("Indicated_by", "Cetuximab", "KRAS wild-type") in crc
    assert ("Indicated_by", "Cetuximab", "KRAS G12C mutated") not in crc
    assert indicates("targeted: sotorasib", "KRAS: G12C mutated") and not indicates("targeted: sotorasib", "KRAS: G12D")


def test_family_negated_and_past_cancers_are_not_what_todays_treatment_treats():
    text = ("Lung adenocarcinoma, EGFR exon 19 deletion. Mother had breast cancer. No evidence of colon cancer. "
            "History of prostate cancer s/p radical prostatectomy. Now on osimertinib.")
    pairs = _pairs(text)
    assert ("Treats", "osimertinib", "Lung adenocarcinoma") in pairs
    assert ("Indicated_by", "osimertinib", "EGFR exon 19 deletion") in pairs
    assert not [p for p in pairs if p[2] in ("breast cancer", "colon cancer")]
    # The prostatectomy treated the past prostate cancer named in its sentence, osimertinib today's lung cancer.
    assert ("Treats", "radical prostatectomy", "prostate cancer") in pairs
    assert not [p for p in pairs if (p[1], p[2]) in (("osimertinib", "prostate cancer"),
                                                     ("radical prostatectomy", "Lung adenocarcinoma"))]
    assert not _pairs("Lung adenocarcinoma. No osimertinib was given.")  # a negated treatment treats nothing


def test_extract_without_run_writes_relations(tmp_path, monkeypatch):
    monkeypatch.setenv("CANCERLLM_CACHE", str(tmp_path / "cache"))  # no `make model` labeller: a fresh install
    notes = [n for n in with_relations(synthesize(60, seed=3)) if n.relations][:5]
    src = write_jsonl(notes, tmp_path / "notes.jsonl")
    run(ExtractConfig(input=str(src), out=str(tmp_path / "out"), method="rules"))
    recs = [json.loads(x) for x in (tmp_path / "out" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(recs) == 5 and sum("relations" in r for r in recs) >= 3  # a note whose treatment is missed has none
    for r in recs:
        for rel in r.get("relations", []):
            assert rel["type"] in PATHOLOGY_RELATION_TYPES and 0 <= rel["head"] < len(r["mentions"])
