#!/usr/bin/env bash
# The TCGA recipe on one GPU with the embedded model (SmolLM2-135M-Instruct): LoRA continued pretraining on the
# train reports, multi-task SFT on top of it, then the fine-tuned model's extract + diagnose predictions for every
# test report (normal and TNM-masked), an interrupted-and-resumed extraction, and the classifier's GPU variant
# (configs/classify/tcga-lm-gpu.yaml with LM hidden states read from 8 x 512 tokens of each report), and the
# engines x styles benchmark with the fine-tuned run on the GPU.
#
#   bash scripts/gpu_tcga.sh                      # on a GPU machine with cancerllm importable
#   DEVICE=cpu N_TEST=4 PRE_STEPS=2 SFT_STEPS=2 LM_SUBSET=20 bash scripts/gpu_tcga.sh   # a CPU dry run
#
# Settings (environment): OUT (out/gpu_tcga), DEVICE (cuda), PRE_STEPS (100), SFT_STEPS (200), BATCH (train batch,
# 32), GEN_BATCH (64), PROMPT (max prompt tokens, train and inference alike: 1536), N_TEST (334), LM_SUBSET (0 = all
# reports; else the first N of each split, for dry runs), DEADLINE (0 = none; else whole-script seconds). Each step runs under its own time limit and a failure
# is recorded in $OUT/steps.tsv without stopping the later steps. Predictions are scored on the development
# machine: `cancerllm evaluate` / `compare` against the same reports' regex and TF-IDF predictions.
# Measured on one H200 (docs/results.md, "GPU"): pretraining 100 x 32 x 1,024 tokens in 61 s; SFT at 1.1 steps/s
# (batch 32, prompts up to 1,536 tokens, fp32 weights + bf16 autocast), so 300 steps did not fit 300 s: SFT now saves
# every 100 steps and a rerun resumes (train.resume=true); LM features at 35-55 reports/s; the classifier's heads are CPU work (minutes).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
OUT=${OUT:-out/gpu_tcga}
DEVICE=${DEVICE:-cuda}
PRE_STEPS=${PRE_STEPS:-100}
SFT_STEPS=${SFT_STEPS:-200}
BATCH=${BATCH:-32}
GEN_BATCH=${GEN_BATCH:-64}
PROMPT=${PROMPT:-1536}
N_TEST=${N_TEST:-334}
LM_SUBSET=${LM_SUBSET:-0}
DEADLINE=${DEADLINE:-0}
CLI=${CLI:-cancerllm}
D=${CANCERLLM_DATA:-../shared/data}/tcga_path_reports
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
mkdir -p "$OUT"
printf 'step\tstatus\tseconds\n' > "$OUT/steps.tsv"
log() { printf '%s gpu_tcga: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# step NAME LIMIT_S CMD...: runs CMD under a time limit, logs to $OUT/NAME.log, records status and wall seconds.
step() {
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS rc=0
  # a whole-script budget (DEADLINE seconds) leaves 40 s for packing the results
  if [ "$DEADLINE" -gt 0 ] && [ $((DEADLINE - 40 - SECONDS)) -lt "$limit" ]; then limit=$((DEADLINE - 40 - SECONDS)); fi
  if [ "$limit" -le 5 ]; then printf '%s\tskipped\t0\n' "$name" >> "$OUT/steps.tsv"; return 0; fi
  log "$name (limit ${limit}s)"
  timeout -s INT "$limit" "$@" > "$OUT/$name.log" 2>&1 || rc=$?
  printf '%s\t%s\t%s\n' "$name" "$rc" "$((SECONDS - t0))" >> "$OUT/steps.tsv"
  [ "$rc" -eq 0 ] || log "$name failed (rc $rc): $(tail -3 "$OUT/$name.log" | tr '\n' ' ')"
  return 0
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>/dev/null || true
python3 - > "$OUT/env.json" <<'PYEOF'
import json, platform
import torch, transformers, peft, trl
print(json.dumps({"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
                  "peft": peft.__version__, "trl": trl.__version__, "cuda": torch.cuda.is_available(),
                  "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}))
PYEOF

# ---- data: Note JSONL of the train split, the first N_TEST test reports and their TNM-masked copies
"$CLI" data convert tcga --split train --out "$OUT/data/train.jsonl" > /dev/null
"$CLI" data convert tcga --split test --out "$OUT/data/test_all.jsonl" > /dev/null
head -n "$N_TEST" "$OUT/data/test_all.jsonl" > "$OUT/data/test.jsonl"
"$CLI" hard-split --input "$OUT/data/test.jsonl" --out "$OUT/data/test_hard.jsonl" > /dev/null

# ---- the embedded model converted once (GGUF -> safetensors) before two processes could race to do it
python3 -c "from cancerllm.model.load import embedded_model_dir; embedded_model_dir()" > "$OUT/convert.log" 2>&1

# ---- 4. (in the background, beside the LLM steps) the classifier's GPU variant: the embedded model's hidden
# states from 8 x 512 tokens of each report on the GPU, then the heads on the CPU
cls_data=(train="$D/train.jsonl" dev="$D/dev.jsonl" "predict=[$D/test.jsonl,$D/dev.jsonl]")
if [ "$LM_SUBSET" -gt 0 ]; then
  mkdir -p "$OUT/data/sub"
  for s in train dev test; do head -n "$LM_SUBSET" "$D/$s.jsonl" > "$OUT/data/sub/$s.jsonl"; done
  cls_data=(train="$OUT/data/sub/train.jsonl" dev="$OUT/data/sub/dev.jsonl" "predict=[$OUT/data/sub/test.jsonl]" folds=2)
fi
step classify-lm 600 "$CLI" classify --config configs/classify/tcga-lm-gpu.yaml lm.path=embedded lm.layer=16 \
  lm.batch_size=32 "${cls_data[@]}" out="$OUT/classify-lm" lm.cache_dir="$OUT/lm_cache" &
CLS=$!

# ---- 1. the recipe: continued pretraining, then SFT on top of it (prompt budget as at inference)
step pretrain 240 "$CLI" pretrain --config configs/pretrain/embedded.yaml model.device="$DEVICE" \
  data.train="$OUT/data/train.jsonl" data.max_seq_len=1024 train.max_steps="$PRE_STEPS" train.batch_size="$BATCH" \
  train.eval_steps=100000 train.save_steps=100000 out="$OUT/pretrain"
base=()
[ -f "$OUT/pretrain/run.json" ] && base=(base_adapter="$OUT/pretrain")
step sft 360 "$CLI" sft --config configs/sft/embedded.yaml model.device="$DEVICE" "${base[@]}" \
  data.train="$OUT/data/train.jsonl" data.max_seq_len=$((PROMPT + 256)) max_prompt_tokens="$PROMPT" \
  train.max_steps="$SFT_STEPS" train.batch_size="$BATCH" train.lr=3.0e-4 train.warmup_ratio=0.05 \
  train.eval_steps=100000 train.save_steps=100 train.resume=true out="$OUT/sft"

# ---- 2. the fine-tuned model on every test report, normal and hard (scored on the development machine)
GEN=(model.device="$DEVICE" generate.max_prompt_tokens="$PROMPT" generate.batch_size="$GEN_BATCH")
predict() {  # name, notes
  local name=$1 notes=$2
  step "$name-ph" 300 "$CLI" extract "$notes" --run "$OUT/sft" --out "$OUT/$name/ph" "${GEN[@]}" \
    generate.max_new_tokens=96
  step "$name-dx" 240 "$CLI" diagnose "$notes" --run "$OUT/sft" --out "$OUT/$name/dx" "${GEN[@]}" \
    generate.max_new_tokens=32
}
if [ -f "$OUT/sft/run.json" ]; then
  predict trained "$OUT/data/test.jsonl"
  predict trained-hard "$OUT/data/test_hard.jsonl"
  # ---- 3. interrupted after 20 s (SIGINT), then rerun with the same --out: the resumed output vs the
  # uninterrupted trained/ph
  timeout -s INT 20 "$CLI" extract "$OUT/data/test.jsonl" --run "$OUT/sft" --out "$OUT/resumed" "${GEN[@]}" \
    generate.max_new_tokens=96 > "$OUT/resume-1.log" 2>&1
  wc -l < "$OUT/resumed/predictions.jsonl" > "$OUT/resume_written_before.txt" 2>/dev/null || true
  step resume 300 "$CLI" extract "$OUT/data/test.jsonl" --run "$OUT/sft" --out "$OUT/resumed" "${GEN[@]}" \
    generate.max_new_tokens=96
fi

# ---- 5. engines x styles on the GPU with the fine-tuned run (the issue-13 table's GPU row)
[ -f "$OUT/sft/run.json" ] && step bench 240 "$CLI" bench --engines hf --styles qa.v1,json.v1,scoring \
  --config configs/bench-engines/tcga16.yaml --run "$OUT/sft" model.device="$DEVICE" n_notes=64 \
  generate.batch_size=16 threads=0 name=gpu-engines out_root="$OUT/bench"
wait "$CLS"
nvidia-smi --query-gpu=memory.used --format=csv,noheader >> "$OUT/gpu.txt" 2>/dev/null || true
# everything small enough to score on the development machine, in one archive
tar -czf "$OUT/results.tgz" --exclude='*/adapter' --exclude='*/base_adapters' --exclude='*/checkpoints' \
  --exclude='*/tokenizer' --exclude='./data' --exclude='*.safetensors' -C "$OUT" . 2>/dev/null || true
log "done: $OUT/steps.tsv"
cat "$OUT/steps.tsv"
