"""Golden, hand-worked values for the paper's metrics, and cross-checks with rouge-score / sacrebleu."""

import math

import pytest

from cancerllm.evaluate.metrics import bleu2, exact_match, lcs_length, match_score, rouge1, rouge_l, soft_prf
from cancerllm.evaluate.normalize import normalize_and_stem, normalize_nostem, split_answers
from cancerllm.registry import metrics as registry


def test_normalize_punctuation_case_stemming():
    assert normalize_nostem("HER2-Negative (IHC 1+).") == "her2negative ihc 1"
    assert normalize_and_stem("Lymph Nodes, negative") == "lymph node neg"
    # the reference code's lead list never fires on single tokens: articles are kept by default
    assert normalize_and_stem("the tumor") == "the tumor"
    assert normalize_and_stem("the tumor", drop_leads=True) == "tumor"
    assert normalize_and_stem("the", drop_leads=True) == "the"  # a lone article is not dropped to nothing


def test_normalize_split_answers():
    assert split_answers("answer: ER positive, PR negative,") == ["ER positive", "PR negative"]


def test_metrics_exact_match_after_normalisation():
    assert exact_match("Tumors.", "tumor") == 1.0
    assert exact_match("T2", "T2a") == 0.0


def test_metrics_bleu2_hand_worked():
    # c = "invas ductal carcinoma" (3), r = "ductal carcinoma" (2): p1 = 2/3, p2 = 1/2, no brevity penalty
    assert bleu2("invasive ductal carcinoma", "ductal carcinoma") == pytest.approx(math.sqrt(2 / 3 * 1 / 2), rel=1e-6)
    # c shorter than r: brevity penalty exp(1 - 4/2) with p1 = p2 = 1
    assert bleu2("ductal carcinoma", "invasive ductal carcinoma nos") == pytest.approx(math.exp(-1), rel=1e-6)
    # one-token answers: pycocoevalcap smoothing gives sqrt(1e-15/1e-9) = 1e-3 for an exact match
    assert bleu2("T2", "T2") == pytest.approx(1e-3, rel=1e-4)
    assert bleu2("", "T2") == 0.0


def test_metrics_rouge_l_beta_1_2_hand_worked():
    # LCS("right upper lobe", "upper lobe right") = 2; P = R = 2/3 -> F_beta = 2/3 for any beta
    assert rouge_l("right upper lobe", "upper lobe right") == pytest.approx(2 / 3)
    # P = 2/3, R = 1: F = (1 + 1.44) * P * R / (R + 1.44 * P) = 0.82993...
    assert rouge_l("invasive ductal carcinoma", "ductal carcinoma") == pytest.approx(2.44 * (2 / 3) / (1 + 1.44 * 2 / 3))
    assert rouge1("upper lobe right", "right upper lobe") == pytest.approx(1.0)
    assert lcs_length(list("abcbdab"), list("bdcaba")) == 4


def test_metrics_soft_prf_hand_worked():
    preds, golds = ["ER positive", "PR negative", "ER positive"], ["ER positive", "HER2 negative"]
    # dedupe -> 2 predictions; P = (1 + 0)/2, R = (1 + 0)/2 under EM
    assert soft_prf(preds, golds, exact_match) == (0.5, 0.5, 0.5)
    # ROUGE-L: "pr neg" vs "her2 neg": LCS 1, P = 1/2, R = 1/2 -> 0.5; best matches feed both P and R
    p, r, f = soft_prf(preds, golds, rouge_l)
    assert (p, r) == (0.75, 0.75) and f == 0.75


def test_metrics_soft_prf_edge_cases():
    assert soft_prf([], [], bleu2) == (1.0, 1.0, 1.0)
    assert soft_prf(["a"], [], bleu2) == (0.0, 1.0, 0.0)
    assert soft_prf([], ["a"], bleu2) == (1.0, 0.0, 0.0)
    assert soft_prf(["xyz"], ["abc"], exact_match) == (0.0, 0.0, 0.0)
    assert match_score(exact_match, "!!", "...") == 1.0  # both empty after punctuation removal


def test_metrics_registered_versioned_names():
    for name in ("exact_match.v1", "bleu2.v1", "rouge_l.v1", "rouge1.v1"):
        assert name in registry.names()
    assert registry.get("rouge_l") is rouge_l


CASES = [("invasive ductal carcinoma", "ductal carcinoma"), ("left upper lobe of lung", "left upper lobe"),
         ("grade 2 of 3", "nottingham grade 2"), ("er positive pr positive", "er positive")]


@pytest.mark.parametrize("pred,gold", CASES)
def test_metrics_rouge_l_agrees_with_rouge_score_when_beta_is_1(pred, gold):
    """rouge-score's ROUGE-L uses beta = 1 (F1); with the same P and R our LCS must agree exactly."""
    from rouge_score import rouge_scorer

    s = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False).score(normalize_and_stem(gold), normalize_and_stem(pred))
    assert rouge_l(pred, gold, beta=1.0) == pytest.approx(s["rougeL"].fmeasure, abs=1e-9)
    if s["rougeL"].precision != s["rougeL"].recall:  # beta 1.2 weights recall: the two then differ
        assert rouge_l(pred, gold) != pytest.approx(s["rougeL"].fmeasure, abs=1e-6)


@pytest.mark.parametrize("pred,gold", CASES)
def test_metrics_bleu2_agrees_with_sacrebleu_when_no_zero_counts(pred, gold):
    """sacrebleu BLEU(max_ngram_order=2, no smoothing needed) equals our BLEU-2 when every n-gram count is > 0."""
    from sacrebleu.metrics import BLEU

    bleu = BLEU(max_ngram_order=2, tokenize="none", smooth_method="none", effective_order=False)
    s = bleu.sentence_score(normalize_and_stem(pred), [normalize_and_stem(gold)]).score / 100
    assert bleu2(pred, gold) == pytest.approx(s, rel=1e-6)


def test_metrics_bleu2_differs_from_sacrebleu_on_one_token():
    from sacrebleu.metrics import BLEU

    s = BLEU(max_ngram_order=2, tokenize="none", effective_order=True).sentence_score("t2", ["t2"]).score / 100
    assert s == pytest.approx(1.0) and bleu2("T2", "T2") == pytest.approx(1e-3, rel=1e-4)
