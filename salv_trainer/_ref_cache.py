"""Reference log-probs kept on disk and reused by every DPO run that would compute the same ones.

With ``precompute_ref_log_probs`` TRL runs the reference model once over the tokenized pairs
before training, instead of once per step. A study trains many runs on one pair set from one SFT
model (DPO seeds, budgets, sweep points): their reference log-probs are identical, so the first
run stores them here and the others read them (``DPORunConfig.ref_log_probs_cache``).

The key is a SHA-256 over everything the numbers depend on: the reference weights (the policy's
base weights when the reference is the adapter-disabled policy: LoRA tensors are left out, their
random start differs per seed but is switched off), the tokenized rows the collator reads (ids
and token masks, so the cone/full mask is in it), and the settings that change the batches or the
sum (max length, truncation, padding multiple, batch size, ``ld_alpha``, dtype). Any change gives
a new file; nothing is ever looked up by name alone. Files are written to a temporary name and
renamed, so two workers racing on one key each write a whole file and either one is read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["cache_path", "load", "reference_digest", "rows_digest", "store"]

#: Dataset columns whose content decides a row's reference log-probs (those present are hashed).
ROW_COLUMNS = ("prompt_ids", "chosen_ids", "rejected_ids", "chosen_token_mask", "rejected_token_mask")


def reference_digest(model: Any) -> str:
    """SHA-256 of the reference weights: ``model``'s parameters and buffers, names included,
    without the trained LoRA tensors (a PEFT reference is the model with its adapter disabled, or
    TRL's adapter named ``ref``, whose tensors are kept)."""
    h = hashlib.sha256()
    state = model.state_dict()
    for name in sorted(state):
        if "lora_" in name and ".ref." not in name:  # TRL's reference adapter, if any, is "ref"
            continue
        t = state[name].detach().to("cpu").contiguous()
        h.update(name.encode())
        h.update(str(t.dtype).encode())
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def rows_digest(dataset: Any, columns: Sequence[str] = ROW_COLUMNS) -> str:
    """SHA-256 of the tokenized rows, in order, over the ``columns`` the dataset has."""
    h = hashlib.sha256()
    present = [c for c in columns if c in dataset.column_names]
    h.update(json.dumps(present).encode())
    # to_dict applies a select()'s index mapping, so the rows are hashed in training order
    values = dataset.select_columns(present).to_dict()
    for col in present:
        h.update(json.dumps(values[col], separators=(",", ":")).encode())
    return h.hexdigest()


def cache_path(directory: str | Path, *, reference: str, rows: str, settings: dict[str, Any]) -> Path:
    """The file for one (reference, rows, settings) combination under ``directory``."""
    h = hashlib.sha256()
    h.update(json.dumps({"reference": reference, "rows": rows, "settings": settings},
                        sort_keys=True, default=str).encode())
    return Path(directory) / f"ref-logps-{h.hexdigest()[:32]}.pt"


def load(path: Path, rows: int) -> tuple[list[float], list[float]] | None:
    """The stored (chosen, rejected) log-probs, or None when the file is missing or not ``rows``
    long (a file of another dataset cannot have this key; a damaged one is recomputed)."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError):
        return None
    chosen, rejected = data.get("chosen"), data.get("rejected")
    if chosen is None or rejected is None or len(chosen) != rows or len(rejected) != rows:
        return None
    return chosen.tolist(), rejected.tolist()


def store(path: Path, chosen: Iterable[float], rejected: Iterable[float]) -> None:
    """Write atomically: a reader sees no file or a whole one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save({"chosen": torch.tensor(list(chosen), dtype=torch.float64),
                    "rejected": torch.tensor(list(rejected), dtype=torch.float64)}, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
