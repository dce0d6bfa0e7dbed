#!/usr/bin/env bash
# The document-level TCGA table of docs/results.md ("Document labels: classifier vs baselines"), from raw train
# reports to scored test predictions, on CPU. Usage: scripts/reproduce_tcga.sh [OUT] [extra classify overrides]
#   scripts/reproduce_tcga.sh                                    # lexical + measures (~3 min on 2 cores)
#   scripts/reproduce_tcga.sh out/tcga-lm features=[lexical,measures,lm]   # + LM hidden states (~20 min)
# Resumable: classify caches LM features per note; every step below rewrites only its own folder.
set -euo pipefail
O=${1:-out/tcga}
shift || true
D=${CANCERLLM_DATA:-../shared/data}/tcga_path_reports
mkdir -p "$O"
cancerllm hard-split --input "$D/test.jsonl" --out "$O/test_hard_input.jsonl"

# Baselines on the normal and the hard (TNM-masked) test reports.
for split in test hard; do
  input="$D/test.jsonl"; [ "$split" = hard ] && input="$O/test_hard_input.jsonl"
  cancerllm baseline regex --train "$D/train.jsonl" --input "$input" --out "$O/regex_$split.jsonl"
  cancerllm baseline tfidf --train "$D/train.jsonl" --input "$input" --out "$O/tfidf_$split.jsonl"
done

# The classifier: fit on train, calibrate on dev, label test and its masked copy (test_hard.jsonl).
cancerllm classify --config configs/classify/tcga.yaml out="$O/classify" "$@"

for name in regex_test tfidf_test regex_hard tfidf_hard classify/test classify/test_hard; do
  cancerllm evaluate --pred "$O/$name.jsonl" --gold "$D/test.jsonl" --out "$O/eval/${name//\//_}"
done
# Paired bootstrap of the classifier against each baseline, on the same reports.
cancerllm compare "$O/eval/classify_test" "$O/eval/regex_test" "$O/eval/tfidf_test" --out "$O/compare_normal"
cancerllm compare "$O/eval/classify_test_hard" "$O/eval/tfidf_hard" "$O/eval/regex_hard" --out "$O/compare_hard"
