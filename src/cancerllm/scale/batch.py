"""``cancerllm batch``: extraction / diagnosis over a Ray cluster, the same records as ``cancerllm extract``.

Phases: build (config, output folder and the ids it already holds, a Ray Dataset of the notes) -> loop (an actor
pool, each actor one :class:`~cancerllm.infer.predictor.Predictor` loaded once through
:func:`cancerllm.infer.extract.load_predictor`, fed ``window`` notes per call with ``map_batches``) -> save (the
driver writes every finished batch to sharded JSONL, once per id) -> report (``summary.json``).

What is kept from the single-process path: the reader, the predictor, per-note isolation
(:func:`~cancerllm.infer.predictor.predict_isolated`), the record, the resolved ``config.yaml`` and ``meta.json``,
and resume-by-id with records of other settings moved aside. What Ray adds: any number of workers on any number of
machines (``address=auto`` joins a cluster started with ``ray start``), CPU or GPU actors (``gpus_per_worker``),
and actor fault tolerance: an actor that dies (a kill, an out-of-memory kill, a lost node) is restarted up to
``max_restarts`` times and its unfinished batch retried up to ``max_task_retries`` times; the batch's output
reaches the driver once, and the writer drops any id it already holds, so nothing is lost or written twice.

Because the writer keys records by note id, ids must be unique: a repeated id is predicted but its record is written
once (counted in ``duplicate_ids``). ``cancerllm extract`` keeps repeated ids; use it for such inputs.

The engine is the Predictor's: ``generate.engine=vllm`` runs vLLM inside each actor (install ray in the vLLM venv,
``.venv-vllm``; give each actor a GPU with ``gpus_per_worker=1``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from cancerllm.infer.extract import ExtractConfig

__all__ = ["CRASH_HOOK_ENV", "BatchConfig", "PredictWorker", "run"]

log = logging.getLogger(__name__)

CRASH_HOOK_ENV = "CANCERLLM_TEST_CRASH_ONCE"
"""Test hook, off unless set: a marker-file path. The first actor to finish its second batch while the marker is
absent creates it and dies (``os._exit``) before returning that batch, as a kill -9 would."""


@dataclass
class BatchConfig(ExtractConfig):
    """``cancerllm batch`` settings: every ``extract`` setting (``window`` = notes per actor call) plus the cluster's.

    ``limit`` is not supported (the order in which a cluster reads notes is not fixed); use ``extract --limit``.
    """

    address: str | None = None
    """Ray cluster to join: None starts a local one on this machine; 'auto' joins the cluster of `ray start`;
    'ray://HOST:10001' a remote one through Ray Client."""
    workers: int = 1
    """Predictor actors (each loads the model once). Throughput ~ workers x one worker's notes/s."""
    cpus_per_worker: float = 1.0
    """CPUs reserved per actor; also its torch threads (rounded down, at least 1)."""
    gpus_per_worker: float = 0.0
    """GPUs per actor (1 = one model per GPU; 0.5 packs two small models on one GPU). 0 runs on CPU."""
    shard_records: int = 10_000
    """Records per output shard file (predictions-NNNNN.jsonl)."""
    parquet: bool = False
    """Also write predictions-NNNNN.parquet (columns id, task, record) beside each JSONL shard."""
    max_restarts: int = 3
    """Times a dead actor is restarted (-1 = forever; a note that kills its process every time would loop)."""
    max_task_retries: int = 3
    """Times a batch whose actor died is retried on a restarted actor (-1 = forever)."""

    def validate(self) -> list[str]:
        problems = super().validate()
        if self.limit is not None:
            problems.append(f"limit: got {self.limit}, but batch has no --limit (a cluster reads notes in no fixed "
                            "order); use `cancerllm extract --limit` for a quick look, or give a smaller input")
        if self.workers < 1:
            problems.append(f"workers: got {self.workers}, expected >= 1 predictor actors")
        if self.cpus_per_worker <= 0:
            problems.append(f"cpus_per_worker: got {self.cpus_per_worker}, expected > 0")
        if self.gpus_per_worker < 0:
            problems.append(f"gpus_per_worker: got {self.gpus_per_worker}, expected >= 0 (0 = CPU actors)")
        if self.shard_records < 1:
            problems.append(f"shard_records: got {self.shard_records}, expected >= 1 records per shard")
        for name in ("max_restarts", "max_task_retries"):
            if getattr(self, name) < -1:
                problems.append(f"{name}: got {getattr(self, name)}, expected >= 0, or -1 for no limit")
        return problems

    def extract_config(self) -> ExtractConfig:
        """The single-process settings inside this config (what the predictor and the resume check see)."""
        return ExtractConfig(**{f.name: getattr(self, f.name) for f in fields(ExtractConfig)})


class PredictWorker:
    """One Ray actor: loads the Predictor once, then turns work units (:mod:`cancerllm.scale.source`) into records.

    Each call reads one unit's notes (skipping ids in ``skip``, already written), predicts them with per-note
    isolation, and returns one row per note (``id``, ``record`` = the JSON line) and per bad input line (``error``).
    """

    def __init__(self, cfg: ExtractConfig, threads: int, skip: frozenset[str]):
        import torch

        from cancerllm.infer.extract import load_predictor
        from cancerllm.runtime import offline_env, seed_everything

        offline_env()
        torch.set_num_threads(threads)  # the actor's CPU share, not every core of the node
        seed_everything(cfg.seed)
        self.cfg, self.skip, self.calls = cfg, skip, 0
        self.predictor = load_predictor(cfg)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        from cancerllm.data.io import dumps_record
        from cancerllm.data.schema import Note
        from cancerllm.infer.predictor import predict_isolated
        from cancerllm.scale.source import read_unit

        t0 = time.perf_counter()
        items = [x for unit in batch["unit"] for x in read_unit(json.loads(str(unit)), self.skip)]
        notes = [x for x in items if isinstance(x, Note)]
        preds = iter(predict_isolated(self.predictor, notes, self.cfg.task))
        out: dict[str, list[Any]] = {"id": [], "record": [], "error": [], "predict_s": []}
        for item in items:  # bad input lines keep their message for the driver's report
            ok = isinstance(item, Note)
            out["id"].append(item.id if ok else "")
            out["record"].append(dumps_record(next(preds).model_dump(mode="json")) if ok else "")
            out["error"].append("" if ok else str(item))
        # The actor's own reading + predicting time, spread over the rows: summed by the driver into the per-worker
        # throughput that excludes start-up, model loading and scheduling (the figure the throughput model needs).
        out["predict_s"] = [(time.perf_counter() - t0) / max(1, len(items))] * len(items)
        self.calls += 1
        _crash_hook(self.calls)
        return out


def _crash_hook(calls: int) -> None:
    marker = os.environ.get(CRASH_HOOK_ENV)
    if not marker or calls < 2:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # exactly one actor of the cluster wins
    except FileExistsError:
        return
    os.close(fd)
    os._exit(1)  # no cleanup, no exception: the process vanishes with its batch, like kill -9


# ------------------------------------------------------------------------------------------------ output folder

def _prepare_out(cfg: BatchConfig) -> None:
    """Create ``out``; if its records were made with other settings or another model, move them to ``out/prev/``.

    The fingerprint is extract's (settings other than ``limit``/``window`` and the cluster's, plus the size and
    mtime of every model, adapter, run and index file), so a resumed run never mixes two models' records.
    """
    from cancerllm.infer.extract import _fingerprint  # one definition of "the same run" for both paths
    from cancerllm.scale.sink import shard_files

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state = out / "resume.json"
    now = _fingerprint(cfg.extract_config())
    old = shard_files(out)
    if old:
        try:
            before = json.loads(state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = {}
        if before != now:
            prev = out / "prev"
            shutil.rmtree(prev, ignore_errors=True)
            prev.mkdir()
            for f in old + sorted(out.glob("predictions-*.parquet")):
                f.replace(prev / f.name)
            changed = sorted(k for k in set(before.get("settings", {})) | set(now["settings"])
                             if before.get("settings", {}).get(k) != now["settings"].get(k))
            if before.get("model_files") != now["model_files"]:
                changed.append("model files")
            log.warning("%s: %d shard(s) were made with other settings or model (%s); moved to prev/, starting "
                        "afresh", out, len(old), ", ".join(changed[:5]))
    state.write_text(json.dumps(now, indent=1, default=str), encoding="utf-8")


# ------------------------------------------------------------------------------------------------ the recipe

def _init_ray(cfg: BatchConfig) -> bool:
    """Join or start a Ray cluster unless one is up (a test's or a notebook's); True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    ray.init(address=cfg.address, include_dashboard=False, log_to_driver=True, logging_level=logging.WARNING)
    return True


def run(cfg: BatchConfig) -> dict[str, Any]:
    """Predict every note of ``cfg.input`` on a Ray actor pool into ``cfg.out``; returns the summary.

    Raises:
        ConfigError: invalid settings (checked before Ray starts).
        ResourceError: missing input, unwritable output, or an output shard that is not a record file.
        DataFormatError: the input holds no usable note.
    """
    from cancerllm.config import save_config
    from cancerllm.errors import ConfigError, DataFormatError
    from cancerllm.runtime import seed_everything, write_run_meta
    from cancerllm.scale.sink import ShardWriter, shard_files, write_parquet
    from cancerllm.scale.source import input_files, plan_units, units_dataset

    if not cfg.input:
        raise ConfigError("input: missing; give a .jsonl/.txt/.parquet file or a folder of them")
    if not cfg.out:
        raise ConfigError("out: missing; batch writes sharded records into a folder (--out DIR)")
    problems = cfg.validate()
    if problems:
        raise ConfigError(problems)
    seed_everything(cfg.seed)
    input_files(cfg.input)  # a wrong path fails before Ray starts
    window = cfg.window or max(1, 4 * cfg.generate.batch_size)  # notes per actor call, as extract's window
    units = plan_units(cfg.input, window)
    _prepare_out(cfg)
    save_config(cfg, cfg.out)
    writer = ShardWriter(cfg.out, cfg.shard_records)
    if writer.resumed:
        log.info("%s: resuming, %d records already written; their notes are skipped", cfg.out, writer.resumed)

    import ray
    from ray.data import ActorPoolStrategy, DataContext

    started = _init_ray(cfg)
    DataContext.get_current().enable_progress_bars = False  # our own progress line; Ray's bars flood a log file
    env = {k: os.environ[k] for k in (CRASH_HOOK_ENV,) if os.environ.get(k)}
    threads = max(1, int(cfg.cpus_per_worker))
    counts = {"consumed": 0, "notes_with_errors": 0, "mentions": 0, "empty_notes": 0, "predict_s": 0.0}
    first_batch_s = None
    bad: list[str] = []
    t0 = last = time.perf_counter()
    try:
        ds = units_dataset(units).map_batches(
            PredictWorker, batch_size=1, batch_format="numpy", compute=ActorPoolStrategy(size=cfg.workers),
            fn_constructor_kwargs={"cfg": cfg.extract_config(), "threads": threads, "skip": frozenset(writer.done)},
            num_cpus=cfg.cpus_per_worker, num_gpus=cfg.gpus_per_worker or None, max_restarts=cfg.max_restarts,
            max_task_retries=cfg.max_task_retries, **({"runtime_env": {"env_vars": env}} if env else {}))
        # Each batch arrives here once, when its actor call succeeded; it is on disk before the next is taken.
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=1):
            if first_batch_s is None:
                first_batch_s = time.perf_counter() - t0  # cluster start-up + model loading + the first window
            counts["predict_s"] += float(sum(batch["predict_s"]))
            for note_id, record, error in zip(batch["id"], batch["record"], batch["error"]):
                counts["consumed"] += 1
                if error:
                    log.warning("skipped input record: %s", error)
                    bad.append(str(error))
                    continue
                if writer.write(str(note_id), str(record)):
                    rec = json.loads(record)
                    counts["notes_with_errors"] += bool(rec["errors"])
                    counts["mentions"] += len(rec["mentions"])
                    counts["empty_notes"] += bool(rec["coverage"].get("chunks") == 0)
            writer.sync()
            now = time.perf_counter()
            if now - last >= 30:
                last = now
                log.info("progress: %d notes written, %.2f notes/s", writer.written, writer.written / (now - t0))
    finally:
        writer.close()
        if started:
            ray.shutdown()
    seconds = time.perf_counter() - t0
    if cfg.parquet:
        write_parquet(cfg.out)
    summary = {
        "task": cfg.task, "notes": writer.written, "resumed": writer.resumed, "records": len(writer.done),
        "input_errors": bad, "empty_notes": counts["empty_notes"], "duplicate_ids": writer.duplicates,
        "notes_with_errors": counts["notes_with_errors"], "mentions": counts["mentions"],
        "seconds": round(seconds, 2),
        "notes_per_s": round(writer.written / seconds, 3) if seconds and writer.written else None,
        "first_batch_s": round(first_batch_s, 2) if first_batch_s is not None else None,
        "actor_predict_s": round(counts["predict_s"], 2),
        "notes_per_s_per_worker": round(writer.written / counts["predict_s"], 3) if counts["predict_s"] else None,
        "workers": cfg.workers, "cpus_per_worker": cfg.cpus_per_worker, "gpus_per_worker": cfg.gpus_per_worker,
        "window": window, "shards": len(shard_files(cfg.out)), "engine": getattr(cfg.generate, "engine", "hf"),
    }
    out = Path(cfg.out)
    # Input hashes as extract records them: for a single input file (a folder of shards may hold terabytes).
    write_run_meta(out, data_files=[cfg.input] if Path(cfg.input).is_file() else [], task=cfg.task, ray=ray.__version__)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    if not writer.done and counts["consumed"] == len(bad):
        first = f" (first: {bad[0]})" if bad else ""
        raise DataFormatError(f"input {cfg.input!r} holds no usable note: {len(bad)} record(s) rejected{first}")
    return summary
