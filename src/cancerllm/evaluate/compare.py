"""``compare(runs)``: side-by-side table of several evaluated runs and paired bootstrap tests on shared items.

A run is an ``evaluate`` output folder (``metrics.json`` + ``items.jsonl``) or a prediction JSONL (then ``gold``
is required and it is evaluated on the fly). Every run is compared with the first (the reference;
diff = run - reference) on the items both runs scored, per label, with :func:`~cancerllm.evaluate.classification.paired_bootstrap`; the paper-metric
average F1 is compared the same way on per-note scores.

Example:
    >>> import tempfile, pathlib, json
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "g.jsonl").write_text("".join(json.dumps({"id": str(i), "text": ".", "labels": {"t_stage": "T1"}})
    ...                                        + "\\n" for i in range(4)))
    >>> for name, v in (("a", "T1"), ("b", "T2")):
    ...     _ = (d / f"{name}.jsonl").write_text("".join(json.dumps({"id": str(i), "task": "phenotype",
    ...                                                  "labels": {"t_stage": v}}) + "\\n" for i in range(4)))
    >>> r = compare([d / "a.jsonl", d / "b.jsonl"], gold=d / "g.jsonl", out=None, bootstrap=100)
    >>> r["tests"][1]["t_stage"]["accuracy"]["diff"]
    -1.0
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from cancerllm.errors import ConfigError, ResourceError
from cancerllm.evaluate.classification import paired_bootstrap
from cancerllm.evaluate.report import md_table

__all__ = ["compare", "load_run"]


def load_run(run: str | Path, gold: str | Path | None, bootstrap: int, seed: int) -> tuple[dict, list[dict]]:
    """``(metrics, items)`` of a run folder or a prediction file (evaluated against ``gold``)."""
    p = Path(run)
    if p.is_dir():
        if not (p / "metrics.json").is_file() or not (p / "items.jsonl").is_file():
            raise ResourceError(f"run folder {str(p)!r} has no metrics.json/items.jsonl; run `cancerllm evaluate "
                                f"--out {p}` first, or pass the predictions file")
        items = [json.loads(x) for x in (p / "items.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
        return json.loads((p / "metrics.json").read_text(encoding="utf-8")), items
    if not p.is_file():
        raise ResourceError(f"run {str(p)!r} is neither an evaluate folder nor a predictions file")
    if gold is None:
        raise ConfigError(f"run {str(p)!r} is a predictions file: pass --gold GOLD.jsonl to score it")
    from cancerllm.evaluate.run import score_files

    return score_files(p, gold, bootstrap=bootstrap, seed=seed)


def _paired_mean(a: np.ndarray, b: np.ndarray, n: int, seed: int) -> dict[str, Any]:
    d = a - b
    idx = np.random.default_rng(seed).integers(0, len(d), (n, len(d)))
    boot = d[idx].mean(1)
    p = min(1.0, 2 * min(np.mean(boot <= 0), np.mean(boot >= 0)))
    return {"a": float(a.mean()), "b": float(b.mean()), "diff": float(d.mean()),
            "ci": [float(x) for x in np.percentile(boot, [2.5, 97.5])], "p_value": float(p)}


def compare(runs: list[str | Path], gold: str | Path | None = None, out: str | Path | None = None,
            bootstrap: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Compare runs against the first one; writes compare.json and compare.md into ``out`` if given."""
    if len(runs) < 2:
        raise ConfigError(f"compare: got {len(runs)} run(s), expected at least 2")
    loaded = [load_run(r, gold, bootstrap, seed) for r in runs]
    names = [str(r) for r in runs]
    keys = sorted({k for m, _ in loaded for k, v in m["classification"].items() if not v.get("not_predicted")})
    table = []
    for name, (m, _) in zip(names, loaded):
        row = [name]
        for k in keys:
            r = m["classification"].get(k, {})
            row += [r.get("accuracy"), r.get("macro_f1")] if not r.get("not_predicted") else ["-", "-"]
        row.append(m.get("paper", {}).get("phenotype", {}).get("avg_f1"))
        table.append(row)
    ref_items = {it["id"]: it for it in loaded[0][1]}
    tests: list[dict[str, Any]] = [{}]
    def predicted(m: dict, k: str) -> bool:
        return k in m["classification"] and not m["classification"][k].get("not_predicted")

    for m_run, items in loaded[1:]:
        res: dict[str, Any] = {}
        shared = [(ref_items[it["id"]], it) for it in items if it["id"] in ref_items]
        for k in keys:
            if not (predicted(loaded[0][0], k) and predicted(m_run, k)):  # nothing to pair
                continue
            trip = [(a["labels"][k][0], a["labels"][k][1], b["labels"][k][1]) for a, b in shared
                    if k in a["labels"] and k in b["labels"]]
            if trip:
                res[k] = paired_bootstrap([t[0] for t in trip], [t[2] for t in trip], [t[1] for t in trip],
                                          n=bootstrap, seed=seed)
        for task in ("phenotype", "diagnosis"):
            pairs = [(a["paper"][task], b["paper"][task]) for a, b in shared
                     if task in a.get("paper", {}) and task in b.get("paper", {})]
            if pairs:
                arr = np.array(pairs)
                res[f"paper_{task}_avg_f1"] = _paired_mean(arr[:, 1], arr[:, 0], bootstrap, seed)
        res["shared_items"] = len(shared)
        tests.append(res)
    result = {"runs": names, "keys": keys, "table": table, "tests": tests, "bootstrap": bootstrap, "seed": seed}
    if out is not None:
        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        (d / "compare.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        (d / "compare.md").write_text(render_compare(result), encoding="utf-8")
    return result


def render_compare(r: dict[str, Any]) -> str:
    """Markdown: the side-by-side table, then per-run tests against the first run."""
    header = ["run"] + [f"{k} {m}" for k in r["keys"] for m in ("acc", "mF1")] + ["paper avg F1"]
    lines = ["# Run comparison", "", md_table(header, r["table"]), "",
             (f"Paired bootstrap ({r['bootstrap']} resamples, seed {r['seed']}) against `{r['runs'][0]}`; "
              "diff = run - reference, p two-sided."), ""]
    for name, t in zip(r["runs"][1:], r["tests"][1:]):
        rows = []
        for k, v in t.items():
            if k == "shared_items":
                continue
            if "accuracy" in v:
                for m in ("accuracy", "macro_f1"):
                    rows.append([k, m, v[m]["diff"], f"[{v[m]['ci'][0]:.3f}, {v[m]['ci'][1]:.3f}]", v[m]["p_value"]])
            else:
                rows.append([k, "mean", v["diff"], f"[{v['ci'][0]:.3f}, {v['ci'][1]:.3f}]", v["p_value"]])
        lines += [f"## {name} ({t['shared_items']} shared items)", "",
                  md_table(["label", "metric", "diff", "95% CI", "p"], rows), ""]
    return "\n".join(lines)
