"""Synthetic oncology notes with exact gold spans (``cancerllm data synth``): the generator and its parts.

* :mod:`~cancerllm.data.synth.generate`: :func:`synthesize` / :func:`write_synth`, the public entry points;
* :mod:`~cancerllm.data.synth.case`: one patient's case (cancer type, stage, biomarkers, treatments);
* :mod:`~cancerllm.data.synth.notes`, :mod:`~cancerllm.data.synth.sections`: note kinds and their sections;
* :mod:`~cancerllm.data.synth.vocab`: the vocabulary tables.
"""

from cancerllm.data.synth.generate import SYNTH_VERSION, Doc, split_of, synthesize, write_synth

__all__ = ["SYNTH_VERSION", "Doc", "split_of", "synthesize", "write_synth"]
