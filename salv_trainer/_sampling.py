"""The sampling settings, defined once: :class:`SamplingSettings` (temperature, top-p, length,
seed, batch size, backend) and :class:`GenerationSettings` (those, the model's dtype and the vLLM
engine settings).

``salv_trainer.generate.SamplingConfig`` (one ``generate`` call), ``salv_trainer.data.SampleConfig``
(``salv-train sample``) and ``salv_trainer.eval.EvalConfig`` (``salv-train eval``) inherit them, so
a setting has one name, one check and one help text; a stage that wants another default
re-declares the field with :func:`salv_trainer.config.with_default` (``sample`` samples at T=1.0,
``eval`` greedily). The help text of each field is the help of its ``salv-train`` option; the
count of responses stays with each stage, as its meaning does (``k`` candidates per prompt for
pairs, ``n`` samples per task for pass@k).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._vllm import VllmSettings
from .config import setting

__all__ = ["BACKENDS", "GenerationSettings", "SamplingSettings"]

#: The generation backends: HF ``generate``, or vLLM when installed.
BACKENDS = ("transformers", "vllm")


@dataclass(kw_only=True)
class SamplingSettings:
    """How responses are drawn from a model. :meth:`check` raises
    :class:`~salv_trainer.generate.GenerationError` for a value no backend can run."""

    temperature: float = setting(0.0, "Sampling temperature (0 = greedy).", short="-t")
    top_p: float = setting(0.95, "Nucleus sampling threshold.")
    max_new_tokens: int = setting(1024, "Generation length limit in tokens.")
    seed: int = setting(0, "Sampling seed (runs are reproducible for the same seed and settings).")
    batch_size: int = setting(8, "Sequences per generate call.")
    backend: str = setting("transformers", "transformers (HF generate), or vllm (pip install -e "
                                           "'.[vllm]'; one engine per process, options "
                                           "--tensor-parallel-size ... below).")

    def check(self) -> None:
        from .generate import GenerationError

        if self.temperature < 0:
            raise GenerationError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise GenerationError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise GenerationError(f"max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.batch_size < 1:
            raise GenerationError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.backend not in BACKENDS:
            raise GenerationError(f"unknown backend '{self.backend}' (transformers, vllm)")

    def sampling_json(self) -> dict[str, Any]:
        """The settings that decide what is sampled, as recorded in outputs."""
        return {"temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens, "seed": self.seed, "backend": self.backend}


@dataclass(kw_only=True)
class GenerationSettings(SamplingSettings, VllmSettings):
    """The sampling settings plus how the model is loaded: its ``dtype`` and, for the vLLM
    backend, the engine settings of :class:`~salv_trainer._vllm.VllmSettings` (``lora`` also
    applies to the transformers backend). Shared by ``sample`` and ``eval``."""

    dtype: str | None = setting(None, "float32, bfloat16 or float16 (default: the checkpoint's; "
                                      "vllm: vLLM's choice, 16 bits for a float32 checkpoint).")
