"""The cached fp32-merged copy of a run (issue 13, peak RSS): the second load of a run reads the merged weights.

Real components: the tiny Llama of tests/conftest.py, real PEFT adapters with random (non-zero) B matrices so the
merge changes the logits, real ``save_pretrained``/``from_pretrained``. The cache is hermetic: CANCERLLM_CACHE is
a tmp folder in every test.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from cancerllm.config import LoRAArgs, ModelArgs
from cancerllm.model import merged_cache
from cancerllm.model.load import load_model, model_args_for_run

TEXT = "Invasive ductal carcinoma of the left breast, pT2 N1a M0."


@pytest.fixture(autouse=True)
def _hermetic_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CANCERLLM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(merged_cache.ENV, raising=False)  # the cache is on by default
    return tmp_path / "cache"


def _adapter(base_dir, out, seed: int):
    """A saved LoRA adapter (r=4) whose B matrices are random, so merging it changes the model's output."""
    from transformers import AutoModelForCausalLM

    from cancerllm.model.lora import attach_lora

    model = attach_lora(AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32), LoRAArgs(r=4, alpha=8))
    gen = torch.Generator().manual_seed(seed)
    for name, param in model.named_parameters():
        if "lora_B" in name:  # PEFT initialises B to zero: an untrained adapter would be a no-op
            param.data = 0.05 * torch.randn(param.shape, generator=gen)
    model.save_pretrained(out)
    return out


def _run(tmp_path, base_dir, name="run", seeds=(1, 2)):
    """A run folder as `cancerllm sft` writes it: base_adapters/0 (the pretraining stage) and adapter/."""
    run = tmp_path / name
    _adapter(base_dir, run / "base_adapters" / "0", seeds[0])
    _adapter(base_dir, run / "adapter", seeds[1])
    (run / "run.json").write_text(json.dumps({"kind": "sft", "base_model": str(base_dir)}))
    return run


def _load(run, for_training=False):
    args = model_args_for_run(run, ModelArgs(device="cpu", dtype="fp32"))
    model, tok, info = load_model(args, for_training=for_training)
    return model, tok, info


def _logits(model, tok):
    with torch.no_grad():
        return model(**tok(TEXT, return_tensors="pt")).logits


def test_second_load_reads_the_cached_merge_with_identical_logits(tmp_path, tiny_model_dir, caplog,
                                                                   _hermetic_cache, monkeypatch):
    from peft import PeftModel

    run = _run(tmp_path, tiny_model_dir)
    first, tok, info1 = _load(run)  # cold: merges in fp32, then saves the merged copy
    entries = list((_hermetic_cache / "merged").glob("*/merged.json"))
    assert len(entries) == 1  # one complete cache folder for this run
    folder = str(entries[0].parent)
    with caplog.at_level(logging.INFO, logger="cancerllm.model"):
        second, tok2, info2 = _load(run)  # warm: reads the merged folder
    assert second.name_or_path == folder  # the weights came from the cache folder, not the base model
    assert not isinstance(second, PeftModel) and not any("lora" in n for n, _ in second.named_parameters())
    assert any("loaded the cached merged model" in r.getMessage() and "float32" in r.getMessage()
               for r in caplog.records)
    assert next(second.parameters()).dtype == torch.float32
    assert info1["merged_cache"] == info2["merged_cache"] == folder

    monkeypatch.setenv(merged_cache.ENV, "0")
    fresh, _, info_off = _load(run)  # the switch off: today's path, merged in memory, the cache not read
    assert info_off["merged_cache"] is None and fresh.name_or_path == str(tiny_model_dir)
    ref = _logits(fresh, tok)
    bare, _, _ = load_model(ModelArgs(path=str(tiny_model_dir), device="cpu", dtype="fp32"))
    assert (ref - _logits(bare, tok)).abs().max() > 1e-3  # the adapters matter: the comparison below is not vacuous
    assert torch.allclose(_logits(first, tok), ref, rtol=0, atol=1e-6)
    assert torch.allclose(_logits(second, tok2), ref, rtol=0, atol=1e-6)


def test_changed_adapter_gets_a_new_key_and_no_stale_model(tmp_path, tiny_model_dir, monkeypatch):
    run = _run(tmp_path, tiny_model_dir)
    old_model, tok, _ = _load(run)
    _adapter(tiny_model_dir, run / "adapter", seed=99)  # retrained in place: same folder, new weights
    _load(run)  # cold for the new adapter: a second cache folder beside the old one
    folders = {str(f.parent) for f in (tmp_path / "cache" / "merged").glob("*/merged.json")}
    assert len(folders) == 2
    new_model, _, _ = _load(run)  # warm: must read the new adapter's copy, never the stale one
    assert new_model.name_or_path in folders
    monkeypatch.setenv(merged_cache.ENV, "0")
    fresh, _, _ = _load(run)
    assert torch.allclose(_logits(new_model, tok), _logits(fresh, tok), rtol=0, atol=1e-6)
    assert not torch.allclose(_logits(new_model, tok), _logits(old_model, tok), atol=1e-4)


def test_key_covers_adapter_config_order_and_base(tmp_path, tiny_model_dir):
    run = _run(tmp_path, tiny_model_dir)
    chain = [run / "base_adapters" / "0", run / "adapter"]
    key = merged_cache.cache_key(tiny_model_dir, chain)
    assert merged_cache.cache_key(tiny_model_dir, chain) == key  # deterministic
    assert merged_cache.cache_key(tiny_model_dir, chain[::-1]) != key
    assert merged_cache.cache_key(tiny_model_dir, chain[:1]) != key
    cfg = chain[1] / "adapter_config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "lora_alpha": 16}))  # a new scaling, same weights
    assert merged_cache.cache_key(tiny_model_dir, chain) != key


def test_training_bypasses_the_cache_and_bf16_gets_its_own_entry(tmp_path, tiny_model_dir, _hermetic_cache):
    run = _run(tmp_path, tiny_model_dir)
    _, _, info = _load(run, for_training=True)  # training continues from a merged model in memory
    assert info["merged_cache"] is None
    assert not (_hermetic_cache / "merged").exists()
    _, _, fp32 = _load(run)
    args = model_args_for_run(run, ModelArgs(device="cpu", dtype="bf16"))
    cold, tok, info = load_model(args)  # merged in fp32, stochastically rounded to bf16, cached under its own key
    assert info["merged_cache"] and info["merged_cache"] != fp32["merged_cache"]
    warm, _, again = load_model(args)
    assert again["merged_cache"] == info["merged_cache"] and {p.dtype for p in warm.parameters()} == {torch.bfloat16}
    torch.testing.assert_close(_logits(warm, tok), _logits(cold, tok), rtol=0, atol=0)  # cold and warm: same model
    size = {k: sum(f.stat().st_size for f in Path(d["merged_cache"]).glob("*.safetensors")) for k, d in
            (("fp32", fp32), ("bf16", info))}
    assert size["bf16"] < 0.6 * size["fp32"]


def test_half_written_copy_is_never_read_and_old_copies_are_evicted(tmp_path, tiny_model_dir, _hermetic_cache,
                                                                    monkeypatch):
    run = _run(tmp_path, tiny_model_dir)
    key = merged_cache.cache_key(tiny_model_dir, [run / "base_adapters" / "0", run / "adapter"])
    # A process killed while saving leaves its temporary folder, and a folder without the marker is incomplete.
    (_hermetic_cache / "merged" / ".merge-killed").mkdir(parents=True)
    (_hermetic_cache / "merged" / ".merge-killed" / "config.json").write_text("{}")
    assert merged_cache.lookup(key) is None
    _, _, info = _load(run)
    assert info["merged_cache"] == str(_hermetic_cache / "merged" / key)
    assert (_hermetic_cache / "merged" / key / "merged.json").is_file()

    monkeypatch.setattr(merged_cache, "KEEP", 1)
    other = _run(tmp_path, tiny_model_dir, name="other", seeds=(3, 4))
    _, _, info_other = _load(other)
    entries = [p.name for p in (_hermetic_cache / "merged").iterdir() if not p.name.startswith(".")]
    assert entries == [info_other["merged_cache"].rsplit("/", 1)[-1]]  # the older run's copy was evicted


def test_the_former_vllm_store_is_removed_when_an_entry_is_written(tmp_path, tiny_model_dir, _hermetic_cache):
    # Before one store served both engines, vLLM kept its own fp32 merges as <16 hex>/ folders: ~0.5 GB each, never
    # read again. Anything else in the folder (a writer's temporary folder, an unrelated name) is left alone.
    root = _hermetic_cache / "merged"
    legacy, other, tmp = root / "a3bc38ccf2f08556", root / "notes", root / ".merge-x"
    for d in (legacy, other, tmp):
        d.mkdir(parents=True)
        (d / "config.json").write_text("{}")
    _, _, info = _load(_run(tmp_path, tiny_model_dir))
    assert not legacy.exists() and other.is_dir() and tmp.is_dir()
    assert (root / info["merged_cache"].rsplit("/", 1)[-1] / "merged.json").is_file()


def test_the_number_of_copies_kept_is_set_by_the_environment(tmp_path, tiny_model_dir, _hermetic_cache, monkeypatch):
    # Two runs served by both engines (or in fp32 and bf16) are four entries: with the default 3 they evict each other.
    from cancerllm.errors import ConfigError

    monkeypatch.setenv(merged_cache.KEEP_ENV, "2")
    infos = [_load(_run(tmp_path, tiny_model_dir, name=f"r{i}", seeds=(i, i + 10)))[2] for i in range(3)]
    entries = sorted(p.name for p in (_hermetic_cache / "merged").iterdir() if not p.name.startswith("."))
    assert entries == sorted(i["merged_cache"].rsplit("/", 1)[-1] for i in infos[1:])  # the two most recent
    monkeypatch.setenv(merged_cache.KEEP_ENV, "0")
    with pytest.raises(ConfigError, match="CANCERLLM_MERGED_CACHE_KEEP"):
        merged_cache.keep()


def test_a_bad_number_of_copies_is_rejected_before_the_merge(tmp_path, tiny_model_dir, _hermetic_cache, monkeypatch):
    # The setting is read when an entry is stored; a typo must not cost a whole merge (minutes for a 1.5B model)
    # and then leave an entry behind as the command fails.
    from cancerllm.errors import ConfigError

    monkeypatch.setenv(merged_cache.KEEP_ENV, "three")
    with pytest.raises(ConfigError, match="CANCERLLM_MERGED_CACHE_KEEP.*'three'"):
        _load(_run(tmp_path, tiny_model_dir))
    assert not (_hermetic_cache / "merged").exists() or not _entries(_hermetic_cache)


def test_classifier_feature_cache_is_the_same_whether_the_merge_was_cached_or_not(tmp_path, tiny_model_dir,
                                                                                  monkeypatch):
    """`classify`'s LM feature cache must not miss because the run's merge now comes from the merged-model cache."""
    from cancerllm.classify.recipe import LMArgs, load_lm

    run = _run(tmp_path, tiny_model_dir)
    (run / "config.yaml").write_text("{}\n")  # what marks a training run folder for load_lm
    args = LMArgs(path=str(run), layer=1, max_tokens=16, max_chunks=1)
    monkeypatch.setenv(merged_cache.ENV, "0")
    in_memory = load_lm(args, tmp_path / "features")
    monkeypatch.delenv(merged_cache.ENV)
    cached = load_lm(args, tmp_path / "features")
    assert cached.cache == in_memory.cache


def _entries(cache) -> list[Path]:
    """The complete entries of the merged-model store (temporary ``.merge-*`` folders excluded)."""
    return sorted(d for d in (cache / "merged").iterdir() if (d / "merged.json").is_file())


def test_vllm_serves_the_runs_fp32_entry_of_the_one_store_and_reuses_it(tmp_path, tiny_model_dir, tiny_tokenizer,
                                                                        caplog, _hermetic_cache):
    """The folder vLLM loads for a run is load_model's fp32 cache entry (same key): stored once, merged once."""
    from transformers import AutoModelForCausalLM

    from cancerllm.infer.vllm_engine import engine_kwargs, model_folders
    from cancerllm.model.load import adapter_chain

    run = _run(tmp_path, tiny_model_dir)
    tiny_tokenizer.save_pretrained(run / "tokenizer")  # as `cancerllm sft` saves the run's tokenizer
    args = model_args_for_run(run, ModelArgs(device="cpu"))
    chain = adapter_chain(args.adapter)
    with caplog.at_level(logging.INFO, logger="cancerllm.model"):
        model_dir, tok_dir = model_folders(args, chain, tiny_model_dir, "merge")  # cold: merges, stores the entry
    assert any("merging 2 adapter(s) in fp32" in r.getMessage() for r in caplog.records)
    caplog.clear()
    key = merged_cache.cache_key(tiny_model_dir, chain, "float32")
    assert _entries(_hermetic_cache) == [model_dir] == [_hermetic_cache / "merged" / key]
    assert merged_cache.lookup(key) == model_dir  # a valid entry: marker present, found by the store's lookup
    assert (model_dir / "config.json").is_file() and list(model_dir.glob("*.safetensors"))
    assert tok_dir == run / "tokenizer" and (tok_dir / "tokenizer_config.json").is_file()
    kw = engine_kwargs(model_dir, "float32", "cpu", 256, 16, tokenizer_dir=tok_dir)
    assert (kw["model"], kw["tokenizer"]) == (str(model_dir), str(tok_dir))

    # The hf engine loads the very same entry (dtype auto: fp32 with adapters), nothing is stored twice.
    hf_model, tok, info = load_model(args)
    assert info["merged_cache"] == str(model_dir) and _entries(_hermetic_cache) == [model_dir]
    with caplog.at_level(logging.INFO, logger="cancerllm.model"):
        again, _ = model_folders(args, chain, tiny_model_dir, "merge")  # warm: no model is loaded, nothing merged
    assert again == model_dir and _entries(_hermetic_cache) == [model_dir]
    assert not any("merging" in r.getMessage() or "loaded" in r.getMessage() for r in caplog.records)
    # The files hold the merged weights: the folder vLLM reads computes what the hf engine's merge computes.
    served = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    torch.testing.assert_close(_logits(served, tok), _logits(hf_model, tok), rtol=0, atol=1e-6)


def test_vllm_with_the_cache_off_gets_a_temporary_folder_and_the_store_stays_empty(tmp_path, tiny_model_dir,
                                                                                   _hermetic_cache, monkeypatch):
    from cancerllm.infer.vllm_engine import model_folders
    from cancerllm.model.load import adapter_chain

    monkeypatch.setenv(merged_cache.ENV, "0")
    args = model_args_for_run(_run(tmp_path, tiny_model_dir), ModelArgs(device="cpu"))
    chain = adapter_chain(args.adapter)
    model_dir, tok_dir = model_folders(args, chain, tiny_model_dir, "merge")
    try:
        assert not (_hermetic_cache / "merged").exists()  # nothing written to the store
        assert (model_dir / "config.json").is_file() and list(model_dir.glob("*.safetensors"))
        assert tok_dir == tiny_model_dir  # no tokenizer/ in this run: the base model's
        plain, _ = model_folders(args, chain, tiny_model_dir, "unmerged")
        assert plain == tiny_model_dir  # served unmerged: the base model, no merge at all
    finally:
        import shutil

        shutil.rmtree(model_dir, ignore_errors=True)  # the process would delete it at exit
