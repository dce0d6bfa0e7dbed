"""SFT trains on the tokens inference feeds the model: one BOS, the Mistral template's system turn folded in.

Issue 11 item 6: for tokenizers that add a BOS (Llama/Mistral), TRL tokenized each prompt string *with* special
tokens (a second BOS after the one the chat template writes; one in front of an Alpaca prompt) while inference
tokenized *without*. The tokenizer below behaves like Mistral's: its post-processor adds ``<s>`` and its chat
template is Mistral-7B-Instruct-v0.1's, verbatim, which also rejects a system turn.
"""

from __future__ import annotations

import pytest
import torch

from cancerllm.config import load_config
from cancerllm.data.instruct import build_examples
from cancerllm.data.prompts import DIAGNOSIS_INSTRUCTION, EXTRACT_SYSTEM, render
from cancerllm.infer.generate import generate
from cancerllm.train.sft import SFTConfig, build_records

# huggingface.co/mistralai/Mistral-7B-Instruct-v0.1, tokenizer_config.json "chat_template" (v0.2 is the same apart
# from the space after eos): user/assistant only, BOS written into the text.
MISTRAL_V01_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}"
    "{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)


@pytest.fixture(scope="module")
def bos_tokenizer():
    """A tiny byte-level BPE that adds ``<s>`` like Llama/Mistral tokenizers, with Mistral's v0.1 chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=500, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([EXTRACT_SYSTEM, DIAGNOSIS_INSTRUCTION, "[INST] Report: carcinoma pT2 N0 [/INST]"] * 3,
                            trainer=trainer)
    bpe.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", bpe.token_to_id("<s>"))])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                  pad_token="</s>")
    tok.chat_template = MISTRAL_V01_TEMPLATE
    assert tok("pT2")["input_ids"][0] == tok.bos_token_id  # it really adds a BOS, as Mistral's does
    return tok


def _tiny_model(tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                        num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                                        max_position_embeddings=4096, bos_token_id=tok.bos_token_id,
                                        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id))


def test_sft_tokens_mistral_template_rejects_the_system_turn_and_render_folds_it(bos_tokenizer, tiny_tokenizer):
    from jinja2.exceptions import TemplateError

    system_turn = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    with pytest.raises(TemplateError, match="roles must alternate"):  # what our prompts used to hit
        bos_tokenizer.apply_chat_template(system_turn, add_generation_prompt=True, tokenize=False)
    assert render("Be exact.", "Report: pT2", bos_tokenizer) == "<s>[INST] Be exact.\n\nReport: pT2 [/INST]"
    # A template that takes a system turn keeps it as one.
    assert render("Be exact.", "Report: pT2", tiny_tokenizer).startswith("<|im_start|>system\nBe exact.<|im_end|>")


@pytest.mark.parametrize("style", ["json.v1", "qa.v1"])  # chat template with BOS in the text; Alpaca without
def test_sft_tokens_training_prompt_equals_what_inference_feeds(bos_tokenizer, tiny_notes, tmp_path, style):
    from datasets import Dataset
    from trl import SFTConfig as TrlConfig
    from trl import SFTTrainer

    tok, bos = bos_tokenizer, bos_tokenizer.bos_token_id
    cfg = load_config(SFTConfig, overrides=["data.max_seq_len=3000", "max_prompt_tokens=2000", "tasks=diagnosis",
                                            f"prompt_style={style}"])
    notes = tiny_notes[:2]
    records = build_records(notes, cfg, tok, [], None, "train")
    prompt = build_examples(notes, style=style, tokenizer=tok, tasks=["diagnosis"], types=[],
                            max_prompt_tokens=cfg.prompt_budget, seed=cfg.train.seed)[0].prompt

    # Training: the row TRL actually trains on (labels -100 over the prompt).
    model = _tiny_model(tok)
    args = TrlConfig(output_dir=str(tmp_path), completion_only_loss=True, max_length=3000, report_to="none",
                     use_cpu=True)
    row = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(records),
                     processing_class=tok).train_dataset[0]
    n_prompt = next(i for i, label in enumerate(row["labels"]) if label != -100)
    trained = row["input_ids"][:n_prompt]

    # Inference: the ids the real generate() hands the model for the same prompt (its first forward call).
    seen = []
    hook = model.register_forward_pre_hook(lambda m, a, kw: seen.append(kw["input_ids"][0].tolist()),
                                           with_kwargs=True)
    generate(model.eval(), tok, [prompt], max_new_tokens=1)
    hook.remove()

    assert trained == seen[0]
    assert trained[0] == bos and trained.count(bos) == 1  # exactly one BOS, at the start
    assert row["input_ids"][-1] == tok.eos_token_id and all(label != -100 for label in row["labels"][n_prompt:])
