"""Evaluation: the paper's soft EM/BLEU-2/ROUGE-L F1, span and classification scores, baselines, reports.

Imports are lazy-free but light (numpy, pydantic); scikit-learn and matplotlib load only inside functions.
"""

from cancerllm.evaluate.classification import bootstrap_ci, classification_scores, paired_bootstrap
from cancerllm.evaluate.hard import mask_text, mask_tnm
from cancerllm.evaluate.metrics import bleu2, exact_match, rouge1, rouge_l, soft_prf
from cancerllm.evaluate.normalize import normalize_and_stem, normalize_nostem, split_answers
from cancerllm.evaluate.run import evaluate
from cancerllm.evaluate.scorer import Scorer

__all__ = [
           "Scorer",
           "bleu2",
           "bootstrap_ci",
           "classification_scores",
           "evaluate",
           "exact_match",
           "mask_text",
           "mask_tnm",
           "normalize_and_stem",
           "normalize_nostem",
           "paired_bootstrap",
           "rouge1",
           "rouge_l",
           "soft_prf",
           "split_answers",
]
