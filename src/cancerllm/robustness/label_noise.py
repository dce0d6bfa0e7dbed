"""Counterfactual label noise: at a rate, replace a training label by another valid label of the same type.

The paper's counterfactual testbed injects wrong labels into the instruction-tuning data and scores the tuned
model on the clean test set. Here a label is replaced *consistently* everywhere the SFT targets read it:

* ``t_stage`` / ``n_stage`` / ``m_stage``: ``labels[...]`` and the ``value`` of every stage mention that stated the
  old class. "PATHOLOGIC STAGE: pT2a N0" with gold T2 becomes a training example that says the span "pT2a" means
  T3: the surface text stays, the label lies. Inference reads a stage back from the quoted text, so the LLM testbed
  scores the category the model *states* instead (:class:`~cancerllm.robustness.predictors.StatedValuePredictor`);
  a prompt style that states no value (``qa.v1``: its target is the quoted text alone, identical before and after
  noise) is refused for stage noise.
* ``cancer_type``: ``note.cancer_type``, the diagnosis (text and ICD-10-CM code of the new TCGA project, via
  :func:`cancerllm.knowledge.icd.diagnosis_for`) and the value/code of ``cancer_diagnosis`` mentions.

Which notes are flipped is drawn per field with a seeded stream: exactly ``round(rate * n)`` of the ``n`` notes
that have that label. The replacement is uniform over the other classes. Each flipped note records the original
value in ``meta["label_noise"]`` so an audit can count what the model was taught.

Example:
    >>> from cancerllm.data.schema import Mention, Note
    >>> n = Note(id="a", text="pT2 N0", labels={"t_stage": "T2", "n_stage": "N0", "m_stage": None},
    ...          mentions=[Mention(type="stage_t", text="pT2", start=0, end=3, value="T2")])
    >>> noisy, report = noise_labels([n], rate=1.0, seed=0, fields=("t_stage",))
    >>> noisy[0].labels["t_stage"] != "T2", noisy[0].mentions[0].value == noisy[0].labels["t_stage"]
    (True, True)
    >>> report["t_stage"]["flipped"], n.labels["t_stage"]
    (1, 'T2')
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from cancerllm.data.schema import Note
from cancerllm.errors import ConfigError

__all__ = ["LABEL_SPACE", "NOISE_FIELDS", "noise_labels"]

LABEL_SPACE: dict[str, tuple[str, ...]] = {
    "t_stage": ("T1", "T2", "T3", "T4"),
    "n_stage": ("N0", "N1", "N2", "N3"),
    "m_stage": ("M0", "M1"),
}
NOISE_FIELDS = ("t_stage", "n_stage", "m_stage", "cancer_type")
_MENTION_TYPE = {"t_stage": "stage_t", "n_stage": "stage_n", "m_stage": "stage_m"}


def _projects() -> tuple[str, ...]:
    from cancerllm.knowledge.icd import TCGA_PROJECTS

    return tuple(sorted(TCGA_PROJECTS))


def _current(note: Note, field: str) -> str | None:
    if field == "cancer_type":
        return note.cancer_type or (note.diagnosis.cancer_type if note.diagnosis else None)
    if field in note.labels:
        return note.labels[field]
    # Notes without document labels (synthetic, hand-made) carry the stage in their mentions only.
    from cancerllm.knowledge.values import labels_from_mentions

    return labels_from_mentions(note.mentions).get(field)


def _flip(note: Note, field: str, new: str) -> Note:
    """A copy of ``note`` with ``field`` set to ``new`` everywhere a training target reads it."""
    old = _current(note, field)
    meta = dict(getattr(note, "meta", None) or {})
    meta["label_noise"] = {**meta.get("label_noise", {}), field: old}
    update: dict[str, Any] = {"meta": meta}
    if field == "cancer_type":
        from cancerllm.knowledge.icd import diagnosis_for

        dx = diagnosis_for(new)  # the new project's default name and ICD-10-CM code
        update.update(cancer_type=new, diagnosis=dx)
        if "cancer_type" in note.labels:
            update["labels"] = {**note.labels, "cancer_type": new}
        update["mentions"] = [m.model_copy(update={"value": new, "code": dx.icd10 if m.code else None})
                              if m.type == "cancer_diagnosis" else m for m in note.mentions]
    else:
        update["labels"] = {**note.labels, field: new}
        mtype = _MENTION_TYPE[field]
        # Only mentions that stated the old class move: a stated "pTX" or a contradicting token is not the label.
        update["mentions"] = [m.model_copy(update={"value": new}) if m.type == mtype and m.value == old else m
                              for m in note.mentions]
    return note.model_copy(update=update)


def noise_labels(notes: Sequence[Note], rate: float, seed: int = 0,
                 fields: Sequence[str] = NOISE_FIELDS) -> tuple[list[Note], dict[str, dict[str, Any]]]:
    """Return noised copies of ``notes`` (input untouched) and a per-field report.

    Args:
        notes: Training notes with gold labels.
        rate: Share of the notes having a field's label that get a wrong one (0..1).
        seed: Seed of the draw; the same seed and notes give the same output.
        fields: Label fields to noise (any of :data:`NOISE_FIELDS`).

    Returns:
        ``(notes, report)``; report[field] = ``{"eligible", "flipped", "with_mentions"}`` where
        ``with_mentions`` counts flipped notes whose phenotype target changed (a stage mention moved).

    Raises:
        ConfigError: a rate outside [0, 1] or an unknown field.
    """
    problems = [] if 0.0 <= rate <= 1.0 else [f"rate: got {rate}, expected 0 <= rate <= 1 (set --rates)"]
    problems += [f"fields: got {f!r}, expected any of {list(NOISE_FIELDS)}" for f in fields if f not in NOISE_FIELDS]
    if problems:
        raise ConfigError(problems)
    out = list(notes)
    report: dict[str, dict[str, Any]] = {}
    for field in fields:
        space = _projects() if field == "cancer_type" else LABEL_SPACE[field]
        eligible = [i for i, n in enumerate(out) if _current(n, field) in space]
        # One stream per field, so adding a field to the list does not reshuffle the others' draws.
        rng = random.Random(f"label_noise|{seed}|{field}")
        k = min(len(eligible), round(rate * len(eligible)))
        chosen = sorted(rng.sample(eligible, k))
        moved = 0
        for i in chosen:
            old = _current(out[i], field)
            new = rng.choice([v for v in space if v != old])
            flipped = _flip(out[i], field, new)
            moved += flipped.mentions != out[i].mentions
            out[i] = flipped
        report[field] = {"eligible": len(eligible), "flipped": k, "with_mentions": moved}
    return out, report
