"""FHIR R4 / mCODE export: one Bundle per note, built only from ``fhir.resources`` classes.

``fhir.resources`` 8.x defaults to R5; its ``R4B`` package (FHIR 4.3.0) is used because R4B is "strictly backward
compatible with R4" outside the medication-definition, evidence and subscription modules, and none of the
resources below changed between R4 and R4B (https://hl7.org/fhir/R4B/diff.html). The library has no separate R4
package since 7.x, and its 6.x line (R4) needs pydantic 1, which this project cannot use.

What one Bundle (``type = collection``) holds, for a note with id ``n1``:

* ``DocumentReference``: the source note: its id (``identifier``, system ``urn:cancerllm:note-id``), the SHA-256
  of its UTF-8 text (``masterIdentifier``) and the SHA-1 that R4 defines for ``Attachment.hash``; the text itself
  (``Attachment.data``) only with ``include_text=True``. Always present, even when nothing was found.
* ``Patient``: an empty placeholder (no identifier, no name) the clinical resources point to, because
  ``Condition.subject`` is required; the receiver links it to its own patient via the note.
* ``Condition`` (mCODE PrimaryCancerCondition): ICD-10-CM code (the diagnosis record's code, else the packaged
  TCGA project table's code for the cancer type), ``bodySite`` (primary site with the mCODE laterality
  qualifier), histology (mCODE histology-morphology-behavior extension, text only).
* ``Observation`` per distinct finding: pathologic or clinical T, N, M category and stage group (mCODE TNM
  profiles, LOINC codes in :mod:`.codes`) and tumour markers (mCODE TumorMarkerTest).

Every clinical resource points to the DocumentReference (``Observation.derivedFrom``,
``Condition.evidence.detail``) and carries an ``urn:cancerllm:fhir:evidence-span`` extension (start, end, type)
per quoted mention behind it. Only **present** mentions become Observations: a negated ("no HER2
amplification" stated as absent), possible, historical or family mention is left out of the Bundle (NOTE_NLP
keeps them, with ``term_exists``); a present "ER negative" is a negative *result* and is exported as one. A
possible cancer diagnosis gives a Condition with ``verificationStatus = provisional``. A value the model
inferred without quoting the note (classify's ``inferred`` labels, an extract mention with ``inferred: true``)
carries ``urn:cancerllm:fhir:inferred`` (source, probability when known) and no span; it is only used for an
axis that no quoted present mention covers (the quoted value wins).

Example:
    >>> from cancerllm.data.schema import Mention
    >>> from cancerllm.interop.records import ExportRecord
    >>> text = "ER positive. HER2 negative. pT2 N0."
    >>> rec = ExportRecord(id="n1", text=text, mentions=[
    ...     Mention(type="biomarker", text="ER positive", start=0, end=11, value="ER: positive"),
    ...     Mention(type="stage_t", text="pT2", start=28, end=31, value="T2")])
    >>> b = note_bundle(rec)
    >>> [e.resource.get_resource_type() for e in b.entry]
    ['DocumentReference', 'Patient', 'Observation', 'Observation']
    >>> text in b.model_dump_json()
    False
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cancerllm.errors import DataFormatError
from cancerllm.interop import codes as C
from cancerllm.interop.records import ExportRecord, LabelSource

__all__ = ["FHIR_VERSION", "bundle_of_bundles", "note_bundle", "note_bundle_json", "roundtrip", "validated_json"]

FHIR_VERSION = "4.3.0 (R4B, R4-compatible for these resources)"
_NAMESPACE = uuid.UUID("5b0c2b8e-2f3e-4c55-9f5e-6f7a1c0e4d21")  # fixed: the same note exports the same ids
_STAGE_LABELS = {"t_stage": "stage_t", "n_stage": "stage_n", "m_stage": "stage_m"}
_UCUM = {"ng/mL": "ng/mL", "U/mL": "U/mL", "%": "%"}
_NUMBER_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ng/mL|U/mL|%)\s*$", re.IGNORECASE)


def _rid(note_id: str, key: str) -> str:
    """A deterministic resource id (a UUID) for ``key`` within the note: re-exports give the same ids."""
    return str(uuid.uuid5(_NAMESPACE, f"{note_id}\x00{key}"))


@dataclass
class _Finding:
    """One resource-to-be: what it states and which mentions (spans) or inferred label stand behind it."""

    type: str
    value: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)
    clinical: bool = False
    inferred: LabelSource | None = None
    inferred_by: str = ""


def _spans_ext(spans: list[tuple[int, int, str]]) -> list[Any]:
    from fhir.resources.R4B.extension import Extension

    return [Extension(url=C.SPAN_EXT, extension=[Extension(url="start", valueInteger=s),
                                                 Extension(url="end", valueInteger=e),
                                                 Extension(url="type", valueCode=t)]) for s, e, t in spans]


def _inferred_ext(src: LabelSource | None, by: str) -> list[Any]:
    from fhir.resources.R4B.extension import Extension

    if src is None:
        return []
    parts = [Extension(url="source", valueString=by or "unknown")]
    if src.probability is not None:
        parts.append(Extension(url="probability", valueDecimal=Decimal(str(round(src.probability, 4)))))
    return [Extension(url=C.INFERRED_EXT, extension=parts)]


def _concept(system: str | None, code: str | None, display: str | None, text: str | None = None) -> Any:
    from fhir.resources.R4B.codeableconcept import CodeableConcept
    from fhir.resources.R4B.coding import Coding

    coding = [Coding(system=system, code=code, display=display)] if code else None
    return CodeableConcept(coding=coding, text=text or display)


def _grounded_present(rec: ExportRecord, etype: str) -> list[Any]:
    return [m for m in rec.mentions if m.type == etype and m.assertion == "present"]


def _stage_findings(rec: ExportRecord) -> list[_Finding]:
    """TNM and stage-group findings: present mentions grouped by (type, value, clinical), then inferred labels
    for the axes no present mention covers."""
    from cancerllm.knowledge.tnm import read_match
    from cancerllm.knowledge.values import normalize_value

    found: dict[tuple[str, str, bool], _Finding] = {}
    for etype in ("stage_t", "stage_n", "stage_m", "stage_group"):
        for m in _grounded_present(rec, etype):
            value = m.value or normalize_value(etype, m.text)
            if not value:  # TX / NX / MX: "cannot be assessed" is not a category to export
                continue
            match = read_match(m.text, etype) if etype != "stage_group" else None
            clinical = bool(match and match.prefix.lower().startswith("c"))
            f = found.setdefault((etype, value, clinical), _Finding(etype, value, clinical=clinical))
            if m.start is not None:
                f.spans.append((m.start, m.end, m.type))
            elif f.inferred is None:  # an unquoted extract mention
                f.inferred, f.inferred_by = LabelSource("inferred"), "extract"
    covered = {k[0] for k in found}
    out = list(found.values())
    for label, etype in _STAGE_LABELS.items():
        value = rec.labels.get(label)
        if value is None or etype in covered:
            continue  # a quoted present value of this axis wins over an inferred one
        src = rec.sources.get(label) or LabelSource("inferred")
        if src.source == "evidence" and src.start is not None:
            out.append(_Finding(etype, value, spans=[(src.start, src.end, etype)]))
        else:
            out.append(_Finding(etype, value, inferred=src, inferred_by=_producer(rec, "classify")))
    return out


def _producer(rec: ExportRecord, prefer: str) -> str:
    return next((s for s in rec.systems if prefer in s), rec.systems[0] if rec.systems else "unknown")


def _marker_findings(rec: ExportRecord) -> list[_Finding]:
    found: dict[str, _Finding] = {}
    for m in _grounded_present(rec, "biomarker"):
        value = " ".join((m.value or m.text).split())
        f = found.setdefault(value, _Finding("biomarker", value))
        if m.start is not None:
            f.spans.append((m.start, m.end, m.type))
        elif f.inferred is None:
            f.inferred, f.inferred_by = LabelSource("inferred"), "extract"
    return list(found.values())


def _marker_code_value(value: str) -> tuple[Any, dict[str, Any]]:
    """(Observation.code, value[x] keyword) of a biomarker value ``"NAME: result"``."""
    from fhir.resources.R4B.quantity import Quantity

    name, _, result = (p.strip() for p in value.partition(":"))
    canon = {b.lower(): b for b in C.BIOMARKER_LOINC}.get(name.lower(), name)
    code, display = C.BIOMARKER_LOINC.get(canon, (None, None))
    concept = _concept(C.LOINC if code else None, code, display, text=canon)
    if not result:
        return concept, {}
    answer = C.RESULT_LOINC.get(result.lower())
    if answer:
        return concept, {"valueCodeableConcept": _concept(C.LOINC, answer[0], answer[1])}
    num = _NUMBER_UNIT.match(result)
    if num:
        unit = _UCUM[next(u for u in _UCUM if u.lower() == num.group(2).lower())]
        return concept, {"valueQuantity": Quantity(value=Decimal(num.group(1)), unit=unit,
                                                   system="http://unitsofmeasure.org", code=unit)}
    return concept, {"valueString": result}


def _condition_parts(rec: ExportRecord) -> dict[str, Any] | None:
    """What the primary-cancer Condition says, or None when the record names no cancer."""
    from cancerllm.knowledge import icd

    dx = [m for m in rec.mentions if m.type == "cancer_diagnosis" and m.assertion in ("present", "possible")]
    diagnosis = rec.diagnosis
    label = rec.labels.get("cancer_type")
    histology = [m for m in _grounded_present(rec, "histology") if m.start is not None]
    if not dx and diagnosis is None and label is None and not histology:
        return None  # a site or a side alone does not say there is a cancer
    cancer_type = (getattr(diagnosis, "cancer_type", None)
                   or next((m.value for m in dx if m.value in icd.TCGA_PROJECTS), None) or label)
    code = getattr(diagnosis, "icd10", None)
    code = icd.normalize(code) if code and icd.is_valid(code) else None
    if code is None and cancer_type in icd.TCGA_PROJECTS:
        code = icd.TCGA_PROJECTS[cancer_type].icd10  # the packaged TCGA project -> ICD-10-CM table
    grounded = [m for m in dx if m.start is not None]
    # A quoted present histology ("Invasive ductal carcinoma") names a cancer even when no diagnosis is quoted.
    quoted_present = any(m.assertion == "present" for m in grounded) or (not dx and bool(histology))
    parts: dict[str, Any] = {
        "code": code, "display": icd.describe(code) if code else None,
        "text": (icd.TCGA_PROJECTS[cancer_type].name if cancer_type in icd.TCGA_PROJECTS
                 else next((m.value for m in dx if m.value), None) or (histology[0].value if histology else None)),
        "verification": "confirmed" if quoted_present else "provisional" if grounded else "unconfirmed",
        "assertion": "present" if any(m.assertion == "present" for m in dx) or not dx else "possible",
        "spans": [(m.start, m.end, m.type) for m in grounded], "inferred": None, "inferred_by": "",
    }
    if not grounded and (dx or diagnosis is not None or label is not None):
        # the cancer is named by an unquoted mention, the diagnose model or classify's label, not by a quote
        src = rec.sources.get("cancer_type") if not dx and diagnosis is None else None
        parts["inferred"] = src or LabelSource("inferred")
        parts["inferred_by"] = _producer(rec, "extract" if dx else "diagnose" if diagnosis is not None else "classify")
    for etype in ("primary_site", "laterality", "histology"):
        ms = _grounded_present(rec, etype)
        parts[etype] = (ms[0].value or ms[0].text).strip() if ms else None
        parts["spans"] += [(m.start, m.end, m.type) for m in ms[:1] if m.start is not None]
    return parts


def _condition(rec: ExportRecord, parts: dict[str, Any], patient: str, doc: str) -> Any:
    from fhir.resources.R4B.condition import Condition, ConditionEvidence
    from fhir.resources.R4B.extension import Extension
    from fhir.resources.R4B.meta import Meta
    from fhir.resources.R4B.reference import Reference

    from cancerllm.knowledge.values import normalize_value

    ext = _spans_ext(parts["spans"]) + _inferred_ext(parts["inferred"], parts["inferred_by"])
    ext.append(Extension(url=C.ASSERTION_EXT, valueCode=parts["assertion"]))
    if parts["histology"]:
        ext.append(Extension(url=C.HISTOLOGY_EXT, valueCodeableConcept=_concept(None, None, None,
                                                                                  parts["histology"].lower())))
    body_site = None
    side = normalize_value("laterality", parts["laterality"]) if parts["laterality"] else None
    if parts["primary_site"] or side in C.LATERALITY_SNOMED:
        site = _concept(None, None, None, parts["primary_site"].lower() if parts["primary_site"] else None)
        if side in C.LATERALITY_SNOMED:
            code, display = C.LATERALITY_SNOMED[side]
            site.extension = [Extension(url=C.LATERALITY_EXT, valueCodeableConcept=_concept(C.SNOMED, code, display))]
        body_site = [site]
    return Condition(
        id=_rid(rec.id, "condition"), meta=Meta(profile=[C.PROFILES["condition"]]), extension=ext,
        clinicalStatus=_concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
        verificationStatus=_concept("http://terminology.hl7.org/CodeSystem/condition-ver-status",
                                    parts["verification"], parts["verification"].capitalize()),
        category=[_concept(C.CONDITION_CATEGORY, "problem-list-item", "Problem List Item")],
        code=_concept(C.ICD10CM if parts["code"] else None, parts["code"], parts["display"], parts["text"]),
        bodySite=body_site, subject=Reference(reference=f"urn:uuid:{patient}"),
        evidence=[ConditionEvidence(detail=[Reference(reference=f"urn:uuid:{doc}")])])


def _observation(rec: ExportRecord, f: _Finding, key: str, patient: str, doc: str, condition: str | None) -> Any:
    from fhir.resources.R4B.extension import Extension
    from fhir.resources.R4B.meta import Meta
    from fhir.resources.R4B.observation import Observation
    from fhir.resources.R4B.reference import Reference

    ext = _spans_ext(f.spans) + _inferred_ext(f.inferred if not f.spans else None, f.inferred_by)
    ext.append(Extension(url=C.ASSERTION_EXT, valueCode="present"))
    if f.type == "biomarker":
        code, value = _marker_code_value(f.value)
        category = [_concept(C.OBSERVATION_CATEGORY, "laboratory", "Laboratory")]
    else:
        loinc, display = C.TNM_LOINC[(f.type, "clinical" if f.clinical else "pathologic")]
        code, value, category = _concept(C.LOINC, loinc, display), {"valueCodeableConcept": _concept(
            None, None, None, f.value)}, None
    return Observation(
        id=_rid(rec.id, key), meta=Meta(profile=[C.PROFILES[f.type]]), extension=ext, status="final",
        category=category, code=code, subject=Reference(reference=f"urn:uuid:{patient}"),
        focus=[Reference(reference=f"urn:uuid:{condition}")] if condition else None,
        derivedFrom=[Reference(reference=f"urn:uuid:{doc}")], **value)


def _document(rec: ExportRecord, include_text: bool, patient: str | None) -> Any:
    from fhir.resources.R4B.attachment import Attachment
    from fhir.resources.R4B.documentreference import DocumentReference, DocumentReferenceContent
    from fhir.resources.R4B.identifier import Identifier
    from fhir.resources.R4B.reference import Reference

    attachment = Attachment(contentType="text/plain; charset=utf-8")
    master = None
    digest = rec.digests()
    if digest is not None:
        master = Identifier(system=C.SHA256_SYSTEM, value=digest["sha256"])
        attachment.size = digest["size"]
        attachment.hash = digest["sha1_b64"]  # R4 defines Attachment.hash as the base64 SHA-1 of the data
    if include_text and rec.text is not None:
        attachment.data = base64.b64encode(rec.text.encode("utf-8"))
    elif include_text:
        raise DataFormatError("include_text needs the note text: give the notes the predictions were made on "
                              "(--notes)", doc_id=rec.id, field="text")
    kind = C.DOC_TYPE_LOINC.get(rec.kind or "")
    return DocumentReference(
        id=_rid(rec.id, "document"), status="current", masterIdentifier=master,
        identifier=[Identifier(system=C.NOTE_ID_SYSTEM, value=rec.id)],
        type=_concept(C.LOINC, kind[0], kind[1]) if kind else None,
        subject=Reference(reference=f"urn:uuid:{patient}") if patient else None,
        content=[DocumentReferenceContent(attachment=attachment)])


def note_bundle(rec: ExportRecord, *, include_text: bool = False) -> Any:
    """The FHIR Bundle of one note's predictions, validated by a JSON round trip (see :func:`note_bundle_json`)."""
    return note_bundle_json(rec, include_text=include_text)[0]


def note_bundle_json(rec: ExportRecord, *, include_text: bool = False) -> tuple[Any, dict[str, Any]]:
    """The FHIR Bundle of one note's predictions, validated by a JSON round trip.

    Args:
        rec: the note's predictions (:func:`cancerllm.interop.records.read_predictions`, or an ExportRecord built
            by hand); ``rec.text`` is needed for the hash and for ``include_text``.
        include_text: put the note text in ``DocumentReference.content.attachment.data`` (base64). Off by default:
            the Bundle then holds no note text at all, only offsets into it.

    Returns:
        ``(Bundle, its JSON object)``: a ``fhir.resources.R4B.bundle.Bundle`` (``type = collection``,
        deterministic ids per note) and the JSON that was validated.

    Raises:
        DataFormatError: ``include_text`` without ``rec.text``, or a Bundle that does not survive the round trip.
    """
    from fhir.resources.R4B.bundle import Bundle, BundleEntry
    from fhir.resources.R4B.patient import Patient

    stages, markers = _stage_findings(rec), _marker_findings(rec)
    cond_parts = _condition_parts(rec)
    clinical = bool(stages or markers or cond_parts)
    patient = _rid(rec.id, "patient") if clinical else None
    doc = _document(rec, include_text, patient)
    resources = [doc] + ([Patient(id=patient)] if patient else [])
    condition = _condition(rec, cond_parts, patient, doc.id) if cond_parts else None
    if condition is not None:
        resources.append(condition)
    for i, f in enumerate(stages + markers):
        resources.append(_observation(rec, f, f"obs/{i}/{f.type}/{f.value}", patient, doc.id,
                                      condition.id if condition else None))
    bundle = Bundle(id=_rid(rec.id, "bundle"), type="collection",
                    entry=[BundleEntry(fullUrl=f"urn:uuid:{r.id}", resource=r) for r in resources])
    return validated_json(bundle, rec.id)


def roundtrip(bundle: Any, doc_id: str | None = None) -> Any:
    """Serialise ``bundle`` to JSON and parse it back with ``fhir.resources`` (``Bundle.model_validate``); the
    parsed Bundle must equal the original. Returns the parsed Bundle.

    Raises:
        DataFormatError: the JSON does not parse back, or parses to something else.
    """
    return validated_json(bundle, doc_id)[0]


def validated_json(bundle: Any, doc_id: str | None = None) -> tuple[Any, dict[str, Any]]:
    """:func:`roundtrip`, also returning the JSON object that was validated (what the writers write, so a Bundle
    is serialised once: serialisation is most of the cost of an export)."""
    from fhir.resources.R4B.bundle import Bundle
    from pydantic import ValidationError

    data = json.loads(bundle.model_dump_json())
    try:
        back = Bundle.model_validate(data)
    except ValidationError as err:  # named by element path and reason only: the value may be note-derived
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise DataFormatError(f"the FHIR Bundle does not validate at {where}: {first['type']}", doc_id=doc_id
                              ) from None
    if back != bundle:
        raise DataFormatError("the FHIR Bundle changes on a JSON round trip", doc_id=doc_id)
    return back, data


def bundle_of_bundles(bundles: list[Any]) -> tuple[Any, dict[str, Any]]:
    """One ``collection`` Bundle whose entries are the per-note Bundles, and its validated JSON (what ``--out
    x.json`` writes for more than one note; ``.ndjson`` writes one Bundle per line instead)."""
    from fhir.resources.R4B.bundle import Bundle, BundleEntry

    return validated_json(Bundle(type="collection", entry=[BundleEntry(fullUrl=f"urn:uuid:{b.id}", resource=b)
                                                           for b in bundles]))
