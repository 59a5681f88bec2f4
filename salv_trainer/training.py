"""Training stages of salv_trainer: SFT and signal-aware DPO (QiMeng-SALV Eq. 2) on TRL + PEFT.

Public surface::

    from salv_trainer.training import DPORunConfig, train_dpo
    result = train_dpo(DPORunConfig(model="sft/", pairs="pairs.jsonl", output_dir="dpo/"))

* :func:`train_sft` / :class:`SFTRunConfig`: full fine-tune with TRL's SFTTrainer.
* :func:`train_dpo` / :class:`DPORunConfig`: LoRA DPO whose loss runs over the cone tokens.
* :func:`merge_adapter`: adapter directory -> merged full weights.
* :class:`SignalAwareDPOTrainer`, :class:`SignalAwareCollator`: the TRL hooks, for custom loops.
* :func:`load_pairs`, :func:`pairs_to_dataset`: the pairs file as a TRL preference dataset.

TRL is pinned (1.16.0): the hooks rely on its collator's ``completion_mask``.
"""

from .config import ConfigError, DPORunConfig, SFTRunConfig, load_config
from ._dpo import (
    MaskStats,
    SignalAwareCollator,
    SignalAwareDPOTrainer,
    load_pairs,
    merge_adapter,
    pairs_to_dataset,
    train_dpo,
)
from ._sft import load_sft_rows, sft_dataset, train_sft
from ._trainer_setup import DataFormatError, TrainResult

__all__ = [
    "ConfigError",
    "DPORunConfig",
    "DataFormatError",
    "MaskStats",
    "SFTRunConfig",
    "SignalAwareCollator",
    "SignalAwareDPOTrainer",
    "TrainResult",
    "load_config",
    "load_pairs",
    "load_sft_rows",
    "merge_adapter",
    "pairs_to_dataset",
    "sft_dataset",
    "train_dpo",
    "train_sft",
]
