"""Predictors the testbeds can score, all behind ``predict(notes, task) -> list[Prediction]``.

* ``model``: a tuned CancerLLM run (:func:`cancerllm.infer.extract.load_predictor`).
* ``regex``: the rule-based pTNM extractor of :mod:`cancerllm.evaluate.baselines`; no training, so it is the
  non-LLM reference for the misspelling curve (it reads only TNM tokens, so only typos on them hurt it).
* ``tfidf``: TF-IDF + logistic regression per label, *trained* on the given notes; the non-LLM reference for
  the label-noise curve (and for augmentation), fast on a CPU.
* :class:`NormalizedPredictor` wraps any of them with the normaliser mitigation: it predicts on normalised text
  and maps every span back into the note it was given.

Example:
    >>> from cancerllm.data.schema import Note
    >>> p = RegexPredictor().predict([Note(id="a", text="Final: pT3 pN0 (0/12).")], "phenotype")[0]
    >>> p.labels["t_stage"], [(m.type, m.text) for m in p.mentions][:1]
    ('T3', [('stage_t', 'pT3')])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cancerllm.data.schema import Note, Prediction
from cancerllm.robustness.normalize import Normalizer, restore_prediction

__all__ = ["NormalizedPredictor", "RegexPredictor", "TfidfPredictor", "load_model_predictor"]


class RegexPredictor:
    """The regex pTNM baseline (phenotype task only: it has no diagnosis)."""

    name = "regex"
    grounded = True
    """Its predictions carry spans, so span scores mean something."""

    def predict(self, notes: Sequence[Note], task: str = "phenotype") -> list[Prediction]:
        from cancerllm.evaluate.baselines import regex_predict

        return regex_predict(list(notes))


class TfidfPredictor:
    """TF-IDF + logistic regression on the document labels of ``train`` (refit at each call: it is cheap).

    Args:
        train: Training notes (their labels, possibly noised, are the targets).
        seed: Solver seed.
    """

    name = "tfidf"
    grounded = False

    def __init__(self, train: Sequence[Note], seed: int = 0):
        self.train, self.seed = list(train), seed

    def predict(self, notes: Sequence[Note], task: str = "phenotype") -> list[Prediction]:
        from cancerllm.evaluate.baselines import tfidf_predict

        return tfidf_predict(self.train, list(notes), seed=self.seed)


class NormalizedPredictor:
    """Predict on normalised notes, then point spans back into the notes as given.

    Example:
        >>> from cancerllm.robustness.normalize import Lexicon
        >>> norm = Normalizer(Lexicon.from_texts(["stage pT2 N0 M0 carcinoma"] * 3))
        >>> p = NormalizedPredictor(RegexPredictor(), norm).predict([Note(id="a", text="stage pR2 N0 M0")])[0]
        >>> p.labels["t_stage"], p.mentions[0].text, p.meta["normalizer_edits"]
        ('T2', 'pR2', 1)
    """

    grounded = True

    def __init__(self, inner: Any, normalizer: Normalizer):
        self.inner, self.normalizer = inner, normalizer
        self.name = f"{getattr(inner, 'name', 'model')}+normalize"
        self.grounded = getattr(inner, "grounded", True)

    def predict(self, notes: Sequence[Note], task: str = "phenotype") -> list[Prediction]:
        pairs = [self.normalizer.normalize(n) for n in notes]
        preds = self.inner.predict([p for p, _ in pairs], task)
        out = []
        for note, (_, log), pred in zip(notes, pairs, preds):
            restored = restore_prediction(pred, log, note.text)
            out.append(restored.model_copy(update={"meta": {**restored.meta, "normalizer_edits": len(log)}}))
        return out


def load_model_predictor(run: str, model: Any = None, generate: Any = None) -> Any:
    """A tuned model's predictor from a run folder (base model + adapters + prompt style of that run)."""
    from cancerllm.infer.extract import ExtractConfig, load_predictor

    kwargs: dict[str, Any] = {"input": "-", "run": str(run)}
    if model is not None:
        kwargs["model"] = model
    if generate is not None:
        kwargs["generate"] = generate
    predictor = load_predictor(ExtractConfig(**kwargs))
    predictor.name, predictor.grounded = f"model:{run}", True
    return predictor
