"""The testbed recipe end to end: outputs, byte-for-byte reproducibility, mitigations, CLI and configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cancerllm.config import load_config
from cancerllm.data.io import write_jsonl
from cancerllm.data.synth import synthesize
from cancerllm.errors import ConfigError
from cancerllm.robustness.curves import auc
from cancerllm.robustness.testbed import RobustnessConfig, run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("rb-data")
    # Synthetic notes carrying explicit pTNM, so the regex predictor has something to lose.
    notes = synthesize(60, seed=5)
    return write_jsonl(notes[:45], d / "train.jsonl"), write_jsonl(notes[45:], d / "test.jsonl")


def _cfg(data, out, *extra):
    train, test = data
    return load_config(RobustnessConfig, overrides=[f"train={train}", f"test={test}", f"out={out}",
                                                    "predictor=regex", "rates=0,0.2,0.5",
                                                    "perturbations=typo.clinical.v1", *extra])


def test_testbed_misspelling_writes_curve_and_is_reproducible(data, tmp_path):
    a = run(_cfg(data, tmp_path / "a"))
    for name in ("scores.json", "curve.png", "curve.md", "config.yaml", "meta.json", "rate_0.2/inputs.jsonl",
                 "rate_0.2/predictions.jsonl"):
        assert (a.out / name).is_file(), name
    s = json.loads((a.out / "scores.json").read_text())
    assert s["rates"] == [0.0, 0.2, 0.5] and s["n_test"] == 15
    f1 = s["metrics"]["span_f1_overlap"]
    assert f1[0] > f1[-1]  # clinical typos on the gold spans cost the regex its matches
    assert s["auc"]["span_f1_overlap"] == auc(s["rates"], f1)
    # same seed: identical input bytes and scores; another seed: different inputs
    b = run(_cfg(data, tmp_path / "b"))
    c = run(_cfg(data, tmp_path / "c", "seed=1"))
    assert (a.out / "rate_0.5/inputs.jsonl").read_bytes() == (b.out / "rate_0.5/inputs.jsonl").read_bytes()
    assert a.scores["inputs_sha256"] == b.scores["inputs_sha256"] and a.scores["metrics"] == b.scores["metrics"]
    assert c.scores["inputs_sha256"]["0.5"] != a.scores["inputs_sha256"]["0.5"]
    assert c.scores["inputs_sha256"]["0"] == a.scores["inputs_sha256"]["0"]  # rate 0 is the clean set
    # spans inside the written inputs point at their text
    for line in (a.out / "rate_0.5/inputs.jsonl").read_text().splitlines():
        note = json.loads(line)
        assert all(note["text"][m["start"]:m["end"]] == m["text"] for m in note["mentions"])


def test_testbed_normalize_mitigation_recovers_some_of_the_loss(data, tmp_path):
    base = run(_cfg(data, tmp_path / "none"))
    mit = run(_cfg(data, tmp_path / "norm", "mitigation=normalize"))
    assert (mit.out / "lexicon.json").is_file()
    assert mit.scores["predictor"] == "regex+normalize"
    assert mit.scores["auc"]["span_f1_overlap"] >= base.scores["auc"]["span_f1_overlap"]


def test_testbed_label_noise_tfidf_retrains_per_rate(data, tmp_path):
    train, test = data
    cfg = load_config(RobustnessConfig, overrides=[f"train={train}", f"test={test}", f"out={tmp_path}",
                                                   "testbed=label-noise", "predictor=tfidf", "rates=0,1"])
    res = run(cfg)
    per = res.scores["per_rate"]
    assert per[1]["label_noise"]["cancer_type"]["flipped"] == per[1]["label_noise"]["cancer_type"]["eligible"] > 0
    assert res.scores["metrics"]["cancer_type_acc"][0] > res.scores["metrics"]["cancer_type_acc"][1]
    noised = [json.loads(x) for x in (res.out / "rate_1/train_noised.jsonl").read_text().splitlines()]
    assert all("label_noise" in n["meta"] for n in noised if n.get("cancer_type"))


def test_testbed_config_errors_are_collected():
    with pytest.raises(ConfigError) as err:
        load_config(RobustnessConfig, overrides=["rates=0,1.5", "perturbations=typo.x.v1", "mitigation=augment",
                                                 "predictor=regex"])
    text = str(err.value)
    assert "rates" in text and "typo.x.v1" in text and "augment" in text
    with pytest.raises(ConfigError, match="--run"):
        load_config(RobustnessConfig, overrides=["predictor=model"])
    # the override parser reads the word "none" as null; it must still mean no mitigation
    assert load_config(RobustnessConfig, overrides=["predictor=regex", "mitigation=none"]).mitigation == "none"


def test_testbed_cli_runs_and_prints_the_table(data, tmp_path):
    from cancerllm.cli import app

    train, test = data
    res = CliRunner().invoke(app, ["robustness", "--testbed", "misspelling", "--rates", "0,0.3", "--predictor",
                                   "regex", "--limit", "5", "--out", str(tmp_path), f"train={train}",
                                   f"test={test}"])
    assert res.exit_code == 0, res.output
    assert "| **AUC** |" in res.output and json.loads(res.output.strip().splitlines()[-1])["out"] == str(tmp_path)
    bad = CliRunner().invoke(app, ["robustness", "--testbed", "spelling", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "testbed" in bad.output


def test_testbed_shipped_configs_load():
    files = sorted((REPO / "configs" / "robustness").glob("*.yaml"))
    assert files
    for f in files:
        cfg = load_config(RobustnessConfig, f)
        assert cfg.out.startswith("out/robustness/")


def test_testbed_label_noise_sft_on_tiny_model(tiny_model_dir, tiny_notes_file, tmp_path):
    """The paper's setting in miniature: a 2-step SFT per rate on noised labels, scored on clean notes."""
    cfg = load_config(RobustnessConfig, overrides=[
        f"train={tiny_notes_file}", f"test={tiny_notes_file}", f"out={tmp_path}", "testbed=label-noise",
        "predictor=model", "rates=0,1", "limit=2", "noise_fields=t_stage",
        (f"sft_overrides=[model.path={tiny_model_dir},train.max_steps=2,train.batch_size=2,tasks=phenotype,"
         "data.max_seq_len=640,train.logging_steps=1,train.eval_steps=1000,train.save_steps=1000]"),
        "generate.max_new_tokens=8"])
    res = run(cfg)
    assert (tmp_path / "rate_1" / "sft" / "run.json").is_file()
    assert set(res.scores["inputs_sha256"]) == {"0", "1"}
    assert res.scores["inputs_sha256"]["0"] != res.scores["inputs_sha256"]["1"]


def test_testbed_label_noise_refuses_qa_style_for_stage_noise(tiny_model_dir, tiny_notes_file, tmp_path):
    """Issue 11.9: qa.v1 cannot show T/N/M noise; the run stops before any training with a ConfigError."""
    cfg = load_config(RobustnessConfig, overrides=[
        f"train={tiny_notes_file}", f"test={tiny_notes_file}", f"out={tmp_path}", "testbed=label-noise",
        "predictor=model", "rates=[0,1]", "limit=2", "noise_fields=[t_stage]",
        (f"sft_overrides=[model.path={tiny_model_dir},train.max_steps=1,train.batch_size=2,tasks=phenotype,"
         "prompt_style=qa.v1,data.max_seq_len=640,train.eval_steps=1000,train.save_steps=1000]"),
        "generate.max_new_tokens=4"])
    with pytest.raises(ConfigError, match="prompt_style: got 'qa.v1'.*noise_fields"):
        run(cfg)
    assert not (tmp_path / "rate_0" / "sft").exists()
