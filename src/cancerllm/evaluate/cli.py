"""``cancerllm evaluate | compare | baseline | hard-split``: thin wrappers over :mod:`cancerllm.evaluate`.

Module level imports only typer and the standard library, so ``cancerllm --help`` stays instant.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cancerllm.cli_utils import handle_errors


@handle_errors
def evaluate_cmd(
    pred: Path | None = typer.Option(None, "--pred", help="Prediction JSONL (Prediction records)."),
    gold: Path | None = typer.Option(None, "--gold", help="Gold Note JSONL (raw TCGA files work too)."),
    run: Path | None = typer.Option(None, "--run", help="An extract/diagnose --out folder: scores its "
                                    "predictions.jsonl against the input file the run recorded (or --gold)."),
    task: str = typer.Option("all", "--task", help="phenotype, diagnosis, all, or trial (Chia criteria: entities, "
                             "relations, normalisation)."),
    out: Path = typer.Option(Path("out/evaluate"), "--out", help="Folder for metrics.json, report.md, report.html."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for 95% CIs (0 = none)."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    norm_sample: Path | None = typer.Option(None, "--norm-sample", help="trial only: hand-checked normalisation "
                                            "sample TSV (tests/assets/chia_drug_normalisation_sample.tsv)."),
) -> None:
    """Score predictions against gold: paper metrics, spans, T/N/M/type/ICD with CIs, and reports with plots."""
    from cancerllm.errors import ConfigError
    from cancerllm.evaluate.run import evaluate, gold_for_run

    if run is not None:
        pred = pred or run / "predictions.jsonl"
        gold = gold or gold_for_run(run)
    if pred is None or gold is None:
        raise ConfigError("evaluate: give --pred and --gold, or --run RUN_DIR (an extract/diagnose --out folder)")
    if task == "trial":
        from cancerllm.evaluate.trial import evaluate_trial

        t = evaluate_trial(pred, gold, out=out, bootstrap=bootstrap, seed=seed, norm_sample=norm_sample)
        for kind in ("entities", "relations"):
            s, r = t[kind]["strict"]["micro"], t[kind]["relaxed"]["micro"]
            typer.echo(f"{kind}: strict F1 {s['f1']:.3f} (P {s['precision']:.3f} R {s['recall']:.3f}), relaxed F1 "
                       f"{r['f1']:.3f}")
        typer.echo(t["normalisation"]["summary"])
        typer.echo(f"wrote {out}/metrics.json, report.md")
        return
    m = evaluate(pred, gold, out=out, task=task, bootstrap=bootstrap, seed=seed)
    for k, r in m["classification"].items():
        if not r.get("not_predicted"):
            typer.echo(f"{k}: acc {r['accuracy']:.3f} macro-F1 {r['macro_f1']:.3f} (n={r['n']})")
    for t, p in m["paper"].items():
        if p.get("n_items"):
            typer.echo(f"paper {t}: average F1 {p['avg_f1']:.2f}")
    for t, r in m.get("relations", {}).get("strict", {}).get("per_type", {}).items():
        typer.echo(f"relation {t}: strict F1 {r['f1']:.3f} (P {r['precision']:.3f} R {r['recall']:.3f}, gold {r['gold']})")
    typer.echo(f"invalid lines {len(m['invalid_predictions'])}, missing {len(m['missing_predictions'])}; "
               f"wrote {out}/metrics.json, report.md, report.html")


@handle_errors
def compare_cmd(
    runs: list[Path] = typer.Argument(..., help="Evaluate folders or prediction files; the first is the reference."),
    gold: Path | None = typer.Option(None, "--gold", help="Gold JSONL, needed for prediction files."),
    out: Path = typer.Option(Path("out/compare"), "--out", help="Folder for compare.json and compare.md."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Paired bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
) -> None:
    """Side-by-side table and paired bootstrap p-values on the items the runs share."""
    from cancerllm.evaluate.compare import compare

    compare(runs, gold=gold, out=out, bootstrap=bootstrap, seed=seed)
    typer.echo((out / "compare.md").read_text(encoding="utf-8"))


@handle_errors
def baseline_cmd(
    name: str = typer.Argument(..., help="regex or tfidf (pathology labels); gazetteer, crf or gold-entities "
                               "(trial criteria: entities, relations, normalisation)."),
    train: Path | None = typer.Option(None, "--train", help="Training Note JSONL (tfidf fit; regex majority fallback)."),
    input: Path = typer.Option(..., "--input", help="Notes to predict (Note JSONL)."),
    out: Path = typer.Option(..., "--out", help="Prediction JSONL to write."),
    fallback: str = typer.Option("majority", "--fallback", help="regex only: majority (train majority class when "
                                 "the note states no value) or none (abstain)."),
) -> None:
    """Non-LLM baselines writing Prediction records (score them with `cancerllm evaluate`)."""
    if name in ("gazetteer", "crf", "gold-entities"):
        from cancerllm.errors import ConfigError
        from cancerllm.evaluate.trial_baselines import run_trial_baseline

        if train is None:
            raise ConfigError(f"baseline {name}: --train is required (trial Note JSONL, e.g. Chia train)")
        typer.echo(f"wrote {run_trial_baseline(name, train, input, out)}")
        return
    from cancerllm.evaluate.baselines import run_baseline

    path = run_baseline(name, train, input, out, fallback=fallback)
    typer.echo(f"wrote {path}")


@handle_errors
def hard_split_cmd(
    input: Path = typer.Option(..., "--input", help="Note JSONL (e.g. the TCGA test split)."),
    out: Path = typer.Option(..., "--out", help="Masked Note JSONL to write."),
) -> None:
    """Mask explicit TNM strings (pT2, pN1a, ypT3, 'T2 N0 M0') deterministically, remapping gold spans."""
    from cancerllm.evaluate.hard import hard_split

    stats = hard_split(input, out)
    typer.echo(json.dumps(stats))


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_cmd)
    app.command("compare")(compare_cmd)
    app.command("baseline")(baseline_cmd)
    app.command("hard-split")(hard_split_cmd)
