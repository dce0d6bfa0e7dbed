"""Classification scores against scikit-learn, bootstrap CIs and the paired test."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, recall_score

from cancerllm.evaluate.classification import bootstrap_ci, classification_scores, paired_bootstrap


def _random(seed, n=300):
    rng = np.random.default_rng(seed)
    y = list(rng.choice(["T1", "T2", "T3", "T4"], n))
    p = [t if rng.random() < 0.6 else rng.choice(["T1", "T2", "T3", "T4", None]) for t in y]
    return y, p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classification_matches_sklearn_on_gold_classes(seed):
    y, p = _random(seed)
    s = classification_scores(y, p)
    pp = ["none" if x is None else x for x in p]
    gold = sorted(set(y))
    assert s["accuracy"] == pytest.approx(accuracy_score(y, pp))
    assert s["macro_f1"] == pytest.approx(f1_score(y, pp, labels=gold, average="macro"))
    assert s["macro_recall"] == pytest.approx(recall_score(y, pp, labels=gold, average="macro"))
    assert np.array(s["confusion"]).sum() == len(y) and s["labels"][-1] == "none"


def test_classification_bootstrap_ci_contains_point_and_is_seeded():
    y, p = _random(0)
    s, ci = classification_scores(y, p), bootstrap_ci(y, p, n=500, seed=3)
    for m in ("accuracy", "macro_f1", "macro_recall"):
        assert ci[m][0] < s[m] < ci[m][1]
        assert ci[m][1] - ci[m][0] < 0.2
    assert ci == bootstrap_ci(y, p, n=500, seed=3)


def test_classification_paired_bootstrap_identical_runs_not_significant():
    y, p = _random(1)
    r = paired_bootstrap(y, p, p, n=300)
    assert r["accuracy"]["diff"] == 0 and r["accuracy"]["p_value"] == 1.0


def test_classification_paired_bootstrap_detects_better_run():
    y, p = _random(2)
    r = paired_bootstrap(y, y, p, n=300)
    assert r["macro_f1"]["diff"] > 0.2 and r["macro_f1"]["p_value"] < 0.01


def test_classification_total_failure_scores_zero_not_not_predicted(tmp_path):
    """Issue 11.7: diagnosis records that all failed to parse are a 0/n result, not a run that never predicts."""
    from cancerllm.data.schema import Diagnosis, Note, Prediction
    from cancerllm.evaluate.report import render_markdown
    from cancerllm.evaluate.run import score_files

    codes = ["C50.9", "C34.1", "C64.1"]
    gold = [Note(id=f"n{i}", text="Invasive carcinoma.", cancer_type="BRCA", diagnosis=Diagnosis(text="cancer", icd10=c))
            for i, c in enumerate(codes)]
    # What the predictor writes when no generation parses: a diagnosis record with no diagnosis and an error.
    preds = [Prediction(id=n.id, task="diagnosis", labels={"cancer_type": None}, errors=["chunk 0: no JSON object"])
             for n in gold]
    (tmp_path / "g.jsonl").write_text("".join(n.model_dump_json() + "\n" for n in gold))
    (tmp_path / "p.jsonl").write_text("".join(p.model_dump_json() + "\n" for p in preds))
    m, _ = score_files(tmp_path / "p.jsonl", tmp_path / "g.jsonl", task="diagnosis", bootstrap=0)
    for key in ("icd10", "icd10_category"):
        r = m["classification"][key]
        assert not r.get("not_predicted") and r["n"] == len(codes)
        assert r["accuracy"] == 0.0 and r["abstained"] == len(codes)
    md = render_markdown(m)
    assert "not predicted" not in md and "| icd10 | 3 | 0.000 |" in md
