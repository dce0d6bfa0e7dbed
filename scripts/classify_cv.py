"""5-fold cross-validation of `cancerllm classify` over TCGA train+dev: how document-label choices were made.

Dev alone holds 12 M1 reports, so M and hard-T choices are compared on out-of-fold predictions of the real recipe
(`Model` refitted per fold on the TNM-masked reports, then `predict_notes` on the held-out fold, normal and hard).
Prints macro-F1 of T/N/M on both splits. Any ClassifyConfig field can be overridden as key=value:

    OMP_NUM_THREADS=1 python scripts/classify_cv.py                                   # the kept configuration
    OMP_NUM_THREADS=1 python scripts/classify_cv.py staged_m0=false                   # without the staged-M0 rule
    OMP_NUM_THREADS=1 python scripts/classify_cv.py stage_group=false                 # without M1 from a stated stage IV
    OMP_NUM_THREADS=1 python scripts/classify_cv.py staged_m0=false metastasis=false stage_group=false  # no M1 evidence
    OMP_NUM_THREADS=1 python scripts/classify_cv.py --dump out/cv/oof.jsonl           # + every out-of-fold label
    OMP_NUM_THREADS=1 python scripts/classify_cv.py --train-fraction 0.887            # fit on fewer reports per fold
    python scripts/classify_cv.py "features=[lexical,measures,reached,lm]" "lm_labels=[t_stage]" lm.path=<HF folder>
                                                                          # an LM block for the T head only

About 20 min on one free core (5 fits of ~4 min); docs/results.md "This round (M and hard T)" has the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from cancerllm.classify.recipe import ClassifyConfig, Model, load_lm, predict_notes
from cancerllm.config import load_config
from cancerllm.data.io import read_notes_reporting
from cancerllm.data.paths import data_root
from cancerllm.evaluate.scorer import gold_labels
from cancerllm.knowledge.tnm import mask_tnm

_KEEP = ("source", "distribution", "rule")  # what --dump keeps of each label's source (no spans, no note text)


def main(overrides: list[str], dump: str | None = None, train_fraction: float = 1.0) -> None:
    root = data_root() / "tcga_path_reports"
    notes = [n for split in ("train", "dev") for n in read_notes_reporting(root / f"{split}.jsonl", "classify_cv")]
    gold = [gold_labels(n) for n in notes]
    cfg = load_config(ClassifyConfig, overrides=overrides)
    # With `lm` features the LM is loaded once; its per-note cache (lm.cache_dir) serves every fold.
    lm = load_lm(cfg.lm, Path(cfg.lm.cache_dir or "out/cv/lm_cache")) if "lm" in cfg.features else None
    pairs: dict[tuple[str, bool], list[tuple[str, str]]] = {}
    rows: list[dict] = []  # with --dump: one line per report and split (gold type, gold and predicted labels)
    folds = StratifiedKFold(5, shuffle=True, random_state=cfg.seed)
    with threadpool_limits(limits=1):  # as `classify` itself: identical labels whatever the thread count
        for k, (tr, te) in enumerate(folds.split(np.zeros(len(notes)), [g["cancer_type"] for g in gold])):
            if train_fraction < 1.0:  # a seeded sample of the fold's training reports: the learning curve's slope
                rng = np.random.default_rng(cfg.seed + k)
                tr = np.sort(rng.choice(tr, size=round(len(tr) * train_fraction), replace=False))
            model = Model(cfg)
            model.lm = lm
            model.fit([notes[i].id for i in tr], [mask_tnm(notes[i].text)[0] for i in tr], [gold[i] for i in tr])
            for hard in (False, True):
                for i, rec in zip(te, predict_notes(model, [notes[i] for i in te], hard=hard), strict=True):
                    src = rec.meta["label_sources"]
                    rows.append({"id": notes[i].id, "fold": k, "hard": hard, "gold": gold[i], "labels": rec.labels,
                                 "sources": {lab: {key: v for key, v in src[lab].items() if key in _KEEP}
                                             for lab in src}})
                    for label in ("t_stage", "n_stage", "m_stage"):
                        if gold[i].get(label):
                            pairs.setdefault((label, hard), []).append((gold[i][label], rec.labels[label]))
            print(f"fold {k + 1}/5 done", file=sys.stderr, flush=True)
    for (label, hard), p in sorted(pairs.items(), key=lambda x: (x[0][1], x[0][0])):
        y, pred = zip(*p, strict=True)
        print(f"{'hard' if hard else 'normal':6} {label}  n={len(p)}  macro-F1 {f1_score(y, pred, average='macro'):.3f}")
    if dump:
        Path(dump).parent.mkdir(parents=True, exist_ok=True)
        Path(dump).write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="5-fold CV of cancerllm classify over TCGA train+dev.")
    parser.add_argument("--dump", help="write every out-of-fold label to this JSONL")
    parser.add_argument("--train-fraction", type=float, default=1.0,
                        help="fit each fold on this seeded share of its training reports (same held-out folds)")
    known, overrides = parser.parse_known_args()
    if not 0.0 < known.train_fraction <= 1.0:
        parser.error(f"--train-fraction: got {known.train_fraction}, expected a number in (0, 1]")
    main(overrides, known.dump, known.train_fraction)
