"""Command-line overrides are typed by the config field they set, and every field is checked before any loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cancerllm.cli import app
from cancerllm.config import GenerateArgs, ModelArgs, TrainArgs, load_config, parse_overrides
from cancerllm.errors import ConfigError
from cancerllm.infer.extract import ExtractConfig
from cancerllm.train.pretrain import PretrainConfig
from cancerllm.train.sft import SFTConfig


@dataclass
class _Typed:
    model: ModelArgs = field(default_factory=ModelArgs)
    name: str = "x"
    maybe: str | None = "set"
    count: int | None = 3
    flag: bool = False
    where: Path = Path(".")
    rate: float = 0.5
    words: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------- overrides

def test_config_quantize_none_is_a_choice_not_null():
    # Three error messages tell the user to pass --model.quantize=none; it must be accepted.
    cfg = load_config(_Typed, overrides=["--model.quantize=none", "model.device=cpu"])
    assert cfg.model.quantize == "none"


def test_config_extract_input_with_hash_is_read_verbatim():
    # `cancerllm extract "notes #1.txt"` builds input=notes #1.txt; YAML would read '#1.txt' as a comment.
    cfg = load_config(ExtractConfig, overrides=["input=notes #1.txt", "task=phenotype"])
    assert cfg.input == "notes #1.txt"


@pytest.mark.parametrize("text", ["2024.10", "no", "yes", "off", "1e3", "007", "null-ish", "a: b", "[x]", "'q'"])
def test_config_str_fields_keep_the_text_verbatim(text):
    cfg = load_config(_Typed, overrides=[f"name={text}", f"maybe={text}", f"model.path={text}"])
    assert (cfg.name, cfg.maybe, cfg.model.path) == (text, text, text)


def test_config_extract_out_no_stays_a_folder_name():
    assert load_config(ExtractConfig, overrides=["input=a.txt", "out=no"]).out == "no"


@pytest.mark.parametrize("text", ["null", "~"])
def test_config_only_null_and_tilde_mean_none(text):
    cfg = load_config(_Typed, overrides=[f"maybe={text}", f"count={text}"])
    assert cfg.maybe is None and cfg.count is None


def test_config_none_is_text_for_an_optional_str():
    assert load_config(_Typed, overrides=["maybe=none", "count=7"]).maybe == "none"
    with pytest.raises(ConfigError, match=r"count: got 'none', expected int"):
        load_config(_Typed, overrides=["count=none"])


def test_config_typed_fields_parse_by_their_type():
    cfg = load_config(_Typed, overrides=["flag=yes", "where=runs/2024.10", "rate=1e-3", "count=1e3",
                                         "words=2024.10,no", "sizes=[2, 4]"])
    assert cfg.flag is True and cfg.where == Path("runs/2024.10") and cfg.rate == 0.001 and cfg.count == 1000
    assert cfg.words == ["2024.10", "no"] and cfg.sizes == [2, 4]


def test_config_bad_typed_values_name_field_value_and_type():
    with pytest.raises(ConfigError) as err:
        load_config(_Typed, overrides=["flag=maybe", "rate=nan", "model.dtype=bf32", "count=2.5"])
    text = str(err.value)
    assert "flag: got 'maybe', expected bool" in text
    assert "rate: got 'nan', expected a finite float" in text
    assert "model.dtype: got 'bf32', expected one of ['auto', 'bf16', 'fp16', 'fp32']" in text
    assert "count: got '2.5', expected int" in text


def test_config_space_separated_flags_are_the_same_grammar():
    cfg = load_config(_Typed, overrides=["--name", "a b", "--model.quantize", "none", "rate=0.25"])
    assert (cfg.name, cfg.model.quantize, cfg.rate) == ("a b", "none", 0.25)
    with pytest.raises(ConfigError, match="--name: missing a value"):
        parse_overrides(["--name"])


def test_config_typed_flags_go_straight_into_the_dataclass():
    cfg = load_config(ExtractConfig, overrides=["k=0"], flags={"input": "notes #1.txt", "out": "no", "limit": None})
    assert (cfg.input, cfg.out, cfg.limit) == ("notes #1.txt", "no", None)


def test_config_yaml_values_keep_yaml_types(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("model:\n  quantize: none\nmaybe: null\nflag: true\n")
    cfg = load_config(_Typed, p)
    assert cfg.model.quantize == "none" and cfg.maybe is None and cfg.flag is True


# --------------------------------------------------------------------------------------------------- validation

@pytest.mark.parametrize("override, expected", [
    ("generate.batch_size=-1", "generate.batch_size: got -1, expected an integer >= 1"),
    ("generate.batch_size=0", "generate.batch_size: got 0, expected an integer >= 1"),
    ("generate.max_new_tokens=0", "generate.max_new_tokens: got 0, expected an integer >= 1"),
    ("generate.max_new_tokens=-5", "generate.max_new_tokens: got -5, expected an integer >= 1"),
    ("generate.max_prompt_tokens=16", "generate.max_prompt_tokens: got 16, expected an integer >= 64"),
    ("generate.chunk_overlap_chars=-1", "generate.chunk_overlap_chars: got -1, expected an integer >= 0"),
    ("generate.prompt_style=yaml.v9", "generate.prompt_style: got 'yaml.v9', expected one of ['json.v1', 'qa.v1']"),
])
def test_config_generate_fields_are_checked_by_load_config(override, expected):
    with pytest.raises(ConfigError) as err:
        load_config(ExtractConfig, overrides=["input=a.txt", override])
    assert expected in str(err.value)


@pytest.mark.parametrize("override, expected", [
    ("train.logging_steps=0", "train.logging_steps: got 0, expected an integer >= 1"),
    ("train.eval_steps=-1", "train.eval_steps: got -1, expected an integer >= 0"),
    ("train.save_steps=-3", "train.save_steps: got -3, expected an integer >= 1"),
    ("train.save_total_limit=0", "train.save_total_limit: got 0, expected an integer >= 1"),
    ("train.epochs=0", "train.epochs: got 0.0, expected > 0"),
    ("train.warmup_ratio=1.5", "train.warmup_ratio: got 1.5, expected 0 <= warmup_ratio < 1"),
    ("train.weight_decay=-0.1", "train.weight_decay: got -0.1, expected >= 0"),
    ("train.max_grad_norm=-1", "train.max_grad_norm: got -1.0, expected >= 0 (0 disables clipping)"),
    ("train.seed=-1", "train.seed: got -1, expected an integer in [0, 4294967295]"),
    ("lora.alpha=0", "lora.alpha: got 0, expected an integer >= 1"),
    ("lora.target_modules=", "lora.target_modules: got '', expected 'all-linear' or a comma list"),
    ("data.max_seq_len=0", "data.max_seq_len: got 0, expected an integer >= 8"),
    ("data.max_examples=0", "data.max_examples: got 0, expected null (all) or an integer >= 1"),
    ("data.max_dev_examples=-1", "data.max_dev_examples: got -1, expected null (all) or an integer >= 0"),
    ("data.synth_n=0", "data.synth_n: got 0, expected an integer >= 1"),
    ("data.train=", "data.train: got '', expected 'auto', 'tcga', 'synth' or a file/folder path"),
    ("model.path=", "model.path: got '', expected 'embedded' or a model folder"),
])
def test_config_train_fields_are_checked_by_load_config(override, expected):
    with pytest.raises(ConfigError) as err:
        load_config(SFTConfig, overrides=[override])
    assert expected in str(err.value)


def test_config_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        load_config(PretrainConfig, overrides=["train.logging_steps=0", "train.batch_size=0", "lora.r=0",
                                               "data.synth_n=-2"])
    fields = [p.split(":")[0] for p in err.value.problems]
    assert {"train.logging_steps", "train.batch_size", "lora.r", "data.synth_n"} <= set(fields)


def test_config_dataclass_defaults_validate():
    for cls in (GenerateArgs, TrainArgs, ModelArgs):
        assert cls().validate() == []


def test_config_extract_cli_rejects_bad_settings_before_loading_a_model(tmp_path):
    note = tmp_path / "n.txt"
    note.write_text("pT2 N0")
    # The model folder does not exist: a loader would fail on it; the settings must be refused first.
    res = CliRunner().invoke(app, ["extract", str(note), "--model.path", str(tmp_path / "absent"),
                                   "generate.batch_size=-1", "generate.max_new_tokens=0"])
    assert res.exit_code == 2, res.output
    assert "generate.batch_size: got -1" in res.output and "generate.max_new_tokens: got 0" in res.output
    assert "absent" not in res.output


# --------------------------------------------------------------------------------------------------- runtime env

def test_config_offline_env_overrides_a_user_setting(monkeypatch):
    from cancerllm.runtime import offline_env

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "false")
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    offline_env()
    import os

    assert [os.environ[k] for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")] == ["1"] * 3


def test_config_cli_caps_the_onednn_cache_unless_the_user_set_it(monkeypatch):
    import os

    from cancerllm import cli, runtime

    seen = []
    monkeypatch.setattr(cli, "app", lambda: seen.append(os.environ.get(runtime.ONEDNN_CACHE_ENV)))
    monkeypatch.delenv(runtime.ONEDNN_CACHE_ENV, raising=False)
    cli.main()  # what `cancerllm <verb>` runs before the verb (the verb is replaced by a probe here)
    monkeypatch.setenv(runtime.ONEDNN_CACHE_ENV, "64")
    cli.main()
    assert seen == ["16", "64"]


# --------------------------------------------------------------------------------------------------- real CLI

def test_config_extract_cli_reads_the_file_and_folder_it_was_given(tmp_path, tiny_model_dir, monkeypatch):
    # The whole path of issue 11.8 through the real command: a note named with '#', `--out no`, and the
    # `--model.quantize=none` that three error messages recommend.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes #1.txt").write_text("Invasive carcinoma, pT2 N0.")
    res = CliRunner().invoke(app, ["extract", "notes #1.txt", "--out", "no", "--model.quantize=none",
                                   "--model.path", str(tiny_model_dir), "model.device=cpu", "model.dtype=fp32",
                                   "generate.max_new_tokens=4"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "no" / "predictions.jsonl").is_file()
    import yaml

    saved = yaml.safe_load((tmp_path / "no" / "config.yaml").read_text())
    assert saved["input"] == "notes #1.txt" and saved["out"] == "no" and saved["model"]["quantize"] == "none"


def test_config_verb_config_puts_typed_options_over_overrides(tmp_path):
    from cancerllm.cli_utils import verb_config

    seen = {}
    one = typer.Typer()

    @one.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
    def go(ctx: typer.Context, out: str | None = typer.Option(None, "--out")) -> None:
        seen["cfg"] = verb_config(ExtractConfig, None, ctx, out=out, input="notes #2.txt")

    res = CliRunner().invoke(one, ["--out", "2024.10", "out=ignored", "k=0", "--limit", "3"])
    assert res.exit_code == 0, res.output
    cfg = seen["cfg"]
    assert (cfg.out, cfg.input, cfg.limit, cfg.k) == ("2024.10", "notes #2.txt", 3, 0)


def test_config_a_value_that_does_not_parse_does_not_hide_the_other_problems():
    with pytest.raises(ConfigError) as err:
        load_config(ExtractConfig, overrides=["input=a.txt", "generate.batch_size=x", "generate.max_new_tokens=0",
                                              "k=-1", "model.dtype=bf32"])
    fields = sorted(p.split(":")[0] for p in err.value.problems)
    assert fields == ["generate.batch_size", "generate.max_new_tokens", "k", "model.dtype"], err.value.problems


def test_config_yaml_number_for_a_text_field_asks_for_quotes(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: 2024.10\nmodel:\n  path: '2024.10'\n")
    with pytest.raises(ConfigError, match=r"name: got the YAML number 2024.1, expected text; quote it"):
        load_config(_Typed, p)
    p.write_text("name: '2024.10'\n")
    assert load_config(_Typed, p).name == "2024.10"


@dataclass
class _WithMapping:
    runs: dict[str, str] = field(default_factory=dict)
    weights: dict[str, int] = field(default_factory=dict)


def test_config_mapping_fields_from_yaml_and_command_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("runs:\n  qa.v1: out/a\nweights: {t: 2}\n")
    cfg = load_config(_WithMapping, path, ["weights={t: 3, n: 1}"])
    assert cfg.runs == {"qa.v1": "out/a"} and cfg.weights == {"t": 3, "n": 1}
    with pytest.raises(ConfigError) as err:
        load_config(_WithMapping, None, ["runs=[a, b]", "weights={t: x}"])
    assert "runs: got ['a', 'b'], expected a mapping" in str(err.value) and "weights.t: got 'x'" in str(err.value)
