#!/usr/bin/env bash
# Reproduces the embedded-model rows of docs/results.md (zero-shot vs fine-tuned, normal and hard TCGA test,
# RAG k, misspelling curve) on a CPU. Usage: scripts/results_llm.sh RUN_DIR [N_TEST]
# RUN_DIR = a `cancerllm sft` run folder; N_TEST = first N test reports by patient id (default 40).
set -euo pipefail
RUN=${1:?usage: scripts/results_llm.sh RUN_DIR [N_TEST]}
N=${2:-40}
O=out/results
mkdir -p $O
GEN="generate.max_prompt_tokens=384 generate.batch_size=8"
cancerllm data convert tcga --split test --out $O/tcga_test.jsonl
cancerllm data convert tcga --split train --out $O/tcga_train.jsonl
head -n "$N" $O/tcga_test.jsonl > $O/test$N.jsonl
cancerllm hard-split --input $O/test$N.jsonl --out $O/test${N}_hard.jsonl

predict() {  # name, gold file, extra args...
  local name=$1 gold=$2; shift 2
  cancerllm extract  "$gold" --out $O/$name/ph $GEN generate.max_new_tokens=56 "$@"
  cancerllm diagnose "$gold" --out $O/$name/dx $GEN generate.max_new_tokens=32 "$@"
  cat $O/$name/ph/predictions.jsonl $O/$name/dx/predictions.jsonl > $O/$name/predictions.jsonl
  cancerllm evaluate --pred $O/$name/predictions.jsonl --gold "$gold" --out $O/$name/eval
}

TYPES='types=[stage_t,stage_n,stage_m]'
predict zero-shot      $O/test$N.jsonl      "$TYPES"
predict zero-shot-hard $O/test${N}_hard.jsonl "$TYPES"
predict trained        $O/test$N.jsonl      --run "$RUN"
predict trained-hard   $O/test${N}_hard.jsonl --run "$RUN"

# RAG: BM25 over the train split, k = 1 and 3 retrieved labelled examples in every prompt.
cancerllm rag index --retriever bm25.v1 --corpus $O/tcga_train.jsonl --out $O/index-bm25
for k in 1 3; do predict rag-bm25-k$k $O/test$N.jsonl --run "$RUN" --index $O/index-bm25 --k $k; done

# Misspelling testbed on the fine-tuned model, with and without the normaliser.
cancerllm robustness --testbed misspelling --rates 0,0.1,0.3 --run "$RUN" --predictor model \
  --perturbations typo.clinical.v1 --task phenotype --limit 20 --out $O/robust-none $GEN generate.max_new_tokens=56
cancerllm robustness --testbed misspelling --rates 0,0.1,0.3 --run "$RUN" --predictor model \
  --perturbations typo.clinical.v1 --task phenotype --limit 20 --mitigation normalize --out $O/robust-normalize $GEN generate.max_new_tokens=56
