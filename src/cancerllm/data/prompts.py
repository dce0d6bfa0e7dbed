"""Prompt styles: how a note becomes prompts, how a gold answer becomes a completion, how output is parsed.

Two styles are registered in ``cancerllm.registry.prompt_styles``:

* ``json.v1`` -- one generation per chunk extracts every entity as JSON
  (``{"mentions": [{"type": "stage_t", "text": "pT2a", "value": "T2"}]}``; ``assertion`` is omitted when
  ``present`` to save tokens). Uses the model's chat template when it has one.
* ``qa.v1`` -- the reference paper's format: Alpaca prompts, one question per entity type
  ("What is the tumor size in the given context?"), answers as comma-separated phrases or ``none``.

Both styles pose diagnosis generation as "diagnosis text + ICD-10-CM code". Parsing never trusts the model:
unknown types, unknown assertions and unparseable output are returned as error strings.

Example:
    >>> style = get_style("json.v1")
    >>> target = style.phenotype_target([{"type": "stage_t", "text": "pT2", "value": "T2", "assertion": "present"}])
    >>> target
    '{"mentions":[{"type":"stage_t","text":"pT2","value":"T2"}]}'
    >>> style.parse_phenotype(target + " trailing")
    ([{'type': 'stage_t', 'text': 'pT2', 'value': 'T2', 'assertion': 'present'}], [])
    >>> get_style("qa.v1").parse_phenotype("pT2, pT3", entity_type="stage_t")[0][1]["text"]
    'pT3'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from cancerllm.knowledge.phenotypes import ASSERTIONS, ENTITY_TYPES
from cancerllm.registry import prompt_styles

__all__ = [
    "ALPACA_TEMPLATE",
    "DIAGNOSIS_INSTRUCTION",
    "QUESTIONS",
    "Example",
    "JsonStyle",
    "PromptStyle",
    "QAStyle",
    "get_style",
    "render",
]

ALPACA_TEMPLATE = ("Below is an instruction that describes a task, paired with an input that provides further "
                   "context.\n\n### Instruction:\n{instruction}\n\n### Input:\n{context}\n\n### Response:\n")
# The paper's instructions, verbatim from its public code (ToneLi/CancerLLM).
QA_INSTRUCTION = "You are an excellent linguist. The task is to answer the question by given the context or text"
DIAGNOSIS_INSTRUCTION = ("You are a medical expert. This task involves generating the diagnosis based on the "
                         "provided context or text.")
TRIAL_SYSTEM = ("You are a clinical-trial eligibility extraction system. You copy phrases exactly as written in the "
                "criteria and answer with JSON only.")
EXTRACT_SYSTEM = ("You are an oncology information extraction system. You copy phrases exactly as written in the "
                  "report and answer with JSON only.")

QUESTIONS = {
    "cancer_diagnosis": "cancer diagnosis", "primary_site": "primary tumor site", "laterality": "laterality",
    "histology": "histologic type", "grade": "tumor grade", "stage_t": "pathologic T stage",
    "stage_n": "pathologic N stage", "stage_m": "M stage (distant metastasis)", "stage_group": "overall stage group",
    "tumor_size": "tumor size", "biomarker": "biomarker result", "metastasis_site": "metastasis site",
    "treatment": "cancer treatment", "outcome": "treatment response or outcome",
}
assert set(QUESTIONS) == set(ENTITY_TYPES)


@dataclass(frozen=True)
class Example:
    """A retrieved labelled example shown in the prompt (RAG): note text and its gold completion."""

    id: str
    text: str
    answer: str
    score: float = 0.0
    answers: dict[str, str] | None = field(default=None, hash=False)
    """Per-entity-type answers for styles that ask one type per prompt (qa.v1 shows only the type it asks)."""


def render(system: str, user: str, tokenizer: Any = None, alpaca: bool = False) -> str:
    """The final prompt string: the tokenizer's chat template when it has one, else the Alpaca template."""
    if not alpaca and tokenizer is not None and getattr(tokenizer, "chat_template", None):
        from jinja2.exceptions import TemplateError

        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        try:
            return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        except TemplateError:  # Mistral-7B-Instruct v0.1/v0.2 raise on a system turn: fold it into the user turn
            folded = [{"role": "user", "content": f"{system}\n\n{user}"}]
            return tokenizer.apply_chat_template(folded, add_generation_prompt=True, tokenize=False)
    return ALPACA_TEMPLATE.format(instruction=system, context=user)


def _first_json_object(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """Decode the first JSON object in ``text`` (tolerates code fences and trailing chatter)."""
    start = text.find("{")
    if start < 0:
        return None, "no JSON object in output"
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as err:
        return None, f"invalid JSON ({err.msg})"
    return (obj, None) if isinstance(obj, dict) else (None, "JSON output is not an object")


def _clean_mention(raw: Any, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errors.append(f"mention is not an object: {type(raw).__name__}")
        return None
    etype = raw.get("type")
    if etype not in ENTITY_TYPES:
        errors.append(f"mention type {str(etype)[:40]!r} is not one of the schema types; dropped")
        return None
    text, value = raw.get("text"), raw.get("value")
    if not isinstance(text, str) or not text.strip():
        text = None
    if value is not None and not isinstance(value, str):
        value = str(value)
    if text is None and not value:
        errors.append(f"{etype} mention has neither text nor value; dropped")
        return None
    assertion = raw.get("assertion", "present")
    if assertion not in ASSERTIONS:
        errors.append(f"{etype} assertion {str(assertion)[:20]!r} not in {list(ASSERTIONS)}; set to 'present'")
        assertion = "present"
    return {"type": etype, "text": text, "value": value, "assertion": assertion}


class PromptStyle:
    """Interface: build prompts for a chunk, make gold completions, parse generations."""

    name = "base"

    def phenotype_prompts(self, chunk: str, types: list[str], tokenizer: Any = None,
                          examples: list[Example] | None = None) -> list[tuple[str | None, str]]:
        """[(entity_type or None for all types, prompt)] for one chunk."""
        raise NotImplementedError

    def phenotype_target(self, mentions: list[dict[str, Any]], entity_type: str | None = None) -> str:
        raise NotImplementedError

    def parse_phenotype(self, output: str, entity_type: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
        raise NotImplementedError

    def diagnosis_prompt(self, chunk: str, tokenizer: Any = None, examples: list[Example] | None = None) -> str:
        raise NotImplementedError

    def diagnosis_target(self, text: str, icd10: str | None) -> str:
        raise NotImplementedError

    def parse_diagnosis(self, output: str) -> tuple[dict[str, str | None], list[str]]:
        raise NotImplementedError

    # Trial criteria (Chia): entities and the relations that link them, in one answer per criterion chunk.
    def trial_prompt(self, chunk: str, tokenizer: Any = None) -> str:
        raise NotImplementedError(f"prompt style {self.name!r} has no trial prompt; use json.v1")

    def trial_target(self, mentions: list[dict[str, Any]], relations: list[tuple[str, int, int]]) -> str:
        raise NotImplementedError(f"prompt style {self.name!r} has no trial prompt; use json.v1")

    def parse_trial(self, output: str) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]], list[str]]:
        raise NotImplementedError(f"prompt style {self.name!r} has no trial prompt; use json.v1")


def _clean_trial(obj: dict[str, Any], errors: list[str]) -> tuple[list[dict[str, Any]], list[tuple[str, int, int]]]:
    """Trial mentions (kept in order, None where invalid so relation indices stay aligned) and valid relations."""
    from cancerllm.knowledge.trial import TRIAL_ENTITY_TYPES, TRIAL_RELATION_TYPES

    raws = obj.get("mentions", [])
    raws = raws if isinstance(raws, list) else []
    mentions: list[dict[str, Any] | None] = []
    for r in raws:
        ok = isinstance(r, dict) and r.get("type") in TRIAL_ENTITY_TYPES and isinstance(r.get("text"), str) \
            and r["text"].strip()
        if not ok:
            errors.append(f"trial mention {str(r)[:60]!r} is not {{type in the Chia types, text}}; dropped")
            mentions.append(None)
            continue
        a = r.get("assertion", "present")
        if a not in ("present", "negated", "possible"):
            errors.append(f"{r['type']} assertion {str(a)[:20]!r} not in ['negated', 'possible']; set to 'present'")
            a = "present"
        mentions.append({"type": r["type"], "text": r["text"], "assertion": a})
    relations = []
    rels = obj.get("relations", [])
    for r in rels if isinstance(rels, list) else []:
        # [type, head, tail]: indices into this answer's mention list; both must be valid mentions.
        if (isinstance(r, list) and len(r) == 3 and r[0] in TRIAL_RELATION_TYPES and all(isinstance(i, int)
                for i in r[1:]) and all(0 <= i < len(mentions) and mentions[i] is not None for i in r[1:])
                and r[1] != r[2]):
            relations.append((r[0], r[1], r[2]))
        else:
            errors.append(f"relation {str(r)[:40]!r} is not [type, head, tail] over valid mentions; dropped")
    return mentions, relations


def _examples_block(examples: list[Example] | None, label: str, entity_type: str | None = None) -> str:
    if not examples:
        return ""

    def answer(ex: Example) -> str:  # a prompt that asks one type shows that type's answer only
        return (ex.answers or {}).get(entity_type, ex.answer) if entity_type else ex.answer

    parts = [f"Example {label} {i + 1}:\n{ex.text}\nAnswer: {answer(ex)}" for i, ex in enumerate(examples)]
    return "\n\n".join(parts) + "\n\n"


@prompt_styles.register("json.v1")
class JsonStyle(PromptStyle):
    name = "json.v1"

    def phenotype_prompts(self, chunk, types, tokenizer=None, examples=None):
        user = (f"{_examples_block(examples, 'report')}Extract the cancer phenotype mentions of these types: "
                f"{', '.join(types)}. Copy each mention's text exactly from the report, give its normalised value, "
                f"and an assertion only when it is not present (negated, possible, historical, family). "
                f'Answer with JSON: {{"mentions": [{{"type": ..., "text": ..., "value": ...}}]}}.\n\n'
                f"Report:\n{chunk}")
        return [(None, render(EXTRACT_SYSTEM, user, tokenizer))]

    def phenotype_target(self, mentions, entity_type=None):
        items = []
        for m in mentions:
            item = {"type": m["type"]}
            if m.get("text") is not None:
                item["text"] = m["text"]
            if m.get("value") is not None:
                item["value"] = m["value"]
            if m.get("assertion", "present") != "present":
                item["assertion"] = m["assertion"]
            items.append(item)
        return json.dumps({"mentions": items}, ensure_ascii=False, separators=(",", ":"))

    def parse_phenotype(self, output, entity_type=None):
        errors: list[str] = []
        obj, err = _first_json_object(output)
        if obj is None:
            # Repair: a generation cut by max_new_tokens still holds complete mention objects.
            raws = []
            for frag in re.findall(r"\{[^{}]*\}", output):
                try:
                    raws.append(json.loads(frag))
                except json.JSONDecodeError:
                    continue
            if not raws:
                return [], [err or "unparseable output"]
            errors.append(f"{err}; recovered {len(raws)} complete mention object(s)")
        else:
            raws = obj.get("mentions", [])
            if not isinstance(raws, list):
                return [], ["'mentions' is not a list"]
        mentions = [m for m in (_clean_mention(r, errors) for r in raws) if m is not None]
        return mentions, errors

    def diagnosis_prompt(self, chunk, tokenizer=None, examples=None):
        user = (f"{_examples_block(examples, 'report')}Give the primary cancer diagnosis of this report and its "
                f'ICD-10-CM code. Answer with JSON: {{"diagnosis": ..., "icd10": ...}}.\n\nReport:\n{chunk}')
        return render(DIAGNOSIS_INSTRUCTION, user, tokenizer)

    def diagnosis_target(self, text, icd10):
        return json.dumps({"diagnosis": text, "icd10": icd10}, ensure_ascii=False, separators=(",", ":"))

    def parse_diagnosis(self, output):
        obj, err = _first_json_object(output)
        if obj is None:
            m = re.search(r'"diagnosis"\s*:\s*"([^"]+)"', output)
            code = re.search(r'"icd10"\s*:\s*"([^"]+)"', output)
            if not m:
                return {"text": None, "icd10": None}, [err or "unparseable output"]
            return {"text": m.group(1), "icd10": code.group(1) if code else None}, [f"{err}; recovered fields"]
        text, code = obj.get("diagnosis"), obj.get("icd10")
        errors = [] if isinstance(text, str) and text.strip() else ["no diagnosis text in output"]
        return {"text": text if isinstance(text, str) else None, "icd10": code if isinstance(code, str) else None}, errors


    def trial_prompt(self, chunk, tokenizer=None):
        from cancerllm.knowledge.trial import TRIAL_ENTITY_TYPES

        # Short on purpose: every token of the template is paid by every criterion chunk, in training and use.
        user = (f"Extract the entities ({', '.join(TRIAL_ENTITY_TYPES)}) with their exact text, assertion if negated "
                f"or possible, and the relations [type, head, tail] between them. JSON only.\n\nCriteria:\n{chunk}")
        return render(TRIAL_SYSTEM, user, tokenizer)

    def trial_target(self, mentions, relations):
        items = []
        for m in mentions:
            item = {"type": m["type"], "text": m["text"]}
            if m.get("assertion", "present") != "present":
                item["assertion"] = m["assertion"]
            items.append(item)
        return json.dumps({"mentions": items, "relations": [list(r) for r in relations]}, ensure_ascii=False,
                          separators=(",", ":"))

    def parse_trial(self, output):
        errors: list[str] = []
        obj, err = _first_json_object(output)
        if obj is None:
            # A generation cut by max_new_tokens: keep the complete mention objects, drop the relations (their
            # indices may point past the cut).
            frags = []
            for frag in re.findall(r"\{[^{}]*\}", output):
                try:
                    frags.append(json.loads(frag))
                except json.JSONDecodeError:
                    continue
            if not frags:
                return [], [], [err or "unparseable output"]
            errors.append(f"{err}; recovered {len(frags)} complete mention object(s), no relations")
            obj = {"mentions": frags, "relations": []}
        mentions, relations = _clean_trial(obj, errors)
        return mentions, relations, errors


@prompt_styles.register("qa.v1")
class QAStyle(PromptStyle):
    """The paper's per-entity question answering in Alpaca format (no chat template, as in its code)."""

    name = "qa.v1"

    def phenotype_prompts(self, chunk, types, tokenizer=None, examples=None):
        out = []
        for t in types:
            context = f"{_examples_block(examples, 'text', t)}In the text: {chunk} What is the {QUESTIONS[t]} in the given context?"
            out.append((t, ALPACA_TEMPLATE.format(instruction=QA_INSTRUCTION, context=context)))
        return out

    def phenotype_target(self, mentions, entity_type=None):
        texts = [m.get("text") or m.get("value") for m in mentions if m["type"] == entity_type]
        texts = [t for t in dict.fromkeys(texts) if t]  # dedupe, keep order
        return ", ".join(texts) if texts else "none"

    def parse_phenotype(self, output, entity_type=None):
        if entity_type is None:
            return [], ["qa.v1 needs the entity type of the question"]
        answer = output.strip().split("\n")[0].strip().rstrip(".")
        if not answer or answer.lower() in ("none", "n/a", "not mentioned", "not relevant"):
            return [], []
        phrases = [p.strip() for p in answer.split(",") if p.strip()]
        return [{"type": entity_type, "text": p, "value": None, "assertion": "present"} for p in phrases], []

    def diagnosis_prompt(self, chunk, tokenizer=None, examples=None):
        context = f"{_examples_block(examples, 'text')}{chunk}"
        return ALPACA_TEMPLATE.format(instruction=DIAGNOSIS_INSTRUCTION, context=context)

    def diagnosis_target(self, text, icd10):
        return f"{text}; ICD-10-CM {icd10}" if icd10 else text

    def parse_diagnosis(self, output):
        line = output.strip().split("\n")[0].strip()
        if not line:
            return {"text": None, "icd10": None}, ["empty output"]
        text, _, code = line.partition("; ICD-10-CM")
        return {"text": text.strip() or None, "icd10": code.strip() or None}, []


def get_style(name: str) -> PromptStyle:
    """Instantiate a registered prompt style by name (``json.v1`` or ``qa.v1``)."""
    return prompt_styles.get(name)()
