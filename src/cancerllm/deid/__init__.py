"""De-identification of clinical notes (``cancerllm deid``), oncology-aware, offline, with an offset map.

* :mod:`~cancerllm.deid.recognizers`: PHI detection on presidio-analyzer (blank spaCy pipeline, pattern
  recognizers) plus clinical-note recognizers of our own;
* :mod:`~cancerllm.deid.allow`: oncology terms that are never PHI (HER2, Gleason 7, pT2N0M0, drugs, genes);
* :mod:`~cancerllm.deid.surrogate`: typed tags, and dates shifted consistently per patient;
* :mod:`~cancerllm.deid.offsets`: span mapping between original and de-identified text, both ways;
* :mod:`~cancerllm.deid.core`: one text / one note; :mod:`~cancerllm.deid.recipe`: the verb's run;
* :mod:`~cancerllm.deid.measure`: recall/precision on synthetic PHI, false positives on real text.

presidio-analyzer and spaCy are the ``deid`` extra (``pip install -e '.[deid]'``); they are imported only when a
note is de-identified, so the rest of the package works without them.
"""

from cancerllm.deid.core import Deidentified, deidentify_note, deidentify_text
from cancerllm.deid.offsets import OffsetMap, Replacement, load_offsets
from cancerllm.deid.recipe import DeidConfig, run

__all__ = ["DeidConfig", "Deidentified", "OffsetMap", "Replacement", "deidentify_note", "deidentify_text", "load_offsets",
           "run"]
