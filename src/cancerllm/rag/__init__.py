"""Retrieval-augmented prompting: labelled examples from a training corpus, shown in the prompt.

Modules: ``retrievers`` (registered retrievers and their options), ``encoders`` (pooling, HF and
sentence-transformers encoders), ``specter2`` (the SPECTER2 adapter in plain transformers), ``index`` (build /
persist / reload with corpus and encoder checks), ``pipeline`` (what inference calls), ``measure`` (same-label
recall@k), ``cli`` (``cancerllm rag index|search|measure``). Importing this package stays light: torch and
transformers load only when a dense encoder is used.
"""

from cancerllm.rag.index import Index, IndexConfig, build_index, load_index
from cancerllm.rag.pipeline import ExampleRetriever, fit_examples, load_retriever
from cancerllm.rag.retrievers import RetrievalArgs

__all__ = [
           "ExampleRetriever",
           "Index",
           "IndexConfig",
           "RetrievalArgs",
           "build_index",
           "fit_examples",
           "load_index",
           "load_retriever",
]
