"""``cancerllm rag index|search|measure``: build a retrieval index, inspect what it retrieves, score it.

Examples (run from the repository root)::

    cancerllm rag index --retriever bm25.v1 --corpus out/data/tcga_train.jsonl --out out/rag/tcga-bm25
    cancerllm rag index --retriever specter2.v1 --model-path models/specter2_base \\
        --adapter-path models/specter2 --corpus out/data/tcga_train.jsonl --out out/rag/tcga-specter2
    cancerllm rag search --index out/rag/tcga-bm25 --query-file out/data/tcga_dev.jsonl --k 3
    cancerllm rag measure --index out/rag/tcga-bm25 --queries out/data/tcga_dev.jsonl
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cancerllm.cli_utils import EXTRA_ARGS, handle_errors

rag_app = typer.Typer(no_args_is_help=True, help="Retrieval-augmented prompting: build and inspect example indexes.")


@rag_app.command("index", context_settings=EXTRA_ARGS)
@handle_errors
def index_cmd(
    ctx: typer.Context,
    retriever: str | None = typer.Option(None, "--retriever", help="random.v1, bm25.v1, dense.v1, medcpt.v1, "
                                         "contriever.v1, sgpt.v1, specter2.v1 or hybrid.v1 (see `cancerllm ls`)."),
    corpus: Path | None = typer.Option(None, "--corpus", help="Labelled Note JSONL (training split)."),
    out: Path | None = typer.Option(None, "--out", help="Index folder to write."),
    model_path: str | None = typer.Option(None, "--model-path", help="Local encoder folder (dense presets)."),
    query_model_path: str | None = typer.Option(None, "--query-model-path", help="medcpt: the query encoder."),
    adapter_path: str | None = typer.Option(None, "--adapter-path", help="specter2: proximity adapter folder."),
    backend: str | None = typer.Option(None, "--backend", help="numpy (exact, default) or faiss."),
    config: Path | None = typer.Option(None, "--config", help="YAML of IndexConfig fields (configs/rag/*.yaml)."),
) -> None:
    """Fit a retriever on a labelled corpus and persist it (with the corpus hash and the encoder identity)."""
    from cancerllm.config import load_config
    from cancerllm.rag.index import IndexConfig, build_index

    flags = {"retriever": retriever, "corpus": corpus, "out": out, "model_path": model_path,
             "query_model_path": query_model_path, "adapter_path": adapter_path, "backend": backend}
    overrides = [f"{k}={v}" for k, v in flags.items() if v is not None] + list(ctx.args)
    cfg = load_config(IndexConfig, config, overrides)
    path = build_index(cfg)
    typer.echo(f"wrote index {path}")


@rag_app.command("search")
@handle_errors
def search_cmd(
    index: Path = typer.Option(..., "--index", help="Index folder from `cancerllm rag index`."),
    query_file: Path = typer.Option(..., "--query-file", help="Notes to search for (.jsonl/.txt/folder)."),
    k: int = typer.Option(3, "--k", help="Neighbours per note."),
    corpus: Path | None = typer.Option(None, "--corpus", help="The index's corpus, if it moved."),
    model_path: str | None = typer.Option(None, "--model-path", help="Encoder folder, if it moved."),
) -> None:
    """Print, per query note, the retrieved corpus ids and scores (JSON lines; no note text is printed)."""
    from cancerllm.data.io import read_notes
    from cancerllm.rag.pipeline import load_retriever

    ret = load_retriever(index, corpus=corpus, model_path=model_path)
    errors: list = []
    for note in read_notes(query_file, errors=errors):
        hits = ret.index.search_note(note, k)  # the leakage guard inference uses
        typer.echo(json.dumps({"id": note.id, "retrieved": [{"id": i, "score": round(s, 4)} for i, s in hits]}))
    for err in errors:
        typer.echo(f"skipped: {err}", err=True)


@rag_app.command("measure")
@handle_errors
def measure_cmd(
    index: Path = typer.Option(..., "--index", help="Index folder from `cancerllm rag index`."),
    queries: str = typer.Option("tcga:dev", "--queries", help="Note JSONL, or tcga:dev / tcga:test (shared data)."),
    labels: str = typer.Option("cancer_type,t_stage", "--labels", help="Comma list of labels to match."),
    ks: str = typer.Option("1,3,5,10", "--ks", help="Comma list of k."),
    out: Path | None = typer.Option(None, "--out", help="Also write the result as JSON here."),
) -> None:
    """Same-label recall@k / precision@k of an index's neighbours (last line: JSON)."""
    from cancerllm.data.io import read_notes_reporting
    from cancerllm.rag.index import load_index
    from cancerllm.rag.measure import label_recall

    idx = load_index(index)
    if queries.startswith("tcga:"):
        from cancerllm.data.corpora.tcga import load_tcga

        notes = load_tcga(queries.split(":", 1)[1])
    else:
        notes = read_notes_reporting(queries, "rag measure --queries")
    res = label_recall(idx, notes, [x for x in labels.split(",") if x], [int(x) for x in ks.split(",") if x])
    result = {"index": str(index), "retriever": idx.manifest["retriever"], "queries": queries, "result": res}
    for label, vals in res.items():
        typer.echo(f"{label:12s} n={vals['n']:4d} " + " ".join(f"{k}={v:.3f}" for k, v in vals.items() if k != "n"))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1))
    typer.echo(json.dumps(result))


def register(app: typer.Typer) -> None:
    app.add_typer(rag_app, name="rag")
