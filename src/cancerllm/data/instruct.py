"""Turn labelled notes into instruction-tuning examples (prompt -> completion) for both tasks.

Long notes are windowed with the same chunker inference uses (:mod:`cancerllm.data.chunking`), so the model is
trained on exactly the prompt shapes it will see. Each phenotype example's target holds the gold mentions that
lie wholly inside its chunk (spans are re-based to the chunk); chunks without mentions teach the model to answer
with an empty list instead of inventing values. Mentions without a span (inferred values) are not trained on:
the model should only output what the text supports.

Example:
    >>> from cancerllm.data.schema import Note, Mention, Diagnosis
    >>> note = Note(id="n1", text="Final diagnosis: adenocarcinoma, pT2 N0.",
    ...             mentions=[Mention(type="stage_t", text="pT2", start=33, end=36, value="T2")],
    ...             diagnosis=Diagnosis(text="lung adenocarcinoma", icd10="C34.90"))
    >>> exs = build_examples([note], types=["stage_t", "stage_n", "stage_m"])
    >>> [e.task for e in exs]
    ['phenotype', 'diagnosis']
    >>> exs[0].completion
    '{"mentions":[{"type":"stage_t","text":"pT2","value":"T2"}]}'
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from cancerllm.data.chunking import Chunk, chunk_text
from cancerllm.data.prompts import get_style
from cancerllm.data.schema import InstructionExample, Mention, Note

__all__ = ["annotated_types", "build_examples", "chunk_mentions", "note_budget", "prompt_token_ids", "token_counter",
           "trial_budget", "trial_chunk_target", "trial_examples"]


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """Tokens in a string; without a tokenizer, ~4 characters per token (only for tests and estimates)."""
    if tokenizer is None:
        return lambda s: max(1, len(s) // 4)
    return lambda s: len(tokenizer(s, add_special_tokens=False)["input_ids"])


def prompt_token_ids(tokenizer: Any, prompt: str) -> list[int]:
    """The token ids the model sees for a rendered prompt, in training (SFT) and at inference alike.

    Exactly one BOS, where the tokenizer's convention puts it: a chat template that writes the BOS into the text
    (Mistral/Llama: ``"<s>[INST] ..."``) keeps its own; a tokenizer that adds a BOS (Llama/Mistral) gets one in
    front of a prompt that lacks it (the Alpaca prompts of ``qa.v1``); a tokenizer that adds none (SmolLM2, Qwen)
    gets none. Why one function: TRL tokenizes a prompt string *with* special tokens (a second BOS after the
    template's) while inference tokenized *without* (no BOS for Alpaca prompts), so the served model saw other
    tokens than the trained one.

    Example:
        >>> prompt_token_ids(None, "x")
        Traceback (most recent call last):
        ...
        ValueError: prompt_token_ids needs the model's tokenizer
    """
    if tokenizer is None:
        raise ValueError("prompt_token_ids needs the model's tokenizer")
    ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    bos = tokenizer.bos_token_id
    if bos is not None and (not ids or ids[0] != bos) and _adds_bos(tokenizer):
        ids.insert(0, bos)
    return ids


def _adds_bos(tokenizer: Any) -> bool:
    # Ask the tokenizer itself: fast tokenizers carry the rule in their post-processor, not in a flag.
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    return bool(with_special) and with_special[0] == tokenizer.bos_token_id


def note_budget(style_name: str, tokenizer: Any, max_prompt_tokens: int, types: Sequence[str]) -> int:
    """Tokens left for the note once the prompt template (instruction, type list) is paid for."""
    style = get_style(style_name)
    # A whole prompt is counted as the model gets it (with its BOS, see prompt_token_ids).
    count = token_counter(tokenizer) if tokenizer is None else (lambda p: len(prompt_token_ids(tokenizer, p)))
    overhead = max(count(p) for _, p in style.phenotype_prompts("", list(types), tokenizer))
    overhead = max(overhead, count(style.diagnosis_prompt("", tokenizer)))
    budget = max_prompt_tokens - overhead
    if budget < 32:
        from cancerllm.errors import ConfigError

        raise ConfigError(f"max_prompt_tokens={max_prompt_tokens} leaves {budget} tokens for the note after the "
                          f"{overhead}-token template; raise --generate.max_prompt_tokens / data.max_seq_len")
    return budget


def trial_budget(style_name: str, tokenizer: Any, max_prompt_tokens: int) -> int:
    """Tokens left for the criteria once the trial prompt template is paid for (see :func:`note_budget`)."""
    style = get_style(style_name)
    count = token_counter(tokenizer) if tokenizer is None else (lambda p: len(prompt_token_ids(tokenizer, p)))
    budget = max_prompt_tokens - count(style.trial_prompt("", tokenizer))
    if budget < 32:
        from cancerllm.errors import ConfigError

        raise ConfigError(f"max_prompt_tokens={max_prompt_tokens} leaves {budget} tokens for the criteria after the "
                          "trial template; raise --generate.max_prompt_tokens / data.max_seq_len")
    return budget


def trial_chunk_target(note: Note, chunk: Chunk) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    """Gold trial mentions wholly inside ``chunk`` (in note order) and the relations between them, re-indexed.

    Example:
        >>> from cancerllm.data.schema import Note, Mention
        >>> n = Note(id="t", text="No seizures\\nAge > 18", mentions=[
        ...     Mention(type="Negation", text="No", start=0, end=2),
        ...     Mention(type="Condition", text="seizures", start=3, end=11, assertion="negated"),
        ...     Mention(type="Person", text="Age", start=12, end=15)],
        ...     relations=[{"type": "Has_negation", "head": 1, "tail": 0}])
        >>> trial_chunk_target(n, Chunk("Age > 18", 12, 20))
        ([{'type': 'Person', 'text': 'Age', 'assertion': 'present'}], [])
        >>> trial_chunk_target(n, Chunk("No seizures", 0, 11))[1]
        [('Has_negation', 1, 0)]
    """
    inside = [i for i, m in enumerate(note.mentions)
              if m.start is not None and chunk.start <= m.start and m.end <= chunk.end]
    local = {i: k for k, i in enumerate(inside)}
    mentions = [{"type": note.mentions[i].type, "text": note.mentions[i].text,
                 "assertion": note.mentions[i].assertion} for i in inside]
    relations = [(r.type, local[r.head], local[r.tail]) for r in note.relations
                 if r.head in local and r.tail in local]
    return mentions, relations


def trial_examples(notes: Sequence[Note], style: str = "json.v1", tokenizer: Any = None,
                   max_prompt_tokens: int = 512, seed: int = 0,
                   max_empty_ratio: float | None = 0.3) -> list[InstructionExample]:
    """``trial`` examples: one per criterion chunk (whole criterion lines, :func:`criterion_chunks`), whose
    completion lists the chunk's gold mentions and relations (see ``trial_target`` of the prompt style)."""
    from cancerllm.data.corpora.chia import criterion_chunks

    ps = get_style(style)
    count = token_counter(tokenizer)
    budget = trial_budget(style, tokenizer, max_prompt_tokens)
    with_m: list[InstructionExample] = []
    empty: list[InstructionExample] = []
    for note in notes:
        for ci, chunk in enumerate(criterion_chunks(note.text, getattr(note, "criteria", None), budget, count)):
            mentions, relations = trial_chunk_target(note, chunk)
            ex = InstructionExample(id=f"{note.id}#c{ci}#trial", task="trial",
                                    prompt=ps.trial_prompt(chunk.text, tokenizer),
                                    completion=ps.trial_target(mentions, relations), note_id=note.id,
                                    meta={"chunk": [chunk.start, chunk.end]})
            (with_m if mentions else empty).append(ex)
    if max_empty_ratio is not None and len(empty) > max_empty_ratio * max(1, len(with_m)):
        empty = sorted(random.Random(seed).sample(empty, int(max_empty_ratio * max(1, len(with_m)))),
                       key=lambda e: e.id)
    return with_m + empty


def chunk_mentions(mentions: Sequence[Mention], chunk: Chunk) -> list[dict[str, Any]]:
    """Gold mentions wholly inside ``chunk``, as dicts with chunk-relative spans."""
    out = []
    for m in sorted(mentions, key=lambda m: (m.start or 0, m.end or 0)):
        if m.start is None or m.start < chunk.start or m.end > chunk.end:
            continue
        out.append({"type": m.type, "text": m.text, "value": m.value, "assertion": m.assertion,
                    "start": m.start - chunk.start, "end": m.end - chunk.start})
    return out


def annotated_types(notes: Sequence[Note]) -> list[str]:
    """Entity types that the gold data annotates (the prompt asks only for these, in schema order)."""
    from cancerllm.knowledge.phenotypes import ENTITY_TYPES

    seen = {m.type for n in notes for m in n.mentions}
    return [t for t in ENTITY_TYPES if t in seen]


def build_examples(notes: Sequence[Note], style: str = "json.v1", tokenizer: Any = None,
                   tasks: Sequence[str] = ("phenotype", "diagnosis"), types: Sequence[str] | None = None,
                   max_prompt_tokens: int = 512, overlap_chars: int = 200, seed: int = 0,
                   max_empty_ratio: float | None = 0.3,
                   max_diagnosis_ratio: float | None = 1.0) -> list[InstructionExample]:
    """Instruction examples for ``tasks``, one per (note, chunk[, entity type]).

    Args:
        notes: labelled notes (mentions for phenotype, ``diagnosis`` for diagnosis).
        style: registered prompt style name.
        tokenizer: the model tokenizer (chat template + token counting).
        types: entity types asked for; default = the types annotated in ``notes``.
        max_prompt_tokens: prompt budget (template + note chunk).
        max_empty_ratio: keep at most this many phenotype examples without mentions per example with mentions
            (seeded subsample; None keeps all). Empty chunks dominate long reports and would teach "say nothing":
            measured on TCGA, a 1:1 mix made a 48-step SFT answer an empty list for every chunk; at 0.3 the model
            still learns to abstain while the grounding step drops whatever it invents.
        max_diagnosis_ratio: when both tasks are trained, keep at most this many diagnosis examples per phenotype
            example. A long report yields one diagnosis example per chunk, which would otherwise outnumber the
            phenotype examples several times over; each note's first chunk (where reports usually state the
            final diagnosis) is kept before later chunks.
    Returns:
        Examples in a deterministic order for a given seed.
    """
    if "trial" in tasks:  # trial criteria: their own types, chunks and answer shape (see trial_examples)
        other = [t for t in tasks if t != "trial"]
        rest = build_examples(notes, style, tokenizer, other, types, max_prompt_tokens, overlap_chars, seed,
                              max_empty_ratio, max_diagnosis_ratio) if other else []
        return trial_examples(notes, style, tokenizer, max_prompt_tokens, seed, max_empty_ratio) + rest
    ps = get_style(style)
    types = list(types) if types else annotated_types(notes)
    if "phenotype" in tasks and not types:
        from cancerllm.errors import ConfigError

        raise ConfigError("sft tasks include 'phenotype' but no note has gold mentions; use --tasks diagnosis "
                          "or give notes with 'mentions'")
    count = token_counter(tokenizer)
    budget = note_budget(style, tokenizer, max_prompt_tokens, types)
    with_m: list[InstructionExample] = []
    empty: list[InstructionExample] = []
    diag: list[InstructionExample] = []
    for note in notes:
        chunks = chunk_text(note.text, budget, count, overlap_chars)
        for ci, chunk in enumerate(chunks):
            if "phenotype" in tasks:
                gold = chunk_mentions(note.mentions, chunk)
                for etype, prompt in ps.phenotype_prompts(chunk.text, types, tokenizer):
                    sel = [g for g in gold if etype is None or g["type"] == etype]
                    ex = InstructionExample(id=f"{note.id}#c{ci}" + (f"#{etype}" if etype else ""), task="phenotype",
                                            prompt=prompt, completion=ps.phenotype_target(sel, etype),
                                            note_id=note.id, meta={"chunk": [chunk.start, chunk.end]})
                    (with_m if sel else empty).append(ex)
            if "diagnosis" in tasks and note.diagnosis is not None:
                diag.append(InstructionExample(
                    id=f"{note.id}#c{ci}#dx", task="diagnosis", prompt=ps.diagnosis_prompt(chunk.text, tokenizer),
                    completion=ps.diagnosis_target(note.diagnosis.text, note.diagnosis.icd10), note_id=note.id,
                    meta={"chunk": [chunk.start, chunk.end]}))
    rng = random.Random(seed)
    if max_empty_ratio is not None and len(empty) > max_empty_ratio * max(1, len(with_m)):
        empty = rng.sample(empty, int(max_empty_ratio * max(1, len(with_m))))
        empty.sort(key=lambda e: e.id)
    n_pheno = len(with_m) + len(empty)
    if "phenotype" in tasks and max_diagnosis_ratio is not None and len(diag) > max_diagnosis_ratio * max(1, n_pheno):
        first = [d for d in diag if d.id.endswith("#c0#dx")]
        later = [d for d in diag if not d.id.endswith("#c0#dx")]
        rng.shuffle(first)
        rng.shuffle(later)
        diag = sorted((first + later)[:int(max_diagnosis_ratio * max(1, n_pheno))], key=lambda e: e.id)
    return with_m + empty + diag
