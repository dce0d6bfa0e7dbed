"""Closed-set scoring: the log-probability of every verbalised label after ONE shared prefill of the prompt.

For a document-level field with a fixed label set (T1-T4, N0-N3, M0/M1, the TCGA cancer types) generating text and
parsing it wastes work and throws away the model's uncertainty. Here the prompt is run once with ``use_cache=True``;
the first token of every label is scored from that pass's last logits, and the remaining label tokens from one
short forward over the cached prompt, its cache selected once per label (``DynamicCache.batch_select_indices``).
The answer is a full distribution over the labels, which calibration
and abstention need (issues 9, 12, 13).

Tokens are those a fine-tuned model was trained on: the prompt through
:func:`cancerllm.data.instruct.prompt_token_ids` (as ``infer.generate`` and SFT do) and each label as SFT tokenizes
a completion, ``tokenizer(label, add_special_tokens=False)`` followed by the EOS. The EOS makes the scores a
distribution over *complete* answers: without it "T1" would collect the mass of every answer that starts with
"T1" ("T1a", "T1 N0 ...").

Several fields of one report share one prefill too (:func:`score_fields`, :func:`classify_fields`): the prompt puts
the report before the question, so the fields' prompts share every token up to the question; that prefix runs once
the fields' questions and answer leads run in one batched forward, and all their labels in one more. :func:`evidence_first` goes further: a field the report
states ("pT2a") is read with its span and costs nothing. Long reports are chunked to the prompt budget with
:mod:`cancerllm.data.chunking`; the chunk distributions are pooled (see :func:`classify_fields`).

Example:
    >>> softmax({"T1": -1.0, "T2": -1.0})
    {'T1': 0.5, 'T2': 0.5}
    >>> FIELDS["m_stage"].labels
    ['M0', 'M1']
    >>> FIELDS["t_stage"].verbalise("T2")
    ' T2'
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cancerllm.data.chunking import chunk_text
from cancerllm.data.instruct import prompt_token_ids, token_counter
from cancerllm.data.prompts import render
from cancerllm.errors import ConfigError
from cancerllm.knowledge.icd import TCGA_PROJECTS

__all__ = ["FIELDS", "STAGED_M0_RULE", "FieldScores", "FieldSpec", "classify_fields", "classify_text",
           "common_prefix_len", "evidence_first", "field_prompt", "label_token_ids", "score_fields", "score_labels",
           "score_labels_naive", "score_prompts", "softmax"]

SCORING_SYSTEM = ("You are an oncology cancer registrar. You read a pathology report and answer with one category "
                  "from the list you are given.")


@dataclass(frozen=True)
class FieldSpec:
    """A closed-set field: the question, the assistant's answer lead, and each label's verbalised continuation.

    The lead ("Pathologic T category:") is part of the prompt, so the shared prefill pays for it once and only the
    label words (" T2") are scored per label.
    """

    name: str
    question: str
    lead: str
    verbalisers: dict[str, str]

    @property
    def labels(self) -> list[str]:
        return list(self.verbalisers)

    def verbalise(self, label: str) -> str:
        """The continuation text scored for ``label``."""
        return self.verbalisers[label]


def _choices(prefix: str, n: int) -> dict[str, str]:
    return {f"{prefix}{i}": f" {prefix}{i}" for i in range(n)}


# LAML has no pathology reports in TCGA (leukaemia is diagnosed from blood and marrow), hence 32 cancer types.
_TYPES = {code: f" {info.name}" for code, info in TCGA_PROJECTS.items() if code != "LAML"}

FIELDS: dict[str, FieldSpec] = {
    "t_stage": FieldSpec("t_stage", "What is the pathologic T category (AJCC, extent of the primary tumour) in this "
                         "report? Answer with one of T1, T2, T3, T4.", "Pathologic T category:",
                         {f"T{i}": f" T{i}" for i in range(1, 5)}),
    "n_stage": FieldSpec("n_stage", "What is the pathologic N category (AJCC, regional lymph nodes) in this report? "
                         "Answer with one of N0, N1, N2, N3.", "Pathologic N category:", _choices("N", 4)),
    "m_stage": FieldSpec("m_stage", "What is the M category (AJCC, distant metastasis) in this report? Answer with "
                         "one of M0, M1.", "M category:", _choices("M", 2)),
    "cancer_type": FieldSpec("cancer_type", "Which cancer does this pathology report describe? Answer with one of: "
                             + "; ".join(v.strip() for v in _TYPES.values()) + ".", "Cancer type:", _TYPES),
}


def field_prompt(spec: FieldSpec, chunk: str, tokenizer: Any = None) -> str:
    """The rendered prompt for one chunk: chat template (or Alpaca) as :func:`cancerllm.data.prompts.render`, then
    the answer lead that every label continues. The report comes first and the question after it, so the prompts of
    every field of one chunk share the report's tokens and :func:`score_fields` prefills them once."""
    user = f"Report:\n{chunk}\n\n{spec.question}"
    return render(SCORING_SYSTEM, user, tokenizer) + spec.lead


def label_token_ids(tokenizer: Any, labels: Sequence[str], eos: bool = True) -> list[list[int]]:
    """Each label's continuation ids, tokenized as SFT tokenizes a completion (no special tokens, then EOS)."""
    if len(set(labels)) != len(labels):
        raise ConfigError(f"labels: got duplicates {sorted({x for x in labels if labels.count(x) > 1})}; "
                          "each label must be given once")
    out = []
    for label in labels:
        ids = list(tokenizer(label, add_special_tokens=False)["input_ids"])
        if eos:
            ids.append(tokenizer.eos_token_id)
        if not ids:
            raise ConfigError(f"labels: {label!r} has no tokens; give a non-empty label or eos=True")
        out.append(ids)
    return out


def softmax(scores: dict[str, float]) -> dict[str, float]:
    """Normalise label log-scores into probabilities (numerically stable)."""
    top = max(scores.values())
    exp = {k: math.exp(v - top) for k, v in scores.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


def _model_device(model: Any) -> Any:
    return next(model.parameters()).device


def _cache_kwarg(model: Any) -> str:
    """The forward argument that takes a KV cache: ``cache`` from transformers 5.2x on, ``past_key_values`` before.

    Why ask: passing the deprecated name warns on every call, and a model that does not know the name it is given
    would swallow it in ``**kwargs`` and score the label tokens without the prompt (the tests would catch that).
    """
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT wraps the real forward
    return "cache" if "cache" in inspect.signature(base.forward).parameters else "past_key_values"


def _label_logprobs(logits: Any, targets: Any) -> Any:
    """log p(target) at each position, from raw logits: the target's logit minus the row's logsumexp.

    Why not ``log_softmax(-1).gather``: that materialises a second full-vocabulary tensor (fp32, 49k wide per label
    token) only to read one entry per row; this reads the same numbers with one reduction."""
    logits = logits.float()
    return logits.gather(-1, targets[..., None])[..., 0] - logits.logsumexp(-1)


def _extend(model: Any, ids: list[int], cache: Any = None) -> tuple[Any, Any]:
    """Run ``ids`` after ``cache`` (None: from the start); returns (log-probs of the next token, the grown cache).

    Only the last position's logits are computed: the vocabulary projection of the other positions would cost ~10%
    of the prefill and P x vocab floats of memory."""
    import torch

    kwargs = {} if cache is None else {_cache_kwarg(model): cache}
    out = model(input_ids=torch.tensor([ids], device=_model_device(model)), use_cache=True, logits_to_keep=1,
                **kwargs)
    return out.logits[0, -1].float().log_softmax(-1), _grown(out)


def _grown(out: Any) -> Any:
    return out.cache if getattr(out, "cache", None) is not None else out.past_key_values


SCORING_CACHE_TOKENS = 2048
"""Default cap on label rows x cached prompt tokens of one label forward (every row holds a copy of its prompt's KV
cache; on the embedded model ~23 KB per token in bf16). Measured with `extract --method scoring` on all 334 TCGA
test reports (1,024-token prompts, bf16, one thread): 2,048 peaked at 996 MiB in 6 min 31 s, 4,096 at 1,023 MiB in
6 min 24 s; the default engine's budget is 1 GiB."""


def _padded(seqs: Sequence[Sequence[int]], device: Any) -> Any:
    """Right-padded id matrix (pad id 0). Safe without a mask only where nothing attends to the pads afterwards:
    under causal attention a pad only ever follows the real tokens it could disturb."""
    import torch

    out = torch.zeros((len(seqs), max(len(x) for x in seqs)), dtype=torch.long, device=device)
    for r, x in enumerate(seqs):
        out[r, :len(x)] = torch.tensor(x)
    return out


def _tails(model: Any, prefix: Any, tails: list[list[int]]) -> tuple[list[Any], Any]:
    """Every field's tail (its prompt after the shared prefix) in ONE right-padded forward over the prefix's cache
    repeated per field (consumed); returns each field's next-token log-probs at its last real token and the grown
    cache (row k = field k; positions past a shorter tail hold pads, which the label forward masks out)."""
    width = max(len(t) for t in tails)
    first = min(len(t) for t in tails) - 1  # the earliest position whose logits are read
    prefix.batch_repeat_interleave(len(tails))
    out = model(input_ids=_padded(tails, _model_device(model)), use_cache=True, logits_to_keep=width - first,
                **{_cache_kwarg(model): prefix})
    logits = out.logits
    return [logits[k, len(t) - 1 - first].float().log_softmax(-1) for k, t in enumerate(tails)], _grown(out)


def _select(cache: Any, rows: Any, keep: bool) -> Any:
    """The cache with batch rows ``rows`` (repeats allowed). With ``keep`` the original stays intact: its layer
    objects are copied shallowly, and selecting builds new tensors, so no cached tensor is ever copied twice (a deep
    copy of a 1,024-token cache of three fields is ~70 MB on the embedded model)."""
    if keep:
        layers = getattr(cache, "layers", None)
        if layers is None:  # a cache type without per-layer objects: copy it whole
            cache = copy.deepcopy(cache)
        else:
            cache = copy.copy(cache)
            cache.layers = [copy.copy(layer) for layer in layers]
    cache.batch_select_indices(rows)
    return cache


def _labels(model: Any, cache: Any, prompt_len: int, tail_lens: list[int], rows: list[tuple[int, list[int]]],
            firsts: list[Any], max_rows: int) -> list[float]:
    """Summed log-probs of each row's label tokens; a row is (its field's index in ``cache``, the label's ids).

    ``cache`` holds one row per field, ``prompt_len`` positions long, field k's real tokens being the first
    ``prompt_len - (max(tail_lens) - tail_lens[k])``; ``firsts[k]`` are field k's next-token log-probs, which score
    each label's first token. Every label's other tokens run in batched forwards of at most ``max_rows`` rows, each
    over its field's cache row (selected, so labels of different fields share a forward), with an attention mask that
    hides the pads after shorter tails and the position ids each field's prompt really has."""
    import torch

    device = _model_device(model)
    kwarg = _cache_kwarg(model)
    pad = [max(tail_lens) - n for n in tail_lens]
    totals = [float(firsts[k][label[0]]) for k, label in rows]
    rest = [i for i, (_, label) in enumerate(rows) if len(label) > 1]
    for b in range(0, len(rest), max_rows):
        idx = rest[b:b + max_rows]
        fields = [rows[i][0] for i in idx]
        inp = _padded([rows[i][1][:-1] for i in idx], device)
        targets = _padded([rows[i][1][1:] for i in idx], device)  # pads read token 0 and are cut off below
        width = inp.shape[1]
        mask = torch.ones((len(idx), prompt_len + width), dtype=torch.long, device=device)
        for r, k in enumerate(fields):
            if pad[k]:
                mask[r, prompt_len - pad[k]:prompt_len] = 0
        pos = torch.tensor([[prompt_len - pad[k] + j for j in range(width)] for k in fields], device=device)
        sel = _select(cache, torch.tensor(fields, device=device), keep=b + max_rows < len(rest))
        logits = model(input_ids=inp, attention_mask=mask, position_ids=pos, use_cache=True, **{kwarg: sel}).logits
        del sel
        logp = _label_logprobs(logits, targets)
        for r, i in enumerate(idx):
            totals[i] += float(logp[r, :len(rows[i][1]) - 1].sum())
        del logits, logp
    return totals


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix every sequence shares, capped so each keeps at least one token of its own.

    Example:
        >>> common_prefix_len([[1, 2, 3, 4], [1, 2, 5]]), common_prefix_len([[1, 2], [1, 2, 3]]), common_prefix_len([[7]])
        (2, 1, 0)
    """
    n = min(len(s) for s in seqs) - 1
    for k in range(max(n, 0)):
        if len({s[k] for s in seqs}) > 1:
            return k
    return max(n, 0)


def score_fields(model: Any, tokenizer: Any, prompts: dict[str, str], labels: dict[str, Sequence[str]], *,
                 eos: bool = True, label_batch_size: int | None = None, max_cache_tokens: int | None = None,
                 stats: Any = None) -> dict[str, dict[str, float]]:
    """:func:`score_labels` for several prompts that share a long token prefix (one report, a question per field):
    the shared prefix is prefilled ONCE, then every field's tail (its question and answer lead) runs in one batched
    forward over copies of that cache, then the label tokens of every field in one more (:func:`_labels`).

    With report-first prompts (:func:`field_prompt`) scoring T, N and M costs about one prefill of the report and
    two short forwards, whatever the number of fields: on CPU a 20-token forward of the embedded model costs a third
    of a 330-token one, so the number of forwards, not their tokens, is what the short ones cost.

    Args:
        prompts: field -> rendered prompt.
        labels: field -> its continuation strings (" T2"); distinct per field.
        eos: score the EOS after each label (a complete answer; see the module docstring).
        label_batch_size: labels (of all fields together) per label forward, at most; None = as many as
            ``max_cache_tokens`` allows.
        max_cache_tokens: cap on labels x prompt tokens per label forward (each label holds a copy of its prompt's
            KV cache); None = :data:`SCORING_CACHE_TOKENS`.
        stats: an ``infer.generate.GenerationStats``; its ``prompt_tokens`` counts the tokens prefilled (the shared
            prefix once, each field's tail once).
    Returns:
        field -> ``{label: log-prob}``, in ``prompts``' order.
    Raises:
        ConfigError: duplicate or empty labels.
    """
    import torch

    from cancerllm.infer.generate import release_memory

    ids = {f: prompt_token_ids(tokenizer, p) for f, p in prompts.items()}
    lab = {f: label_token_ids(tokenizer, labels[f], eos) for f in prompts}
    fields = list(prompts)
    if getattr(model, "engine_name", "hf") != "hf":  # vLLM: prompt logprobs per prompt (its prefix cache shares)
        if stats is not None:
            stats.prompt_tokens += sum(len(i) for i in ids.values())
        return {f: dict(zip(labels[f], model.score_continuations(ids[f], lab[f]), strict=True)) for f in fields}
    # One field: its whole prompt is the prefix. Several: the prefix they share (the report), then every tail at once.
    common = common_prefix_len([ids[f] for f in fields]) if len(fields) > 1 else len(ids[fields[0]])
    if not common:  # prompts that share no token: one at a time
        return {f: score_fields(model, tokenizer, {f: prompts[f]}, {f: labels[f]}, eos=eos,
                                label_batch_size=label_batch_size, max_cache_tokens=max_cache_tokens,
                                stats=stats)[f] for f in fields}
    tails = [ids[f][common:] for f in fields]
    rows = [(k, label) for k, f in enumerate(fields) for label in lab[f]]
    budget = SCORING_CACHE_TOKENS if max_cache_tokens is None else max_cache_tokens
    prompt_len = common + max(len(t) for t in tails)
    max_rows = max(1, budget // prompt_len)
    if label_batch_size is not None:
        max_rows = min(max_rows, max(1, label_batch_size))
    with torch.inference_mode():
        first, cache = _extend(model, ids[fields[0]][:common])
        firsts, cache = _tails(model, cache, tails) if len(fields) > 1 else ([first], cache)
        totals = iter(_labels(model, cache, prompt_len, [len(t) for t in tails], rows, firsts, max_rows))
        del cache, first, firsts
    release_memory()  # the cache copies' pages go back to the OS before the next prompt
    if stats is not None:
        stats.prompt_tokens += common + sum(len(ids[f]) - common for f in fields)
    return {f: {label: next(totals) for label in labels[f]} for f in fields}


def score_labels(model: Any, tokenizer: Any, prompt: str, labels: Sequence[str], *, length_normalize: bool = False,
                 eos: bool = True, label_batch_size: int | None = None,
                 max_cache_tokens: int | None = None) -> dict[str, float]:
    """Log-probability of each label continuing ``prompt``, from one shared prefill.

    Args:
        model: a causal LM (plain or PEFT-wrapped) with a ``DynamicCache``-style KV cache, on its device.
        tokenizer: its tokenizer.
        prompt: the rendered prompt (e.g. :func:`field_prompt`); tokenized by ``prompt_token_ids``.
        labels: continuation strings (" T2"); distinct.
        length_normalize: divide each label's sum by its token count (EOS included), a per-token mean.
        eos, label_batch_size, max_cache_tokens: as :func:`score_fields` (one prompt: one prefill, then the labels).
    Returns:
        ``{label: log-prob}``; :func:`softmax` turns it into the distribution over the labels.
    Raises:
        ConfigError: duplicate or empty labels.

    Example:
        >>> # scores = score_labels(model, tok, field_prompt(FIELDS["m_stage"], note, tok), [" M0", " M1"])
    """
    totals = score_fields(model, tokenizer, {"": prompt}, {"": labels}, eos=eos, label_batch_size=label_batch_size,
                          max_cache_tokens=max_cache_tokens)[""]
    if length_normalize:
        ids = label_token_ids(tokenizer, labels, eos)
        totals = {k: t / len(i) for (k, t), i in zip(totals.items(), ids, strict=True)}
    return totals


def score_prompts(model: Any, tokenizer: Any, prompts: Sequence[str], labels: Sequence[str],
                  **kwargs: Any) -> list[dict[str, float]]:
    """:func:`score_labels` for several prompts (one prefill each; same keyword arguments)."""
    return [score_labels(model, tokenizer, p, labels, **kwargs) for p in prompts]


def score_labels_naive(model: Any, tokenizer: Any, prompt: str, labels: Sequence[str], *,
                       eos: bool = True) -> dict[str, float]:
    """Reference for tests and benchmarks: one full forward of prompt + label per label, no cache reuse."""
    import torch

    prompt_ids = prompt_token_ids(tokenizer, prompt)
    device = _model_device(model)
    out = {}
    with torch.inference_mode():
        for label, ids in zip(labels, label_token_ids(tokenizer, labels, eos), strict=True):
            logp = model(input_ids=torch.tensor([prompt_ids + ids], device=device)).logits[0].float().log_softmax(-1)
            # The logits at position p predict token p + 1: the label's tokens are read from the positions before.
            pos = torch.arange(len(prompt_ids) - 1, len(prompt_ids) + len(ids) - 1, device=device)
            out[label] = float(logp[pos, torch.tensor(ids, device=device)].sum())
    return out


@dataclass
class FieldScores:
    """A field's answer for one document: the pooled distribution, its argmax, and the per-chunk distributions."""

    field: str
    probs: dict[str, float]
    label: str
    chunk_probs: list[dict[str, float]] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        return self.probs[self.label]


def _pool(chunk_logps: list[dict[str, float]], combine: str) -> dict[str, float]:
    if combine == "max":  # the chunk the model is surest about
        best = max(chunk_logps, key=lambda d: max(d.values()))
        return softmax(best)
    labels = list(chunk_logps[0])  # "mean": log-linear pooling (normalised geometric mean of the chunk answers)
    return softmax({k: sum(d[k] for d in chunk_logps) / len(chunk_logps) for k in labels})


def classify_fields(model: Any, tokenizer: Any, text: str, field_names: Sequence[str], *,
                    max_prompt_tokens: int = 1024, overlap_chars: int = 200, combine: Literal["mean", "max"] = "mean",
                    length_normalize: bool = False, label_batch_size: int | None = None,
                    max_cache_tokens: int | None = None, stats: Any = None) -> dict[str, FieldScores]:
    """Score every label of each field in ``field_names`` on a whole report, chunked to the prompt budget.

    Each chunk is prefilled once for all the fields (:func:`score_fields`); chunk distributions are pooled per
    field by ``combine``: ``mean`` averages the chunks' log-probabilities and renormalises (every chunk votes, a
    confident chunk votes harder); ``max`` keeps the single chunk whose top label is most probable (stage is usually
    stated in one place, and the other chunks only repeat the model's prior). Which is better is measured on TCGA
    dev in docs/results.md.

    Args:
        text: the report.
        field_names: keys of :data:`FIELDS` (distinct).
        max_prompt_tokens: budget of one prompt, template and lead included (as ``generate.max_prompt_tokens``); the
            chunk size is set by the field with the longest question, so every field reads the same chunks.
        label_batch_size, max_cache_tokens: as :func:`score_fields` (memory of the label forwards).
        stats: an ``infer.generate.GenerationStats`` counting the prompt tokens prefilled.
    Raises:
        ConfigError: unknown or repeated field, unknown ``combine``, or a budget that leaves under 32 tokens for the
            note.
    """
    bad = [f for f in field_names if f not in FIELDS]
    if bad or not field_names or len(set(field_names)) != len(field_names):
        raise ConfigError(f"fields: got {list(field_names)}, expected distinct names from {sorted(FIELDS)}")
    if combine not in ("mean", "max"):
        raise ConfigError(f"combine: got {combine!r}, expected 'mean' or 'max'")
    specs = [FIELDS[f] for f in field_names]
    overhead = max(len(prompt_token_ids(tokenizer, field_prompt(spec, "", tokenizer))) for spec in specs)
    budget = max_prompt_tokens - overhead
    if budget < 32:
        raise ConfigError(f"max_prompt_tokens={max_prompt_tokens} leaves {budget} tokens for the note after the "
                          f"{overhead}-token prompt of {list(field_names)}; raise max_prompt_tokens")
    verbal = {spec.name: [spec.verbalise(k) for k in spec.labels] for spec in specs}
    # Per-token means divide by each label's token count (EOS included), the same for every chunk.
    n_tokens = {name: [len(i) if length_normalize else 1 for i in label_token_ids(tokenizer, v)]
                for name, v in verbal.items()}
    chunk_logps: dict[str, list[dict[str, float]]] = {spec.name: [] for spec in specs}
    for chunk in chunk_text(text, budget, token_counter(tokenizer), overlap_chars):
        raw = score_fields(model, tokenizer, {s.name: field_prompt(s, chunk.text, tokenizer) for s in specs},
                           verbal, label_batch_size=label_batch_size, max_cache_tokens=max_cache_tokens,
                           stats=stats)
        for spec in specs:
            scores = {k: v / n for (k, v), n in zip(raw[spec.name].items(), n_tokens[spec.name], strict=True)}
            # Normalised per chunk, so pooling compares distributions, not raw likelihoods of different chunk lengths.
            probs = softmax({k: scores[v] for k, v in zip(spec.labels, verbal[spec.name], strict=True)})
            chunk_logps[spec.name].append({k: math.log(max(p, 1e-300)) for k, p in probs.items()})
    out = {}
    for spec in specs:
        pooled = _pool(chunk_logps[spec.name], combine)
        out[spec.name] = FieldScores(field=spec.name, probs=pooled, label=max(pooled, key=pooled.get),
                                     chunk_probs=[softmax(d) for d in chunk_logps[spec.name]])
    return out


def classify_text(model: Any, tokenizer: Any, text: str, field_name: str, *, max_prompt_tokens: int = 1024,
                  overlap_chars: int = 200, combine: Literal["mean", "max"] = "mean",
                  length_normalize: bool = False, label_batch_size: int | None = None) -> FieldScores:
    """Score every label of one field on a whole report (:func:`classify_fields` with one field).

    Raises:
        ConfigError: unknown field, unknown ``combine``, or a budget that leaves under 32 tokens for the note.
    """
    if field_name not in FIELDS:
        raise ConfigError(f"field: got {field_name!r}, expected one of {sorted(FIELDS)}")
    return classify_fields(model, tokenizer, text, [field_name], max_prompt_tokens=max_prompt_tokens,
                           overlap_chars=overlap_chars, combine=combine, length_normalize=length_normalize,
                           label_batch_size=label_batch_size)[field_name]


STAGED_M0_RULE = "staged report without pM: M0"


def evidence_first(model: Any, tokenizer: Any, text: str, field_names: Sequence[str] = ("t_stage", "n_stage",
                                                                                       "m_stage"), *,
                   staged_m0: bool = True, stats: Any = None, **kwargs: Any) -> dict[str, dict[str, Any]]:
    """Each field read from the report where it states it, and scored by the model only where it does not.

    A stated class ("pT2a", "pN1") is copied with its span (``note[start:end] == text``); with ``staged_m0`` a report
    that states pT or pN but no pM is M0 by a named rule (pathologists record pM only when a distant metastasis was
    sampled); every other field is scored with one shared prefill per chunk (:func:`classify_fields`) and keeps its
    distribution. A report whose fields are all stated costs no forward pass at all.

    Args:
        field_names: keys of :data:`FIELDS`.
        kwargs: passed to :func:`classify_fields` (``max_prompt_tokens``, ``overlap_chars``, ``combine`` ...).
    Returns:
        field -> ``{"label", "source"}`` plus ``start``/``end``/``text`` (source ``evidence``), ``rule``
        (``rule``) or ``probability``/``distribution`` (``inferred``), in ``field_names``' order.

    Example:
        >>> evidence_first(None, None, "Final: pT2 pN0.", ["t_stage", "m_stage"])["t_stage"]
        {'label': 'T2', 'source': 'evidence', 'start': 7, 'end': 10, 'text': 'pT2'}
    """
    from cancerllm.knowledge.values import evidence_source, staged_without_pm, stated_labels

    stated = stated_labels(text)
    out: dict[str, dict[str, Any]] = {f: {"label": stated[f].cls, **evidence_source(text, stated[f])}
                                      for f in field_names if f in stated}
    if staged_m0 and "m_stage" in field_names and staged_without_pm(stated):
        out["m_stage"] = {"label": "M0", "source": "rule", "rule": STAGED_M0_RULE}
    rest = [f for f in field_names if f not in out]
    if rest:
        for f, res in classify_fields(model, tokenizer, text, rest, stats=stats, **kwargs).items():
            out[f] = {"label": res.label, "source": "inferred", "probability": round(res.confidence, 4),
                      "distribution": {k: round(v, 4) for k, v in res.probs.items()}}
    return {f: out[f] for f in field_names}
