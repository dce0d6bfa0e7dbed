"""Feature builders for the document-level heads: lexical (TF-IDF), measurements, and the LM's hidden states.

Every builder is fitted on training notes only and applied unchanged to dev/test notes. The heads are trained on
TNM-masked text (:func:`cancerllm.knowledge.tnm.mask_tnm`): they are the path used when a report states no stage, so
they must learn from what a report describes (size, invasion, nodes), not from the stage strings the evidence
path already reads.

* :class:`Lexical`: word 1-2-gram and character 3-5-gram TF-IDF (character n-grams absorb OCR noise:
  "carcinorna", "lyrnph"), plus a word block over the report's opening (its final diagnosis).
* :class:`Terms`: presence of the word n-grams most associated with a label, as columns for the stacked trees.
* :func:`conjoined`: the same features hashed per cancer type, so a word can weigh differently by organ.
* :func:`measure_matrix`: tumour size and node counts (:mod:`cancerllm.classify.measures`).
* :class:`LMFeatures`: mean-pooled hidden states of a causal LM (the embedded SmolLM2 or a training run's
  model), read over token-budget chunks so the whole report is seen, cached per note so a rerun is free.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from pathlib import Path
from typing import Any

import numpy as np

from cancerllm.classify.measures import find_measures, measure_vector

__all__ = ["CONJOINED_DIM", "Invasion", "LMFeatures", "Lexical", "Terms", "conjoined", "invasion_sentences",
           "measure_matrix"]

log = logging.getLogger(__name__)


class Lexical:
    """Word + character TF-IDF; ``fit`` on training texts, ``transform`` anything after.

    Example:
        >>> lex = Lexical(min_df=1).fit(["invasive ductal carcinoma", "clear cell renal cell carcinoma"])
        >>> lex.transform(["ductal carcinoma"]).shape[0]
        1
    """

    def __init__(self, min_df: int = 2, max_word: int = 200_000, max_char: int = 300_000, head_chars: int = 600):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.word = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, max_df=0.95, sublinear_tf=True,
                                    max_features=max_word, dtype=np.float32)
        self.char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=min_df + 1 if min_df > 1 else 1,
                                    sublinear_tf=True, max_features=max_char, dtype=np.float32)
        # The opening of a pathology report is its final diagnosis: a separate block over the first `head_chars`
        # characters lets "chromophobe" or "squamous" there outweigh the same word in a differential further down
        # (cancer-type macro-recall on TCGA dev 0.923 -> 0.956).
        self.head_chars = head_chars
        self.head = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True, dtype=np.float32)

    def fit(self, texts: list[str]) -> Lexical:
        self.word.fit(texts)
        self.char.fit(texts)
        if self.head_chars:
            self.head.fit([t[: self.head_chars] for t in texts])
        return self

    def transform(self, texts: list[str], opening: bool = True) -> Any:
        """(n, features) sparse matrix; ``opening=False`` leaves out the report-opening block."""
        from scipy.sparse import hstack

        blocks = [self.word.transform(texts), self.char.transform(texts)]
        if opening and self.head_chars:
            blocks.append(self.transform_opening(texts))
        return hstack(blocks).tocsr()

    def transform_opening(self, texts: list[str]) -> Any:
        """The report-opening block alone (first ``head_chars`` characters)."""
        return self.head.transform([t[: self.head_chars] for t in texts])


# A sentence about how far the tumour reaches: where AJCC T3/T4 are decided ("invades the visceral pleura", "tumor
# extends through the muscularis propria into pericolonic fat", "skin ulceration present", "no extraprostatic
# extension").
_INVASION = re.compile(r"\b(?:invad|invasion|infiltrat|extend|extension|extens|involv|penetrat|perforat|through|"
                       r"beyond|abut|adher|ulcerat|breach|reach)\w*", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.;\n]+")


def invasion_sentences(text: str) -> str:
    """The report's sentences that say how far the tumour reaches, joined (empty when none).

    Example:
        >>> invasion_sentences("Tumor size 2 cm. Tumor invades the visceral pleura; margins free.")
        'Tumor invades the visceral pleura'
    """
    return " | ".join(m.group(0).strip() for m in _SENTENCE.finditer(text) if _INVASION.search(m.group(0)))


class Invasion:
    """Word 1-3-gram TF-IDF over :func:`invasion_sentences` only: the extension words, negations included ("no
    extraprostatic extension"), without the rest of the report diluting them."""

    def __init__(self, min_df: int = 2):
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.vec = TfidfVectorizer(ngram_range=(1, 3), min_df=min_df, max_df=0.95, sublinear_tf=True,
                                   max_features=100_000, dtype=np.float32)

    def fit(self, texts: list[str]) -> Invasion:
        """Fit on the training texts; when they hold no invasion wording a block of width 0 is learnt."""
        self.empty = False
        try:
            self.vec.fit([invasion_sentences(t) for t in texts])
        except ValueError:  # sklearn: empty vocabulary, or no term in min_df documents
            self.empty = True
        return self

    def transform(self, texts: list[str]) -> Any:
        from scipy.sparse import csr_matrix

        if self.empty:
            return csr_matrix((len(texts), 0), dtype=np.float32)
        return self.vec.transform([invasion_sentences(t) for t in texts])


class Terms:
    """Presence (0/1) of the ``k`` word 1-3-grams most associated with a label in the training texts (chi-squared),
    as dense columns for a stacked tree head.

    The linear head reads every n-gram, but only as one weighted sum; given the words themselves, the trees can
    combine them with the cancer type and the size ("serosa" is T4 in the stomach, "skin" in the breast, a 6 cm
    size is T3 there and T2 in the lung). Fitted on training texts only; the n-grams kept are :attr:`names`.

    Example:
        >>> t = Terms(k=2, min_df=1).fit(["invades serosa", "invades serosa", "confined", "confined"],
        ...                               ["T4", "T4", "T1", "T1"])
        >>> t.transform(["tumor invades the serosa"]).shape
        (1, 2)
    """

    def __init__(self, k: int = 100, min_df: int = 5):
        self.k, self.min_df = k, min_df
        self.names: list[str] = []

    def fit(self, texts: list[str], y: list[str]) -> Terms:
        """Keep the ``k`` n-grams with the largest chi-squared statistic against ``y`` (none when nothing scores)."""
        from sklearn.feature_selection import chi2

        vec = self._counter(min_df=self.min_df)
        try:
            x = vec.fit_transform(texts)
        except ValueError:  # sklearn: empty vocabulary, or no n-gram in min_df texts
            return self
        score = np.nan_to_num(chi2(x, y)[0])  # an n-gram present everywhere scores nan
        order = [j for j in np.argsort(-score, kind="stable")[: self.k] if score[j] > 0]
        vocab = vec.get_feature_names_out()
        self.names = [str(vocab[j]) for j in order]
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        """(n, len(names)) float32 0/1 matrix, columns in :attr:`names` order."""
        if not self.names:
            return np.zeros((len(texts), 0), dtype=np.float32)
        return self._counter(vocabulary=self.names).transform(texts).toarray()

    @staticmethod
    def _counter(**kw: Any) -> Any:
        """The one n-gram reader of ``fit`` (which chooses) and ``transform`` (which reads the chosen), so they agree."""
        from sklearn.feature_extraction.text import CountVectorizer

        return CountVectorizer(binary=True, ngram_range=(1, 3), dtype=np.float32, **kw)


CONJOINED_DIM = 1 << 18


def conjoined(x: Any, groups: np.ndarray, dim: int = CONJOINED_DIM) -> Any:
    """``x`` beside a copy whose every feature is conjoined with the row's group (its cancer type): ``[x, h(x, g)]``.

    Feature ``j`` of a row in group ``g`` goes to column ``hash(j, g) mod dim`` of the second block ("frustratingly
    easy" domain adaptation, hashed so the width stays ``dim`` whatever the number of groups): a linear head keeps
    the shared weight of each feature and learns a per-group correction where the data supports one. Deterministic;
    collisions are rare at 2^18 columns and harmless to a regularised head.

    Example:
        >>> from scipy.sparse import csr_matrix
        >>> z = conjoined(csr_matrix(np.eye(2, dtype=np.float32)), np.array([0, 1]), dim=16)
        >>> z.shape, z.nnz, z[:, 2:].sum(axis=1).A.ravel().tolist()
        ((2, 18), 4, [1.0, 1.0])
    """
    from scipy.sparse import csr_matrix, hstack

    x = csr_matrix(x)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    cols = (x.indices.astype(np.int64) * 2654435761 + (groups[rows].astype(np.int64) + 1) * 40503) % dim
    copy = csr_matrix((x.data, (rows, cols)), shape=(x.shape[0], dim), dtype=x.dtype)
    return hstack([x, copy]).tocsr()


def measure_matrix(texts: list[str]) -> np.ndarray:
    """(n, 6) dense measurement features, one row per text."""
    return np.array([measure_vector(find_measures(t)) for t in texts], dtype=np.float32).reshape(len(texts), -1)


class LMFeatures:
    """Mean-pooled hidden states of a causal LM over a whole report, cached on disk per note.

    The report is cut into chunks of at most ``max_tokens`` tokens (at most ``max_chunks`` of them, the first
    ones: the diagnosis leads a pathology report); each chunk's hidden states at ``layer`` are averaged over its
    tokens and the chunk vectors averaged into one. Only the layers up to ``layer`` run (the upper ones are never
    computed), which is what makes this affordable on 2 CPU cores.

    Args:
        model: a loaded causal LM (transformers); its first ``layer`` decoder layers are used.
        tokenizer: its tokenizer.
        layer: hidden-state index (0 = embeddings); the forward stops after this layer.
        max_tokens: tokens per chunk; max_chunks: chunks read per report (coverage is logged).
        cache_dir: folder for the per-note vectors; a rerun (or a resumed run) reads them back.
    """

    def __init__(self, model: Any, tokenizer: Any, layer: int = 16, max_tokens: int = 512, max_chunks: int = 4,
                 batch_size: int = 4, cache_dir: str | Path | None = None, fingerprint: str = ""):
        self.tok = tokenizer
        # Keep only the decoder layers up to `layer`: the upper ones would be computed and thrown away. The
        # model object is the caller's; it is loaded for feature extraction only (see recipe.load_lm).
        self.body = model.get_decoder() if hasattr(model, "get_decoder") else model.model
        if 0 < layer < len(self.body.layers):
            import torch

            self.body.layers = torch.nn.ModuleList(list(self.body.layers)[:layer])
            self.body.config.num_hidden_layers = layer
        self.layer, self.max_tokens, self.max_chunks, self.batch_size = layer, max_tokens, max_chunks, batch_size
        key = json.dumps([fingerprint, layer, max_tokens, max_chunks])
        self.cache = Path(cache_dir) / hashlib.sha256(key.encode()).hexdigest()[:16] if cache_dir else None
        self.chars_total = self.chars_seen = 0

    def _chunks(self, text: str) -> list[list[int]]:
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        chunks = [ids[i:i + self.max_tokens] for i in range(0, max(len(ids), 1), self.max_tokens)]
        self.chars_total += len(text)
        kept = chunks[: self.max_chunks]
        self.chars_seen += len(text) if len(kept) == len(chunks) else int(len(text) * len(kept) / len(chunks))
        return kept or [[self.tok.eos_token_id or 0]]

    def _encode(self, chunks: list[list[int]]) -> np.ndarray:
        """Mean-pooled hidden state of each chunk (right-padded batch, padding masked out)."""
        import torch

        width = max(len(c) for c in chunks)
        pad = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        device = next(self.body.parameters()).device  # cpu here; cuda on a GPU machine
        ids = torch.tensor([c + [pad] * (width - len(c)) for c in chunks], device=device)
        mask = torch.tensor([[1] * len(c) + [0] * (width - len(c)) for c in chunks], device=device)
        with torch.inference_mode():
            h = self.body(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
        return pooled.float().cpu().numpy()

    def _path(self, note_id: str, text: str) -> Path | None:
        # Keyed by id and text: the same report masked ("hard" copy) or edited is a different input.
        key = hashlib.sha256(f"{note_id}\x00{text}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return self.cache / f"{key}.npy" if self.cache else None

    def transform(self, ids: list[str], texts: list[str]) -> np.ndarray:
        """(n, hidden) matrix; notes already in the cache are read back, the others computed and cached."""
        if self.cache:
            self.cache.mkdir(parents=True, exist_ok=True)
        rows: list[np.ndarray | None] = []
        todo = []
        for i, nid in enumerate(ids):
            p = self._path(nid, texts[i])
            rows.append(np.load(p) if p is not None and p.exists() else None)
            if rows[-1] is None:
                todo.append(i)
        t0 = time.perf_counter()
        for done, i in enumerate(todo, 1):
            chunks = self._chunks(texts[i])
            vecs = np.concatenate([self._encode(chunks[j:j + self.batch_size])
                                   for j in range(0, len(chunks), self.batch_size)])
            rows[i] = vecs.mean(0)
            if (p := self._path(ids[i], texts[i])) is not None:
                np.save(p, rows[i])  # one file per note: a killed run resumes where it stopped
            if done % 50 == 0 or done == len(todo):
                rate = done / (time.perf_counter() - t0)
                log.info("lm features: %d/%d notes, %.2f notes/s, ETA %.0f s", done, len(todo), rate,
                         (len(todo) - done) / max(rate, 1e-9))
        return np.stack(rows).astype(np.float32)
