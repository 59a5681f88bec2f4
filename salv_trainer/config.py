"""Training configurations: one dataclass per stage, shared by the Python API, YAML files and CLI.

Each field carries its help text in ``metadata["help"]``; ``salv-train sft|dpo`` turn every field
into a ``--flag`` (underscores become dashes), and ``--config file.yaml`` loads the same keys.
Precedence: dataclass defaults < YAML file < command-line flags.

Where each default comes from (the help texts say it too, as ``[paper]``, ``[released config]`` or
``[project]``; docs/training.md has the table):

* **the paper's text** (QiMeng-SALV): signal-aware DPO (Eq. 2, the sigmoid loss) with LoRA and
  Adam, lr 5e-6, cosine schedule, about 1 epoch (7000 steps), global batch 64, cutoff 2048 tokens;
  SFT as a full fine-tune at lr 1e-5 for 2 epochs.
* **the released training configs, not the paper's text**: beta 0.1, LoRA r=8 alpha=16 on all
  linear layers, warm-up ratio 0.1 (DPO). Sampling for pairs at T=1.0, top-p 0.95, 5 per prompt
  comes from the released scripts (``salv_trainer.data.SampleConfig``, not here).
* **this project's choice** (in neither): LoRA dropout 0, SFT warm-up 0.03, per-device batch 1 x
  accumulation 1 (set them so that batch x accumulation x devices = 64), seed 0. TRL's default
  optimizer (AdamW with weight decay 0) is Adam.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from .errors import SalvError

__all__ = ["ConfigError", "DPORunConfig", "SFTRunConfig", "load_config", "setting", "with_default"]


class ConfigError(SalvError, ValueError):
    """A configuration file or value is invalid (the message names the key)."""


def setting(default: Any, help: str, **meta: Any) -> Any:  # noqa: A002 - mirrors argparse's name
    """A config field with its ``salv-train`` help text (``metadata["help"]``). Other metadata
    the command line reads (:mod:`salv_trainer.cli._flags`): ``short`` (e.g. ``"-t"``), ``flag``
    (the long name when it is not ``--field-name``, e.g. ``"--no-cones"`` for a switch that
    turns the field off)."""
    return field(default=default, metadata={"help": help, **meta})


def with_default(cls: type, name: str, default: Any, note: str = "") -> Any:
    """Field ``name`` of dataclass ``cls`` again, with another ``default`` (its help text
    followed by ``note``), for a subclass whose stage wants another default."""
    base = cls.__dataclass_fields__[name]
    meta = dict(base.metadata)
    if note:  # "Sampling temperature." + "[paper: ...]" -> "Sampling temperature [paper: ...]."
        meta["help"] = f"{meta['help'].removesuffix('.')} {note}."
    return field(default=default, metadata=meta)


@dataclass
class _Common:
    model: str = setting("", "Model directory (Hugging Face layout) or hub id of the policy.")
    output_dir: str = setting("", "Where checkpoints, the final weights/adapter and train_log.jsonl go.")
    learning_rate: float = setting(5e-6, "Peak learning rate [paper: DPO 5e-6].")
    lr_scheduler: str = setting("cosine", "Learning-rate schedule (transformers name: cosine, linear, constant...) "
                           "[paper: cosine, for DPO].")
    warmup_ratio: float = setting(0.1, "Fraction of the steps spent warming the learning rate up "
                             "[released config: DPO 0.1; not in the paper's text].")
    num_train_epochs: float = setting(1.0, "Epochs over the data (ignored when max_steps > 0) "
                                 "[paper: DPO about 1 epoch, 7000 steps].")
    max_steps: int = setting(-1, "Stop after this many optimizer steps (-1: run the epochs).")
    per_device_batch_size: int = setting(1, "Rows per device per forward pass [project default; paper: global "
                                    "batch 64].")
    gradient_accumulation_steps: int = setting(1, "Forward passes per optimizer step (global batch = this x batch x "
                                          "devices) [project default; paper: global batch 64].")
    max_length: int = setting(2048, "Cutoff in tokens for prompt + response (longer rows are truncated at the end) "
                         "[paper: 2048].")
    logging_steps: int = setting(10, "Log metrics every N steps.")
    save_steps: int = setting(500, "Write a checkpoint every N steps.")
    save_total_limit: int = setting(3, "Keep at most this many checkpoints.")
    seed: int = setting(0, "Random seed (data order, adapter initialisation) [project default].")
    bf16: bool = setting(False, "Train in bfloat16 mixed precision (GPUs).")
    gradient_checkpointing: bool = setting(False, "Trade compute for memory.")
    resume: str = setting("", "Resume: 'latest' (newest checkpoint in output_dir) or a checkpoint directory.")
    system_prompt: str = setting("", "System prompt of the chat template ('' = the project's default).")
    report_to: str = setting("none", "Where transformers reports metrics (none, tensorboard, wandb...).")

    def validate(self) -> None:
        if not self.model:
            raise ConfigError("model is required (--model PATH or 'model:' in the config file)")
        if not self.output_dir:
            raise ConfigError("output_dir is required (--output-dir DIR or 'output_dir:')")
        positive = ("per_device_batch_size", "gradient_accumulation_steps", "max_length",
                    "logging_steps", "save_steps")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass
class SFTRunConfig(_Common):
    """Stage 0: full fine-tune with TRL's SFTTrainer on (prompt, reference) rows.

    Defaults: lr 1e-5 and 2 epochs are the paper's; the warm-up (0.03) is this project's.

    The data file is JSONL with ``prompt`` (text or chat ``messages``), optional ``module_header``,
    and ``reference`` (Verilog); the target is :func:`salv_trainer.prompts.format_response`.
    """

    data: str = setting("", "Training JSONL: prompt (+ module_header) and reference per row.")
    learning_rate: float = setting(1e-5, "Peak learning rate [paper: SFT 1e-5].")
    num_train_epochs: float = setting(2.0, "Epochs over the data (ignored when max_steps > 0) [paper: SFT 2 epochs].")
    warmup_ratio: float = setting(0.03, "Fraction of the steps spent warming the learning rate up "
                             "[project default; not in the paper].")

    def validate(self) -> None:
        super().validate()
        if not self.data:
            raise ConfigError("data is required (--data train.jsonl or 'data:' in the config file)")


@dataclass
class DPORunConfig(_Common):
    """Signal-aware DPO (Eq. 2) with a LoRA adapter; the reference is the adapter-disabled policy.

    Defaults: lr, schedule, epochs, cutoff and the loss are the paper's; beta, the LoRA shape and
    the warm-up come from the released training configs (see the module docstring).
    """

    pairs: str = setting("", "Pairs JSONL from `salv-train pairs` (chosen/rejected + spans).")
    mask: str = setting("cone", "Which response tokens enter the loss: cone (paper), full (standard DPO), "
                   "inverse (released code's behaviour).")
    kinds: str = setting("complete,partial", "Pair kinds to train on, comma-separated: complete, partial.")
    beta: float = setting(0.1, "DPO temperature beta [released config; not in the paper's text].")
    loss_type: str = setting("sigmoid", "TRL DPO loss [paper: sigmoid, Eq. 2].")
    lora_r: int = setting(8, "LoRA rank [released config; the paper says LoRA, not the rank].")
    lora_alpha: int = setting(16, "LoRA alpha [released config].")
    lora_dropout: float = setting(0.0, "LoRA dropout [project default; in neither].")
    lora_target: str = setting("all-linear", "LoRA target modules: all-linear or comma-separated names "
                          "[released config: all linear layers].")
    precompute_ref_log_probs: bool = setting(False, "Compute the reference log-probs once before training.")
    ref_log_probs_cache: str = setting("", "Directory keeping precomputed reference log-probs for later runs "
                                       "on the same pairs, mask and reference weights (implies "
                                       "precompute_ref_log_probs).")

    def validate(self) -> None:
        from .masks import MASK_MODES

        super().validate()
        if not self.pairs:
            raise ConfigError("pairs is required (--pairs pairs.jsonl or 'pairs:' in the config file)")
        if self.mask not in MASK_MODES:
            raise ConfigError(f"mask must be one of {', '.join(MASK_MODES)}, got {self.mask!r}")
        bad = set(self.kind_list) - {"complete", "partial"}
        if bad or not self.kind_list:
            raise ConfigError(f"kinds must list complete and/or partial, got {self.kinds!r}")
        if self.beta <= 0:
            raise ConfigError(f"beta must be positive, got {self.beta}")
        if self.lora_r <= 0:
            raise ConfigError(f"lora_r must be positive, got {self.lora_r}")

    @property
    def kind_list(self) -> list[str]:
        return [k.strip() for k in self.kinds.split(",") if k.strip()]


C = TypeVar("C", bound=_Common)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """The top-level mapping of a YAML config file; every problem is a located ConfigError."""
    import yaml

    p = Path(path)
    try:
        loaded = yaml.safe_load(p.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{p}:{mark.line + 1}:{mark.column + 1}" if mark else str(p)
        raise ConfigError(f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{p}: a config file must be a mapping of keys to values")
    return loaded


def load_config(cls: type[C], path: str | Path | None = None, **overrides: Any) -> C:
    """Build ``cls`` from defaults, then the YAML file at ``path``, then ``overrides`` (not None).

    Unknown keys and values of the wrong type raise :class:`ConfigError` naming the key and file.
    Relative paths in the file (model, data, pairs, output_dir) are kept as written: they are
    resolved against the working directory, like command-line paths.
    """
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(cls)}
    if path is not None:
        p = Path(path)
        for key, value in read_yaml_mapping(p).items():
            name = str(key).replace("-", "_")
            if name not in known:
                raise ConfigError(
                    f"{p}: unknown key {key!r} for {cls.__name__} (known: {', '.join(sorted(known))})"
                )
            values[name] = _coerce(known[name], value, f"{p}: {key}")
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in known:
            raise ConfigError(f"unknown option {name!r} for {cls.__name__}")
        values[name] = _coerce(known[name], value, f"--{name.replace('_', '-')}")
    cfg = cls(**values)
    return cfg


def _coerce(f: dataclasses.Field, value: Any, where: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "false", "no", "0"):
                return value.lower() in ("true", "yes", "1")
            raise TypeError
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if kind == "str":
            if isinstance(value, (list, tuple)):  # e.g. kinds: [complete, partial]
                return ",".join(str(v) for v in value)
            if isinstance(value, (dict,)):
                raise TypeError
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {kind}, got {value!r}") from None
    return value
