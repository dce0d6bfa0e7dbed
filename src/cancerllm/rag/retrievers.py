"""Retrievers registered in ``cancerllm.registry.retrievers``: random, BM25, dense presets and a hybrid.

Every retriever scores *all* corpus documents for a query (exact search; corpora here are thousands of notes),
so exclusions (the leakage guard) never shrink the result below ``k``. Dense retrievers can use FAISS
(``backend="faiss"``) for large corpora; results are the same as numpy up to float ties.

==============  =========================================================================================
name            what
==============  =========================================================================================
random.v1       seeded random order; the paper's baseline. Same seed + same query = same result
bm25.v1         ``bm25s`` Lucene BM25 over lowercased, stop-worded, Porter-stemmed word tokens
dense.v1        sentence-transformers folder; default: the embedded all-MiniLM-L6-v2 (cosine)
medcpt.v1       MedCPT: separate query / article BERT encoders, ``[CLS]`` pooling, dot product
contriever.v1   Contriever: BERT, mean pooling, dot product
sgpt.v1         SGPT: decoder LM, position-weighted mean pooling, cosine
specter2.v1     SPECTER2: BERT base + proximity bottleneck adapter, ``[CLS]``, cosine
hybrid.v1       reciprocal rank fusion of bm25.v1 and dense.v1 rankings
==============  =========================================================================================

Example:
    >>> r = retrievers.get("bm25.v1")(RetrievalArgs())
    >>> r.fit(["ER positive breast carcinoma", "lung adenocarcinoma, pT1a", "colon adenocarcinoma pT3"])
    >>> [i for i, _ in r.top("breast carcinoma ER", k=2)]
    [0, 1]
    >>> rrf([[0, 1, 2], [2, 0, 1]], k0=60)[0] == 1 / 61 + 1 / 62
    True
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cancerllm.registry import retrievers

__all__ = [
    "BM25Retriever",
    "DenseRetriever",
    "HybridRetriever",
    "RandomRetriever",
    "RetrievalArgs",
    "Retriever",
    "rrf",
    "tokenize",
    "top_k",
]


@dataclass
class RetrievalArgs:
    """Options every retriever factory receives (unused ones are ignored by that retriever)."""

    retriever: str = "bm25.v1"
    """Registered name: random.v1, bm25.v1, dense.v1, medcpt.v1, contriever.v1, sgpt.v1, specter2.v1, hybrid.v1."""
    model_path: str | None = None
    """Encoder folder. dense/hybrid: None = the embedded all-MiniLM-L6-v2. medcpt: the article encoder, or a folder
    holding both *query* and *article* sub-folders. specter2: specter2_base (an ``adapter`` sub-folder is used)."""
    query_model_path: str | None = None
    """medcpt: the query encoder folder (MedCPT-Query-Encoder)."""
    adapter_path: str | None = None
    """specter2: the proximity adapter folder (allenai/specter2); 'none' = base model only (degraded)."""
    backend: Literal["numpy", "faiss"] = "numpy"
    """numpy = exact, no extra dependency; faiss = exact IndexFlatIP, faster on corpora past ~100k notes."""
    seed: int = 0
    max_length: int = 512
    """Document token limit for dense encoders (MiniLM itself stops at 256); longer notes are truncated."""
    query_max_length: int | None = None
    """Query token limit; None = max_length (medcpt: 64, as its model card)."""
    batch_size: int = 16
    device: str = "cpu"
    rrf_k: int = 60
    """hybrid: the RRF constant; larger flattens the difference between top ranks."""


def top_k(scores: np.ndarray, k: int, banned: Collection[int] = ()) -> list[tuple[int, float]]:
    """Indices of the ``k`` highest scores, best first, skipping ``banned``; ties break by lower index."""
    s = scores.astype(np.float64, copy=True)
    if banned:
        s[list(banned)] = -np.inf
    order = np.lexsort((np.arange(len(s)), -s))  # stable: score desc, then index asc
    return [(int(i), float(s[i])) for i in order[:k] if np.isfinite(s[i])]


def rrf(rankings: list[list[int]], k0: int = 60) -> dict[int, float]:
    """Reciprocal rank fusion: ``score(d) = sum_r 1 / (k0 + rank_r(d))`` with 1-based ranks."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            fused[doc] = fused.get(doc, 0.0) + 1.0 / (k0 + rank)
    return fused


class Retriever:
    """Interface: ``fit`` on corpus texts, ``scores`` for a query, ``save``/``load`` state, ``encoder_config``."""

    name = "base"
    n_docs = 0

    def fit(self, texts: list[str]) -> None:
        raise NotImplementedError

    def scores(self, query: str) -> np.ndarray:
        raise NotImplementedError

    def top(self, query: str, k: int, banned: Collection[int] = ()) -> list[tuple[int, float]]:
        return top_k(self.scores(query), k, banned)

    def save(self, folder: Path) -> None:
        """Persist fitted state into ``folder`` (the index folder)."""

    def load(self, folder: Path) -> None:
        """Restore state written by :meth:`save`."""

    def encoder_config(self) -> dict[str, Any] | None:
        """What the vectors depend on (model fingerprint, pooling...); None for lexical/random retrievers."""
        return None


class RandomRetriever(Retriever):
    """Uniform random scores seeded by (seed, CRC32 of the query): reproducible, different per query."""

    name = "random.v1"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, texts):
        self.n_docs = len(texts)

    def scores(self, query):
        return np.random.default_rng([self.seed, zlib.crc32(query.encode())]).random(self.n_docs)

    def save(self, folder):
        (folder / "random.json").write_text(json.dumps({"n_docs": self.n_docs, "seed": self.seed}))

    def load(self, folder):
        self.n_docs = json.loads((folder / "random.json").read_text())["n_docs"]


_WORD = re.compile(r"[a-z0-9]+(?:[.\-/][a-z0-9]+)*")  # keeps "pt2a", "her2/neu", "8.5" whole


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens, English stop words removed, Porter-stemmed (nltk's stemmer needs no data).

    >>> tokenize("Tumors are ER-positive, pT2a N0")
    ['tumor', 'er-posit', 'pt2a', 'n0']
    """
    from bm25s.stopwords import STOPWORDS_EN

    stem = _stemmer()
    return [stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS_EN]


@functools.lru_cache(maxsize=1)
def _stemmer():
    """Porter stemming memoised per word: clinical corpora repeat a small vocabulary millions of times."""
    from nltk.stem import PorterStemmer

    return functools.lru_cache(maxsize=200_000)(PorterStemmer().stem)


class BM25Retriever(Retriever):
    name = "bm25.v1"

    def __init__(self):
        self.model: Any = None

    def fit(self, texts):
        import bm25s

        self.model = bm25s.BM25()
        self.model.index([tokenize(t) for t in texts], show_progress=False)
        self.n_docs = len(texts)

    def scores(self, query):
        vocab = self.model.vocab_dict
        toks = [t for t in tokenize(query) if t in vocab]  # unseen words carry no BM25 evidence
        if not toks:
            return np.zeros(self.n_docs, np.float32)
        return self.model.get_scores(toks)

    def save(self, folder):
        self.model.save(str(folder / "bm25"), show_progress=False)

    def load(self, folder):
        import bm25s

        self.model = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        self.n_docs = int(self.model.scores["num_docs"])


class DenseRetriever(Retriever):
    """Embeds documents once; a query is scored by inner product (cosine when the encoder normalises)."""

    def __init__(self, name: str, make_encoder: Any, backend: str = "numpy"):
        self.name, self._make_encoder, self.backend = name, make_encoder, backend
        self._encoder: Any = None
        self.emb: np.ndarray | None = None
        self._faiss: Any = None
        self._qcache: dict[str, np.ndarray] = {}

    @property
    def encoder(self) -> Any:
        if self._encoder is None:  # lazy: loading a model costs seconds; random/bm25 users never pay it
            self._encoder = self._make_encoder()
        return self._encoder

    def fit(self, texts):
        self.emb = self.encoder.encode(texts, role="doc")
        self.n_docs = len(texts)

    def encode_query(self, query: str) -> np.ndarray:
        # Inference asks for the same note twice (phenotype, then diagnosis); a small cache saves a forward pass.
        if query not in self._qcache:
            if len(self._qcache) >= 256:
                self._qcache.pop(next(iter(self._qcache)))
            self._qcache[query] = self.encoder.encode([query], role="query")[0]
        return self._qcache[query]

    def scores(self, query):
        return self.emb @ self.encode_query(query)

    def top(self, query, k, banned=()):
        if self.backend != "faiss":
            return super().top(query, k, banned)
        if self._faiss is None:
            import faiss

            self._faiss = faiss.IndexFlatIP(self.emb.shape[1])
            self._faiss.add(self.emb)
        want = min(self.n_docs, k + len(banned))  # over-fetch so exclusions still leave k
        scores, ids = self._faiss.search(self.encode_query(query)[None, :], want)
        hits = [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and int(i) not in set(banned)]
        return sorted(hits, key=lambda h: (-h[1], h[0]))[:k]

    def save(self, folder):
        np.save(folder / "embeddings.npy", self.emb)

    def load(self, folder):
        self.emb = np.load(folder / "embeddings.npy")
        self.n_docs = len(self.emb)

    def encoder_config(self):
        return self.encoder.config()


class HybridRetriever(Retriever):
    """RRF of BM25 and dense rankings: robust when one of them fails on a note (OCR noise, unseen words)."""

    name = "hybrid.v1"

    def __init__(self, lexical: BM25Retriever, dense: DenseRetriever, k0: int = 60):
        self.lexical, self.dense, self.k0 = lexical, dense, k0

    @property
    def n_docs(self) -> int:  # always the parts' size, also when composed from already-fitted parts
        return self.dense.n_docs

    def fit(self, texts):
        self.lexical.fit(texts)
        self.dense.fit(texts)

    def scores(self, query):
        rankings = [[i for i, _ in top_k(r.scores(query), r.n_docs)] for r in (self.lexical, self.dense)]
        fused = rrf(rankings, self.k0)
        return np.array([fused.get(i, 0.0) for i in range(self.n_docs)])

    def save(self, folder):
        self.lexical.save(folder)
        self.dense.save(folder)

    def load(self, folder):
        self.lexical.load(folder)
        self.dense.load(folder)

    def encoder_config(self):
        return self.dense.encoder_config()


# ------------------------------------------------------------------------------------------------ registry

def _sub(path: str | None, word: str) -> str | None:
    """A sub-folder of ``path`` whose name contains ``word`` (MedCPT query/article pair in one folder)."""
    if not path or not Path(path).is_dir():
        return None
    hits = sorted(p for p in Path(path).iterdir() if p.is_dir() and word in p.name.lower())
    return str(hits[0]) if hits else None


def _need_path(args: RetrievalArgs) -> str:
    if not args.model_path:
        from cancerllm.errors import ConfigError

        raise ConfigError(f"{args.retriever}: no weights ship with this preset; set --model-path to a local "
                          "folder of the model (downloaded once on a connected machine)")
    return args.model_path


@retrievers.register("random.v1")
def make_random(args: RetrievalArgs) -> Retriever:
    return RandomRetriever(args.seed)


@retrievers.register("bm25.v1")
def make_bm25(args: RetrievalArgs) -> Retriever:
    return BM25Retriever()


@retrievers.register("dense.v1")
def make_dense(args: RetrievalArgs) -> DenseRetriever:
    from cancerllm.rag.encoders import STEncoder, embedded_model_path

    def build():
        path = args.model_path if args.model_path not in (None, "embedded") else embedded_model_path()
        return STEncoder(path, batch_size=args.batch_size, device=args.device)

    return DenseRetriever("dense.v1", build, args.backend)


@retrievers.register("medcpt.v1")
def make_medcpt(args: RetrievalArgs) -> DenseRetriever:
    from cancerllm.rag.encoders import HFEncoder

    def build():
        path = _need_path(args)
        article = _sub(path, "article") or path
        query = args.query_model_path or _sub(path, "query") or article
        return HFEncoder(article, query, pooling="cls", normalize=False, max_length=args.max_length,
                         query_max_length=args.query_max_length or 64, batch_size=args.batch_size, device=args.device)

    return DenseRetriever("medcpt.v1", build, args.backend)


@retrievers.register("contriever.v1")
def make_contriever(args: RetrievalArgs) -> DenseRetriever:
    from cancerllm.rag.encoders import HFEncoder

    return DenseRetriever("contriever.v1", lambda: HFEncoder(
        _need_path(args), pooling="mean", normalize=False, max_length=args.max_length,
        query_max_length=args.query_max_length, batch_size=args.batch_size, device=args.device), args.backend)


@retrievers.register("sgpt.v1")
def make_sgpt(args: RetrievalArgs) -> DenseRetriever:
    from cancerllm.rag.encoders import HFEncoder

    return DenseRetriever("sgpt.v1", lambda: HFEncoder(
        _need_path(args), pooling="weightedmean", normalize=True, max_length=args.max_length,
        query_max_length=args.query_max_length, batch_size=args.batch_size, device=args.device), args.backend)


@retrievers.register("specter2.v1")
def make_specter2(args: RetrievalArgs) -> DenseRetriever:
    from cancerllm.rag.encoders import HFEncoder

    def build():
        path = _need_path(args)
        adapter = args.adapter_path or _sub(path, "adapter")
        if adapter is None:
            from cancerllm.errors import ConfigError

            raise ConfigError("specter2.v1: no proximity adapter found; set --adapter-path to the allenai/specter2 "
                              "adapter folder, or --adapter-path none to use the base model alone (degraded)")
        return HFEncoder(path, pooling="cls", normalize=True, max_length=args.max_length,
                         query_max_length=args.query_max_length, batch_size=args.batch_size, device=args.device,
                         adapter_path=None if str(adapter).lower() == "none" else adapter)

    return DenseRetriever("specter2.v1", build, args.backend)


@retrievers.register("hybrid.v1")
def make_hybrid(args: RetrievalArgs) -> Retriever:
    return HybridRetriever(BM25Retriever(), make_dense(args), args.rrf_k)
