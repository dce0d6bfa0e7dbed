"""One-off measurement (not in the suite): closed-set scoring vs a full forward per label, on TCGA dev reports.

Usage (docs/results.md, "Closed-set scoring"):
    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 HF_HUB_OFFLINE=1 nice -n 10 .venv/bin/python scripts/measure_scoring.py \
        --n 40 --field t_stage --out out/scoring/dev40_t.json

Takes the first ``--n`` dev reports whose gold label is not null, scores every chunk prompt with both paths (the
order alternates per note, so drifting machine load hits both alike), pools chunks both ways (mean / max) and
prints accuracy, macro-F1 and ECE of the argmax, wall times, and the agreement of the two paths.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--field", default="t_stage")
    ap.add_argument("--max-prompt-tokens", type=int, default=1024)
    ap.add_argument("--dtype", default="auto", help="model.dtype: auto (bf16 on this CPU) or fp32")
    ap.add_argument("--out", type=Path, default=Path("out/scoring/dev40.json"))
    args = ap.parse_args()

    from cancerllm.classify.heads import expected_calibration_error
    from cancerllm.config import ModelArgs
    from cancerllm.data.chunking import chunk_text
    from cancerllm.data.instruct import prompt_token_ids, token_counter
    from cancerllm.evaluate.classification import classification_scores
    from cancerllm.infer.scoring import FIELDS, _pool, field_prompt, score_labels, score_labels_naive, softmax
    from cancerllm.model.load import load_model

    spec = FIELDS[args.field]
    key = "cancer_type" if args.field == "cancer_type" else args.field
    with Path("/work/shared/data/tcga_path_reports/dev.jsonl").open() as f:
        rows = [json.loads(line) for line in f]
    rows = [r for r in rows if r.get(key) is not None][:args.n]
    model, tok, info = load_model(ModelArgs(dtype=args.dtype))
    model.eval()
    verbal = [spec.verbalise(k) for k in spec.labels]
    budget = args.max_prompt_tokens - len(prompt_token_ids(tok, field_prompt(spec, "", tok)))
    times = {"shared": 0.0, "naive": 0.0}
    per_note, max_diff, prompts, prompt_tokens = [], 0.0, 0, 0
    for i, rec in enumerate(rows):
        chunks = chunk_text(rec["text"], budget, token_counter(tok), 200)
        logps = {"shared": [], "naive": []}
        order = ("shared", "naive") if i % 2 == 0 else ("naive", "shared")
        for path in order:
            fn = score_labels if path == "shared" else score_labels_naive
            t0 = time.perf_counter()
            for c in chunks:
                raw = fn(model, tok, field_prompt(spec, c.text, tok), verbal)
                probs = softmax({k: raw[v] for k, v in zip(spec.labels, verbal, strict=True)})
                logps[path].append({k: math.log(max(p, 1e-300)) for k, p in probs.items()})
            times[path] += time.perf_counter() - t0
        prompts += len(chunks)
        prompt_tokens += sum(len(prompt_token_ids(tok, field_prompt(spec, c.text, tok))) for c in chunks)
        for a, b in zip(logps["shared"], logps["naive"], strict=True):
            max_diff = max(max_diff, max(abs(a[k] - b[k]) for k in a))
        per_note.append({"id": rec["id"], "gold": rec[key], "chunks": len(chunks),
                         **{f"{p}_{c}": _pool(logps[p], c) for p in logps for c in ("mean", "max")}})
        print(f"{i + 1}/{len(rows)} chunks={len(chunks)} shared={times['shared']:.1f}s naive={times['naive']:.1f}s",
              flush=True)
    gold = [r["gold"] for r in per_note]
    y = np.array([spec.labels.index(g) for g in gold])
    result = {"field": args.field, "n": len(rows), "prompts": prompts, "prompt_tokens": prompt_tokens,
              "model": info.get("path"), "dtype": str(info.get("dtype")), "seconds": times,
              "speedup": times["naive"] / times["shared"], "max_abs_diff_label_logprob": max_diff,
              "gold_counts": {k: gold.count(k) for k in spec.labels}}
    for path in ("shared", "naive"):
        for comb in ("mean", "max"):
            dists = [r[f"{path}_{comb}"] for r in per_note]
            pred = [max(d, key=d.get) for d in dists]
            s = classification_scores(gold, pred)
            p = np.array([[d[k] for k in spec.labels] for d in dists])
            result[f"{path}_{comb}"] = {"accuracy": s["accuracy"], "macro_f1": s["macro_f1"],
                                        "ece": expected_calibration_error(p, y),
                                        "pred_counts": {k: pred.count(k) for k in spec.labels}}
    agree = [max(r["shared_mean"], key=r["shared_mean"].get) == max(r["naive_mean"], key=r["naive_mean"].get)
             for r in per_note]
    result["argmax_agreement_mean"] = sum(agree) / len(agree)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": result, "notes": per_note}, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
