"""Non-LLM baselines that write ``Prediction`` records, so they go through the same ``cancerllm evaluate``.

* ``regex``: rule extractor for explicit pTNM strings. It reads tokens with :func:`cancerllm.knowledge.tnm.find_tnm`,
  the same finder that grounds the TCGA evidence spans and that the hard split masks with (OCR ``pNO``, ``pTla``
  read as N0, T1), prefers pathologic (``p``/``yp``) tokens over others and the first over later ones, and keeps
  the Kefeli classes (T1-T4, N0-N3, M0/M1; TX/T0/Tis/NX/MX -> not stated). Each value is also emitted as a
  grounded ``stage_t/n/m`` mention. With
  ``fallback="majority"`` a label the note does not state gets the training majority class instead of None.
* ``tfidf``: word 1-2-gram TF-IDF + multinomial logistic regression (scikit-learn), one classifier per label
  (t_stage, n_stage, m_stage, cancer_type), each trained on the training notes whose label is not null.

Example:
    >>> regex_labels("Final: ypT3 pNO (0/12), pMX; cT2")
    {'t_stage': 'T3', 'n_stage': 'N0', 'm_stage': None}
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from cancerllm.data.schema import Mention, Note, Prediction
from cancerllm.evaluate.scorer import gold_labels
from cancerllm.knowledge.values import stated_labels

__all__ = ["BASELINES", "STAGE_KEYS", "regex_labels", "regex_predict", "run_baseline", "tfidf_predict"]

BASELINES = ("regex", "tfidf")
STAGE_KEYS = ("t_stage", "n_stage", "m_stage")


def regex_labels(text: str) -> dict[str, str | None]:
    """Coarse T/N/M stated in ``text`` (None where not stated or stated as X/0/is)."""
    return {k: v for k, (v, _) in _pick(text).items()}


def _pick(text: str) -> dict[str, tuple[str | None, tuple[int, int] | None]]:
    stated = stated_labels(text)
    return {k: (stated[k].cls, (stated[k].start, stated[k].end)) if k in stated else (None, None)
            for k in STAGE_KEYS}


def regex_predict(notes: list[Note], fallback: dict[str, str] | None = None) -> list[Prediction]:
    """Regex predictions; ``fallback`` maps a label to the value used when the note states none."""
    out = []
    for n in notes:
        labels, mentions = {}, []
        for key, (value, span) in _pick(n.text).items():
            labels[key] = value if value is not None else (fallback or {}).get(key)
            if span is not None:
                mentions.append(Mention(type=f"stage_{key[0]}", text=n.text[span[0]:span[1]], start=span[0],
                                        end=span[1], value=value))
        out.append(Prediction(id=n.id, task="phenotype", labels=labels, mentions=mentions,
                              meta={"baseline": "regex.v1", "fallback": bool(fallback)}))
    return out


def majority(notes: list[Note], keys=STAGE_KEYS) -> dict[str, str]:
    """Most frequent non-null gold value per label (ties broken alphabetically)."""
    out = {}
    for k in keys:
        c = Counter(v for n in notes if (v := gold_labels(n)[k]) is not None)
        if c:
            out[k] = min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return out


def tfidf_predict(train: list[Note], test: list[Note], keys=(*STAGE_KEYS, "cancer_type"), c: float = 10.0,
                  seed: int = 0) -> list[Prediction]:
    """Fit TF-IDF + logistic regression per label on ``train``; predict every label for ``test``."""
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(lowercase=True, ngram_range=(1, 2), min_df=2, max_df=0.95, sublinear_tf=True,
                          max_features=200_000, dtype=np.float32)
    x_train = vec.fit_transform([n.text for n in train])
    x_test = vec.transform([n.text for n in test])
    gold = [gold_labels(n) for n in train]
    preds: dict[str, list] = {}
    for k in keys:
        rows = [i for i, g in enumerate(gold) if g[k] is not None]
        y = [gold[i][k] for i in rows]
        if len(set(y)) < 2:  # a constant label: predict it (LogisticRegression needs two classes)
            preds[k] = [y[0] if y else None] * len(test)
            continue
        clf = LogisticRegression(C=c, max_iter=3000, random_state=seed)
        clf.fit(x_train[rows], y)
        preds[k] = list(clf.predict(x_test))
    return [Prediction(id=n.id, task="phenotype", labels={k: str(preds[k][i]) if preds[k][i] is not None else None
                                                          for k in keys},
                       meta={"baseline": "tfidf-logreg.v1", "C": c}) for i, n in enumerate(test)]


def run_baseline(name: str, train: str | Path | None, input: str | Path, out: str | Path,
                 fallback: str = "majority") -> Path:
    """Run baseline ``name`` ("regex" or "tfidf") and write Prediction JSONL to ``out``."""
    from cancerllm.data.io import read_notes_reporting, write_jsonl
    from cancerllm.errors import ConfigError

    if name not in BASELINES:
        raise ConfigError(f"baseline: got {name!r}, expected one of {list(BASELINES)}")
    if fallback not in ("majority", "none"):
        raise ConfigError(f"--fallback: got {fallback!r}, expected 'majority' or 'none'")
    test = read_notes_reporting(input, "baseline --input")
    if name == "tfidf" or fallback == "majority":
        if train is None:
            raise ConfigError(f"baseline {name} needs --train TRAIN.jsonl (or --fallback none for regex)")
        train_notes = read_notes_reporting(train, "baseline --train")
    if name == "regex":
        preds = regex_predict(test, majority(train_notes) if fallback == "majority" else None)
    else:
        preds = tfidf_predict(train_notes, test)
    return write_jsonl(preds, out)
