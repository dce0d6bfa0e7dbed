"""How close each bf16 way of serving a fine-tuned run stays to its fp32 merge (the table in model/rounding.py).

usage: python scripts/bf16_fidelity.py RUN NOTES.jsonl [N_NOTES=4] [N_PROMPTS=6]

Builds json.v1 prompts from the first N_NOTES notes exactly as ``extract`` does (the run's prompt budget and types),
runs one forward per prompt with each variant and prints the mean KL(fp32 || variant) of the next-token
distributions over all prompt positions and the share of positions with the same argmax.
"""

from __future__ import annotations

import copy
import json
import sys

import torch

from cancerllm.config import ModelArgs
from cancerllm.data.instruct import prompt_token_ids
from cancerllm.data.schema import Note
from cancerllm.infer.predictor import Predictor
from cancerllm.model.load import adapter_chain, load_model, read_run
from cancerllm.model.lora import apply_adapters
from cancerllm.model.rounding import round_model_bf16


def main(run: str, notes_path: str, n_notes: int = 4, n_prompts: int = 6) -> None:
    info = read_run(run)
    with open(notes_path) as f:
        notes = [Note(id=d["id"], text=d["text"]) for d in map(json.loads, f)][:n_notes]
    base = info.get("base_model") or "embedded"
    ref, tok, _ = load_model(ModelArgs(path=base, adapter=run, dtype="fp32"))
    pred = Predictor(ref, tok, style=info["prompt_style"], types=info.get("types"))
    pred.gen.max_prompt_tokens = info.get("max_prompt_tokens") or pred.gen.max_prompt_tokens
    reqs = [r for i, n in enumerate(notes) for r in pred._requests(i, n, "phenotype", pred._budgets()[0], [])]
    ids = [torch.tensor([prompt_token_ids(tok, r.prompt)]) for r in reqs[:n_prompts]]

    def logprobs(model):
        with torch.inference_mode():
            return torch.cat([torch.log_softmax(model(input_ids=x).logits[0].float(), -1) for x in ids])

    fp32 = logprobs(ref)

    def row(name, model):
        lp = logprobs(model)
        kl = (fp32.exp() * (fp32 - lp)).sum(-1).mean().item()
        agree = (fp32.argmax(-1) == lp.argmax(-1)).float().mean().item()
        print(f"| {name} | {kl:.4f} | {agree:.3f} |", flush=True)

    print(f"{fp32.shape[0]} positions, {len(ids)} prompts\n| variant | mean KL(fp32 || x) | top-1 agreement |")
    row("base model, no adapters", load_model(ModelArgs(path=base, dtype="fp32"))[0])
    row("bf16, round-to-nearest cast of the fp32 merge", copy.deepcopy(ref).to(torch.bfloat16))
    base_bf16 = load_model(ModelArgs(path=base, dtype="bf16"))[0]
    row("bf16, PEFT adapters unmerged and stacked", apply_adapters(base_bf16, adapter_chain(run), merge=False))
    row("bf16, stochastic rounding of the fp32 merge", round_model_bf16(copy.deepcopy(ref)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:5]))
