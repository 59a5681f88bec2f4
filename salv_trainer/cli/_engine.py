"""The vLLM engine options shared by ``sample`` and ``eval`` (``--tensor-parallel-size``,
``--gpu-memory-utilization``, ``--max-model-len``, ``--prefix-caching``, ``--enforce-eager``) and
``--lora``. Their help is the metadata of :class:`salv_trainer._vllm.VllmSettings`, and
:func:`settings` turns the parsed values into that dataclass' fields."""

from __future__ import annotations

from typing import Any, Optional

import typer

from .._vllm import VllmSettings


def _help(name: str) -> str:
    return VllmSettings.__dataclass_fields__[name].metadata["help"]


def _default(name: str) -> Any:
    return VllmSettings.__dataclass_fields__[name].default


TENSOR_PARALLEL = typer.Option(_default("tensor_parallel_size"), "--tensor-parallel-size", "--tp",
                               help=_help("tensor_parallel_size"))
GPU_MEMORY = typer.Option(_default("gpu_memory_utilization"), "--gpu-memory-utilization",
                          help=_help("gpu_memory_utilization"))
MAX_MODEL_LEN = typer.Option(None, "--max-model-len", help=_help("max_model_len"))
PREFIX_CACHING = typer.Option(_default("enable_prefix_caching"), "--prefix-caching/--no-prefix-caching",
                              help=_help("enable_prefix_caching"))
ENFORCE_EAGER = typer.Option(_default("enforce_eager"), "--enforce-eager", help=_help("enforce_eager"))
LORA = typer.Option(None, "--lora", help=_help("lora"))


def settings(*, tensor_parallel_size: int, gpu_memory_utilization: float,
             max_model_len: Optional[int], enable_prefix_caching: bool, enforce_eager: bool,
             lora: Optional[str]) -> dict[str, Any]:
    """The :class:`VllmSettings` fields as keyword arguments of ``SampleConfig``/``EvalConfig``."""
    return {"tensor_parallel_size": tensor_parallel_size,
            "gpu_memory_utilization": gpu_memory_utilization, "max_model_len": max_model_len,
            "enable_prefix_caching": enable_prefix_caching, "enforce_eager": enforce_eager,
            "lora": None if lora is None else str(lora)}
