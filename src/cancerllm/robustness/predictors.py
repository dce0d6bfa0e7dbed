"""Predictors the testbeds can score, all behind ``predict(notes, task) -> list[Prediction]``.

* ``model``: a tuned CancerLLM run (:func:`cancerllm.infer.extract.load_predictor`).
* ``regex``: the rule-based pTNM extractor of :mod:`cancerllm.evaluate.baselines`; no training, so it is the
  non-LLM reference for the misspelling curve (it reads only TNM tokens, so only typos on them hurt it).
* ``tfidf``: TF-IDF + logistic regression per label, *trained* on the given notes; the non-LLM reference for
  the label-noise curve (and for augmentation), fast on a CPU.
* :class:`NormalizedPredictor` wraps any of them with the normaliser mitigation: it predicts on normalised text
  and maps every span back into the note it was given.
* :class:`StatedValuePredictor` wraps a model for the label-noise testbed: T/N/M labels come from the category the
  model *states*, not from the quoted text (which noise never changes; see :func:`stated_stage_labels`).

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

__all__ = ["NormalizedPredictor", "RegexPredictor", "StatedValuePredictor", "TfidfPredictor", "load_model_predictor",
           "stated_stage_labels", "states_values"]


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


def states_values(style: Any) -> bool:
    """Whether ``style``'s phenotype answers carry a stated stage category the label-noise testbed can score.

    Checked by round trip, so a new style answers for itself: one prompt for all types (a raw generation must
    parse without knowing its question), and a target saying that "pT2" means T3 parses back with value T3.

    Example:
        >>> from cancerllm.data.prompts import get_style
        >>> states_values(get_style("json.v1")), states_values(get_style("qa.v1"))
        (True, False)
    """
    if any(etype is not None for etype, _ in style.phenotype_prompts("", ["stage_t"])):
        return False
    probe = [{"type": "stage_t", "text": "pT2", "value": "T3", "assertion": "present"}]
    parsed, _ = style.parse_phenotype(style.phenotype_target(probe, None), None)
    return any(m.get("value") == "T3" for m in parsed)


def stated_stage_labels(pred: Prediction, note_text: str, style: Any) -> dict[str, str | None]:
    """T/N/M labels read from the category the model states for its quoted stage mentions.

    Inference reads a stage back from the quoted token ("pT2a" -> T2): right for extraction, blind to label noise,
    because a model taught that "pT2a" means T3 still quotes "pT2a". Here each axis takes the *stated* value of the
    same mention the pipeline's label uses (the first present grounded one, in note order); a mention whose value
    the model did not state keeps the quoted reading.

    Args:
        pred: One phenotype record of the model (``raw`` holds its generations, ``mentions`` the grounded ones).
        note_text: The note it was predicted on (to find where each quoted text grounded).
        style: The run's prompt style (must pass :func:`states_values`).

    Example:
        >>> from cancerllm.data.prompts import get_style
        >>> from cancerllm.data.schema import Mention
        >>> p = Prediction(id="a", task="phenotype", raw=['{"mentions":[{"type":"stage_t","text":"pT2","value":"T3"}]}'],
        ...                mentions=[Mention(type="stage_t", text="pT2", start=6, end=9, value="T2")])
        >>> stated_stage_labels(p, "Stage pT2 N0.", get_style("json.v1"))["t_stage"]
        'T3'
    """
    from cancerllm.data.align import align
    from cancerllm.knowledge.values import LABEL_OF_TYPE, normalize_value

    stated: dict[tuple[str, str], str | None] = {}
    for out in pred.raw:  # one generation per chunk, in note order
        for m in style.parse_phenotype(out, None)[0]:
            if m["type"] not in LABEL_OF_TYPE or m["text"] is None or not m.get("value"):
                continue
            # Key by the quoted text and by the surface it grounds on, which is what the grounded mention holds.
            span = align(note_text, m["text"])
            surfaces = {m["text"].strip()} | ({note_text[span[0]:span[1]]} if span else set())
            for surface in surfaces:
                stated.setdefault((m["type"], surface), normalize_value(m["type"], m["value"]))
    labels: dict[str, str | None] = {key: None for key in LABEL_OF_TYPE.values()}
    for m in pred.mentions:  # merged and in note order: the order labels_from_mentions reads them
        key = LABEL_OF_TYPE.get(m.type)
        if key and labels[key] is None and m.assertion == "present":
            # An inferred mention's value already is the stated one (it has no quote to read back).
            labels[key] = m.value if m.inferred else stated.get((m.type, m.text), m.value)
    return labels


class StatedValuePredictor:
    """The label-noise testbed's view of a model: T/N/M labels from the stated category (issue 11.9).

    Noise on a stage label changes the value a training example states ("pT2a" means T3), never the text it
    quotes, so only the stated value can show what the model learned. The quoted reading is kept in
    ``meta["quoted_labels"]`` for audit.

    Raises:
        ConfigError: the model's prompt style states no values (``qa.v1`` answers with quoted text only).
    """

    def __init__(self, inner: Any):
        from cancerllm.errors import ConfigError

        style_name = getattr(inner, "style_name", type(inner.style).__name__)
        if not states_values(inner.style):
            raise ConfigError(f"prompt_style: got {style_name!r} with testbed=label-noise and stage labels in "
                              "noise_fields, but its answers quote the note without stating a category, so noised "
                              "T/N/M labels never reach what the model is taught; train with json.v1 "
                              "(sft_overrides=[prompt_style=json.v1,...]) or set noise_fields=[cancer_type]")
        self.inner, self.style = inner, inner.style
        self.name = f"{getattr(inner, 'name', 'model')}+stated"
        self.grounded = getattr(inner, "grounded", True)

    def predict(self, notes: Sequence[Note], task: str = "phenotype") -> list[Prediction]:
        preds = self.inner.predict(notes, task)
        if task != "phenotype":  # diagnoses state their code already; nothing is read back from a quote
            return preds
        out = []
        for note, pred in zip(notes, preds):
            stated = stated_stage_labels(pred, note.text, self.style)
            quoted = {k: pred.labels.get(k) for k in stated}
            meta = {**pred.meta, "label_source": "stated value", "quoted_labels": quoted}
            out.append(pred.model_copy(update={"labels": {**pred.labels, **stated}, "meta": meta}))
        return out
