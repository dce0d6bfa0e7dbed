"""Shared pieces of the export tests: a note with known mentions and small Bundle accessors."""

from __future__ import annotations

import json

from cancerllm.data.schema import Mention

SENTINEL = "SENTINEL-PHI-7731"
NOTE = (f"Patient {SENTINEL}. Invasive ductal carcinoma of the left breast. ER positive. Negative for HER2 "
        "amplification. PR negative. pT2 N0. Stage IIA. Mother had breast cancer, pT1. PSA 8.4 ng/mL.")


def mention(text: str, surface: str, etype: str, nth: int = 0, **kw) -> Mention:
    """A grounded mention of the ``nth`` occurrence of ``surface`` in ``text``."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(surface, start + 1)
    return Mention(type=etype, text=surface, start=start, end=start + len(surface), **kw)


def note_mentions() -> list[Mention]:
    """The mentions an extractor would give for NOTE, with every assertion the Bundle must handle."""
    return [
        mention(NOTE, "Invasive ductal carcinoma", "histology", value="invasive ductal carcinoma"),
        mention(NOTE, "left", "laterality", value="left"),
        mention(NOTE, "breast", "primary_site", value="breast"),
        mention(NOTE, "ER positive", "biomarker", value="ER: positive"),
        mention(NOTE, "HER2", "biomarker", value="HER2: positive", assertion="negated"),
        mention(NOTE, "PR negative", "biomarker", value="PR: negative"),
        mention(NOTE, "pT2", "stage_t", value="T2"),
        mention(NOTE, "N0", "stage_n", value="N0"),
        mention(NOTE, "Stage IIA", "stage_group", value="Stage IIA"),
        mention(NOTE, "breast cancer", "cancer_diagnosis", value="BRCA", assertion="family"),
        mention(NOTE, "pT1", "stage_t", value="T1", assertion="family"),
        mention(NOTE, "PSA 8.4 ng/mL", "biomarker", value="PSA: 8.4 ng/mL"),
    ]


def resources(bundle, kind: str | None = None) -> list:
    return [e.resource for e in bundle.entry if kind is None or e.resource.get_resource_type() == kind]


def ext(resource, url: str) -> list:
    return [e for e in (resource.extension or []) if e.url == url]


def sub(extension, url: str):
    (e,) = [x for x in extension.extension if x.url == url]
    values = [getattr(e, f) for f in ("valueInteger", "valueDecimal", "valueString", "valueCode")]
    return next(v for v in values if v is not None)


def dumps(bundle) -> str:
    return json.dumps(json.loads(bundle.model_dump_json()))
