"""TCGA pathology reports (``tcga_path_reports``) -> gold :class:`Note` records.

Each report becomes one note with:

* ``labels``: the registry's coarse ``t_stage`` / ``n_stage`` / ``m_stage`` (T1-T4, N0-N3, M0-M1; null stays None);
* ``diagnosis``: the project's lower-case cancer name and an ICD-10-CM code normalised from TCGA's ``icd_10``
  by project and histology (:func:`cancerllm.knowledge.icd.normalize_tcga`);
* ``mentions``: evidence spans ``stage_t`` / ``stage_n`` / ``stage_m`` where the report states the gold class,
  e.g. "PATHOLOGIC STAGE: pT2a NO MX" gives ``stage_t`` "pT2a" (value T2) and ``stage_n`` "NO" (value N0)
  when the registry says T2 / N0. A statement that contradicts the registry adds no mention (the registry label
  is kept) and is listed in ``meta["tnm_disagree"]``; "MX" never grounds an M0 label, nor does a clinical
  "cT2" ground a pathologic T2;
* ``meta``: the raw source fields, documented in :data:`META_FIELDS`.

Example:
    >>> rec = {"id": "r1", "patient_id": "TCGA-XX-0001", "cancer_type": "BRCA", "split": "train",
    ...        "text": "Breast. PATHOLOGIC STAGE: pT2 N1a MX.", "t_stage": "T2", "n_stage": "N0",
    ...        "m_stage": None, "icd_10": "C50.9", "icd_o_3_histology": "8500/3"}
    >>> note = note_from_record(rec)
    >>> [(m.type, m.text, m.value) for m in note.mentions], note.meta["tnm_disagree"]
    ([('stage_t', 'pT2', 'T2')], ['stage_n'])
    >>> note.diagnosis.text, note.diagnosis.icd10
    ('breast invasive carcinoma', 'C50.9')
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cancerllm.data.io import convert_records
from cancerllm.data.paths import dataset_dir
from cancerllm.data.schema import Diagnosis, Mention, Note
from cancerllm.errors import ConfigError, DataFormatError
from cancerllm.knowledge.icd import TCGA_PROJECTS, normalize_tcga
from cancerllm.knowledge.tnm import find_tnm, gold_class

__all__ = ["DATASET", "META_FIELDS", "SPLITS", "TcgaStats", "find_tnm", "load_tcga", "note_from_record"]

DATASET = "tcga_path_reports"
SPLITS = {"train": "train.jsonl", "dev": "dev.jsonl", "test": "test.jsonl", "all": "reports.jsonl"}
_AXES = (("stage_t", "t_stage"), ("stage_n", "n_stage"), ("stage_m", "m_stage"))
_ALLOWED = {"t_stage": {"T1", "T2", "T3", "T4"}, "n_stage": {"N0", "N1", "N2", "N3"}, "m_stage": {"M0", "M1"}}

META_FIELDS: dict[str, str] = {
    "ajcc_pathologic_t": "raw GDC AJCC pathologic T (e.g. T2a); likewise _n and _m",
    "ajcc_pathologic_n": "raw GDC AJCC pathologic N",
    "ajcc_pathologic_m": "raw GDC AJCC pathologic M",
    "icd_10_raw": "TCGA's icd_10 value as recorded (often a specimen-site topography)",
    "icd10_rule": "which normalize_tcga rule produced diagnosis.icd10 (kept, melanoma_skin, dlbcl, ...)",
    "icd_o_3_site": "ICD-O-3 topography", "icd_o_3_histology": "ICD-O-3 morphology (8500/3)",
    "histological_type": "TCGA histology text", "tumor_site": "tumour tissue site", "tumor_grade": "grade",
    "pathologic_stage": "overall AJCC pathologic stage (Stage IIA)",
    "ajcc_stage_overall": "PathRep-Bench collapsed stage (v2 records only)",
    "pathrep_split": "PathRep-Bench file: val or test (v2 records only)",
    "kefeli_t14_heldout_test": "in Kefeli's T14 held-out test set", "source": "upstream file(s)",
    "tnm_disagree": "axes whose stated class in the text contradicts the gold label (no mention added)",
}


@dataclass
class TcgaStats:
    """Counts collected while loading: evidence coverage, text/label disagreements, ICD normalisation."""

    notes: int = 0
    evidence: Counter = field(default_factory=Counter)
    """Notes with at least one evidence span, per axis (stage_t / stage_n / stage_m)."""
    disagree: Counter = field(default_factory=Counter)
    """Notes whose text states only other classes than the gold label, per axis."""
    icd_rule: Counter = field(default_factory=Counter)
    icd_changed: Counter = field(default_factory=Counter)
    """Per project: notes whose diagnosis code differs from TCGA's raw icd_10 (missing raw counts)."""

    def as_dict(self) -> dict[str, Any]:
        changed = {k: v for k, v in sorted(self.icd_changed.items()) if v}
        return {"notes": self.notes, "evidence": dict(self.evidence), "disagree": dict(self.disagree),
                "icd_rule": dict(self.icd_rule), "icd_changed": changed}


def _check(rec: dict[str, Any]) -> None:
    for key in ("id", "text", "cancer_type"):
        if not isinstance(rec.get(key), str) or not rec[key]:
            raise DataFormatError("missing or not a string", field=key, doc_id=rec.get("id"))
    if rec["cancer_type"] not in TCGA_PROJECTS:
        raise DataFormatError(f"got {rec['cancer_type']!r}, expected a TCGA project code",
                              field="cancer_type", doc_id=rec["id"])
    for key, allowed in _ALLOWED.items():
        if rec.get(key) is not None and rec[key] not in allowed:
            raise DataFormatError(f"got {rec[key]!r}, expected one of {sorted(allowed)} or null",
                                  field=key, doc_id=rec["id"])


def note_from_record(rec: dict[str, Any], stats: TcgaStats | None = None) -> Note:
    """Build one gold note from a ``tcga_path_reports`` JSON record (see module docstring)."""
    _check(rec)
    text, project = rec["text"], rec["cancer_type"]
    labels = {key: rec.get(key) for _, key in _AXES}
    found = find_tnm(text)
    mentions, disagree = [], []
    for mtype, key in _AXES:
        gold = labels[key]
        # Clinical "cT2" is not evidence for a pathologic label; "ypT3" (after neoadjuvant therapy) is.
        stated = [(s, e, v) for t, s, e, v in found
                  if t == mtype and gold_class(v) is not None and not text.startswith(("c", "yc"), s)]
        # Why only matching spans: the registry label is the gold; a report stating another class (re-staging,
        # a second tumour, a typo) is not evidence for it, and quoting it would teach the wrong span.
        hits = [Mention(type=mtype, text=text[s:e], start=s, end=e, value=v, assertion="present")
                for s, e, v in stated if v == gold]
        mentions += hits
        if gold is not None and stated and not hits:
            disagree.append(mtype)
    histology = rec.get("icd_o_3_histology") or rec.get("histological_type")
    code, rule = normalize_tcga(project, rec.get("icd_10"), histology)
    meta = {k: rec.get(k) for k in META_FIELDS if k in rec}
    meta.update(icd_10_raw=rec.get("icd_10"), icd10_rule=rule, tnm_disagree=disagree)
    if stats is not None:
        stats.notes += 1
        stats.evidence.update({t for t in (m.type for m in mentions)})
        stats.disagree.update(disagree)
        stats.icd_rule[rule] += 1
        stats.icd_changed[project] += code != rec.get("icd_10")
    return Note(id=rec["id"], text=text, patient_id=rec.get("patient_id"), kind="pathology", cancer_type=project,
                split=rec.get("split"), mentions=mentions, labels=labels, meta=meta,
                diagnosis=Diagnosis(text=TCGA_PROJECTS[project].name, icd10=code, cancer_type=project))


def load_tcga(split: str, root: str | Path | None = None, stats: TcgaStats | None = None,
              errors: list[DataFormatError] | None = None) -> list[Note]:
    """Load one split (train / dev / test / all) of the shared TCGA reports as gold notes.

    Args:
        split: the corpus' own patient-level split, or ``all`` (``reports.jsonl``).
        root: data folder holding ``tcga_path_reports/`` (default: see :mod:`cancerllm.data.paths`).
        stats: filled with evidence / disagreement / ICD counts when given.
        errors: bad records are collected here and skipped; without it the first one raises.

    Raises:
        ConfigError: unknown split. ResourceError: data not found. DataFormatError: a bad record.
    """
    if split not in SPLITS:
        raise ConfigError(f"--split: got {split!r}, expected one of {list(SPLITS)} for tcga")
    path = dataset_dir(DATASET, root) / SPLITS[split]
    return convert_records(path, lambda rec: note_from_record(rec, stats), errors)
