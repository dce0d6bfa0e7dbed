"""``cancerllm robustness``: the misspelling and label-noise testbeds, top to bottom.

* **misspelling**: perturb the *test* notes at each rate (registered perturbations, gold spans remapped), predict,
  score against the perturbed gold. Mitigations: ``normalize`` (spelling correction + variant canonicalisation
  before prediction, spans mapped back) and ``augment`` (retrain on clean + perturbed training copies).
* **label-noise** (the paper's "counterfactual" testbed): replace a share of the *training* labels by other valid
  labels, retrain (a short SFT for ``predictor=model``, a TF-IDF classifier for ``predictor=tfidf``), score on the
  clean test set. A noised stage label changes the category a training example *states* ("pT2a" means T3), not the
  text it quotes, so the model's T/N/M labels are scored from its stated category
  (:class:`~cancerllm.robustness.predictors.StatedValuePredictor`); a prompt style that states none (``qa.v1``)
  is refused for stage noise before any training.

Phases: build (config, data, predictor) -> loop over rates (inputs written + hashed, predict, score) -> save
(``scores.json``, ``curve.png``, ``curve.md``, ``config.yaml``, ``meta.json``, ``rate_<r>/``) -> report.
The inputs of every rate are written as JSONL and their SHA-256 recorded: the same seed gives the same bytes.

Example:
    >>> from cancerllm.config import load_config
    >>> cfg = load_config(RobustnessConfig, overrides=["predictor=regex", "rates=0,0.1"])
    >>> cfg.rates, cfg.testbed
    ([0.0, 0.1], 'misspelling')
    >>> load_config(RobustnessConfig, overrides=["predictor=regex", "testbed=label-noise"])
    Traceback (most recent call last):
    ...
    cancerllm.errors.ConfigError: 1 configuration problem(s):
      - predictor: got 'regex' with testbed=label-noise, but the regex baseline does not learn; use --predictor=tfidf or model
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from cancerllm.config import GenerateArgs, ModelArgs, save_config

__all__ = ["RobustnessConfig", "RobustnessResult", "run"]

log = logging.getLogger("cancerllm.robustness")


@dataclass
class RobustnessConfig:
    """``cancerllm robustness`` settings; any field can be set as ``--key=value`` / ``--section.key=value``."""

    testbed: Literal["misspelling", "label-noise"] = "misspelling"
    rates: list[float] = field(default_factory=lambda: [0.0, 0.05, 0.1, 0.2, 0.3])
    """Noise rates: share of words perturbed (misspelling) or of training labels replaced (label-noise)."""
    predictor: Literal["model", "regex", "tfidf"] = "model"
    """model = a tuned run (--run); regex / tfidf = non-LLM reference curves."""
    run: str | None = None
    """Tuned run folder (cancerllm sft). label-noise / augment retrain with its config.yaml as the template."""
    mitigation: Literal["none", "normalize", "augment"] | None = "none"
    """none | normalize | augment. (None means none: the override parser reads the word 'none' as null.)"""
    perturbations: list[str] = field(default_factory=lambda: ["typo.keyboard.v1"])
    """Registered perturbations applied in turn at the same rate (cancerllm ls)."""
    task: Literal["phenotype", "diagnosis"] = "phenotype"
    train: str = "auto"
    """Training notes (lexicon, label noise, augmentation): 'auto' = TCGA train, else synthetic; or a JSONL."""
    test: str = "auto"
    """Test notes: 'auto' = TCGA test, else synthetic; or a JSONL."""
    limit: int | None = None
    """Only the first N test notes (LLM decoding on CPU is slow); logged."""
    seed: int = 0
    noise_fields: list[str] = field(default_factory=lambda: ["t_stage", "n_stage", "m_stage", "cancer_type"])
    """Labels the label-noise testbed corrupts."""
    augment_rates: list[float] = field(default_factory=lambda: [0.1, 0.2])
    augment_copies: int = 1
    """Perturbed copies per training note (augment): training cost grows by 1 + copies."""
    sft_config: str | None = None
    """SFT YAML for retraining (default: --run's config.yaml, else SFT defaults)."""
    sft_overrides: list[str] = field(default_factory=lambda: ["train.max_steps=30"])
    """Overrides of the short SFT at each rate, e.g. train.max_steps=30 (more steps: slower, closer to real)."""
    model: ModelArgs = field(default_factory=ModelArgs)
    generate: GenerateArgs = field(default_factory=GenerateArgs)
    out: str = "out/robustness/default"

    def __post_init__(self) -> None:
        if self.mitigation is None:  # `--mitigation none` arrives as None through parse_overrides
            self.mitigation = "none"

    def validate(self) -> list[str]:
        import cancerllm.robustness.perturb  # noqa: F401  (registers the perturbations)
        from cancerllm.registry import perturbations
        from cancerllm.robustness.label_noise import NOISE_FIELDS

        p = []
        if not self.rates or any(not 0.0 <= r <= 1.0 for r in self.rates):
            p.append(f"rates: got {self.rates}, expected a non-empty list of values in [0, 1]")
        p += [f"perturbations: got {n!r}, expected any of {perturbations.names()}"
              for n in self.perturbations if n not in perturbations]
        p += [f"noise_fields: got {f!r}, expected any of {list(NOISE_FIELDS)}" for f in self.noise_fields
              if f not in NOISE_FIELDS]
        if self.testbed == "label-noise" and self.predictor == "regex":
            p.append("predictor: got 'regex' with testbed=label-noise, but the regex baseline does not learn; "
                     "use --predictor=tfidf or model")
        if self.testbed == "label-noise" and self.mitigation != "none":
            p.append(f"mitigation: got {self.mitigation!r}; the label-noise testbed has none (use --mitigation=none)")
        if self.mitigation == "augment" and self.predictor == "regex":
            p.append("mitigation: augment retrains the predictor, but the regex baseline does not learn; "
                     "use --predictor=tfidf or model")
        needs_run = self.predictor == "model" and self.testbed == "misspelling" and self.mitigation != "augment"
        if needs_run and not self.run:
            p.append("run: predictor=model needs a tuned run folder (--run out/sft/NAME), or use --predictor=regex")
        if self.predictor != "model" and self.task == "diagnosis":
            p.append(f"task: got 'diagnosis' with predictor={self.predictor!r}; only the model writes diagnoses")
        if self.limit is not None and self.limit < 1:
            p.append(f"limit: got {self.limit}, expected >= 1")
        return p


@dataclass
class RobustnessResult:
    out: Path
    scores: dict[str, Any]


def _load(spec: str, split: str, seed: int) -> list[Any]:
    from cancerllm.train.common import load_notes

    return load_notes(spec, split, seed=seed)[0]


def _sft_config(cfg: RobustnessConfig, train_file: Path, out_dir: Path) -> Any:
    """The short SFT's config (template: --sft_config, else --run's config.yaml, with --sft_overrides)."""
    from cancerllm.config import load_config
    from cancerllm.train.sft import SFTConfig

    template = cfg.sft_config or (str(Path(cfg.run) / "config.yaml") if cfg.run and
                                  (Path(cfg.run) / "config.yaml").is_file() else None)
    overrides = [*cfg.sft_overrides, f"data.train={train_file}", "data.dev=null", f"out={out_dir}",
                 f"train.seed={cfg.seed}"]
    sft_cfg = load_config(SFTConfig, template, overrides)
    if cfg.task not in sft_cfg.tasks:
        sft_cfg.tasks = [*sft_cfg.tasks, cfg.task]
    return sft_cfg


def _train_sft(cfg: RobustnessConfig, train_file: Path, out_dir: Path) -> Any:
    """A short SFT on ``train_file``; returns its predictor."""
    from cancerllm.robustness.predictors import load_model_predictor
    from cancerllm.train.sft import run as sft_run

    sft_run(_sft_config(cfg, train_file, out_dir))
    return load_model_predictor(str(out_dir), generate=cfg.generate)


def _scores_stated_values(cfg: RobustnessConfig) -> bool:
    """Whether the label-noise curve must read T/N/M from the model's stated category (issue 11.9).

    Noise on a stage label changes the category a training example states, never the text it quotes, and inference
    reads the category back from the quote: scored that way the curve stays flat at every rate.
    """
    return (cfg.testbed == "label-noise" and cfg.predictor == "model" and cfg.task == "phenotype"
            and any(f != "cancer_type" for f in cfg.noise_fields))


def _check_stated_values(cfg: RobustnessConfig, out: Path) -> None:
    """Refuse, before any training, a prompt style whose answers cannot state a noised stage category."""
    from cancerllm.data.prompts import get_style
    from cancerllm.errors import ConfigError
    from cancerllm.robustness.predictors import states_values

    style = _sft_config(cfg, out / "train_noised.jsonl", out / "sft").prompt_style
    if not states_values(get_style(style)):
        raise ConfigError(f"prompt_style: got {style!r} for the label-noise SFT with stage labels in noise_fields "
                          f"{list(cfg.noise_fields)}, but {style} answers quote the note without stating a category, so "
                          "noised T/N/M labels never reach what the model is taught; set "
                          "sft_overrides=[prompt_style=json.v1,...] or noise_fields=[cancer_type]")


def _predictor(cfg: RobustnessConfig, train: list[Any] | None, out: Path) -> Any:
    """The predictor of the misspelling testbed, mitigation included."""
    from cancerllm.data.io import write_jsonl
    from cancerllm.robustness import predictors as P

    if cfg.mitigation == "augment":
        from cancerllm.robustness.augment import augment_notes

        aug = augment_notes(train, cfg.perturbations, cfg.augment_rates, cfg.augment_copies, cfg.seed)
        if cfg.predictor == "tfidf":
            return P.TfidfPredictor(aug, cfg.seed)
        path = write_jsonl(aug, out / "augment" / "train.jsonl")
        return _train_sft(cfg, path, out / "augment" / "sft")
    base = {"regex": lambda: P.RegexPredictor(), "tfidf": lambda: P.TfidfPredictor(train, cfg.seed),
            "model": lambda: P.load_model_predictor(cfg.run, cfg.model, cfg.generate)}[cfg.predictor]()
    if cfg.mitigation == "normalize":
        from cancerllm.robustness.normalize import Lexicon, Normalizer

        lexicon = Lexicon.from_notes(train)  # training notes only: the test spellings must not leak
        lexicon.save(out / "lexicon.json")
        return P.NormalizedPredictor(base, Normalizer(lexicon))
    return base


def run(cfg: RobustnessConfig) -> RobustnessResult:
    """Run one testbed over ``cfg.rates`` and write the curve (see module docstring)."""
    from cancerllm.data.io import write_jsonl
    from cancerllm.registry import perturbations
    from cancerllm.robustness.curves import score, summarize, write_curve
    from cancerllm.robustness.label_noise import noise_labels
    from cancerllm.runtime import seed_everything, sha256_file, write_run_meta

    # ---- build
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out)
    if _scores_stated_values(cfg):  # before loading data or training anything
        _check_stated_values(cfg, out)
    seed_everything(cfg.seed)
    test = _load(cfg.test, "test", cfg.seed)
    if cfg.limit is not None and len(test) > cfg.limit:
        log.info("--limit %d: scoring %d of %d test notes", cfg.limit, cfg.limit, len(test))
        test = test[:cfg.limit]
    needs_train = cfg.testbed == "label-noise" or cfg.mitigation != "none" or cfg.predictor == "tfidf"
    train = _load(cfg.train, "train", cfg.seed) if needs_train else None
    rates = sorted(set(cfg.rates))
    predictor = _predictor(cfg, train, out) if cfg.testbed == "misspelling" else None

    # ---- loop over rates: write the inputs, hash them, predict, score
    per_rate, hashes = [], {}
    for rate in rates:
        rdir = out / f"rate_{rate:g}"
        extra: dict[str, Any] = {}
        if cfg.testbed == "misspelling":
            notes = test
            for name in cfg.perturbations:  # each perturbation remaps the spans of the previous one's output
                fn = perturbations.get(name)
                notes = [fn(n, rate, cfg.seed) for n in notes]
            gold, inputs = notes, write_jsonl(notes, rdir / "inputs.jsonl")
            rate_predictor = predictor
        else:
            noised, extra["label_noise"] = noise_labels(train, rate, cfg.seed, cfg.noise_fields)
            gold, inputs = test, write_jsonl(noised, rdir / "train_noised.jsonl")
            if cfg.predictor == "tfidf":
                from cancerllm.robustness.predictors import TfidfPredictor

                rate_predictor = TfidfPredictor(noised, cfg.seed)
            else:  # the paper's setting: a (short) SFT on the noised labels, scored on the clean test set
                rate_predictor = _train_sft(cfg, inputs, rdir / "sft")
                if _scores_stated_values(cfg):  # every rate alike, so rate 0 is the same measurement
                    from cancerllm.robustness.predictors import StatedValuePredictor

                    rate_predictor = StatedValuePredictor(rate_predictor)
        hashes[f"{rate:g}"] = sha256_file(inputs)
        preds = rate_predictor.predict(gold, cfg.task)
        write_jsonl(preds, rdir / "predictions.jsonl")
        per_rate.append({"rate": rate, **score(gold, preds, grounded=rate_predictor.grounded), **extra})
        log.info("rate %g: %s", rate, {k: v for k, v in per_rate[-1]["metrics"].items()})

    # ---- save + report
    name = getattr(predictor, "name", cfg.predictor) if predictor is not None else cfg.predictor
    scores = summarize(per_rate, testbed=cfg.testbed, predictor=name, mitigation=cfg.mitigation,
                       perturbations=cfg.perturbations if cfg.testbed == "misspelling" else [],
                       n_test=len(test), seed=cfg.seed, inputs_sha256=hashes)
    (out / "scores.json").write_text(json.dumps(scores, indent=2))
    write_curve(scores, out)
    write_run_meta(out, testbed=cfg.testbed, inputs_sha256=hashes)
    return RobustnessResult(out=out, scores=scores)

