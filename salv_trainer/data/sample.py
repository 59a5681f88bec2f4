"""``sample``: k responses per prompt from a local model, resumable.

A thin layer over :func:`salv_trainer.generate.generate` (batching, sampling parameters, seed,
optional vLLM backend) and :func:`salv_trainer.prompts.build_messages` (the one prompt template).
Responses are stored whole: the DPO loss is computed on the response text, and ``label`` finds the
code inside it (:func:`salv_trainer.extract.extract_code`).

Prompts are processed in chunks of ``chunk_size``; each finished row is appended to the output at
once, so an interrupted run loses at most the chunk in progress, and a rerun skips the prompts
already in the output. Each chunk is sampled with a seed derived from ``seed`` and the chunk's
position, so a run is reproducible for a given prompts file and settings.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._paths import refuse_overwrite
from ..prompts import DEFAULT_SYSTEM, build_messages
from ._errors import DataError
from ._jsonl import JsonlWriter, done_ids, read_rows

__all__ = ["SampleConfig", "SampleReport", "messages_of", "sample"]


@dataclass
class SampleConfig:
    """Options of :func:`sample` (and of ``salv-train sample``)."""

    model: str = ""
    """Local model directory (Hugging Face layout, or a PEFT adapter directory)."""
    k: int = 5
    """Responses per prompt [paper: 5 candidates per prompt]."""
    temperature: float = 1.0
    """Sampling temperature (0 = greedy: one answer repeated k times) [released scripts: 1.0;
    not in the paper's text]."""
    top_p: float = 0.95
    """Nucleus sampling mass [released scripts: 0.95; not in the paper's text]."""
    max_new_tokens: int = 1024
    seed: int = 0
    batch_size: int = 8
    """Sequences per ``generate`` call."""
    backend: str = "transformers"
    """``transformers`` or ``vllm`` (when installed)."""
    chunk_size: int = 16
    """Prompts per chunk (the unit that is written, and redone after an interruption)."""
    device: str | None = None
    """``cpu``/``cuda``; default: cuda when available."""
    dtype: str | None = None
    """``float32``, ``bfloat16`` or ``float16``; default: the checkpoint's."""
    system: str = DEFAULT_SYSTEM
    """System prompt of the shared template."""
    limit: int | None = None
    """Sample only the first ``limit`` prompts of the file."""

    def sampling_json(self) -> dict[str, Any]:
        return {"model": self.model, "k": self.k, "temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens, "seed": self.seed, "backend": self.backend}


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


def sample(
    prompts: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: SampleConfig,
    *,
    model: Any = None,
    tokenizer: Any = None,
    resume: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> SampleReport:
    """Sample ``config.k`` responses for every prompt of ``prompts`` not yet in ``out``.

    ``model``/``tokenizer`` may be passed already loaded; otherwise ``config.model`` is loaded
    with :func:`salv_trainer.generate.load_model`. ``progress(done, total)`` counts prompts.
    Output rows are the prompt rows plus ``responses`` (k strings) and ``sampling`` (settings).
    """
    from ..generate import generate, load_model

    start = time.monotonic()
    refuse_overwrite({"the prompts file": prompts}, {"the output": out}, error=DataError)
    rows = read_rows(prompts, fields=("id",))
    if config.limit is not None:
        rows = rows[: config.limit]
    for row in rows:
        messages_of(row, config.system)  # fail early, before loading a model
    done = done_ids(out) if resume else set()
    report = SampleReport(prompts=len(rows))
    todo = [r for r in rows if str(r["id"]) not in done]
    report.skipped = len(rows) - len(todo)
    if progress:
        progress(report.skipped, len(rows))
    if not todo:
        report.seconds = time.monotonic() - start
        return report
    if model is None:
        if not config.model:
            raise DataError("no model given (--model PATH)")
        model, tokenizer = load_model(config.model, device=config.device, dtype=config.dtype)
    size = max(1, config.chunk_size)
    with JsonlWriter(out, resume=resume) as writer:
        for chunk_no in range(0, len(rows), size):
            chunk = [r for r in rows[chunk_no:chunk_no + size] if str(r["id"]) not in done]
            if not chunk:
                continue
            outs = generate(
                model, tokenizer, [messages_of(r, config.system) for r in chunk],
                n=config.k, temperature=config.temperature, top_p=config.top_p,
                max_new_tokens=config.max_new_tokens, seed=config.seed + chunk_no,
                batch_size=config.batch_size, backend=config.backend,
            )
            for row, responses in zip(chunk, outs):
                writer.write({**row, "responses": list(responses), "sampling": config.sampling_json()})
                report.sampled += 1
                report.responses += len(responses)
            if progress:
                progress(report.skipped + report.sampled, len(rows))
    report.seconds = time.monotonic() - start
    return report
