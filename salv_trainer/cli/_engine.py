"""The vLLM engine options shared by ``sample`` and ``eval`` (``--lora``,
``--tensor-parallel-size``, ``--gpu-memory-utilization``, ``--max-model-len``,
``--prefix-caching``, ``--enforce-eager``): the fields of :class:`salv_trainer._vllm.VllmSettings`,
which both commands' configs inherit; two of them have a CLI name of their own."""

from __future__ import annotations

from ._flags import Flags


def flags(cls: type) -> Flags:
    """The engine options of ``cls`` (a ``VllmSettings`` subclass), in ``--help`` order."""
    return (Flags()
            .fields(cls, "lora")
            .field(cls, "tensor_parallel_size", "--tensor-parallel-size", "--tp")
            .fields(cls, "gpu_memory_utilization", "max_model_len")
            .field(cls, "enable_prefix_caching", "--prefix-caching/--no-prefix-caching")
            .fields(cls, "enforce_eager"))
