"""Oncology domain knowledge, one home per concept: the phenotype schema, TNM strings (find, read, mask),
value normalisation, ICD-10-CM validation and the TCGA project table, and the abbreviation table.

Nothing here loads a model or reads a corpus; every other stage asks these modules instead of keeping its own
regexes or tables.

* :mod:`~cancerllm.knowledge.phenotypes`: entity types, assertions, paper-family mapping.
* :mod:`~cancerllm.knowledge.tnm`: the one TNM finder/reader/masker.
* :mod:`~cancerllm.knowledge.values`: value normalisation (``pT2a`` -> ``T2``, ``18 mm`` -> ``1.8 cm``), labels.
* :mod:`~cancerllm.knowledge.icd`: ICD-10-CM validation and repair, TCGA project -> ICD-10-CM.
* :mod:`~cancerllm.knowledge.abbreviations`: oncology abbreviations with context-aware expansion.
"""
