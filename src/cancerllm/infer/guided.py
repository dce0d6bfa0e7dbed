"""Guided decoding: generation constrained to the json.v1 answer schema, so every finished output parses.

The constraint is a JSON schema per task, compiled by xgrammar (the grammar engine vLLM's structured outputs use,
so both engines can share one constraint) against the model's tokenizer, and applied as a transformers logits
processor that masks every token the grammar does not allow next:

* phenotype: ``{"mentions": [{"type": <one of the asked types>, "text": ..., "value": ..., "assertion": ...}]}``
  with ``text`` required and non-blank, ``value`` and ``assertion`` optional (``assertion`` only when it is not
  ``present``, as in the training targets), keys in the order the training targets use, strings without quotes,
  backslashes or control characters and capped in length (text 120, value 60 characters), and at most
  ``MAX_MENTIONS_PER_TYPE`` mentions per asked type (a looping model is made to close the list);
* diagnosis: ``{"diagnosis": <non-blank text>, "icd10": <a code-shaped string or null>}``.

The grammar guarantees the shape, not the content: spans are still grounded and codes validated afterwards. The
processor also knows the ``max_new_tokens`` budget and closes the answer before it ends (the last mentions are
lost instead of the whole answer); a budget below the answer's fixed skeleton (16-32 tokens with a tokenizer
that spells JSON character by character) still cuts it, and the parser reports that in the record's errors as for
unguided output.

Install the optional extra (CPU: ``--no-deps`` skips triton, which only serves CUDA kernels)::

    pip install --no-deps "xgrammar>=0.2.8" "apache-tvm-ffi>=0.1.11"

Example:
    >>> sorted(phenotype_schema(["stage_t"])["properties"]["mentions"]["items"]["properties"])
    ['assertion', 'text', 'type', 'value']
    >>> phenotype_schema(["stage_t", "stage_n"])["properties"]["mentions"]["items"]["properties"]["type"]
    {'enum': ['stage_t', 'stage_n']}
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from transformers import LogitsProcessor, LogitsProcessorList

from cancerllm.errors import ConfigError
from cancerllm.knowledge.phenotypes import ASSERTIONS, ENTITY_TYPES

__all__ = ["GUIDED_STYLE", "HARD_CLOSE", "INSTALL_HINT", "MAX_MENTIONS_PER_TYPE", "SOFT_CLOSE",
           "GrammarLogitsProcessor", "close_row", "closer_tables", "diagnosis_schema", "guided_problems", "in_string",
           "logits_processor", "phenotype_schema", "require_backend", "schema_for"]

GUIDED_STYLE = "json.v1"
INSTALL_HINT = ('pip install --no-deps "xgrammar>=0.2.8" "apache-tvm-ffi>=0.1.11" '
                "(or pip install -e '.[guided]', which also pulls triton, ~1 GB)")
# Strings the grammar allows: no quote, backslash or control character (so no escapes to get wrong), starting
# with a non-blank character (the parser drops blank text), length-capped so a looping model still closes
# (120 characters: xgrammar 0.2.8 fails to compile a bounded repeat above ~128).
_TEXT = r"^[^\s\"\\][^\"\\\x00-\x1f]{0,119}$"
_VALUE = r"^[^\"\\\x00-\x1f]{0,60}$"
MAX_MENTIONS_PER_TYPE = 8
_ICD10 = r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$"  # the shape of an ICD-10-CM code; validity is checked later


def guided_problems(name: str = "generate.guided") -> list[str]:
    """``[]`` when the guided-decoding backend is importable, else one problem saying how to install it.

    Uses ``find_spec`` (no import), so config validation stays cheap and runs before any model is loaded."""
    from cancerllm.runtime import has_package

    if has_package("xgrammar"):
        return []
    return [(f"{name}: got true, but the optional 'guided' extra (xgrammar) is not installed; "
             f"install it with: {INSTALL_HINT}, or set {name}=false")]


def require_backend() -> Any:
    """Import and return xgrammar, or raise ConfigError naming the install command."""
    try:
        import xgrammar
    except ImportError as err:
        raise ConfigError(f"generate.guided: xgrammar cannot be imported ({type(err).__name__}); "
                          f"install the 'guided' extra: {INSTALL_HINT}") from None
    return xgrammar


def phenotype_schema(types: list[str] | None = None) -> dict[str, Any]:
    """JSON schema of the json.v1 phenotype answer, restricted to the entity types the prompt asks for."""
    types = list(types or ENTITY_TYPES)
    unknown = [t for t in types if t not in ENTITY_TYPES]
    if unknown:
        raise ConfigError(f"types: got {unknown}, expected entity types from {list(ENTITY_TYPES)}")
    mention = {
        "type": "object",
        "properties": {
            "type": {"enum": types},
            "text": {"type": "string", "pattern": _TEXT},
            "value": {"type": "string", "pattern": _VALUE},
            "assertion": {"enum": [a for a in ASSERTIONS if a != "present"]},
        },
        "required": ["type", "text"],
        "additionalProperties": False,
    }
    # A cap per asked type stops the typical small-model failure (one mention repeated until the budget ends).
    mentions = {"type": "array", "items": mention, "maxItems": MAX_MENTIONS_PER_TYPE * len(types)}
    return {"type": "object", "properties": {"mentions": mentions}, "required": ["mentions"],
            "additionalProperties": False}


def diagnosis_schema() -> dict[str, Any]:
    """JSON schema of the json.v1 diagnosis answer (statement + ICD-10-CM code or null)."""
    return {"type": "object",
            "properties": {"diagnosis": {"type": "string", "pattern": _TEXT},
                           "icd10": {"anyOf": [{"type": "string", "pattern": _ICD10}, {"type": "null"}]}},
            "required": ["diagnosis", "icd10"], "additionalProperties": False}


def schema_for(task: str, style: str, types: list[str] | None = None) -> dict[str, Any]:
    """The answer schema of ``task`` in prompt ``style``; only json.v1 answers are JSON, so only it is guided."""
    if style != GUIDED_STYLE:
        raise ConfigError(f"generate.guided: prompt style {style!r} answers in free text; guided decoding needs "
                          f"{GUIDED_STYLE!r} (set generate.prompt_style={GUIDED_STYLE} or generate.guided=false)")
    if task == "phenotype":
        return phenotype_schema(types)
    if task == "diagnosis":
        return diagnosis_schema()
    raise ConfigError(f"task: got {task!r}, expected 'phenotype' or 'diagnosis'")


@lru_cache(maxsize=4)
def _tokenizer_info(tokenizer: Any, vocab_size: int) -> Any:
    """xgrammar's token table for (tokenizer, logits width), built once: it walks the whole vocab."""
    return require_backend().TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)


@lru_cache(maxsize=4)
def _compiler(tokenizer: Any, vocab_size: int) -> Any:
    return require_backend().GrammarCompiler(_tokenizer_info(tokenizer, vocab_size), max_threads=1)


@lru_cache(maxsize=32)
def _compiled(tokenizer: Any, vocab_size: int, schema_json: str) -> Any:
    # Compact JSON, separators as in the training targets (json.dumps(..., separators=(",", ":"))), keys in
    # schema order: a trained model is steered along exactly the text it learned, in the fewest tokens.
    return _compiler(tokenizer, vocab_size).compile_json_schema(schema_json, any_whitespace=False,
                                                                separators=(",", ":"))


# Budget-aware closing (new tokens left): with SOFT_CLOSE left no new mention or optional key is started (the
# answer closes at the next structural point: `}` or `]`); with HARD_CLOSE left an open string is closed too.
SOFT_CLOSE, HARD_CLOSE = 40, 16


@lru_cache(maxsize=4)
def closer_tables(tokenizer: Any, vocab_size: int) -> tuple[Any, Any, Any, list[bool]]:
    """Token tables for budget-aware closing: (tokens made only of ``}``/``]``, tokens made only of ``"}]`` that
    start with ``"``, other tokens holding a ``"``, whether each token holds an odd number of ``"``).

    Our strings can hold no ``"`` or backslash (see the patterns above), so an odd count of quotes generated so far
    means "inside a string", where ``}`` and ``]`` are text, not closers."""
    import torch

    vocab = _tokenizer_info(tokenizer, vocab_size).decoded_vocab
    structural, string_end, quote_other = (torch.zeros(vocab_size, dtype=torch.bool) for _ in range(3))
    odd_quotes = [False] * vocab_size
    for tid, piece in enumerate(vocab[:vocab_size]):
        text = piece.decode("utf-8", "replace") if isinstance(piece, bytes) else str(piece)
        odd_quotes[tid] = text.count('"') % 2 == 1
        if text and set(text) <= set('"}]'):
            structural[tid], string_end[tid] = text[0] != '"', text[0] == '"'
        elif '"' in text:  # e.g. `","` or `"},{"`: ends a string and opens more structure in one token
            quote_other[tid] = True
    return structural, string_end, quote_other, odd_quotes


class GrammarLogitsProcessor(LogitsProcessor):
    """A transformers logits processor enforcing one compiled grammar on every row of a batch.

    It never reads the prompt: each row's matcher starts at the first generated position and is fed only the
    token that row generated last, so left padding (or any prompt length) cannot shift it, and batched output
    equals unbatched output. A row whose grammar has finished is left alone (generation stops it at EOS).

    With ``max_new_tokens`` it also closes the answer before the budget ends, so a long answer loses its last
    mentions instead of becoming unparseable: ``SOFT_CLOSE`` tokens before the end, wherever the grammar allows
    a ``}`` or ``]`` only those are allowed (no new mention, no optional key); ``HARD_CLOSE`` tokens before the
    end an open string may be closed too (the text then ends early; grounding rejects it if it is not in the
    note). An answer still cannot close in fewer new tokens than its fixed skeleton needs.
    Use one instance per ``generate`` call (matchers carry state).
    """

    def __init__(self, compiled: Any, vocab_size: int, max_new_tokens: int | None = None,
                 closers: tuple[Any, Any, Any, list[bool]] | None = None):
        self.xgr = require_backend()
        self.compiled, self.vocab_size = compiled, vocab_size
        self.max_new_tokens, self.closers = max_new_tokens, closers
        self.matchers: list[Any] = []
        self.in_string: list[bool] = []
        self.bitmask = None
        self.step = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if not self.matchers:  # first step: nothing generated yet, one fresh matcher per row
            self.matchers = [self.xgr.GrammarMatcher(self.compiled) for _ in range(input_ids.shape[0])]
            self.in_string = [False] * len(self.matchers)
            self.bitmask = self.xgr.allocate_token_bitmask(len(self.matchers), self.vocab_size)
        else:
            for row, matcher in enumerate(self.matchers):
                # Feed each row the token it sampled last step; a finished row only receives padding now.
                if matcher.is_terminated():
                    continue
                token = int(input_ids[row, -1])
                if not matcher.accept_token(token):
                    raise RuntimeError(f"guided decoding: row {row} sampled a token its grammar forbids")
                if self.closers is not None and self.closers[3][token]:
                    self.in_string[row] = not self.in_string[row]
        left = None if self.max_new_tokens is None else self.max_new_tokens - self.step  # including this one
        self.step += 1
        active = [row for row, m in enumerate(self.matchers) if not m.is_terminated()]
        for row in active:
            self.matchers[row].fill_next_token_bitmask(self.bitmask, row)
        if active:
            device = scores.device
            masked = scores.to("cpu") if device.type != "cpu" else scores
            self.xgr.apply_token_bitmask_inplace(masked, self.bitmask, vocab_size=self.vocab_size, indices=active)
            if left is not None and self.closers is not None:
                for row in active:
                    close_row(masked[row], self.in_string[row], left, self.closers)
            scores = masked.to(device) if masked is not scores else scores
        return scores


def in_string(token_ids: Any, closers: tuple[Any, Any, Any, list[bool]]) -> bool:
    """Whether an answer made of ``token_ids`` (generated so far) stops inside a JSON string: an odd number of
    ``"`` (our strings hold none, so every quote opens or closes one). Negative ids (placeholders) are skipped."""
    odd = closers[3]
    return sum(1 for t in token_ids if 0 <= t < len(odd) and odd[t]) % 2 == 1


def close_row(scores: Any, inside_string: bool, left: int, closers: tuple[Any, Any, Any, list[bool]]) -> None:
    """Budget-aware closing of one row's next-token scores (1-D, already masked by the grammar), in place.

    ``left`` counts the new tokens the answer may still take, this one included. With more than ``SOFT_CLOSE``
    left nothing changes. Otherwise, wherever the grammar allows a closing token, only closing tokens stay (the
    model still picks among them): outside a string ``}``/``]`` (no new mention, no optional key); inside a string
    the model finishes its text but may leave it only by a pure closer (``"``, ``"}``), and with ``HARD_CLOSE`` or
    fewer left it must close the string now. Shared by the hf processor above and vLLM's
    (:mod:`cancerllm.infer.vllm_closing`), so both engines close the same way.
    """
    if left > SOFT_CLOSE:
        return
    hard = left <= HARD_CLOSE
    structural, string_end, quote_other, _ = closers
    width = min(scores.shape[-1], structural.shape[0])
    row = scores[:width]
    allowed = row > float("-inf")
    if inside_string and not hard:
        if bool((allowed & ~quote_other[:width]).any()):
            row.masked_fill_(quote_other[:width], float("-inf"))
        return
    closer = string_end[:width] if inside_string else structural[:width]
    if bool((allowed & closer).any()):  # otherwise the grammar forces a non-closing step: take it
        row.masked_fill_(~closer, float("-inf"))


def logits_processor(model: Any, tokenizer: Any, schema: dict[str, Any],
                     max_new_tokens: int | None = None) -> LogitsProcessorList:
    """A fresh transformers ``LogitsProcessorList`` constraining ``model.generate`` to ``schema``.

    With ``max_new_tokens`` (the same budget given to ``generate``) the answer is closed before the budget ends
    (see :class:`GrammarLogitsProcessor`)."""
    require_backend()
    vocab_size = int(model.get_output_embeddings().weight.shape[0])  # logits width (may exceed len(tokenizer))
    compiled = _compiled(tokenizer, vocab_size, json.dumps(schema, sort_keys=False))
    closers = closer_tables(tokenizer, vocab_size) if max_new_tokens is not None else None
    return LogitsProcessorList([GrammarLogitsProcessor(compiled, vocab_size, max_new_tokens, closers)])
