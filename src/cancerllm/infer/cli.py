"""``cancerllm extract`` and ``cancerllm diagnose``: grounded phenotypes / ICD-10-CM diagnoses for notes."""

from __future__ import annotations

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors


def _make(task: str):
    def command(
        ctx: typer.Context,
        input: str = typer.Argument(..., help="A .txt note, a folder, or a Note JSONL file."),
        run: str | None = typer.Option(None, "--run", help="Training run folder (cancerllm sft output)."),
        out: str | None = typer.Option(None, "--out", help="Output folder: records are appended as notes finish, "
                                       "and a rerun with the same --out resumes. Default prints JSONL to stdout."),
        config: str | None = typer.Option(None, "--config", help="YAML config (configs/extract/*.yaml)."),
        index: str | None = typer.Option(None, "--index", help="RAG index folder (cancerllm rag index)."),
        retriever: str | None = typer.Option(None, "--retriever", help="Retriever the index must use."),
        k: int | None = typer.Option(None, "--k", help="Retrieved examples per prompt."),
        limit: int | None = typer.Option(None, "--limit", help="Only the first N valid notes (N >= 1)."),
        engine: str | None = typer.Option(None, "--engine", help="hf (transformers, default) or vllm (needs "
                                          "`make vllm`; run .venv-vllm/bin/cancerllm). Same as generate.engine=."),
        method: str | None = typer.Option(None, "--method", help="auto (default: llm with --run, rules without), "
                                          "llm, rules (grounded knowledge extractor, no model), or scoring (T/N/M read where stated, "
                                          "the rest scored by the model, no generation)."),
        labels: str | None = typer.Option(None, "--labels", help="A `cancerllm classify` output folder: adds "
                                          "document labels (evidence span or calibrated probability)."),
        task_name: str = typer.Option(task, "--task", help="extract: phenotype (notes) or trial (eligibility "
                                      "criteria: Chia entities, relations, normalised drugs/genes)."),
    ) -> None:
        import json

        allowed = ("phenotype", "trial") if task == "phenotype" else (task,)
        if task_name not in allowed:
            from cancerllm.errors import ConfigError

            raise ConfigError(f"--task: got {task_name!r}, expected one of {list(allowed)}")
        if task_name == "trial":  # its own recipe: criterion chunks, relations, normalisation (no resume)
            from cancerllm.infer.trial import run_trial

            summary = run_trial(input, run=run, out=out, limit=limit, overrides=list(ctx.args),
                                method=method or "auto")
            if out:
                typer.echo(json.dumps(summary))
                typer.echo(f"predictions: {out}/predictions.jsonl")
            return

        from cancerllm.config import load_config
        from cancerllm.infer.extract import ExtractConfig
        from cancerllm.infer.extract import run as run_extract

        # Without --method or a config file, the command line picks `auto`: rules when nothing trained is given.
        chosen = method or (None if config else "auto")
        overrides = ([f"method={chosen}"] if chosen else []) + list(ctx.args) + [f"input={input}", f"task={task}"]
        for key, val in (("run", run), ("out", out), ("index", index), ("retriever", retriever), ("k", k),
                         ("limit", limit), ("generate.engine", engine), ("labels", labels)):
            if val is not None:
                overrides.append(f"{key}={val}")
        cfg = load_config(ExtractConfig, config, overrides)
        summary = run_extract(cfg)
        if summary["input_errors"]:  # said on stderr even without --out, so a rejected line is never silent
            typer.echo(f"{len(summary['input_errors'])} input record(s) rejected (listed above, by file:line)",
                       err=True)
        if cfg.out:
            shown = {k: summary[k] for k in ("task", "notes", "resumed", "records", "notes_with_errors",
                                             "empty_notes", "duplicate_ids", "mentions", "seconds")}
            typer.echo(json.dumps({**shown, "input_errors": len(summary["input_errors"])}))
            typer.echo(f"predictions: {cfg.out}/predictions.jsonl")

    command.__doc__ = {"phenotype": "Extract phenotype mentions (type, span, value, assertion) as JSONL.",
                       "diagnosis": "Generate a diagnosis statement with a validated ICD-10-CM code."}[task]
    return handle_errors(command)


def register(app: typer.Typer) -> None:
    app.command("extract", context_settings=EXTRA_ARGS)(_make("phenotype"))
    app.command("diagnose", context_settings=EXTRA_ARGS)(_make("diagnosis"))
