"""The ``classify`` recipe: document-level labels (T, N, M, cancer type) that are right, calibrated and auditable.

Shape (build -> fit -> calibrate -> predict -> report), evidence first:

1. **Evidence path.** If a report states the class ("pT2a", "pN1 (2/14)"), the label is read from that token
   (:func:`cancerllm.knowledge.tnm.stated_classes`) and carries its span: ``note[start:end] == text``. On TCGA train
   the stated class equals the registry label for ~97% of reports that state one.
2. **Inferred path.** Otherwise a head trained on TNM-masked training text predicts it from what the report
   describes (size, invasion, node counts, histology words; optionally the LM's hidden states) and the label is
   marked ``inferred`` with its calibrated probability and the whole distribution, plus the measurement spans
   it could have used (tumour size, node counts). Cancer type is always inferred (reports rarely name the TCGA
   project) and carries its probability.
3. Heads are calibrated on dev (one temperature each); ECE and a reliability diagram are written for dev.

Outputs in ``out``: ``<input name>.jsonl`` per predicted file (and ``<name>_hard.jsonl`` for the TNM-masked
copy when ``hard``), ``model.joblib`` (everything needed to predict again), ``calibration.json`` and
``reliability.png`` (dev, where the temperatures were fitted), ``calibration_<name>.json`` and
``reliability_<name>.png`` (the inferred labels of each predicted file that has gold labels: unseen notes),
``config.yaml``, ``meta.json``, ``timings.json``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from cancerllm.config import at_least, save_config
from cancerllm.errors import ConfigError, ResourceError

__all__ = ["LABELS", "ClassifyConfig", "LMArgs", "code_only", "predict_notes", "reader_fingerprint", "run"]

log = logging.getLogger(__name__)

STAGE_LABELS = ("t_stage", "n_stage", "m_stage")
LABELS = (*STAGE_LABELS, "cancer_type")
FEATURES = ("lexical", "measures", "extent", "extent_rule", "reached", "lm")


# The code that turns a report into the heads' inputs (TF-IDF blocks, sizes and node counts, extension terms, stated
# classes, metastasis evidence, diagnosis terms). A labeller fitted with one version and run with another predicts from
# inputs it was not fitted on, so a saved model records the fingerprint it was fitted with.
READER_MODULES = ("cancerllm.classify.definitions", "cancerllm.classify.features", "cancerllm.classify.measures",
                  "cancerllm.classify.organs",
                  "cancerllm.knowledge.tnm", "cancerllm.knowledge.metastasis", "cancerllm.knowledge.stage_group",
                  "cancerllm.knowledge.cancer_types")


def reader_fingerprint(modules: tuple[str, ...] = READER_MODULES) -> str:
    """12 hex digits of sha256 over the code of ``modules`` (the installed readers), without their comments and
    docstrings (:func:`code_only`): a reflowed docstring does not flag a labeller, any change to the code does."""
    import hashlib
    import importlib.util

    digest = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        digest.update(code_only(Path(spec.origin).read_text(encoding="utf-8")).encode() if spec and spec.origin
                      else name.encode())
    return digest.hexdigest()[:12]


def code_only(source: str) -> str:
    """``source`` without its comments, docstrings (every bare string statement) and blank lines; the rest verbatim.

    Example:
        >>> code_only("'''Doc.'''\\nX = 1  # one\\n\\ndef f():\\n    '''Doc\\n    more.'''\\n    return 's'  # two\\n")
        "X = 1\\ndef f():\\n    return 's'"
    """
    import ast
    import io
    import tokenize

    lines = source.splitlines()
    cuts: list[tuple[int, int, int, int]] = []  # (first line, first column, last line, end column), 1-based lines
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            cuts.append((*tok.start, *tok.end))

    def column(line: int, byte_offset: int) -> int:  # ast columns count UTF-8 bytes, str slicing counts characters
        return len(lines[line - 1].encode()[:byte_offset].decode())

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            end_line, end_col = node.end_lineno or node.lineno, node.end_col_offset or 0
            cuts.append((node.lineno, column(node.lineno, node.col_offset), end_line, column(end_line, end_col)))
    for first, start, last, end in sorted(cuts, reverse=True):  # from the end, so earlier positions stay valid
        lines[first - 1:last] = [lines[first - 1][:start] + lines[last - 1][end:]]
    return "\n".join(line.rstrip() for line in lines if line.strip())


@dataclass
class LMArgs:
    path: str = "embedded"
    """Model whose hidden states are features: 'embedded', a local HF folder, or a training run folder."""
    layer: int = 16
    """Hidden-state layer (of 30 in SmolLM2-135M); the layers above it are never run."""
    max_tokens: int = 512
    """Tokens per chunk."""
    max_chunks: int = 2
    """Chunks read per report (the first ones); the share of characters read is logged and saved."""
    batch_size: int = 1
    """Chunks per forward pass (1 was fastest on 2 CPU cores: no padding)."""
    dtype: Literal["auto", "bf16", "fp32"] = "auto"
    """auto: bf16 on CPUs/GPUs that run it fast, fp32 when the model carries adapters (bf16 would round away
    small LoRA updates, see model/load.py)."""
    threads: int = 0
    """torch threads (0 = torch's default)."""
    cache_dir: str | None = None
    """Where per-note feature vectors are kept (default: <out>/lm_cache). Point several runs at one folder to
    compute each report's features once; entries are keyed by model, layer, chunking, note id and text."""

    def validate(self) -> list[str]:
        p = [q for name in ("layer", "max_tokens", "max_chunks", "batch_size")
             for q in at_least(f"lm.{name}", getattr(self, name), 1)]
        return p + at_least("lm.threads (0 = default)", self.threads, 0)


@dataclass
class ClassifyConfig:
    train: str = "tcga_path_reports/train.jsonl"
    """Training notes (Note JSONL or raw TCGA JSONL); a relative path not found is looked up in the data root."""
    dev: str = "tcga_path_reports/dev.jsonl"
    """Dev notes: temperature calibration and every choice; they fit the heads only with ``refit``."""
    predict: list[str] = field(default_factory=lambda: ["tcga_path_reports/test.jsonl"])
    """Files to label; each writes out/<file stem>.jsonl."""
    hard: bool = True
    """Also label a TNM-masked copy of each predicted file (out/<stem>_hard.jsonl): inference beyond copying."""
    out: str = "out/classify/tcga"
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    features: list[str] = field(default_factory=lambda: ["lexical", "measures", "reached"])
    """Inferred-path features: lexical (word+char TF-IDF), measures (size, nodes), extent (AJCC extension terms,
    needs measures), extent_rule (the T category the deepest stated extension term implies for the predicted cancer
    type, AJCC 7th, :func:`cancerllm.classify.measures.rule_extent_t`; needs measures), reached (the extension terms
    the tumour is said to reach, :func:`cancerllm.classify.measures.reached_vector`, one 0/1 column each for the stacked
    heads; needs measures), lm (hidden states)."""
    lm_labels: list[str] = field(default_factory=lambda: list(LABELS))
    """Labels whose linear head gets the LM block when ``lm`` is among the features (all by default). On TCGA dev a
    larger model's block raised T but lowered N, hence per label."""
    evidence: bool = True
    """Read stated T/N/M classes from the text first (False = heads only, an ablation)."""
    metastasis: bool = True
    """M1 from a documented distant metastasis ("Omentum, biopsy: metastatic cholangiocarcinoma"), with its span,
    when no M class is stated (:mod:`cancerllm.knowledge.metastasis`; needs ``evidence`` and the cancer type)."""
    stage_group: bool = True
    """M1 from a stated overall stage group that means M1 for the predicted cancer type ("stage IV breast
    carcinoma"; for the head and neck only IVC), with its span, when no M class is stated and no distant metastasis
    is read (:mod:`cancerllm.knowledge.stage_group`; needs ``evidence`` and the cancer type). On TCGA train+dev it
    fires in 8 of 1,648 reports with M (written and masked), all registry M1; out of fold the heads had 1 of the 16."""
    type_terms: bool = True
    """Stack the cancer-type head over its TF-IDF probabilities plus the diagnosis terms of
    :mod:`cancerllm.knowledge.cancer_types` (False = TF-IDF head alone, an ablation)."""
    type_c: float = 1.0
    """Inverse L2 strength of the stacked cancer-type head (1 of 0.3/1/3 on 5-fold TCGA train+dev)."""
    type_floor: float = 0.01
    """Floor of the TF-IDF type probabilities the stacked type head reads as logs. With few training reports a type
    is missing from some out-of-fold training folds and gets probability 0 there; unfloored (1e-9, the earlier
    behaviour) its log is -21 and the stack learns from those rows a relation the full model never shows, so with
    150-300 training reports most of dev went to one type."""
    definitions: bool = True
    """T read from the category's definition written beside a stage code not read as a stated class ("[TNM]: Tumor
    greater than 7 cm in greatest dimension" on the masked copy, a bare "T2 - Tumor more than 2 cm ..."), with its
    span, when no T class is stated (:mod:`cancerllm.classify.definitions`; needs ``evidence`` and the cancer type).
    On TCGA train+dev with the codes masked it fires in 221 of 2,325 reports and equals the registry T in 211; out of
    fold the heads had 189 of them."""
    organs: bool = True
    """T4 read from an organ the report says the tumour invades (the bladder's prostatic stroma, uterus, vagina, pelvic
    or abdominal wall), with its span, when no T class is stated and no definition is read
    (:mod:`cancerllm.classify.organs`; needs ``evidence`` and the cancer type). On TCGA train+dev with the codes
    masked it fires in 8 reports, right in 7; out of fold the heads had 1 of them right."""
    staged_m0: bool = True
    """M0, not the M head's arg-max, for a report that states pT or pN but no pM and documents no distant metastasis
    (the record keeps the head's distribution and names the rule). Chosen on 5-fold CV over TCGA train+dev (1,648
    reports with M, 104 M1): M macro-F1 0.708 with the head's arg-max, 0.733 with this rule; the head still decides
    reports that stage nothing (hard split 0.647 either way). A staged report's silence on M is the registry's cM0."""
    conjoin: list[str] = field(default_factory=list)
    """Stage labels (``t_stage``, ``n_stage``, ``m_stage``) whose linear head also gets every one of its features
    (TF-IDF, and the LM block when used) conjoined with the predicted cancer type
    (:func:`cancerllm.classify.features.conjoined`): a word can then mean T4 in one organ and nothing in another
    ("serosa" in the stomach, "skin" in the breast) on top of its shared weight. Off: on 5-fold CV over TCGA
    train+dev it lowered hard T 0.624 -> 0.617 (T only) and every axis with all three."""
    ordinal: list[str] = field(default_factory=lambda: ["t_stage", "n_stage"])
    """Ordinal stage labels (``t_stage``, ``n_stage``) whose stacked head also gets the linear head's cumulative
    probabilities P(T > T1), P(T > T2), P(T > T3) as columns: one tree split can then separate "T3 or worse" from the
    rest, which over the per-class columns takes several. Kept on 5-fold CV over TCGA train+dev (no extra fit): every
    stage axis moved by 0 to +0.006 macro-F1 (hard T 0.625 -> 0.628, hard N 0.640 -> 0.646); [] = without."""
    invasion: list[str] = field(default_factory=lambda: ["t_stage"])
    """Stage labels whose linear head also gets a word 1-3-gram TF-IDF over the report's invasion sentences only
    (:class:`cancerllm.classify.features.Invasion`: "tumor invades the visceral pleura", "no extraprostatic
    extension"), the words AJCC T categories are defined by, without the rest of the report diluting them. Kept for
    T on 5-fold CV over TCGA train+dev: hard T 0.628 -> 0.648, T 0.823 -> 0.824; given to every stage head it also
    moved N 0.857 -> 0.846 and M 0.733 -> 0.737, so N and M go without (each head is fitted alone)."""
    terms: list[str] = field(default_factory=lambda: ["t_stage", "n_stage"])
    """Stage labels whose stacked head also gets the presence (0/1) of the ``terms_k`` word 1-3-grams most associated
    with the label in the training reports (chi-squared; :class:`cancerllm.classify.features.Terms`), read from the
    invasion sentences for a label listed in ``invasion`` and from the whole report otherwise: the trees can then
    combine a word with the cancer type and the size, which the linear head's one weighted sum cannot. Kept for T and
    N on 5-fold CV over TCGA train+dev, with the ``reached`` columns (2026-12-01): hard T 0.662 -> 0.678, hard N
    0.654 -> 0.681, T 0.828 -> 0.830, N 0.853 -> 0.864, M 0.733 -> 0.738; [] = without."""
    terms_k: int = 100
    """N-grams kept per label for ``terms``."""
    knn: list[str] = field(default_factory=list)
    """Stage labels whose stacked head also gets the similarity-weighted label votes of the ``knn_k`` most similar
    training reports (cosine over the linear head's TF-IDF features; out of fold for the training rows), the
    "nearest labelled report" prior of retrieval (:func:`cancerllm.classify.heads.knn_votes`)."""
    knn_k: int = 15
    """Neighbours per report for ``knn``."""
    lm: LMArgs = field(default_factory=LMArgs)
    c: float = 10.0
    """Inverse L2 strength of the logistic heads (10 was best of 1/10/100 on TCGA dev)."""
    trees: int = 100
    """Boosting iterations of the stacked T/N/M heads (100 of 60/100/150/200 was best on TCGA dev)."""
    leaves: int = 15
    """Leaves per tree of the stacked heads (15 of 7/15/31 was best on TCGA dev)."""
    bags: int = 1
    """Tree ensembles per stacked head, each seeded differently and drawing half the columns at every split; their
    probabilities are averaged (1 = one ensemble over every column). Averaging lowers the variance a small change of
    the features causes in the trees' labels."""
    folds: int = 5
    """Folds for the out-of-fold probabilities the stacked heads learn from."""
    limit: int | None = None
    """Use a seeded random sample of N training notes (learning curves, smoke runs); null = all."""
    refit: bool = False
    """After the temperatures are fitted on dev, fit the heads again on train + dev and keep those temperatures: the
    labelled dev reports then also teach the heads (for small labelled sets). Off: on 5-fold CV over TCGA train+dev,
    12% fewer training reports per fold left T and hard T unchanged (N -0.008). The held-out calibration of every
    predicted file with gold labels checks the carried-over temperatures."""
    seed: int = 0

    def validate(self) -> list[str]:
        p = []
        bad = [x for x in self.labels if x not in LABELS]
        if bad or not self.labels:
            p.append(f"labels: got {self.labels}, expected a non-empty subset of {list(LABELS)}")
        badf = [x for x in self.features if x not in FEATURES]
        if badf or not self.features:
            p.append(f"features: got {self.features}, expected a non-empty subset of {list(FEATURES)}")
        badc = [x for x in self.conjoin if x not in STAGE_LABELS]
        if badc:
            p.append(f"conjoin: got {self.conjoin}, expected a subset of {list(STAGE_LABELS)}")
        badi = [x for x in self.invasion if x not in STAGE_LABELS]
        if badi:
            p.append(f"invasion: got {self.invasion}, expected a subset of {list(STAGE_LABELS)}")
        badt = [x for x in self.terms if x not in STAGE_LABELS]
        if badt:
            p.append(f"terms: got {self.terms}, expected a subset of {list(STAGE_LABELS)}")
        badl = [x for x in self.lm_labels if x not in LABELS]
        if badl:
            p.append(f"lm_labels: got {self.lm_labels}, expected a subset of {list(LABELS)}")
        badk = [x for x in self.knn if x not in STAGE_LABELS]
        if badk:
            p.append(f"knn: got {self.knn}, expected a subset of {list(STAGE_LABELS)}")
        if self.knn and "lexical" not in self.features:
            p.append("knn: neighbours are found over the `lexical` features; list `lexical` in features")
        bado = [x for x in self.ordinal if x not in ("t_stage", "n_stage")]
        if bado:
            p.append(f"ordinal: got {self.ordinal}, expected a subset of ['t_stage', 'n_stage']")
        if self.conjoin and "lexical" not in self.features:
            p.append("conjoin: conjoins the `lexical` features with the cancer type; list `lexical` in features")
        for f in ("extent", "extent_rule", "reached"):
            if f in self.features and "measures" not in self.features:
                p.append(f"features: `{f}` extends the `measures` block; list both")
        p += [f"{name}: got {v}, expected > 0" for name, v in (("c", self.c), ("type_c", self.type_c)) if v <= 0]
        if not 0 < self.type_floor < 1:
            p.append(f"type_floor: got {self.type_floor}, expected a probability in (0, 1)")
        p += at_least("trees", self.trees, 1) + at_least("leaves", self.leaves, 2) + at_least("folds", self.folds, 2)
        p += at_least("bags", self.bags, 1) + at_least("terms_k", self.terms_k, 1)
        p += at_least("limit (training notes)", self.limit, 10, optional=True)
        return p + self.lm.validate()


def _resolve(path: str) -> Path:
    from cancerllm.data.paths import data_root

    p = Path(path)
    if p.exists():
        return p
    try:
        q = data_root() / path
    except ResourceError:  # no data root at all: report the path as given
        q = p
    if not q.exists():
        raise ConfigError(f"classify: file {path!r} not found (looked here and under the data root; set "
                          f"$CANCERLLM_DATA or give a path)")
    return q


def _read(path: Path) -> list[Any]:
    from cancerllm.data.io import read_notes_reporting

    return read_notes_reporting(path, "classify")


class Model:
    """Everything fitted: lexical vectoriser, heads, temperatures; ``predict`` labels raw texts."""

    def __init__(self, cfg: ClassifyConfig):
        self.cfg = cfg
        self.lexical: Any = None
        self.type_head: Any = None
        self.lex_heads: dict[str, Any] = {}  # per stage label: linear head on lexical (+lm) features
        self.stack_heads: dict[str, Any] = {}
        self.type_stack: Any = None  # cancer type over [log TF-IDF probabilities, diagnosis terms]
        self.type_floor = cfg.type_floor  # fixed at fit: a model saved before the option keeps 1e-9 (see below)
        self.lm: Any = None  # LMFeatures, attached at run time (not pickled)
        self.knn_index: dict[str, Any] = {}  # per label with `knn`: (training TF-IDF rows, their labels)
        self.terms: dict[str, Any] = {}  # per label with `terms`: its fitted Terms
        self.reader: str | None = None  # reader_fingerprint() at fit time

    # -- features -----------------------------------------------------------------------------------------
    def _base(self, ids: list[str], texts: list[str]) -> tuple[Any, Any, Any, np.ndarray]:
        """Matrices for the linear heads (cancer type; T/N/M: the words, and the LM block or None, which
        :meth:`_stage_matrices` gives to the stage labels in ``lm_labels``) and the dense measurement block.

        The cancer-type matrix adds the report-opening block (:class:`Lexical`); on TCGA dev that block lifted
        type macro-recall 0.923 -> 0.956 but lowered N macro-F1 (0.900 -> 0.859), so the stage heads go without.
        """
        from scipy.sparse import csr_matrix, hstack

        from cancerllm.classify.features import measure_matrix

        type_blocks, stage_blocks, lm = [], [], None
        if "lexical" in self.cfg.features:
            body = self.lexical.transform(texts, opening=False)
            type_blocks += [body, self.lexical.transform_opening(texts)]
            stage_blocks.append(body)
        if "lm" in self.cfg.features:
            emb = self.lm.transform(ids, texts)
            lm = csr_matrix((emb - self.lm_mean) / self.lm_std * self.lm_weight)
            if "cancer_type" in getattr(self.cfg, "lm_labels", LABELS):  # models saved before it: every head
                type_blocks.append(lm)
        meas = measure_matrix(texts) if "measures" in self.cfg.features else np.zeros((len(texts), 0))
        # After the measures, in this order (_stack reads the columns by position): the extent flags, the terms reached
        # (read by the extension rule, and given as columns with `reached`).
        if "extent" in self.cfg.features:
            from cancerllm.classify.measures import extent_vector

            ext = np.array([extent_vector(t) for t in texts], dtype=np.float32).reshape(len(texts), -1)
            meas = np.hstack([meas, ext])
        if "extent_rule" in self.cfg.features or "reached" in self.cfg.features:
            from cancerllm.classify.measures import reached_vector

            reach = np.array([reached_vector(t) for t in texts], dtype=np.float32).reshape(len(texts), -1)
            meas = np.hstack([meas, reach])
        words = hstack(stage_blocks).tocsr() if stage_blocks else csr_matrix((len(texts), 0))
        return hstack(type_blocks).tocsr(), words, lm, meas

    def _stack(self, lex_p: np.ndarray, type_p: np.ndarray, meas: np.ndarray,
               terms: np.ndarray | None = None) -> np.ndarray:
        """Features of a stacked T/N/M head: the linear head's probabilities, cancer-type probabilities, the
        measurements, the AJCC category the size / node count implies for the most likely cancer type, and the
        label's :class:`~cancerllm.classify.features.Terms` columns when it has them."""
        from cancerllm.classify.measures import EXTENT_NAMES, MEASURE_NAMES, rule_extent_t, rule_n, rule_t

        # measures | extent flags | terms reached (columns with `reached`; read by the rule with `extent_rule`): _base
        features = self.cfg.features
        first = len(MEASURE_NAMES) + (len(EXTENT_NAMES) if "extent" in features else 0)  # where the terms reached start
        cols = meas.shape[1] if "reached" in features else first
        by_rule = "extent_rule" in features
        blocks = [lex_p, type_p, meas[:, :cols]] + ([] if terms is None else [terms])
        if meas.shape[1]:
            types = [self.type_head.classes[j] for j in type_p.argmax(1)]
            size = np.where(meas[:, 1] > 0, np.expm1(meas[:, 0]), np.nan)
            pos = np.where(meas[:, 4] > 0, meas[:, 2], np.nan)
            ext = meas[:, first:]
            rules = [[rule_t(t, None if np.isnan(sz) else float(sz)), rule_n(t, None if np.isnan(ps) else int(ps))]
                     + ([rule_extent_t(t, tuple(e))] if by_rule else [])
                     for t, sz, ps, e in zip(types, size, pos, ext, strict=True)]
            blocks.append(np.array(rules, dtype=np.float32).reshape(len(types), 2 + by_rule))
        return np.hstack(blocks).astype(np.float32)

    def _stage_matrices(self, x: Any, lm: Any, type_p: np.ndarray, texts: list[str]) -> dict[str, Any]:
        """Each stage label's linear-head matrix: the words ``x`` (beside the LM block ``lm`` for the labels in
        ``lm_labels``), conjoined with the most likely cancer type for the labels in ``conjoin`` (each variant built
        once, shared), and beside the invasion-sentence block for the labels in ``invasion``."""
        from scipy.sparse import hstack

        from cancerllm.classify.features import conjoined

        conjoin = getattr(self.cfg, "conjoin", ())  # models saved before these options existed have neither
        invasion = getattr(self.cfg, "invasion", ())
        lm_labels = getattr(self.cfg, "lm_labels", LABELS)
        inv = self.invasion.transform(texts) if invasion else None
        bases: dict[tuple[bool, bool], Any] = {}
        out = {}
        for label in STAGE_LABELS:
            key = (lm is not None and label in lm_labels, label in conjoin)
            if key not in bases:
                m = hstack([x, lm]).tocsr() if key[0] else x
                bases[key] = conjoined(m, type_p.argmax(1)) if key[1] else m
            out[label] = hstack([bases[key], inv]).tocsr() if label in invasion else bases[key]
        return out

    # -- fit ----------------------------------------------------------------------------------------------
    def fit(self, ids: list[str], texts: list[str], gold: list[dict[str, str | None]]) -> None:
        from cancerllm.classify.features import Lexical
        from cancerllm.classify.heads import fit_linear, fit_stacked, out_of_fold

        self.reader = reader_fingerprint()
        if "lexical" in self.cfg.features:
            self.lexical = Lexical().fit(texts)
        if getattr(self.cfg, "invasion", ()):
            from cancerllm.classify.features import Invasion

            self.invasion = Invasion().fit(texts)
        if "lm" in self.cfg.features:
            emb = self.lm.transform(ids, texts)
            self.lm_mean, self.lm_std = emb.mean(0), emb.std(0) + 1e-6
            # Scale the dense LM block to the typical norm of a TF-IDF row (1 per vectoriser).
            self.lm_weight = 1.0 / np.sqrt(emb.shape[1])
        xt, x, lm, meas = self._base(ids, texts)
        n = len(texts)
        type_rows = [i for i in range(n) if gold[i].get("cancer_type")]
        type_y = [gold[i]["cancer_type"] for i in type_rows]
        self.type_head = fit_linear(xt[type_rows], type_y, c=self.cfg.c, seed=self.cfg.seed)
        # Out-of-fold type probabilities for every training note (notes without a type get the full model's).
        type_p = self.type_head.raw_proba(xt)
        type_p[type_rows] = out_of_fold(xt[type_rows], type_y, c=self.cfg.c, folds=self.cfg.folds,
                                        seed=self.cfg.seed)
        if self.cfg.type_terms:
            # Learned on out-of-fold probabilities, so the stack sees how reliable the TF-IDF head is on unseen
            # reports; "chromophobe" in the opening then outweighs a KIRC-leaning bag of words.
            self.type_stack = fit_linear(_type_stack_features(type_p[type_rows], [texts[i] for i in type_rows],
                                                              self.type_floor),
                                         type_y, c=self.cfg.type_c, seed=self.cfg.seed)
        stage_x = self._stage_matrices(x, lm, type_p, texts)
        for label in (lab for lab in self.cfg.labels if lab in STAGE_LABELS):
            rows = [i for i in range(n) if gold[i].get(label)]
            y = [gold[i][label] for i in rows]
            if len(set(y)) < 2:
                raise ConfigError(f"classify: label {label} has {len(set(y))} class(es) in the training notes; "
                                  f"need at least 2 (drop it from `labels`)")
            self.lex_heads[label] = fit_linear(stage_x[label][rows], y, c=self.cfg.c, seed=self.cfg.seed)
            oof = out_of_fold(stage_x[label][rows], y, c=self.cfg.c, folds=self.cfg.folds, seed=self.cfg.seed)
            oof = self._with_ordinal(label, oof)
            if label in getattr(self.cfg, "knn", ()):
                from cancerllm.classify.heads import knn_votes_out_of_fold

                self.knn_index[label] = (x[rows], y)
                oof = np.hstack([oof, knn_votes_out_of_fold(x[rows], y, self.cfg.knn_k, self.cfg.folds,
                                                            self.cfg.seed)])
            terms = None
            if label in getattr(self.cfg, "terms", ()):
                from cancerllm.classify.features import Terms

                sources = self._term_sources(label, [texts[i] for i in rows])
                self.terms[label] = Terms(k=self.cfg.terms_k).fit(sources, y)
                terms = self.terms[label].transform(sources)
            self.stack_heads[label] = fit_stacked(self._stack(oof, type_p[rows], meas[rows], terms), y,
                                                  seed=self.cfg.seed, max_iter=self.cfg.trees,
                                                  max_leaf_nodes=self.cfg.leaves, bags=getattr(self.cfg, "bags", 1))

    def _term_sources(self, label: str, texts: list[str]) -> list[str]:
        """What ``label``'s :class:`~cancerllm.classify.features.Terms` read: the invasion sentences for a label with
        the invasion block (T: where the words that decide it are), the whole report otherwise (N: the node counts
        and stations are spread over it)."""
        if label in getattr(self.cfg, "invasion", ()):
            from cancerllm.classify.features import invasion_sentences

            return [invasion_sentences(t) for t in texts]
        return texts

    def _with_ordinal(self, label: str, lex_p: np.ndarray) -> np.ndarray:
        """``lex_p`` (the linear head's class probabilities, classes sorted: T1 < T2 ...), plus P(class > k) for each
        split k when ``label`` is listed in ``ordinal``."""
        if label not in getattr(self.cfg, "ordinal", ()):  # a model saved before `ordinal` existed has none
            return lex_p
        return np.hstack([lex_p, 1.0 - np.cumsum(lex_p, axis=1)[:, :-1]])

    # -- predict ------------------------------------------------------------------------------------------
    def distributions(self, ids: list[str], texts: list[str]) -> dict[str, tuple[list[str], np.ndarray]]:
        """Calibrated class distributions of every head for masked texts: {label: (classes, (n, k) probs)}."""
        xt, x, lm, meas = self._base(ids, texts)
        out = {}
        type_p = self.type_head.raw_proba(xt)
        if "cancer_type" in self.cfg.labels:
            if self.type_stack is not None:
                out["cancer_type"] = (self.type_stack.classes,
                                      self.type_stack.proba(_type_stack_features(type_p, texts,
                                                                                       getattr(self, "type_floor", 1e-9))))
            else:
                out["cancer_type"] = (self.type_head.classes, self.type_head.proba(xt))
        stage_x = self._stage_matrices(x, lm, type_p, texts)
        for label, head in self.stack_heads.items():
            lex_p = self._with_ordinal(label, self.lex_heads[label].raw_proba(stage_x[label]))
            if label in getattr(self, "knn_index", {}):
                from cancerllm.classify.heads import knn_votes

                lex_p = np.hstack([lex_p, knn_votes(x, *self.knn_index[label], self.cfg.knn_k)])
            terms = getattr(self, "terms", {}).get(label)  # models saved before `terms` existed have none
            terms = None if terms is None else terms.transform(self._term_sources(label, texts))
            out[label] = (head.classes, head.proba(self._stack(lex_p, type_p, meas, terms)))
        return out

    def heads(self) -> dict[str, Any]:
        return {"cancer_type": self.type_stack or self.type_head, **self.stack_heads}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["lm"] = None  # the LM is reloaded from cfg.lm, never pickled
        return state


def _type_stack_features(type_p: np.ndarray, texts: list[str], floor: float) -> np.ndarray:
    """Log TF-IDF type probabilities (floored at ``floor``) beside the diagnosis-term presence (whole report,
    opening)."""
    from cancerllm.knowledge.cancer_types import term_vector

    terms = np.array([term_vector(t) for t in texts], dtype=np.float64).reshape(len(texts), -1)
    return np.hstack([np.log(np.clip(type_p, floor, 1.0)), terms])


def _label_records(model: Model, notes: list[Any], texts: list[str], masked: list[str]) -> list[Any]:
    """Prediction records for ``texts`` (the notes' texts, possibly masked): evidence first, else inferred from
    ``masked`` (the same texts with TNM strings masked: what the heads were trained on)."""
    from cancerllm.classify.measures import find_measures
    from cancerllm.data.schema import Mention, Prediction
    from cancerllm.knowledge.values import evidence_source, staged_without_pm, stated_labels

    ids = [n.id for n in notes]
    dists = model.distributions(ids, masked)
    out = []
    for i, (note, text) in enumerate(zip(notes, texts, strict=True)):
        labels: dict[str, str | None] = {}
        sources: dict[str, dict[str, Any]] = {}
        mentions = []
        stated = stated_labels(text) if model.cfg.evidence else {}
        meas = find_measures(text)
        support = []
        if meas.size_span:
            support.append({"what": "tumour size", "start": meas.size_span[0], "end": meas.size_span[1],
                            "text": text[meas.size_span[0]:meas.size_span[1]]})
        for s, e in meas.node_spans:
            support.append({"what": "lymph nodes", "start": s, "end": e, "text": text[s:e]})
        if {"extent_rule", "reached"} & set(model.cfg.features):  # the heads read them: the record shows where
            from cancerllm.classify.measures import reached_terms

            for name, (s, e) in reached_terms(text).items():  # the record's own text: its spans index the note
                support.append({"what": f"extension: {name.replace('_', ' ')}", "start": s, "end": e,
                                "text": text[s:e]})
        cancer_type = _predicted_type(dists, i)  # what the named evidence rules read their tables with
        for label in model.cfg.labels:
            if label == "m_stage" and label not in stated and (met := _metastasis_source(model, cancer_type, text)
                                                                or _stage_group_source(model, cancer_type, text)):
                labels[label], sources[label] = "M1", met
                continue
            if label == "t_stage" and label not in stated and (read := _definition_source(model, cancer_type, text)
                                                                or _organ_source(model, cancer_type, text)):
                labels[label], sources[label] = read
                continue
            if label in stated:
                m = stated[label]
                labels[label] = m.cls
                sources[label] = evidence_source(text, m)
                mentions.append(Mention(type=m.type, text=text[m.start:m.end], start=m.start, end=m.end,
                                        value=m.value))
                continue
            classes, p = dists[label]
            j = int(p[i].argmax())
            rule = None
            if label == "m_stage" and model.cfg.staged_m0 and "M0" in classes and staged_without_pm(stated):
                # The report stages the tumour (pT/pN) but assigns no pM and documents no distant metastasis: M0.
                j, rule = classes.index("M0"), "staged report without pM or a distant metastasis: M0"
            labels[label] = classes[j]
            sources[label] = {"source": "inferred", "probability": round(float(p[i, j]), 4),
                              "distribution": {c: round(float(v), 4) for c, v in zip(classes, p[i], strict=True)},
                              "support": support if label in STAGE_LABELS else _type_support(text)}
            if rule:
                sources[label]["rule"] = rule
        out.append(Prediction(id=note.id, task="phenotype", labels=labels, mentions=mentions,
                              meta={"classifier": "cancerllm.classify.v1", "label_sources": sources}))
    return out


def _predicted_type(dists: dict[str, Any], i: int) -> str | None:
    """Report ``i``'s most likely cancer type (None when the model does not label cancer types)."""
    if "cancer_type" not in dists:
        return None
    classes, p = dists["cancer_type"]
    return classes[int(p[i].argmax())]


def _metastasis_source(model: Model, cancer_type: str | None, text: str) -> dict[str, Any] | None:
    """The evidence entry of M1 when the report documents a distant metastasis for its predicted ``cancer_type``.

    Pathologic M1 is microscopic proof of tumour in a distant organ, so the report's own "Omentum, biopsy:
    metastatic ..." is the evidence; on TCGA train+dev the phrase finder is right in 17 of the 19 reports it fires on.
    """
    from cancerllm.knowledge.metastasis import find_distant_metastases

    if not (model.cfg.evidence and model.cfg.metastasis and cancer_type):
        return None
    hits = find_distant_metastases(text, cancer_type)
    if not hits:
        return None
    h = hits[0]
    return {"source": "evidence", "start": h.start, "end": h.end, "text": text[h.start:h.end],
            "rule": f"distant metastasis ({h.organ})"}


def _stage_group_source(model: Model, cancer_type: str | None, text: str) -> dict[str, Any] | None:
    """The evidence entry of M1 when the report states a stage group that means M1 for its predicted
    ``cancer_type`` (:mod:`cancerllm.knowledge.stage_group`)."""
    from cancerllm.knowledge.stage_group import stage_group_m1

    if not (model.cfg.evidence and model.cfg.stage_group and cancer_type):
        return None
    if not (h := stage_group_m1(text, cancer_type)):
        return None
    return {"source": "evidence", "start": h.start, "end": h.end, "text": text[h.start:h.end],
            "rule": f"AJCC stage {h.group} means M1 ({cancer_type})"}


def _definition_source(model: Model, cancer_type: str | None, text: str) -> tuple[str, dict[str, Any]] | None:
    """T and its evidence entry when the report writes the category's definition beside a stage code it cannot
    read, for its predicted ``cancer_type`` (:mod:`cancerllm.classify.definitions`)."""
    from cancerllm.classify.definitions import definition_t, find_definitions

    if not (model.cfg.evidence and model.cfg.definitions and cancer_type):
        return None
    for d in find_definitions(text):
        if t := definition_t(cancer_type, d.text):
            return f"T{t}", {"source": "evidence", "start": d.start, "end": d.end, "text": d.text,
                             "rule": f"AJCC definition beside the stage code (T{t} for {cancer_type})"}
    return None


def _organ_source(model: Model, cancer_type: str | None, text: str) -> tuple[str, dict[str, Any]] | None:
    """T4 and its evidence entry when the report says the tumour invades an organ that defines T4 for its predicted
    ``cancer_type`` (:mod:`cancerllm.classify.organs`)."""
    from cancerllm.classify.organs import organ_t4

    if not (model.cfg.evidence and model.cfg.organs and cancer_type) or not (hit := organ_t4(cancer_type, text)):
        return None
    return "T4", {"source": "evidence", "start": hit.start, "end": hit.end, "text": hit.text,
                  "rule": f"AJCC T4: invades the {hit.organ} ({cancer_type})"}


def _type_support(text: str) -> list[dict[str, Any]]:
    """The diagnosis terms a cancer-type label could lean on, with their spans (``text[start:end]``)."""
    from cancerllm.knowledge.cancer_types import find_type_terms

    return [{"what": f"diagnosis term ({h.project})", "start": h.start, "end": h.end, "text": h.text}
            for h in find_type_terms(text)]


def predict_notes(model: Model, notes: list[Any], hard: bool = False) -> list[Any]:
    """Label ``notes`` (their TNM strings masked first when ``hard``)."""
    from cancerllm.knowledge.tnm import mask_tnm

    masked = [mask_tnm(n.text)[0] for n in notes]
    return _label_records(model, notes, masked if hard else [n.text for n in notes], masked)


def _calibrate(model: Model, dev: list[Any], out: Path) -> dict[str, Any]:
    """Fit one temperature per head on dev (masked text: the inferred path's input) and report ECE."""
    from cancerllm.classify.heads import _temper, expected_calibration_error, fit_temperature, reliability_bins
    from cancerllm.evaluate.scorer import gold_labels
    from cancerllm.knowledge.tnm import mask_tnm

    gold = [gold_labels(n) for n in dev]
    heads = model.heads()
    for head in heads.values():
        head.temperature = 1.0  # raw probabilities first
    dists = model.distributions([n.id for n in dev], [mask_tnm(n.text)[0] for n in dev])
    report: dict[str, Any] = {}
    for label, (classes, p) in dists.items():
        rows = [i for i, g in enumerate(gold) if g.get(label) in classes]
        if len(rows) < 10:
            report[label] = {"n": len(rows), "temperature": 1.0, "note": "too few dev items to calibrate"}
            continue
        y = np.array([classes.index(gold[i][label]) for i in rows])
        p_raw = p[rows]
        heads[label].temperature = t = fit_temperature(p_raw, y)
        p_cal = _temper(p_raw, t)
        report[label] = {"n": len(rows), "temperature": t,
                         "ece_before": expected_calibration_error(p_raw, y),
                         "ece_after": expected_calibration_error(p_cal, y),
                         "accuracy": float((p_cal.argmax(1) == y).mean()),
                         "bins": reliability_bins(p_cal, y)}
    _plot_reliability(report, out / "reliability.png")
    return report


def _refit_with_dev(cfg: ClassifyConfig, model: Model, notes: list[Any], masked: list[str]) -> Model:
    """A model fitted on ``notes`` (train + dev) carrying ``model``'s dev-fitted temperatures (``refit``)."""
    from cancerllm.evaluate.scorer import gold_labels

    refitted = Model(cfg)
    refitted.lm = model.lm
    refitted.fit([n.id for n in notes], masked, [gold_labels(n) for n in notes])
    fitted = refitted.heads()
    for label, head in model.heads().items():
        fitted[label].temperature = head.temperature
    return refitted


def held_out_calibration(records: list[Any], notes: list[Any]) -> dict[str, Any]:
    """ECE and reliability bins of the *inferred* labels of ``records`` against the notes' gold labels.

    This is the honest check: the temperatures were fitted on dev, these notes were not seen. Evidence labels are
    left out (they carry a span, not a probability); notes without a gold label are skipped.
    """
    from cancerllm.classify.heads import expected_calibration_error, reliability_bins
    from cancerllm.evaluate.scorer import gold_labels

    gold = {n.id: gold_labels(n) for n in notes}
    report: dict[str, Any] = {}
    for label in LABELS:
        rows, y = [], []
        classes: list[str] | None = None
        for r in records:
            src = r.meta.get("label_sources", {}).get(label)
            g = gold.get(r.id, {}).get(label)
            if not src or src["source"] != "inferred" or g is None:
                continue
            classes = classes or list(src["distribution"])
            if g not in classes:
                continue  # a gold class the head never saw in training: counted in accuracy, not in ECE
            rows.append([src["distribution"][c] for c in classes])
            y.append(classes.index(g))
        if len(rows) >= 10:
            p, yi = np.array(rows), np.array(y)
            report[label] = {"n": len(rows), "ece_after": expected_calibration_error(p, yi),
                             "accuracy": float((p.argmax(1) == yi).mean()), "bins": reliability_bins(p, yi)}
    return report


def _plot_reliability(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [k for k, v in report.items() if v.get("bins")]
    if not labels:
        return
    fig, axes = plt.subplots(1, len(labels), figsize=(3.2 * len(labels), 3.2), squeeze=False)
    for ax, label in zip(axes[0], labels, strict=True):
        bins = report[label]["bins"]
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-")
        ax.set_title(f"{label}\nECE {report[label]['ece_after']:.3f} (n={report[label]['n']})", fontsize=9)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


_LM_IDENTITY = ("adapter", "device", "dtype", "dtype_reason", "n_params", "path")


def lm_fingerprint(path: str, info: dict[str, Any]) -> str:
    """What the LM feature cache is keyed by: the model's identity in ``load_model``'s info, nothing else.

    Why a fixed key set: info also says *how* the model was loaded (e.g. ``merged_cache``, the cached fp32-merged
    copy or an in-memory merge of the same adapters); such keys must not turn every cached feature into a miss.

    >>> a = lm_fingerprint("embedded", {"device": "cpu", "dtype": "bfloat16", "merged_cache": None})
    >>> a == lm_fingerprint("embedded", {"device": "cpu", "dtype": "bfloat16", "merged_cache": "/cache/merged/x"})
    True
    >>> a == lm_fingerprint("embedded", {"device": "cpu", "dtype": "float32", "merged_cache": None})
    False
    """
    return json.dumps({"path": str(path), "info": {k: str(info[k]) for k in _LM_IDENTITY if k in info}})


def load_lm(args: LMArgs, cache_dir: Path) -> Any:
    """The LM feature extractor of ``args`` (dtype resolved by :func:`cancerllm.model.load.load_model`)."""
    import torch

    from cancerllm.classify.features import LMFeatures
    from cancerllm.config import ModelArgs
    from cancerllm.model.load import load_model, model_args_for_run

    if args.threads:
        torch.set_num_threads(args.threads)
    margs = ModelArgs(path=args.path, dtype=args.dtype)
    if (Path(args.path) / "config.yaml").exists() and not (Path(args.path) / "config.json").exists():
        margs = model_args_for_run(args.path, margs)  # a training run folder: base + its adapters
    model, tok, info = load_model(margs)
    model.eval()
    return LMFeatures(model, tok, layer=args.layer, max_tokens=args.max_tokens, max_chunks=args.max_chunks,
                      batch_size=args.batch_size, cache_dir=cache_dir, fingerprint=lm_fingerprint(args.path, info))


def run(cfg: ClassifyConfig) -> dict[str, Any]:
    """Fit on ``cfg.train``, calibrate on ``cfg.dev``, label every ``cfg.predict`` file; returns the summary."""
    from threadpoolctl import threadpool_limits

    from cancerllm.runtime import seed_everything

    problems = cfg.validate()
    if problems:
        raise ConfigError(problems)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    t0 = time.perf_counter()
    train_p, dev_p = _resolve(cfg.train), _resolve(cfg.dev)
    pred_p = [_resolve(p) for p in cfg.predict]
    train = _read(train_p)
    if cfg.limit and cfg.limit < len(train):
        # A seeded sample, not the first N: files are sorted by patient id, whose prefix is the tissue source
        # site, so the first N reports cover only a few cancer types.
        import random

        train = random.Random(cfg.seed).sample(train, cfg.limit)
    dev = _read(dev_p)
    predicted = [(p, _read(p)) for p in pred_p]
    save_config(cfg, out)
    from cancerllm.knowledge.tnm import mask_tnm

    # The heads see masked text: they are the path for reports that state no class (see module docstring).
    train_masked = [mask_tnm(n.text)[0] for n in train]

    model = Model(cfg)
    if "lm" in cfg.features:
        model.lm = load_lm(cfg.lm, Path(cfg.lm.cache_dir) if cfg.lm.cache_dir else out / "lm_cache")
        # Fill the per-note cache with torch's own threads first; the heads below read it back.
        model.lm.transform([n.id for n in train], train_masked)
        for notes in (dev, *(notes for _, notes in predicted)):
            model.lm.transform([n.id for n in notes], [mask_tnm(n.text)[0] for n in notes])
    # The heads run on one BLAS/OpenMP thread: with 2 threads the float summation order changes and the same data
    # and seed gave test T macro-F1 0.823 instead of 0.827. One thread makes the labels identical on any machine.
    # threadpoolctl limits only libraries already loaded: load scikit-learn's OpenMP and BLAS users first.
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401

    with threadpool_limits(limits=1):
        return _fit_and_label(cfg, model, train, train_masked, dev, predicted, [train_p, dev_p, *pred_p], out, t0)


def _fit_and_label(cfg: ClassifyConfig, model: Model, train: list[Any], train_masked: list[str], dev: list[Any],
                   predicted: list[tuple[Path, list[Any]]], data_files: list[Path], out: Path,
                   t0: float) -> dict[str, Any]:
    """Phases fit -> calibrate -> label -> report of :func:`run` (thread count already pinned)."""
    import joblib

    from cancerllm.data.io import write_jsonl
    from cancerllm.evaluate.scorer import gold_labels
    from cancerllm.knowledge.tnm import mask_tnm
    from cancerllm.runtime import write_run_meta

    timings: dict[str, float] = {}
    t = time.perf_counter()
    model.fit([n.id for n in train], train_masked, [gold_labels(n) for n in train])
    timings["fit_s"] = time.perf_counter() - t
    t = time.perf_counter()
    calibration = _calibrate(model, dev, out)
    timings["calibrate_s"] = time.perf_counter() - t
    if cfg.refit:
        t = time.perf_counter()
        model = _refit_with_dev(cfg, model, train + dev, train_masked + [mask_tnm(n.text)[0] for n in dev])
        timings["refit_s"] = time.perf_counter() - t
    (out / "calibration.json").write_text(json.dumps(calibration, indent=2), encoding="utf-8")
    joblib.dump(model, out / "model.joblib")

    written = {}
    for path, notes in predicted:
        for hard in ([False, True] if cfg.hard else [False]):
            name = path.stem + ("_hard" if hard else "")
            t = time.perf_counter()
            records = predict_notes(model, notes, hard=hard)
            written[name] = str(write_jsonl(records, out / f"{name}.jsonl"))
            timings[f"predict_{name}_s"] = time.perf_counter() - t
            held = held_out_calibration(records, notes)
            if held:  # the file has gold labels: calibration of the inferred labels on unseen notes
                (out / f"calibration_{name}.json").write_text(json.dumps(held, indent=2), encoding="utf-8")
                _plot_reliability(held, out / f"reliability_{name}.png")
            timings[f"predict_{name}_notes"] = len(notes)
    timings["total_s"] = time.perf_counter() - t0
    if model.lm is not None and model.lm.chars_total:  # 0 when every vector came from the cache
        timings["lm_chars_read_share"] = model.lm.chars_seen / max(model.lm.chars_total, 1)
    (out / "timings.json").write_text(json.dumps(timings, indent=2), encoding="utf-8")
    write_run_meta(out, data_files=data_files, n_train=len(train) + (len(dev) if cfg.refit else 0), n_dev=len(dev))
    log.info("classify: wrote %s in %.0f s", ", ".join(written), timings["total_s"])
    return {"out": str(out), "written": written, "timings": timings,
            "calibration": {k: {kk: v.get(kk) for kk in ("n", "temperature", "ece_before", "ece_after")}
                            for k, v in calibration.items()}}
