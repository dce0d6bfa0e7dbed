"""Synonym normalisation of drug and gene/biomarker mentions to concepts from open vocabularies, offline.

Three sources, tried in this order, each recorded in the concept:

1. ``CLASS`` -- a small curated table of drug *classes* (``resources/drug_classes.tsv``), so "PD-1 inhibitor",
   "anti-PD-1" and "programmed cell death protein 1 inhibitor" are one concept (``CLASS:PD1_INHIBITOR``). The ids
   are ours (no open vocabulary ships these class names offline); the synonyms are listed in the table.
2. ``DRUGBANK`` -- single drugs through the ``drug-named-entity-recognition`` package (MIT; its dictionary is built
   from the DrugBank open vocabulary, CC0, with MeSH and Wikipedia synonyms): "Keytruda" and "pembrolizumab" give
   ``DRUGBANK:DB09037``. Exact (case-insensitive) dictionary matches only, never fuzzy; a mention naming two or
   more different drugs ("aspirin or clopidogrel") is left unnormalised as ``multiple``.
3. ``HGNC`` -- genes and protein biomarkers (``resources/hgnc_oncology.tsv``): a mention that is a gene alias plus
   biomarker words only ("HER2-positive", "PD-L1 expression", "EGFR mutation") gets the gene, e.g. ``HGNC:3430``.
   "HER2-positive breast cancer" is a condition, not a biomarker mention, and is left alone.

Unknown terms are never guessed: they keep ``value=None`` and are counted (:func:`normalisation_coverage`).

Example:
    >>> [normalize_drug(t).id for t in ("PD-1 inhibitor", "anti-PD-1", "programmed cell death protein 1 inhibitor")]
    ['CLASS:PD1_INHIBITOR', 'CLASS:PD1_INHIBITOR', 'CLASS:PD1_INHIBITOR']
    >>> normalize_gene("HER2-positive").id, normalize_gene("PD-L1 expression").name
    ('HGNC:3430', 'CD274')
    >>> normalize_gene("HER2-positive breast cancer") is None
    True
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["BIOMARKER_WORDS", "Concept", "concept_of", "drug_backend", "key", "normalisation_coverage",
           "normalize_drug", "normalize_gene", "normalize_prediction"]

# Words that may accompany a gene in a biomarker mention without making it something else.
BIOMARKER_WORDS = frozenset({
    "positive", "negative", "pos", "neg", "status", "expression", "expressing", "overexpression", "overexpressing",
    "amplification", "amplified", "mutation", "mutated", "mutant", "variant", "alteration", "rearrangement",
    "rearranged", "fusion", "deletion", "insertion", "wild", "type", "wildtype", "wt", "level", "gene", "protein",
    "test", "testing", "result", "ihc", "fish", "score", "tps", "cps", "high", "low", "loss", "exon", "receptor",
    "unknown", "activating", "sensitizing", "germline", "somatic", "deficient", "deficiency"})
# Aliases that mean something else on their own (MET: metabolic equivalent; ER: emergency room; PR: partial
# response; AR, ATM, RET, ABL, BCR, ALK, APC ...): they name the gene only next to a biomarker word ("ER positive").
_AMBIGUOUS = frozenset({"met", "ret", "ar", "er", "pr", "atm", "abl", "bcr", "alk", "neu", "vegf", "cea", "ai"})
# Case tells these apart from a gene: "eGFR" is the estimated glomerular filtration rate, not EGFR.
_NOT_GENE = re.compile(r"\beGFR\b")
_VARIANT = re.compile(r"^(?:[a-z]\d+[a-z]?|\d+|[a-z]\d+_[a-z]\d+del|del\d*|ins\d*|exon\d+|v\d+[a-z])$")


@dataclass(frozen=True)
class Concept:
    """A normalised concept: canonical name, identifier (``SOURCE:ID``) and the source vocabulary."""

    name: str
    id: str
    source: str


def _words(text: str) -> list[str]:
    """Lower-cased alphanumeric words, singular: "Anti-PD-1 inhibitors" -> ['anti', 'pd', '1', 'inhibitor']."""
    out = []
    for w in re.findall(r"[a-z0-9]+", text.lower().replace("β", "beta").replace("α", "alpha")):
        if len(w) > 3 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
        out.append(w)
    return out


def key(text: str) -> str:
    """The matching key: words glued together, so hyphens, spaces and plurals do not matter.

    Example:
        >>> key("Anti-PD-1 inhibitors"), key("anti PD1 inhibitor")
        ('antipd1inhibitor', 'antipd1inhibitor')
    """
    return "".join(_words(text))


def _table(name: str) -> list[list[str]]:
    text = resources.files("cancerllm.resources").joinpath(name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


@functools.cache
def _classes() -> dict[str, Concept]:
    out = {}
    for cid, name, synonyms in _table("drug_classes.tsv"):
        c = Concept(name, f"CLASS:{cid}", "cancerllm drug_classes.tsv")
        for s in [name, *synonyms.split("|")]:
            if out.get(key(s), c) != c:  # one surface, two classes: the table must be fixed, not silently resolved
                raise ValueError(f"drug_classes.tsv: synonym {s!r} is listed under {out[key(s)].id} and {c.id}")
            out[key(s)] = c
    return out


@functools.cache
def _genes() -> dict[str, Concept]:
    out = {}
    for hid, symbol, _name, aliases in _table("hgnc_oncology.tsv"):
        c = Concept(symbol, hid, "HGNC")
        for a in [symbol, *aliases.split("|")]:
            out[key(a)] = c
    return out


@functools.cache
def drug_backend() -> Any:
    """``drug_named_entity_recognition.find_drugs``, or None when the package is not installed (drugs outside the
    class table then stay unnormalised; install it with ``pip install -e ".[trial]"``)."""
    try:
        from drug_named_entity_recognition import find_drugs
    except ImportError:
        return None
    return find_drugs


def _drugbank(text: str) -> tuple[Concept | None, str]:
    """(concept, status) from the DrugBank-based dictionary: status is matched, multiple, unknown or no_backend."""
    find = drug_backend()
    if find is None:
        return None, "no_backend"
    found = {}
    for data, _s, _e in find(re.findall(r"[\w'-]+", text), is_ignore_case=True):
        # An entry without a DrugBank id is a MeSH class or a synonym group: not a single-drug concept.
        if data.get("drugbank_id"):
            found[data["drugbank_id"]] = data.get("name") or data["drugbank_id"]
    if len(found) == 1:
        (dbid, name), = found.items()
        return Concept(name, f"DRUGBANK:{dbid}", "DrugBank open vocabulary via drug-named-entity-recognition"), "matched"
    return None, "multiple" if found else "unknown"


def normalize_drug(text: str) -> Concept | None:
    """The concept of a drug mention: a curated class, else a single DrugBank drug, else None (never guessed)."""
    return concept_of(text, "Drug")[0]


def normalize_gene(text: str) -> Concept | None:
    """The gene of a biomarker mention (gene alias + biomarker words only), else None."""
    genes = _genes()
    if _NOT_GENE.search(text):
        return None
    words = _words(text)
    hits: dict[str, Concept] = {}
    rest = []
    i = 0
    while i < len(words):  # longest alias first: "programmed cell death 1 ligand 1" before "programmed cell death 1"
        for j in range(len(words), i, -1):
            c = genes.get("".join(words[i:j]))
            if c is not None:
                hits[c.id] = c
                i = j
                break
        else:
            rest.append(words[i])
            i += 1
    if len(hits) != 1:
        return None
    if "".join(words) in _AMBIGUOUS or (not rest and words and words[0] in _AMBIGUOUS):
        return None
    if any(w not in BIOMARKER_WORDS and not _VARIANT.match(w) for w in rest):
        return None
    return next(iter(hits.values()))


def concept_of(text: str, etype: str) -> tuple[Concept | None, str]:
    """``(concept, status)`` for a mention of type ``etype``; status is one of matched, multiple, unknown,
    no_backend, or ``not_applicable`` (not a drug and not a biomarker mention: nothing to normalise)."""
    if etype == "Drug":
        c = _classes().get(key(text))
        if c is not None:
            return c, "matched"
        g = normalize_gene(text)  # "anti-HER2" is a class; a bare gene named as a drug is not normalised
        if g is not None:
            return None, "unknown"
        return _drugbank(text)
    g = normalize_gene(text)
    return (g, "matched") if g is not None else (None, "not_applicable")


def normalize_prediction(pred: Any) -> Counter:
    """Write concepts into a Prediction's Drug and biomarker mentions (``value`` = canonical name, ``code`` =
    ``SOURCE:ID``); returns the status counts. Mentions that already carry a code are left as they are."""
    counts: Counter = Counter()
    for i, m in enumerate(pred.mentions):
        if m.code is not None or m.type not in ("Drug", "Measurement", "Condition", "Observation"):
            continue
        c, status = concept_of(m.text, m.type)
        if status == "not_applicable":
            continue
        counts[f"{m.type}:{status}"] += 1
        if c is not None:
            pred.mentions[i] = m.model_copy(update={"value": c.name, "code": c.id})
    pred.meta["normalisation"] = dict(counts)
    return counts


def normalisation_coverage(preds: list[Any]) -> dict[str, Any]:
    """How many Drug / biomarker mentions of ``preds`` carry a concept, by source, and how many stay unknown."""
    drugs = [m for p in preds for m in p.mentions if m.type == "Drug"]
    coded = [m for p in preds for m in p.mentions if m.code]
    by_source = Counter(m.code.split(":")[0] for m in drugs if m.code)
    n_drug_coded = sum(1 for m in drugs if m.code)
    out = {"drug_mentions": len(drugs), "drug_normalised": n_drug_coded, "drug_unnormalised": len(drugs) - n_drug_coded,
           "biomarker_normalised": sum(1 for m in coded if m.type != "Drug"), "by_source": dict(by_source)}
    out["summary"] = (f"Normalisation: {n_drug_coded}/{len(drugs)} predicted Drug mentions got a concept "
                      f"({dict(by_source)}); {len(drugs) - n_drug_coded} stay unnormalised (counted, not guessed); "
                      f"{out['biomarker_normalised']} biomarker mentions got an HGNC gene.")
    return out
