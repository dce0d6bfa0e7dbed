"""Interoperability exports: FHIR R4 / mCODE Bundles and OMOP CDM NOTE_NLP rows from prediction records.

* :mod:`~cancerllm.interop.records`: read and join ``extract`` / ``diagnose`` / ``classify`` records by note id.
* :mod:`~cancerllm.interop.fhir`: one FHIR Bundle per note (``fhir.resources`` R4B classes, round-trip validated).
* :mod:`~cancerllm.interop.omop`: NOTE_NLP rows (one per mention), CSV or Parquet.
* :mod:`~cancerllm.interop.routes`: ``GET /fhir/{id}`` for the server.
* :mod:`~cancerllm.interop.codes`: profile URLs, LOINC and SNOMED CT codes, our extension URLs.

No export carries note text unless asked (``include_text``): offsets point into the note instead.
"""
