"""``sample``: k responses per prompt from a local model, resumable.

A thin layer over :func:`salv_trainer.generate.generate` (batching, sampling parameters, seed,
optional vLLM backend) and :func:`salv_trainer.prompts.build_messages` (the one prompt template).
Responses are stored whole: the DPO loss is computed on the response text, and ``label`` finds the
code inside it (:func:`salv_trainer.extract.extract_code`).

Prompts are processed in chunks of ``chunk_size``; each finished row is appended to the output at
once, so an interrupted run loses at most the chunk in progress, and a rerun skips the prompts
already in the output. Each chunk is sampled with a seed derived from ``seed`` and the chunk's
position, so a run is reproducible for a given prompts file and settings (``shard`` included: a
shard's chunks are made of its own rows).

The chunks are sampled by an executor (:mod:`salv_trainer._executor`): in this process with one
model (default), or by data-parallel replicas on a Ray cluster (``--executor ray``), each a Ray
actor that builds its engine once (:func:`load_engine`) on its own GPUs and samples the chunks it
is given (:func:`sample_chunk`); the chunks come back in input order and this process writes them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._executor import Executor, LocalExecutor
from .._sampling import GenerationSettings, SamplingSettings
from .._paths import refuse_overwrite
from .._shard import Shard
from ..config import setting, with_default
from ..prompts import DEFAULT_SYSTEM, build_messages
from ._errors import DataError
from ._jsonl import JsonlWriter, done_ids, read_rows

__all__ = ["SampleConfig", "SampleReport", "load_engine", "messages_of", "sample", "sample_chunk"]


@dataclass(kw_only=True)
class SampleConfig(GenerationSettings):
    """Options of :func:`sample` (and of ``salv-train sample``, whose flags are these fields).
    The sampling, dtype and vLLM engine settings (``temperature``, ``top_p``, ...,
    ``tensor_parallel_size``, ``lora``) are :class:`~salv_trainer._sampling.GenerationSettings`';
    ``sample`` draws at T=1.0 by default."""

    model: str = setting("", "Local model directory (Hugging Face layout or PEFT adapter).", short="-m")
    k: int = setting(5, "Responses per prompt [paper: 5 candidates per prompt].", flag="-k")
    temperature: float = with_default(SamplingSettings, "temperature", 1.0,
                                      "[released scripts: 1.0; not in the paper's text]")
    top_p: float = with_default(SamplingSettings, "top_p", 0.95,
                                "[released scripts: 0.95; not in the paper's text]")
    chunk_size: int = setting(16, "Prompts per chunk (the unit that is written, and redone after an "
                                  "interruption).")
    device: str | None = setting(None, "cpu or cuda (default: cuda when available); transformers only.")
    system: str = setting(DEFAULT_SYSTEM, "System prompt of the shared template.")
    limit: int | None = setting(None, "Sample only the first N prompts.")
    shard: Shard | None = setting(None, "Sample only this shard's prompts (--shard I/N, after limit; "
                                        "None: all).")
    replicas: int | None = setting(None, "--executor ray: data-parallel replicas, one engine each "
                                         "(default: one per GPU of the cluster, else 1).")
    gpus_per_replica: float | None = setting(None, "--executor ray: GPUs each replica holds (default: "
                                                   "--tensor-parallel-size with --backend vllm, else 1 "
                                                   "when the cluster has GPUs, else 0).")

    def sampling_json(self) -> dict[str, Any]:
        doc = {"model": self.model, "k": self.k, **super().sampling_json()}
        if self.lora:
            doc["lora"] = self.lora
        return doc


@dataclass
class SampleReport:
    prompts: int = 0
    skipped: int = 0
    sampled: int = 0
    responses: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"prompts": self.prompts, "already_done": self.skipped, "sampled": self.sampled,
                "responses": self.responses, "seconds": round(self.seconds, 3)}


def messages_of(row: dict[str, Any], system: str = DEFAULT_SYSTEM) -> list[dict[str, str]]:
    """The chat a prompt row is sampled with (the shared template; ``module_header`` honoured)."""
    prompt = row.get("messages") or row.get("prompt")
    if not prompt:
        raise DataError(f"prompt {row.get('id')!r} has neither 'prompt' nor 'messages'")
    return build_messages(prompt, module_header=row.get("module_header"), system=system)


def load_engine(config: SampleConfig) -> tuple[Any, Any]:
    """The ``(model, tokenizer)`` that :func:`sample_chunk` samples with, built once per process
    (per replica under Ray): :func:`salv_trainer.generate.load_model` of ``config.model``, or with
    ``backend="vllm"`` the process's :class:`~salv_trainer._vllm.VllmEngine` (no HF model is
    loaded) and ``None``."""
    from ..generate import load_model

    if not config.model:
        raise DataError("no model given (--model PATH)")
    if config.backend == "vllm":
        from .._vllm import VllmEngine

        if config.device is not None:
            raise DataError("--device is for the transformers backend (vLLM runs on the device "
                            "its build is for)")
        return VllmEngine.shared(config.model, config.vllm_options(dtype=config.dtype, seed=config.seed)), None
    return load_model(config.model, device=config.device, dtype=config.dtype, lora=config.lora)


def replica_gpus(config: SampleConfig) -> float | None:
    """GPUs one Ray replica holds: ``gpus_per_replica``, else with vLLM the GPUs its engine is
    split over (``tensor_parallel_size`` > 1), else ``None`` (the executor's default: 1 when the
    cluster has GPUs)."""
    if config.gpus_per_replica is not None:
        return config.gpus_per_replica
    if config.backend == "vllm" and config.tensor_parallel_size > 1:
        return float(config.tensor_parallel_size)
    return None


def sample_chunk(config: SampleConfig, engine: tuple[Any, Any],
                 item: tuple[int, list[dict[str, Any]]]) -> list[list[str]]:
    """``config.k`` responses for each prompt row of one chunk ``item = (position, rows)``; the
    seed is ``config.seed + position``, so a chunk samples the same wherever it runs."""
    from ..generate import generate

    model, tokenizer = engine
    chunk_no, chunk = item
    return generate(
        model, tokenizer, [messages_of(r, config.system) for r in chunk],
        n=config.k, temperature=config.temperature, top_p=config.top_p,
        max_new_tokens=config.max_new_tokens, seed=config.seed + chunk_no,
        batch_size=config.batch_size, backend=config.backend,
    )


def sample(
    prompts: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: SampleConfig,
    *,
    model: Any = None,
    tokenizer: Any = None,
    resume: bool = True,
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
) -> SampleReport:
    """Sample ``config.k`` responses for every prompt of ``prompts`` not yet in ``out``.

    ``model``/``tokenizer`` may be passed already loaded (this process only); otherwise
    :func:`load_engine` loads ``config.model``, once per process or Ray replica.
    ``progress(done, total)`` counts prompts. Output rows are the prompt rows plus ``responses``
    (k strings) and ``sampling`` (settings), in input order. ``executor``: where the chunks are
    sampled (default: this process).
    """
    ex = executor or LocalExecutor()
    if model is not None and not isinstance(ex, LocalExecutor):
        raise DataError("a model object can only be used in this process: give config.model "
                        "(a directory) for the replicas to load")
    start = time.monotonic()
    refuse_overwrite({"the prompts file": prompts}, {"the output": out}, error=DataError)
    rows = read_rows(prompts, fields=("id",))
    if config.limit is not None:
        rows = rows[: config.limit]
    if config.shard is not None:
        rows = [r for r in rows if config.shard.has(r["id"])]
    for row in rows:
        messages_of(row, config.system)  # fail early, before loading a model
    done = done_ids(out) if resume else set()
    report = SampleReport(prompts=len(rows))
    todo = [r for r in rows if str(r["id"]) not in done]
    report.skipped = len(rows) - len(todo)
    if progress:
        progress(report.skipped, len(rows))
    if not todo:
        # the file exists even for a shard with no prompts: merge-shards needs every shard's file
        with JsonlWriter(out, resume=resume):
            pass
        report.seconds = time.monotonic() - start
        return report
    if model is None and not config.model:
        raise DataError("no model given (--model PATH)")
    setup = (lambda: (model, tokenizer)) if model is not None else functools.partial(load_engine, config)
    size = max(1, config.chunk_size)
    items = [(no, chunk) for no in range(0, len(rows), size)
             if (chunk := [r for r in rows[no:no + size] if str(r["id"]) not in done])]
    results = ex.map_with(setup, functools.partial(sample_chunk, config), items,
                          replicas=config.replicas, gpus=replica_gpus(config))
    # closing(): a run ended early (an error, Ctrl-C) lets the replicas and their GPUs go
    with JsonlWriter(out, resume=resume) as writer, contextlib.closing(results):
        for (_no, chunk), outs in zip(items, results):
            for row, responses in zip(chunk, outs):
                writer.write({**row, "responses": list(responses), "sampling": config.sampling_json()})
                report.sampled += 1
                report.responses += len(responses)
            if progress:
                progress(report.skipped + report.sampled, len(rows))
    report.seconds = time.monotonic() - start
    return report
