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
from ..tiny import TinyModelConfig

__all__ = [
    "BUDGETS",
    "DEFAULT_VARIANTS",
    "PipelineConfig",
    "SFT",
    "SweepConfig",
    "TinyModelConfig",
    "Variant",
    "load_pipeline_config",
]

#: The SFT model's key among the evaluated models (no variant may take it).
SFT = "sft"


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
        if self.name == SFT:
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


#: How the DPO training budget is equalised across variants: ``steps`` (``dpo.max_steps`` for all;
#: a variant with more pairs sees each pair fewer times) or ``epochs`` (``dpo_epochs`` passes over
#: each variant's own pairs; a variant with more pairs takes more steps).
BUDGETS = ("steps", "epochs")


@dataclass
class SweepConfig:
    """A small grid over the DPO learning rate and beta, scored on the validation split.

    For every variant and every ``(learning_rate, beta)`` of the grid, one DPO run (the first
    seed, ``max_steps`` steps; 0: ``dpo.max_steps``) is scored on the validation problems by
    ``metric``: ``outputs_greedy`` (share of outputs right of one greedy answer per validation
    problem; ties broken by reward accuracy) or ``reward_accuracy`` (teacher-forced, on the
    validation pairs). The best pair is used for every run of that variant. An empty grid: no
    sweep, ``dpo.learning_rate`` and ``dpo.beta`` for all. ``variants``: the variants swept (empty:
    all); the others keep ``dpo.learning_rate`` and ``dpo.beta``.
    """

    learning_rates: tuple[float, ...] = ()
    betas: tuple[float, ...] = ()
    max_steps: int = 0
    metric: Literal["outputs_greedy", "reward_accuracy"] = "outputs_greedy"
    variants: tuple[str, ...] = ()

    @property
    def grid(self) -> list[tuple[float, float]]:
        return [(lr, b) for lr in self.learning_rates for b in self.betas]


def _model_default() -> TinyModelConfig:
    # The from-scratch model (a BPE tokenizer trained on the train split, a random Qwen2): larger
    # than the tiny kit's default, with the same head size (32, which vLLM supports).
    return TinyModelConfig(vocab_size=1024, hidden=128, layers=3, heads=4, kv_heads=2, max_positions=1024)


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
    workers: int = 1
    """Processes that run independent stages at once (sweep points, DPO runs, evaluations and
    teacher-forced metrics of different models), each with ``max(1, threads // workers)`` torch
    threads. 1: everything in this process, one stage after another. Results do not depend on it."""
    synth: SynthConfig = field(default_factory=SynthConfig)
    model: TinyModelConfig = field(default_factory=_model_default)
    sft: SFTRunConfig = field(default_factory=_sft_default)
    sample: SampleConfig = field(default_factory=_sample_default)
    label: LabelConfig = field(default_factory=LabelConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    dpo: DPORunConfig = field(default_factory=_dpo_default)
    eval: SampleConfig = field(default_factory=_eval_default)
    variants: tuple[Variant, ...] = DEFAULT_VARIANTS
    dpo_seeds: tuple[int, ...] = ()
    """DPO runs per variant on one SFT model and one pair set: one per entry (its training seed);
    empty: one run per entry of ``seeds``, seeded with it."""
    budgets: tuple[str, ...] = ("steps",)
    """``steps`` and/or ``epochs`` (:data:`BUDGETS`): each variant is trained once per budget."""
    dpo_epochs: float = 1.0
    """Passes over each variant's own pairs under the ``epochs`` budget."""
    greedy: bool = False
    """Also score every model with one greedy answer per test problem (McNemar per problem and per
    output between models)."""
    teacher: bool = False
    """Teacher-forced metrics on validation pairs (the SFT model's samples of the validation
    prompts, labeled and paired like the train split's)."""
    sweep: SweepConfig = field(default_factory=SweepConfig)
    comparisons: tuple[tuple[str, ...], ...] = (("salv", "dpo_partial"), ("salv", "dpo_complete"),
                                                ("salv", "salv_inverse"))
    """Pairs of variants compared with paired tests (pairs naming an absent variant are left out);
    every variant is also compared with the SFT model."""
    protocol: Literal["none", "paper"] = "none"
    """``paper``: also run every model through the paper's benchmark protocol
    (:func:`~salv_trainer.eval.run_protocol`, settings in ``protocol_eval``)."""
    protocol_eval: ProtocolConfig = field(default_factory=ProtocolConfig)

    def validate(self) -> None:
        if not self.output_dir:
            raise ConfigError("output_dir is required")
        if self.threads < 0:
            raise ConfigError(f"threads must be >= 0, got {self.threads}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
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
        if len(set(self.dpo_seeds)) != len(self.dpo_seeds):
            raise ConfigError(f"dpo_seeds must be distinct integers, got {list(self.dpo_seeds)}")
        if not self.budgets or any(b not in BUDGETS for b in self.budgets) or len(set(self.budgets)) != len(self.budgets):
            raise ConfigError(f"budgets must be distinct values of {', '.join(BUDGETS)}, got {list(self.budgets)}")
        if self.dpo_epochs <= 0:
            raise ConfigError(f"dpo_epochs must be > 0, got {self.dpo_epochs}")
        if bool(self.sweep.learning_rates) != bool(self.sweep.betas):
            raise ConfigError("sweep: give both learning_rates and betas (or neither)")
        if any(x <= 0 for x in (*self.sweep.learning_rates, *self.sweep.betas)) or self.sweep.max_steps < 0:
            raise ConfigError("sweep: learning rates and betas must be > 0, max_steps >= 0")
        unknown = [n for n in self.sweep.variants if n not in names]
        if unknown:
            raise ConfigError(f"sweep.variants: unknown {', '.join(unknown)} (variants: {', '.join(names)})")
        if self.sweep.grid and self.synth.validation < 1:
            raise ConfigError("sweep needs validation problems (synth.validation >= 1)")
        if self.teacher and self.synth.validation < 1:
            raise ConfigError("teacher needs validation problems (synth.validation >= 1)")
        if any(len(c) != 2 for c in self.comparisons):
            raise ConfigError(f"comparisons must be pairs of variant names, got {[list(c) for c in self.comparisons]}")
        if self.protocol == "paper":
            try:
                dataclasses.replace(self.protocol_eval, model="-", output_dir="-").check()
            except EvalError as exc:
                raise ConfigError(f"protocol_eval: {exc.message}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def runs(self) -> list[tuple[Variant, str]]:
        """Every trained model of one seed: ``(variant, budget)``, the ``epochs`` budget's variants
        renamed ``<name>-epochs``."""
        out = []
        for budget in self.budgets:
            for v in self.variants:
                if budget == "steps":
                    out.append((v, budget))
                else:
                    out.append((dataclasses.replace(v, name=f"{v.name}-epochs",
                                                    label=f"{v.label} [equal epochs]"), budget))
        return out


# Keys the pipeline sets itself, per section.
_WIRED = {
    "sft": {"model", "data", "output_dir", "resume", "seed"},
    "dpo": {"model", "pairs", "output_dir", "resume", "mask", "kinds", "seed"},
    "sample": {"model"},
    "eval": {"model"},  # limit: the first N test problems (the sweep always scores every validation one)
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
