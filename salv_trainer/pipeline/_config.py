"""The pipeline's configuration: one dataclass whose sections are the stages' own config classes.

A YAML file has the same keys as :class:`PipelineConfig`; each section takes the fields of the
stage it configures (``synth``: :class:`~salv_trainer.synth.SynthConfig`, ``sft``:
:class:`~salv_trainer.config.SFTRunConfig`, ``sample``/``eval``:
:class:`~salv_trainer.data.SampleConfig`, ``label``: :class:`~salv_trainer.data.LabelConfig`,
``pairs``: :class:`~salv_trainer.data.PairsConfig`, ``dpo``:
:class:`~salv_trainer.config.DPORunConfig`, ``protocol_eval``:
:class:`~salv_trainer.eval.ProtocolConfig`, used when ``protocol: paper``). Paths that the
pipeline wires itself (models, data files, output directories, the DPO mask and kinds of each
variant) are not settable there.
Unknown keys and values of the wrong type raise :class:`~salv_trainer.config.ConfigError` naming
the file and the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import ConfigError, DPORunConfig, SFTRunConfig, read_yaml_mapping
from ..data import LabelConfig, PairsConfig, SampleConfig
from ..eval import EvalError, ProtocolConfig
from ..synth import SynthConfig

__all__ = [
    "DEFAULT_VARIANTS",
    "PipelineConfig",
    "TinyModelConfig",
    "Variant",
    "load_pipeline_config",
]


@dataclass
class TinyModelConfig:
    """The from-scratch model: a byte-level BPE tokenizer trained on the train split and a randomly
    initialised Qwen2 causal LM (:mod:`salv_trainer.tiny`)."""

    vocab_size: int = 1024
    hidden: int = 128
    layers: int = 3
    heads: int = 4
    kv_heads: int = 2
    max_positions: int = 1024


@dataclass
class Variant:
    """One DPO model of the comparison (a row of the paper's Table 3).

    ``pairs``: which pairs file it trains on (``module``: standard DPO pairs, chosen fully correct;
    ``signal``: Eq. 1 pairs with cone spans); ``kinds``: pair kinds kept; ``mask``: which response
    tokens enter the loss (``full``, ``cone``, ``inverse``).
    """

    name: str = ""
    label: str = ""
    pairs: str = "signal"
    kinds: str = "complete,partial"
    mask: str = "cone"

    def validate(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"variant name must be letters, digits, - or _, got {self.name!r}")
        if self.name == "sft":
            raise ConfigError("variant name 'sft' is taken by the SFT model")
        if self.pairs not in ("module", "signal"):
            raise ConfigError(f"variant {self.name}: pairs must be module or signal, got {self.pairs!r}")


#: The paper's Table 3 rows, all from the same SFT checkpoint with the same step budget.
DEFAULT_VARIANTS: tuple[Variant, ...] = (
    Variant("dpo_complete", "DPO, complete-correct pairs", "module", "complete", "full"),
    Variant("dpo_partial", "DPO, + partial pairs (whole responses)", "signal", "complete,partial", "full"),
    Variant("salv", "SALV: + partial pairs, cone mask", "signal", "complete,partial", "cone"),
    Variant("salv_inverse", "inverted mask (released code)", "signal", "complete,partial", "inverse"),
)


def _sft_default() -> SFTRunConfig:
    # From scratch, a tiny model needs a far larger learning rate than the paper's 1e-5 fine-tune.
    return SFTRunConfig(learning_rate=2e-3, max_steps=1200, per_device_batch_size=8,
                        warmup_ratio=0.05, logging_steps=25, save_steps=100_000, max_length=1024)


def _dpo_default() -> DPORunConfig:
    return DPORunConfig(learning_rate=2e-4, max_steps=80, per_device_batch_size=8,
                        logging_steps=10, save_steps=100_000, max_length=1024, lora_r=8, lora_alpha=16)


def _sample_default() -> SampleConfig:
    return SampleConfig(k=5, temperature=0.8, top_p=0.95, max_new_tokens=448, batch_size=40, chunk_size=8)


def _eval_default() -> SampleConfig:
    return SampleConfig(k=4, temperature=0.8, top_p=0.95, max_new_tokens=448, batch_size=40,
                        chunk_size=10, seed=1000)


@dataclass
class PipelineConfig:
    """Everything the miniature replication does, stage by stage.

    Per seed in ``seeds``: a tokenizer and tiny model from scratch, SFT on the train split,
    ``sample.k`` samples per train prompt (the first ``sample.limit`` prompts when set), labels,
    pairs in both modes, one DPO run per variant from the SFT checkpoint with the same
    ``dpo.max_steps``, and every model evaluated on the test split (``eval.k`` samples per prompt).
    """

    output_dir: str = "runs/mini"
    seeds: tuple[int, ...] = (0,)
    threads: int = 0  # torch intra-op threads for training and sampling (0: torch's default)
    synth: SynthConfig = field(default_factory=SynthConfig)
    model: TinyModelConfig = field(default_factory=TinyModelConfig)
    sft: SFTRunConfig = field(default_factory=_sft_default)
    sample: SampleConfig = field(default_factory=_sample_default)
    label: LabelConfig = field(default_factory=LabelConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    dpo: DPORunConfig = field(default_factory=_dpo_default)
    eval: SampleConfig = field(default_factory=_eval_default)
    variants: tuple[Variant, ...] = DEFAULT_VARIANTS
    protocol: Literal["none", "paper"] = "none"
    """``paper``: also run every model through the paper's benchmark protocol
    (:func:`~salv_trainer.eval.run_protocol`, settings in ``protocol_eval``)."""
    protocol_eval: ProtocolConfig = field(default_factory=ProtocolConfig)

    def validate(self) -> None:
        if not self.output_dir:
            raise ConfigError("output_dir is required")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, got {self.threads}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be a non-empty list of distinct integers, got {list(self.seeds)}")
        self.synth.validate()
        if self.synth.train < 1 or self.synth.test < 1:
            raise ConfigError("synth.train and synth.test must be at least 1")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ConfigError(f"variant names must be distinct, got {names}")
        for v in self.variants:
            v.validate()
            # The DPO config of each variant must be valid (mask, kinds, beta, lora...).
            dataclasses.replace(self.dpo, model="-", output_dir="-", pairs="-", mask=v.mask,
                                kinds=v.kinds).validate()
        dataclasses.replace(self.sft, model="-", output_dir="-", data="-").validate()
        for name in ("sample", "eval"):
            s = getattr(self, name)
            if s.k < 1 or s.max_new_tokens < 1 or s.batch_size < 1:
                raise ConfigError(f"{name}: k, max_new_tokens and batch_size must be at least 1")
        if self.sample.k < 2:
            raise ConfigError("sample.k must be at least 2 (pairs need two candidates per prompt)")
        if self.protocol == "paper":
            try:
                dataclasses.replace(self.protocol_eval, model="-", output_dir="-").check()
            except EvalError as exc:
                raise ConfigError(f"protocol_eval: {exc.message}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Keys the pipeline sets itself, per section.
_WIRED = {
    "sft": {"model", "data", "output_dir", "resume", "seed"},
    "dpo": {"model", "pairs", "output_dir", "resume", "mask", "kinds", "seed"},
    "sample": {"model"},
    "eval": {"model", "limit"},
    "pairs": {"mode", "kinds"},
    "protocol_eval": {"model", "output_dir"},
}


def load_pipeline_config(path: str | Path | None = None, **overrides: Any) -> PipelineConfig:
    """Defaults, then the YAML file at ``path``, then ``overrides`` (top-level keys, not None)."""
    data: dict[str, Any] = {}
    where = "config"
    if path is not None:
        where = str(path)
        data.update(read_yaml_mapping(path))
    data.update({k: v for k, v in overrides.items() if v is not None})
    cfg = _build(PipelineConfig, data, where, PipelineConfig())
    cfg.validate()
    return cfg


def _build(cls: type, data: Any, where: str, base: Any = None) -> Any:
    """``cls`` from a mapping: start from ``base`` (or the class defaults), set the given keys."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    section = where.rsplit(": ", 1)[-1] if ": " in where else ""
    values: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).replace("-", "_")
        if name not in known or name in _WIRED.get(section, ()):
            wired = " (set by the pipeline)" if name in _WIRED.get(section, ()) else ""
            allowed = sorted(known - _WIRED.get(section, set()))
            raise ConfigError(f"{where}: unknown key {key!r}{wired} (known: {', '.join(allowed)})")
        sub_base = getattr(base, name) if base is not None else None
        values[name] = _coerce(hints[name], value, f"{where}: {name}", sub_base)
    try:
        return dataclasses.replace(base, **values) if base is not None else cls(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(tp: Any, value: Any, where: str, base: Any = None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where, base)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where, base)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            value = [value]
        item = args[0] if args else Any
        if item is Variant:
            return tuple(_build(Variant, v, f"{where}[{i}]") for i, v in enumerate(value))
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {', '.join(map(str, args))}, got {value!r}")
        return value
    try:
        if tp is bool:
            if isinstance(value, bool):
                return value
            raise TypeError
        if tp is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if tp is float:
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if tp is str:
            if isinstance(value, (list, tuple)):  # kinds: [complete, partial]
                return ",".join(str(v) for v in value)
            if isinstance(value, dict):
                raise TypeError
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}") from None
    return value
