"""How a training run meets the way ``accelerate launch`` started it (DDP, DeepSpeed ZeRO, FSDP).

``accelerate launch --config_file examples/configs/accelerate/{zero2,zero3,fsdp}.yaml`` tells the
Trainer what to do through environment variables (``ACCELERATE_USE_DEEPSPEED``,
``ACCELERATE_USE_FSDP``, ``WORLD_SIZE`` ...). Three things our stages must get right about that:

* **master weights.** A full fine-tune keeps fp32 master weights and Adam states under DeepSpeed
  (ZeRO's bf16 mode) and under FSDP2 (accelerate upcasts the trainable weights to fp32 before
  sharding). Anywhere else (one GPU, DDP, FSDP1) the Trainer's ``bf16`` is autocast over the
  weights as loaded, so SFT must load fp32 weights: bf16 weights updated by Adam at lr 1e-5 lose
  most updates to rounding. LoRA (DPO) is unaffected: the base is frozen and the adapter's
  optimizer state is fp32 (PEFT's fp32 adapter, or ZeRO's master copy), so its base loads in bf16.
* **DeepSpeed on CPUs** (the tests, a CPU cluster): accelerate leaves the process-group backend
  unset when there is no GPU and then counts one process while DeepSpeed counts them all (its batch
  check fails). Asking for ``gloo``, DeepSpeed's own CPU backend, makes both agree.
* **ranks that would train alone.** accelerate enables FSDP only on GPUs (and DDP on CPUs only with
  ``--cpu``); otherwise every launched process silently trains the whole data set by itself and
  writes the same output directory. :func:`check_launch` refuses that with a one-line message.
"""

from __future__ import annotations

import os
from typing import Any

from .config import ConfigError

__all__ = ["check_launch", "deepspeed_requested", "fsdp_requested", "launch_kwargs", "load_in_bf16"]


def _flag(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() in ("1", "true", "yes")


def deepspeed_requested() -> bool:
    """``accelerate launch`` was given a DeepSpeed config (``distributed_type: DEEPSPEED``)."""
    return _flag("ACCELERATE_USE_DEEPSPEED")


def fsdp_requested() -> bool:
    """``accelerate launch`` was given an FSDP config (``distributed_type: FSDP``)."""
    return _flag("ACCELERATE_USE_FSDP")


def launch_kwargs(bf16: bool = False) -> dict[str, Any]:
    """Extra ``TrainingArguments`` for the launch environment (``gloo`` for DeepSpeed without GPUs).

    ``bf16`` without a GPU raises :class:`ConfigError` (transformers refuses it with a traceback;
    the recipes for GPUs set it, so a CPU run says plainly to drop it).
    """
    import torch

    if bf16 and not torch.cuda.is_available():
        raise ConfigError("bf16 needs a GPU and none is visible: train with --no-bf16 (fp32) on CPUs")
    if deepspeed_requested() and not torch.cuda.is_available():
        return {"ddp_backend": "gloo"}
    return {}


def load_in_bf16(bf16: bool, *, full_finetune: bool, args: Any) -> bool:
    """Whether to load the policy's weights in bf16 (else fp32) for a run with ``bf16`` on or off.

    ``args`` are the run's TrainingArguments, built before the model so that ZeRO-3 can load each
    rank's shard only (``zero3_init_flag``). A full fine-tune loads bf16 only where the launcher
    keeps fp32 master weights itself (DeepSpeed, FSDP2); LoRA loads its frozen base in bf16
    whenever ``bf16`` is on.
    """
    if not bf16:
        return False
    if not full_finetune or getattr(args, "deepspeed_plugin", None) is not None:
        return True
    return fsdp_requested() and os.environ.get("FSDP_VERSION", "1") == "2"


def check_launch(trainer: Any) -> None:
    """Refuse a launch in which ranks would train alone (raises :class:`ConfigError`)."""
    from accelerate.utils import DistributedType

    launched = int(os.environ.get("WORLD_SIZE", "1") or 1)
    acc = trainer.accelerator
    if fsdp_requested() and acc.distributed_type != DistributedType.FSDP:
        raise ConfigError(
            "the accelerate config asks for FSDP, but accelerate enables FSDP only on GPUs "
            f"(here: {acc.distributed_type.value}); on CPUs use DeepSpeed (zero2.yaml/zero3.yaml) or "
            "`accelerate launch --cpu` (DDP)"
        )
    if launched != acc.num_processes:
        raise ConfigError(
            f"{launched} processes were launched but accelerate trains them as {acc.num_processes} "
            "(each would train on all the data alone): on CPUs launch with `accelerate launch --cpu` "
            "or set ACCELERATE_USE_CPU=true under torchrun"
        )
