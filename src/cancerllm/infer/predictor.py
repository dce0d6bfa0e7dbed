"""The Python API of inference: ``Predictor(model, tokenizer).predict(notes, task) -> list[Prediction]``.

One record comes back for every input note, always. A note whose generation fails to parse, whose mentions cannot
be grounded or whose ICD code is invalid gets a record with ``errors`` saying so; an exception while processing
one note is caught, reported in that note's record, and the rest of the batch goes on; that holds at every stage
(prompt construction, generation, post-processing). An empty note gets a record with an error and is never sent to
the model.

Pipeline per note: chunk to the prompt budget -> (optional) retrieve k labelled examples -> render prompts in
the chosen style -> batched greedy generation across all notes -> parse -> ground spans -> validate -> merge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from cancerllm.config import DEFAULT_PROMPT_TOKENS, GenerateArgs
from cancerllm.data.chunking import Chunk, chunk_text
from cancerllm.data.instruct import note_budget, token_counter
from cancerllm.data.prompts import Example, get_style
from cancerllm.data.schema import Note, Prediction
from cancerllm.infer.generate import GenerationCancelled, GenerationStats, generate
from cancerllm.infer.postprocess import check_diagnosis, ground_mentions, merge_mentions, vote_diagnosis
from cancerllm.knowledge.phenotypes import ENTITY_TYPES
from cancerllm.knowledge.values import labels_from_mentions

__all__ = ["EMPTY_NOTE", "Predictor", "Request", "predict_isolated"]

log = logging.getLogger(__name__)

EMPTY_NOTE = "empty note: no text to read, nothing was sent to the model"


def _free_accelerator_memory() -> None:
    """Release cached CUDA blocks before a retry after an out-of-memory error (a no-op on CPU)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclass
class Request:
    note_idx: int
    chunk: Chunk
    etype: str | None
    prompt: str


class Predictor:
    """Runs extraction or diagnosis with a loaded model.

    Args:
        model, tokenizer: a causal LM and its tokenizer (see :func:`cancerllm.model.load.load_model`).
        style: prompt style name (``json.v1`` or ``qa.v1``).
        types: entity types to ask for (default: every schema type).
        gen: decoding and budget settings.
        retriever: optional object with ``examples_for(note, k, task, style, types)`` (see :mod:`cancerllm.rag`).
        k: number of retrieved examples per prompt.
    """

    def __init__(self, model: Any, tokenizer: Any, style: str = "json.v1", types: Sequence[str] | None = None,
                 gen: GenerateArgs | None = None, retriever: Any = None, k: int = 0, info: dict | None = None):
        self.model, self.tokenizer = model, tokenizer
        self.style_name, self.style = style, get_style(style)
        self.types = list(types) if types else list(ENTITY_TYPES)
        self.gen = gen or GenerateArgs(prompt_style=style)
        if self.gen.max_prompt_tokens is None:  # no run and no flag gave a budget (load_predictor passes the run's)
            self.gen = replace(self.gen, max_prompt_tokens=DEFAULT_PROMPT_TOKENS)
        self.retriever, self.k = retriever, k
        self.info = info or {}
        self.count = token_counter(tokenizer)
        self.stats = GenerationStats()

    # ------------------------------------------------------------------ prompt construction
    def _budgets(self) -> tuple[int, int]:
        """(tokens for the note chunk, tokens for retrieved examples)."""
        total = note_budget(self.style_name, self.tokenizer, self.gen.max_prompt_tokens, self.types)
        ex_budget = min(total // 2, 160 * self.k) if (self.retriever is not None and self.k > 0) else 0
        return total - ex_budget, ex_budget

    def _examples(self, note: Note, task: str, ex_budget: int) -> list[Example]:
        if self.retriever is None or self.k <= 0:
            return []
        from cancerllm.rag.pipeline import fit_examples

        found = self.retriever.examples_for(note, self.k, task=task, style=self.style_name, types=self.types)
        return fit_examples(found, ex_budget, self.count)

    def _requests(self, i: int, note: Note, task: str, note_budget_tokens: int, examples: list[Example]) -> list[Request]:
        chunks = chunk_text(note.text, note_budget_tokens, self.count, self.gen.chunk_overlap_chars)
        reqs = []
        for ch in chunks:
            if task == "phenotype":
                for etype, prompt in self.style.phenotype_prompts(ch.text, self.types, self.tokenizer, examples):
                    reqs.append(Request(i, ch, etype, prompt))
            else:
                reqs.append(Request(i, ch, None, self.style.diagnosis_prompt(ch.text, self.tokenizer, examples)))
        return reqs

    # ------------------------------------------------------------------ main entry
    def predict(self, notes: Sequence[Note], task: str = "phenotype", progress: bool = False) -> list[Prediction]:
        """One Prediction per note, in input order."""
        if task not in ("phenotype", "diagnosis"):
            from cancerllm.errors import ConfigError

            raise ConfigError(f"task: got {task!r}, expected 'phenotype' or 'diagnosis'")
        schema = None
        if self.gen.guided:  # the answer schema for guided decoding; a free-text style fails here, before any work
            from cancerllm.infer.guided import require_backend, schema_for

            require_backend()
            schema = schema_for(task, self.style_name, self.types)
        preds = [Prediction(id=n.id, task=task, meta={"prompt_style": self.style_name}) for n in notes]
        note_tokens, ex_tokens = self._budgets()
        requests: list[Request] = []
        for i, note in enumerate(notes):
            if not note.text.strip():  # nothing to read: the model would only invent, so it is not asked
                preds[i].coverage = {"chars_total": len(note.text), "chars_seen": 0, "chunks": 0}
                preds[i].errors.append(EMPTY_NOTE)
                continue
            try:
                examples = self._examples(note, task, ex_tokens)
                preds[i].retrieved = [{"id": e.id, "score": round(float(e.score), 4)} for e in examples]
                reqs = self._requests(i, note, task, note_tokens, examples)
                chunks = {(r.chunk.start, r.chunk.end) for r in reqs}
                preds[i].coverage = {"chars_total": len(note.text),
                                     "chars_seen": len({c for a, b in chunks for c in range(a, b)}),
                                     "chunks": len(chunks)}
                requests.extend(reqs)
            except Exception as err:  # noqa: BLE001 - one broken note must not sink the batch
                log.warning("note %d: prompt construction failed (%s)", i, type(err).__name__)
                preds[i].errors.append(f"prompt construction failed: {type(err).__name__}: {str(err)[:200]}")
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(requests), desc=f"{task} prompts", unit="prompt")
        outputs, failed = self._generate(requests, bar.update if bar else None, schema)
        if bar:
            bar.close()
        per_note: dict[int, list[tuple[Request, str]]] = {}
        for r, out in zip(requests, outputs):
            if r.note_idx in failed:
                continue
            per_note.setdefault(r.note_idx, []).append((r, out))
        for i, msg in failed.items():
            preds[i].errors.append(msg)
        for i, items in per_note.items():
            try:
                if task == "phenotype":
                    self._finish_phenotype(preds[i], items)
                else:
                    self._finish_diagnosis(preds[i], items)
            except Exception as err:  # noqa: BLE001 - the same isolation after generation
                preds[i].errors.append(f"post-processing failed: {type(err).__name__}: {str(err)[:200]}")
        return preds

    def _generate(self, requests: list[Request], progress: Any = None,
                  schema: dict | None = None) -> tuple[list[str], dict[int, str]]:
        """Generate every request's output; returns (outputs, {note index: error}).

        A batch that fails (out of memory on a long note, a kernel error) is retried note by note, so the failure
        costs only the notes that cause it: their outputs stay empty and their records carry the error.
        """
        prompts = [r.prompt for r in requests]
        try:
            return generate(self.model, self.tokenizer, prompts, self.gen.max_new_tokens, self.gen.batch_size,
                            self.stats, progress, schema), {}
        except GenerationCancelled:
            raise  # the caller stopped us: retrying note by note would run on after a timeout
        except Exception as err:  # noqa: BLE001 - isolated below, note by note
            first = err
        by_note: dict[int, list[int]] = {}
        for j, r in enumerate(requests):
            by_note.setdefault(r.note_idx, []).append(j)
        log.warning("generation failed for a batch of %d note(s) (%s); retrying note by note", len(by_note),
                    type(first).__name__)
        outputs, failed = [""] * len(requests), {}
        for i, idx in by_note.items():
            _free_accelerator_memory()
            try:
                outs = generate(self.model, self.tokenizer, [prompts[j] for j in idx], self.gen.max_new_tokens,
                                self.gen.batch_size, self.stats, progress, schema)
            except Exception as err:  # noqa: BLE001 - this note's failure is reported in its record
                log.warning("note %d: generation failed (%s)", i, type(err).__name__)
                failed[i] = f"generation failed: {type(err).__name__}: {str(err)[:200]}"
                continue
            for j, out in zip(idx, outs):
                outputs[j] = out
        return outputs, failed

    def _finish_phenotype(self, pred: Prediction, items: list[tuple[Request, str]]) -> None:
        mentions = []
        for ci, (r, out) in enumerate(items):
            pred.raw.append(out)
            parsed, perr = self.style.parse_phenotype(out, r.etype)
            grounded, gerr = ground_mentions(r.chunk.text, r.chunk.start, parsed)
            mentions.extend(grounded)
            pred.errors.extend(f"chunk {ci}: {e}" for e in perr + gerr)
        pred.mentions = merge_mentions(mentions)
        pred.labels = labels_from_mentions(pred.mentions)

    def _finish_diagnosis(self, pred: Prediction, items: list[tuple[Request, str]]) -> None:
        candidates = []
        for ci, (_, out) in enumerate(items):
            pred.raw.append(out)
            parsed, perr = self.style.parse_diagnosis(out)
            pred.errors.extend(f"chunk {ci}: {e}" for e in perr)
            candidates.append((parsed["text"], parsed["icd10"]))
        text, code = vote_diagnosis(candidates)
        diagnosis, derr = check_diagnosis(text, code, note=" ".join(r.chunk.text for r, _ in items))
        pred.diagnosis = diagnosis
        pred.errors.extend(derr)
        pred.labels = {"cancer_type": diagnosis.cancer_type if diagnosis else None}


def predict_isolated(predictor: Any, notes: list[Note], task: str, failed: str = "prediction failed",
                     clean: Callable[[str, Note], str] = lambda msg, note: msg) -> list[Prediction]:
    """``predictor.predict`` with one record per note whatever fails (used by ``extract`` and the server).

    The Predictor already isolates empty notes, prompt building, each generation and post-processing; this catches
    the rest (an out-of-memory error outside those, a bug): if the batched call raises, each note is retried alone,
    so only the note that breaks it gets an error record, ``"<failed>: <error>"`` with the error text passed
    through ``clean`` (the server removes quoted note text). A cancelled generation is never retried.
    """
    try:
        return predictor.predict(notes, task)
    except GenerationCancelled:
        raise
    except Exception as err:  # noqa: BLE001 - isolated below, note by note
        if len(notes) == 1:
            msg = clean(f"{type(err).__name__}: {str(err)[:200]}", notes[0])
            return [Prediction(id=notes[0].id, task=task, errors=[f"{failed}: {msg}"])]
        log.warning("%s batch of %d notes failed (%s); retrying note by note", task, len(notes), type(err).__name__)
    return [p for n in notes for p in predict_isolated(predictor, [n], task, failed, clean)]
