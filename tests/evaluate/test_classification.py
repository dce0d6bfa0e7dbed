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
