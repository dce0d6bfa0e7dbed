#!/usr/bin/env bash
# Learning curve of `cancerllm classify` on TCGA dev: macro-F1 vs training reports and fit minutes.
# Usage: scripts/learning_curve.sh [OUT] [extra classify overrides]   (dev only: the test split is not touched)
set -euo pipefail
O=${1:-out/learning_curve}
shift || true
D=${CANCERLLM_DATA:-../shared/data}/tcga_path_reports
for n in 150 300 600 1200 2436; do
  cancerllm classify --config configs/classify/tcga.yaml out="$O/n$n" limit=$n predict="[$D/dev.jsonl]" "$@" > /dev/null
  for split in dev dev_hard; do
    cancerllm evaluate --pred "$O/n$n/$split.jsonl" --gold "$D/dev.jsonl" --out "$O/n$n/eval_$split" --bootstrap 0 > /dev/null
  done
done
python3 - "$O" <<'PY'
import json, sys, pathlib
o = pathlib.Path(sys.argv[1])
print("| train reports | fit + calibrate (s) | T F1 | N F1 | M F1 | type macro-recall | T F1 hard | N F1 hard |")
print("|---|---|---|---|---|---|---|---|")
for d in sorted(o.glob("n*"), key=lambda p: int(p.name[1:])):
    t = json.loads((d / "timings.json").read_text())
    m = {s: json.loads((d / f"eval_{s}" / "metrics.json").read_text())["classification"] for s in ("dev", "dev_hard")}
    f = lambda s, k, x="macro_f1": f"{m[s][k][x]:.3f}"
    print(f"| {d.name[1:]} | {t['fit_s'] + t['calibrate_s']:.0f} | {f('dev','t_stage')} | {f('dev','n_stage')} | "
          f"{f('dev','m_stage')} | {f('dev','cancer_type','macro_recall')} | {f('dev_hard','t_stage')} | "
          f"{f('dev_hard','n_stage')} |")
PY
