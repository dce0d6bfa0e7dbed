"""Synonym normalisation: one concept per drug class, DrugBank drugs, HGNC genes; unknowns stay unknown."""

from __future__ import annotations

import pytest

from cancerllm.data.schema import Mention, Prediction
from cancerllm.knowledge.normalize import (
    _classes,
    _genes,
    concept_of,
    drug_backend,
    key,
    normalisation_coverage,
    normalize_drug,
    normalize_gene,
    normalize_prediction,
)

needs_drugs = pytest.mark.skipif(drug_backend() is None, reason="drug-named-entity-recognition not installed")


def test_pd1_synonyms_are_one_concept():
    ids = {normalize_drug(t).id for t in ("PD-1 inhibitor", "anti-PD-1", "programmed cell death protein 1 inhibitor",
                                          "Anti-PD1 antibodies", "PD-1 blocking antibody")}
    assert ids == {"CLASS:PD1_INHIBITOR"}
    assert normalize_drug("PD-L1 inhibitor").id == "CLASS:PDL1_INHIBITOR"  # a different target, a different class


def test_tables_load_without_conflicts_and_keys_ignore_form():
    assert len(_classes()) > 100 and len(_genes()) > 50
    assert key("Beta-Blockers") == key("beta blocker")
    assert all(c.id.startswith("HGNC:") and c.source == "HGNC" for c in _genes().values())


def test_gene_biomarker_mentions_and_ambiguities():
    assert normalize_gene("HER2-positive").id == "HGNC:3430"
    assert normalize_gene("HER-2/neu overexpression").id == "HGNC:3430"
    assert normalize_gene("EGFR exon 19 deletion").name == "EGFR"
    assert normalize_gene("KRAS G12C mutation").id == "HGNC:6407"
    assert normalize_gene("PD-L1 expression").name == "CD274"
    assert normalize_gene("ER positive").name == "ESR1"
    # Not biomarker mentions, or not genes: left alone rather than guessed.
    assert normalize_gene("HER2-positive breast cancer") is None
    assert normalize_gene("eGFR") is None  # estimated glomerular filtration rate
    assert normalize_gene("MET") is None and normalize_gene("ER") is None
    assert normalize_gene("EGFR and KRAS mutation") is None  # two genes: which one?


@needs_drugs
def test_drugbank_drugs_brands_and_multiple():
    assert normalize_drug("Keytruda").id == normalize_drug("pembrolizumab").id == "DRUGBANK:DB09037"
    assert normalize_drug("Plavix").name == "Clopidogrel"
    assert concept_of("aspirin or clopidogrel", "Drug") == (None, "multiple")
    assert concept_of("study medication for treating", "Drug")[1] in ("unknown", "matched")
    assert concept_of("medications", "Drug") == (None, "unknown")


@needs_drugs
def test_prediction_is_normalised_and_counted():
    text = "No prior anti-PD-1 or Keytruda; HER2-positive; medications"
    ms = [Mention(type="Drug", text="anti-PD-1", start=9, end=18), Mention(type="Drug", text="Keytruda", start=22,
          end=30), Mention(type="Measurement", text="HER2-positive", start=32, end=45),
          Mention(type="Drug", text="medications", start=47, end=58)]
    assert all(text[m.start:m.end] == m.text for m in ms)
    pred = Prediction(id="p", task="trial", mentions=ms)
    counts = normalize_prediction(pred)
    assert [(m.value, m.code) for m in pred.mentions] == [
        ("PD-1 inhibitor", "CLASS:PD1_INHIBITOR"), ("Pembrolizumab", "DRUGBANK:DB09037"), ("ERBB2", "HGNC:3430"),
        (None, None)]
    assert counts == {"Drug:matched": 2, "Measurement:matched": 1, "Drug:unknown": 1}
    cov = normalisation_coverage([pred])
    assert (cov["drug_mentions"], cov["drug_normalised"], cov["drug_unnormalised"]) == (3, 2, 1)
    assert cov["by_source"] == {"CLASS": 1, "DRUGBANK": 1} and cov["biomarker_normalised"] == 1
