"""SFT recipe: config defaults, example building, completion-only loss, and pretrain -> sft through the real CLI."""

from __future__ import annotations

import json
import math

import pytest
from safetensors.torch import load_file
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import load_config
from cancerllm.train.sft import SFTConfig, build_records

# The tiny byte-level tokenizer needs ~320 tokens for the prompt template alone, hence the long sequences.
FAST = ["data.max_seq_len=640", "max_prompt_tokens=480", "train.precision=fp32", "model.dtype=fp32",
        "train.logging_steps=1", "train.eval_steps=0", "train.lr=1e-2", "data.max_dev_examples=2"]


def test_sft_config_keeps_paper_lora_defaults_under_overrides():
    cfg = load_config(SFTConfig, overrides=["lora.r=16", "base_adapter=out/pretrain/x"])
    assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout) == (16, 16, 0.1)
    assert cfg.prompt_budget == 384  # 3/4 of the default 512-token sequence


def test_sft_config_rejects_two_adapters_and_unknown_style():
    from cancerllm.errors import ConfigError

    with pytest.raises(ConfigError) as err:
        load_config(SFTConfig, overrides=["base_adapter=a", "model.adapter=b", "prompt_style=yaml.v9"])
    text = str(err.value)
    assert "base_adapter and model.adapter" in text and "yaml.v9" in text


def test_sft_build_records_drops_and_counts_examples_that_do_not_fit(tiny_tokenizer, tiny_notes, caplog):
    cfg = load_config(SFTConfig, overrides=["data.max_seq_len=400", "max_prompt_tokens=390"])
    with caplog.at_level("WARNING"):
        records = build_records(tiny_notes, cfg, tiny_tokenizer, ["stage_t"], None, "train")
    assert "longer than data.max_seq_len=400" in caplog.text
    assert records  # some fit
    for r in records:  # nothing kept is longer than the limit: nothing will be silently truncated
        assert len(r["input_ids"]) <= 400 and r["input_ids"][-1] == tiny_tokenizer.eos_token_id


def test_sft_loss_covers_the_completion_and_eos_only(tiny_model, tiny_tokenizer, tmp_path):
    from datasets import Dataset
    from trl import SFTConfig as TrlConfig
    from trl import SFTTrainer

    prompt = "<|im_start|>user\nStage?<|im_end|>\n<|im_start|>assistant\n"
    ds = Dataset.from_list([{"prompt": prompt, "completion": '{"t": "T2"}'}])
    args = TrlConfig(output_dir=str(tmp_path), completion_only_loss=True, max_length=256, report_to="none",
                     use_cpu=True)
    row = SFTTrainer(model=tiny_model, args=args, train_dataset=ds, processing_class=tiny_tokenizer).train_dataset[0]
    n_prompt = len(tiny_tokenizer(prompt)["input_ids"])
    n_completion = len(tiny_tokenizer('{"t": "T2"}')["input_ids"]) + 1  # + EOS
    targets = [t != -100 for t in row["labels"]]
    assert targets == [False] * n_prompt + [True] * n_completion
    assert row["input_ids"][-1] == tiny_tokenizer.eos_token_id


def test_sft_cli_on_top_of_pretraining_run(tiny_model_dir, tiny_corpus, tiny_notes_file, tmp_path):
    runner = CliRunner()
    pt = tmp_path / "pt"
    res = runner.invoke(app, ["pretrain", "--config", "configs/pretrain/tiny.yaml", f"model.path={tiny_model_dir}",
                              f"data.train={tiny_corpus}", f"out={pt}", "data.max_seq_len=32", "train.max_steps=2",
                              "train.precision=fp32", "model.dtype=fp32", "train.lr=1e-2"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "sft"
    res = runner.invoke(app, ["sft", "--config", "configs/sft/tiny.yaml", f"model.path={tiny_model_dir}",
                              f"data.train={tiny_notes_file}", f"base_adapter={pt}", f"out={out}", "lora.r=4",
                              "train.max_steps=3", "train.batch_size=2", *FAST])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 3 and math.isfinite(metrics["train_loss_last"]) and math.isfinite(metrics["dev_loss"])
    info = json.loads((out / "run.json").read_text())
    assert info["kind"] == "sft" and info["tasks"] == ["phenotype", "diagnosis"] and info["types"] == ["stage_t"]
    assert info["prompt_style"] == "json.v1" and info["base_adapter"] == str(pt)
    # the pretraining adapter travels with the run, byte for byte, so `--run out/sft/x` alone rebuilds the model
    assert (out / "base_adapters/0/adapter_model.safetensors").read_bytes() == \
        (pt / "adapter/adapter_model.safetensors").read_bytes()
    sft_w = load_file(str(out / "adapter/adapter_model.safetensors"))
    assert all(t.abs().sum() > 0 for k, t in sft_w.items() if "lora_B" in k)
    assert next(t for k, t in sft_w.items() if "lora_A" in k).shape[0] == 4  # the SFT rank, not the pretraining one

    from cancerllm.model.load import load_model, model_args_for_run

    model, tok, load_info = load_model(model_args_for_run(out))
    assert load_info["adapter"] == [str(out / "base_adapters/0"), str(out / "adapter")]
    ids = tok(["pT2 N0", "Invasive ductal carcinoma"], return_tensors="pt", padding=True)
    gen = model.generate(**ids, max_new_tokens=3, do_sample=False, pad_token_id=tok.pad_token_id)
    assert gen.shape == (2, ids["input_ids"].shape[1] + 3)

    # ... and the trained run goes straight into extraction through the CLI: one valid record, grounded spans.
    note = tmp_path / "note.txt"
    note.write_text("Final diagnosis: carcinoma, pT2 N0 M0. Résumé ✓.")
    pred_dir = tmp_path / "extract"
    res = runner.invoke(app, ["extract", str(note), "--run", str(out), "--out", str(pred_dir),
                              "generate.max_new_tokens=8", "generate.max_prompt_tokens=1024"])
    assert res.exit_code == 0, res.output
    rec = json.loads((pred_dir / "predictions.jsonl").read_text())
    assert rec["id"] == "note" and rec["meta"]["prompt_style"] == "json.v1"
    text = note.read_text()
    assert all(m["inferred"] or text[m["start"]:m["end"]] == m["text"] for m in rec["mentions"])
    assert rec["coverage"]["chars_seen"] == len(text)
    assert json.loads((pred_dir / "summary.json").read_text())["types"] == ["stage_t"]
