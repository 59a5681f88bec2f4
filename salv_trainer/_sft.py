"""Stage 0: supervised fine-tuning (full weights) with TRL's SFTTrainer.

Each training row is ``prompt`` (text or chat ``messages``), optional ``module_header`` and
``reference`` (Verilog). The conversation is built by :func:`salv_trainer.prompts.build_messages`
and the target is :func:`salv_trainer.prompts.format_response` of the reference: the same template
that sampling, DPO and evaluation use. Loss is on the completion (assistant turn) only. The output
directory holds full weights and the tokenizer: a valid ``--model`` for ``salv-train dpo``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .config import SFTRunConfig
from ._distributed import check_launch, launch_kwargs, load_in_bf16
from .prompts import DEFAULT_SYSTEM, build_messages, format_response, render_prompt
from ._trainer_setup import (
    DataFormatError,
    TrainResult,
    check_output_dir,
    final_metrics,
    load_policy,
    log_callback,
    quiet_when_piped,
    read_jsonl,
    resolve_resume,
    trainer_kwargs,
    write_run_record,
)

__all__ = ["load_sft_rows", "sft_dataset", "train_sft"]


def load_sft_rows(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate an SFT JSONL file (``prompt`` or ``messages``, ``reference``)."""
    rows = []
    for n, row in read_jsonl(path):
        where = f"{path}:{n}:1"
        if "prompt" not in row and "messages" in row:
            row = {**row, "prompt": row["messages"]}
        if "prompt" not in row or "reference" not in row:
            missing = [k for k in ("prompt", "reference") if k not in row]
            raise DataFormatError(f"{where}: missing key(s) {', '.join(missing)}")
        if not isinstance(row["reference"], str) or not row["reference"].strip():
            raise DataFormatError(f"{where}: reference must be non-empty Verilog text")
        prompt = row["prompt"]
        if not isinstance(prompt, str) and not (
            isinstance(prompt, list) and all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt)
        ):
            raise DataFormatError(f"{where}: prompt must be text or a list of {{role, content}} messages")
        rows.append(row)
    if not rows:
        raise DataFormatError(f"{path}: no training rows")
    return rows


def sft_dataset(rows: Sequence[dict[str, Any]], tokenizer: Any, *, system: str | None = None):
    """Prompt-completion dataset for TRL: conversational with a chat template, plain text otherwise."""
    from datasets import Dataset

    chat = bool(getattr(tokenizer, "chat_template", None))
    records = []
    for row in rows:
        messages = build_messages(
            row["prompt"], module_header=row.get("module_header"), system=system or DEFAULT_SYSTEM
        )
        target = format_response(row["reference"])
        if chat:
            records.append({"prompt": messages, "completion": [{"role": "assistant", "content": target}]})
        else:
            records.append({"prompt": render_prompt(tokenizer, messages), "completion": target})
    return Dataset.from_list(records)


def train_sft(cfg: SFTRunConfig, *, callbacks: Sequence[Any] = ()) -> TrainResult:
    """Full fine-tune as configured; the output directory holds full weights + tokenizer."""
    from trl import SFTConfig, SFTTrainer

    cfg.validate()
    check_output_dir(cfg, cfg.data)
    resume = resolve_resume(cfg)
    rows = load_sft_rows(cfg.data)
    # the arguments before the model: under ZeRO-3 each rank then loads only its shard
    args = SFTConfig(**trainer_kwargs(cfg), **launch_kwargs(cfg.bf16), completion_only_loss=True)
    tokenizer, model = load_policy(cfg.model, bf16=load_in_bf16(cfg.bf16, full_finetune=True, args=args))
    dataset = sft_dataset(rows, tokenizer, system=cfg.system_prompt or None)
    out = Path(cfg.output_dir)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[log_callback(out / "train_log.jsonl"), *callbacks],
    )
    check_launch(trainer)
    quiet_when_piped(trainer)
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(out))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(out)
    result = TrainResult(
        stage="sft",
        output_dir=str(out),
        steps=trainer.state.global_step,
        rows=len(rows),
        metrics=final_metrics(trainer.state.log_history),
        data={"rows": len(rows)},
        config=asdict(cfg),
    )
    if trainer.accelerator.is_main_process:
        write_run_record(result)
    return result
