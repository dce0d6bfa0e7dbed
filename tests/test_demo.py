"""The demo's pieces: data source choice, config checks, and per-task counters on a tiny model."""

from __future__ import annotations

import json
import logging

import pytest

from cancerllm.config import ModelArgs, load_config
from cancerllm.data.io import write_jsonl
from cancerllm.data.paths import ENV_VAR
from cancerllm.demo import DemoConfig, _load_data, _predict, _stage_configs
from cancerllm.errors import ConfigError, ResourceError


def test_demo_diagnosis_counters_exclude_the_phenotype_run(tiny_model_dir, tiny_notes, tmp_path):
    # One predictor serves both tasks; each task's summary.json must count only its own prompts.
    gold = write_jsonl(tiny_notes[:3], tmp_path / "gold.jsonl")
    cfg = DemoConfig(model=ModelArgs(path=str(tiny_model_dir), device="cpu", dtype="fp32"), max_new_tokens=4,
                     batch_size=4)
    _predict(None, cfg, gold, tmp_path / "zs", ["stage_t"])
    for task in ("phenotype", "diagnosis"):
        gen = json.loads((tmp_path / "zs" / task / "summary.json").read_text())["generation"]
        preds = [json.loads(line) for line in (tmp_path / "zs" / task / "predictions.jsonl").read_text().splitlines()]
        # json.v1 asks one prompt per chunk and task; the chunks are those this task's predictions record.
        chunks = sum(p["coverage"]["chunks"] for p in preds)
        assert len(preds) == 3 and chunks >= 3
        assert gen["prompts"] == chunks and gen["new_tokens"] <= chunks * 4, (task, gen)


def test_demo_data_choice_auto_warns_tcga_requires_synth_is_explicit(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(ENV_VAR, str(tmp_path))  # a data root without the TCGA reports
    with caplog.at_level(logging.INFO, logger="cancerllm"):
        train, dev, test, source = _load_data(DemoConfig(data="auto", n_train=6, n_eval=2, n_dev=3))
    assert source.startswith("synthetic") and (len(train), len(dev), len(test)) == (6, 3, 2)
    assert any(r.levelno == logging.WARNING and "SYNTHETIC" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cancerllm"):
        _load_data(DemoConfig(data="synth", n_train=6, n_eval=2))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    with pytest.raises(ResourceError, match="'tcga' needs the shared TCGA reports"):
        _load_data(DemoConfig(data="tcga"))


def test_demo_trains_both_adapters_without_dropout_and_sft_on_top_of_pretraining(tiny_model_dir, tmp_path):
    # Each demo example is seen at most once, so dropout regularises nothing and only costs time (a mask per layer).
    from cancerllm.data.synth import synthesize
    from cancerllm.train import pretrain, sft

    notes = write_jsonl(synthesize(40, seed=0), tmp_path / "train.jsonl")  # held-out docs >= a block
    cfg = DemoConfig(model=ModelArgs(path=str(tiny_model_dir), device="cpu", dtype="fp32"), pretrain_steps=1,
                     sft_steps=1, max_seq_len=640, max_prompt_tokens=480)  # the byte-level tiny tokenizer
    pt_cfg, sft_cfg = _stage_configs(cfg, tmp_path, notes)
    pretrain.run(pt_cfg)
    sft.run(sft_cfg)
    sft_adapter = json.loads((tmp_path / "sft" / "adapter" / "adapter_config.json").read_text())
    base_adapter = json.loads((tmp_path / "sft" / "base_adapters" / "0" / "adapter_config.json").read_text())
    assert sft_adapter["lora_dropout"] == base_adapter["lora_dropout"] == 0.0
    assert (sft_adapter["r"], sft_adapter["lora_alpha"], base_adapter["r"]) == (64, 16, 8)
    pt_cfg, sft_cfg = _stage_configs(DemoConfig(lora_dropout=0.1), tmp_path, notes)
    assert pt_cfg.lora.dropout == sft_cfg.lora.dropout == 0.1


def test_demo_config_checks_every_number_before_running():
    with pytest.raises(ConfigError) as err:
        load_config(DemoConfig, overrides=["data=tcga-ish", "n_eval=0", "max_prompt_tokens=500", "sft_lr=0"])
    text = str(err.value)
    assert "data: got 'tcga-ish', expected one of ['auto', 'tcga', 'synth']" in text
    with pytest.raises(ConfigError) as err:
        load_config(DemoConfig, overrides=["n_eval=0", "max_prompt_tokens=500", "sft_lr=0", "lora_dropout=1"])
    text = str(err.value)
    assert "lora_dropout: got 1.0, expected 0 <= lora_dropout < 1" in text
    assert "n_eval: got 0, expected an integer >= 1" in text and "sft_lr: got 0.0, expected > 0" in text
    assert "max_prompt_tokens: got 500, expected < max_seq_len (448)" in text


def test_demo_shows_extract_without_a_run(tmp_path):
    """The demo's last step is what a newcomer runs: extract with no trained run, labels from the demo classifier."""
    import json

    from cancerllm.classify.recipe import ClassifyConfig
    from cancerllm.classify.recipe import run as classify
    from cancerllm.data.io import write_jsonl
    from cancerllm.data.synth import synthesize
    from cancerllm.demo import _out_of_the_box

    notes = synthesize(230, seed=2)
    tr, dv = write_jsonl(notes[:160], tmp_path / "tr.jsonl"), write_jsonl(notes[160:200], tmp_path / "dv.jsonl")
    gold = write_jsonl(notes[200:], tmp_path / "gold.jsonl")
    classify(ClassifyConfig(train=str(tr), dev=str(dv), predict=[], out=str(tmp_path / "classify"), folds=3,
                            trees=20, hard=False))
    line = _out_of_the_box(gold, tmp_path)
    recs = [json.loads(x) for x in (tmp_path / "extract_rules" / "predictions.jsonl").read_text().splitlines()]
    assert len(recs) == 30 and all(r["meta"]["method"] == "rules" for r in recs)
    n = sum(len(r["mentions"]) for r in recs)
    assert n > 30 and f"{n} mentions in 30 notes" in line
    assert all(r["labels"]["cancer_type"] for r in recs)  # the classifier labelled every note
