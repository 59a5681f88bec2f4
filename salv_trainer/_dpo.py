"""Signal-aware DPO (Eq. 2) on top of TRL's DPOTrainer, without forking its loss.

TRL (pinned 1.16.0) tokenizes each pair into ``prompt_ids`` / ``chosen_ids`` / ``rejected_ids``,
its collator builds ``completion_mask`` (1 on completion tokens) and its loss masks the labels with
it, for the policy and the reference forward alike, before summing per-token log-probs. So Eq. 2 is
exactly: AND the cone mask into ``completion_mask``. Three small hooks do that:

* :meth:`SignalAwareDPOTrainer._prepare_dataset` lets TRL tokenize, then maps the character spans
  of each response to a mask over TRL's own ``chosen_ids`` / ``rejected_ids`` through the offsets
  of the text TRL actually tokenized (:mod:`salv_trainer.masks`: the response is found inside the
  chat template's text, trimmed or not, with whatever the template injects around it), and drops
  the rows that cannot train (mask empty, emptied by truncation, or not alignable with the
  template), counting each with its reason in :attr:`SignalAwareDPOTrainer.mask_stats`. A
  tokenizer whose offsets do not cover the text stops the run (:class:`masks.TokenizerOffsetsError`);
* :class:`SignalAwareCollator` runs TRL's collator and multiplies its ``completion_mask`` by the
  token masks (same truncation, same padding);
* ``compute_loss`` / ``compute_ref_log_probs`` only record the fraction of completion tokens that
  stayed in the mask (``mask/fraction`` in the logs) and hand over to TRL.

With ``mask="full"`` (or spans covering whole verbatim responses) the batches are TRL's, bit for
bit; ``full`` needs no alignment at all.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import trl
from accelerate.utils import broadcast_object_list
from trl import DPOConfig, DPOTrainer
from trl.trainer.dpo_trainer import DataCollatorForPreference

from . import _ref_cache
from ._paths import refuse_overwrite
from .config import ConfigError, DPORunConfig
from ._distributed import check_launch, launch_kwargs, load_in_bf16
from .masks import (
    MASK_MODES,
    MaskAlignmentError,
    TokenizerOffsetsError,
    completion_token_mask,
    describe_tokenizer,
    normalize_spans,
    template_frame,
    truncated_mask_count,
)
from .prompts import DEFAULT_SYSTEM, build_messages, render_prompt
from ._trainer_setup import (
    DataFormatError,
    TrainResult,
    check_output_dir,
    final_metrics,
    load_policy,
    log_callback,
    quiet_when_piped,
    read_jsonl,
    resolve_resume,
    trainer_kwargs,
    write_run_record,
)

__all__ = [
    "MaskStats",
    "SignalAwareCollator",
    "SignalAwareDPOTrainer",
    "load_pairs",
    "pairs_to_dataset",
    "train_dpo",
]

#: The TRL release whose DPOTrainer internals (``_prepare_dataset``, the preference collator,
#: ``completion_mask``) these hooks are written and tested against.
TRL_VERSION = "1.16.0"
if trl.__version__ != TRL_VERSION:  # pragma: no cover - depends on the installed TRL
    warnings.warn(
        f"salv_trainer's signal-aware DPO is tested with trl=={TRL_VERSION}, found {trl.__version__}: "
        "run tests/test_train_dpo.py before trusting the masked loss",
        RuntimeWarning,
        stacklevel=2,
    )

logger = logging.getLogger(__name__)

_TOKEN_KEY = "salv_completion_tokens"  # per-sequence completion tokens before the AND (for logging)
_MASK_COLUMNS = ("chosen_token_mask", "rejected_token_mask")
_REQUIRED = ("prompt", "chosen", "rejected")
_SIDES = ("chosen", "rejected")
_MAX_EXAMPLES = 20  # unaligned rows listed one by one in MaskStats.unaligned


@dataclass
class MaskStats:
    """Where the pairs went between the file and the loss."""

    rows_read: int = 0
    dropped_kind: int = 0  # kind not selected by --kinds
    rows_tokenized: int = 0
    dropped_empty: int = 0  # mask empty before truncation (no span tokens in chosen or rejected)
    dropped_truncated: int = 0  # mask emptied by max_length truncation
    dropped_unaligned: int = 0  # the cone cannot be placed on the tokens TRL trains on (reasons below)
    rows_trained: int = 0
    mask_tokens: int = 0  # tokens in the mask (chosen + rejected, after truncation)
    completion_tokens: int = 0  # all completion tokens (after truncation)
    #: rows dropped as unaligned, per reason (salv_trainer.masks.REASONS)
    unaligned_reasons: dict[str, int] = field(default_factory=dict)
    #: the first unaligned rows: {"id", "side", "reason", "detail"}
    unaligned: list[dict[str, str]] = field(default_factory=list)

    @property
    def mask_fraction(self) -> float:
        return self.mask_tokens / self.completion_tokens if self.completion_tokens else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mask_fraction": round(self.mask_fraction, 6)}


# --------------------------------------------------------------------------------------------- data


def load_pairs(
    path: str | Path,
    *,
    kinds: Iterable[str] = ("complete", "partial"),
) -> tuple[list[dict[str, Any]], MaskStats]:
    """Read and validate a pairs JSONL file; keep the rows whose ``kind`` is in ``kinds``.

    Every row needs ``prompt`` (text or chat ``messages``), ``chosen``, ``rejected``; spans default
    to the whole response when absent. Spans are checked against their text. Problems raise
    :class:`DataFormatError` as ``file:line:col: message``.
    """
    kinds = set(kinds)
    stats = MaskStats()
    rows: list[dict[str, Any]] = []
    for n, row in read_jsonl(path):
        stats.rows_read += 1
        where = f"{path}:{n}:1"
        if "prompt" not in row and "messages" in row:
            row = {**row, "prompt": row["messages"]}
        missing = [k for k in _REQUIRED if k not in row]
        if missing:
            raise DataFormatError(f"{where}: missing key(s) {', '.join(missing)}")
        for key in ("chosen", "rejected"):
            if not isinstance(row[key], str):
                raise DataFormatError(f"{where}: {key} must be a string (the response text)")
        prompt = row["prompt"]
        if not isinstance(prompt, str) and not (
            isinstance(prompt, list)
            and all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt)
        ):
            raise DataFormatError(f"{where}: prompt must be text or a list of {{role, content}} messages")
        kind = row.get("kind", "complete")
        if kind not in ("complete", "partial"):
            raise DataFormatError(f"{where}: kind must be 'complete' or 'partial', got {kind!r}")
        for key in ("chosen", "rejected"):
            skey = f"{key}_spans"
            spans = row.get(skey)
            if spans is None:
                spans = [[0, len(row[key])]]
            try:
                normalize_spans(spans, len(row[key]))
            except ValueError as exc:
                raise DataFormatError(f"{where}: {skey}: {exc}") from None
            row[skey] = [[int(a), int(b)] for a, b in spans]
        if kind not in kinds:
            stats.dropped_kind += 1
            continue
        rows.append(row)
    return rows, stats


def pairs_to_dataset(rows: Sequence[dict[str, Any]], tokenizer: Any, *, system: str | None = None):
    """Rows of a pairs file -> a ``datasets.Dataset`` in TRL's preference format.

    Prompts go through :func:`salv_trainer.prompts.build_messages` (``module_header`` honoured).
    With a chat template the dataset is conversational (TRL applies the template); without one the
    prompt is rendered as text by :func:`salv_trainer.prompts.render_prompt` and TRL appends EOS.
    """
    from datasets import Dataset

    chat = bool(getattr(tokenizer, "chat_template", None))
    records = []
    for row in rows:
        messages = build_messages(
            row["prompt"], module_header=row.get("module_header"), system=system or DEFAULT_SYSTEM
        )
        rec = {
            "id": str(row.get("pair_id") or row.get("id", "")),  # pair_id names one pair, id the prompt
            "kind": row.get("kind", "complete"),
            "chosen_spans": row["chosen_spans"],
            "rejected_spans": row["rejected_spans"],
        }
        if chat:
            rec["prompt"] = messages
            rec["chosen"] = [{"role": "assistant", "content": row["chosen"]}]
            rec["rejected"] = [{"role": "assistant", "content": row["rejected"]}]
        else:
            rec["prompt"] = render_prompt(tokenizer, messages)
            rec["chosen"] = row["chosen"]
            rec["rejected"] = row["rejected"]
        records.append(rec)
    return Dataset.from_list(records)


def _template_kwargs(ex: dict[str, Any]) -> dict[str, Any]:
    """The chat template arguments TRL 1.16 renders this row with (``tools``, ``chat_template_kwargs``)."""
    tools = ex.get("tools")
    tools = json.loads(tools) if isinstance(tools, str) else tools
    return {"tools": tools, **(ex.get("chat_template_kwargs") or {})}


def _side_texts(tokenizer: Any, ex: dict[str, Any]) -> dict[str, tuple[str, str, Any, bool]]:
    """Per side: (the text TRL tokenized, the response, the template's frame, add_special_tokens).

    Mirrors ``DPOTrainer._prepare_dataset``: a conversational row is rendered by the chat template
    and tokenized without special tokens; a plain-text row is ``prompt + response + EOS``,
    tokenized with them. The frame is rendered once per row (see :func:`masks.template_frame`).
    """
    out = {}
    if isinstance(ex["prompt"], list):
        kwargs = _template_kwargs(ex)
        frame = template_frame(tokenizer, ex["prompt"], **kwargs)
        for side in _SIDES:
            text = tokenizer.apply_chat_template(ex["prompt"] + ex[side], tokenize=False, **kwargs)
            response = "".join(m["content"] for m in ex[side] if m.get("role") == "assistant")
            out[side] = (text, response, frame, False)
        return out
    eos = tokenizer.eos_token or ""
    for side in _SIDES:
        value = ex[side]  # TRL appended EOS unless the response already ended with it
        response = value[: -len(eos)] if eos and value.endswith(eos) else value
        out[side] = (ex["prompt"] + value, response, (ex["prompt"], value[len(response):]), True)
    return out


# ----------------------------------------------------------------------------------------- collator


@dataclass
class SignalAwareCollator(DataCollatorForPreference):
    """TRL's preference collator, with ``completion_mask`` ANDed with per-token cone masks.

    Each example may carry ``chosen_token_mask`` / ``rejected_token_mask`` (0/1 over
    ``chosen_ids`` / ``rejected_ids``); examples without them collate exactly like TRL's. The masks
    are truncated and padded like the ids. The batch also carries ``salv_completion_tokens`` (the
    completion tokens per sequence before the AND), which the trainer pops for logging.
    """

    def torch_call(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        out = super().torch_call(examples)
        if _MASK_COLUMNS[0] not in examples[0]:
            return out
        completion_mask = out["completion_mask"]
        rows = [[0] * len(ex["prompt_ids"]) + list(ex["chosen_token_mask"]) for ex in examples]
        rows += [[0] * len(ex["prompt_ids"]) + list(ex["rejected_token_mask"]) for ex in examples]
        if self.max_length is not None:
            sl = slice(None, self.max_length) if self.truncation_mode == "keep_start" else slice(-self.max_length, None)
            rows = [r[sl] for r in rows]
        token_mask = torch.zeros_like(completion_mask)
        for i, r in enumerate(rows):
            token_mask[i, : len(r)] = torch.tensor(r, dtype=completion_mask.dtype)
        out[_TOKEN_KEY] = completion_mask.sum(dim=1)
        out["completion_mask"] = completion_mask * token_mask
        return out


# ------------------------------------------------------------------------------------ row masks


class _RowMasker:
    """``datasets.map`` function: the token masks of one tokenized row, or why it cannot train.

    A class (not a closure) so that ``num_proc`` workers can pickle it. Adds ``chosen_token_mask``,
    ``rejected_token_mask`` (all 0 when the row cannot be aligned), ``salv_status`` (``ok``, ``empty``,
    ``truncated``, ``unaligned``), ``salv_side`` / ``salv_reason`` / ``salv_detail`` for an
    unaligned row, and the token counts behind ``mask/fraction``.
    """

    def __init__(self, tokenizer: Any, mode: str, max_length: int | None, truncation_mode: str) -> None:
        self.tokenizer, self.mode = tokenizer, mode
        self.max_length, self.truncation_mode = max_length, truncation_mode

    def __call__(self, ex: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"salv_side": "", "salv_reason": "", "salv_detail": ""}
        try:
            masks = self.masks(ex)
        except TokenizerOffsetsError as exc:  # the tokenizer, not the row: stop the run
            raise TokenizerOffsetsError(f"pair {ex.get('id', '?')!r}: {exc}") from None
        except _Unaligned as exc:
            masks = {side: [0] * len(ex[f"{side}_ids"]) for side in _SIDES}  # same column type; row dropped
            out.update(salv_side=exc.side, salv_reason=exc.reason, salv_detail=exc.detail)
        n_prompt = len(ex["prompt_ids"])
        kept = {s: truncated_mask_count(n_prompt, masks[s], self.max_length, self.truncation_mode) for s in _SIDES}
        if out["salv_reason"]:
            status = "unaligned"
        elif not all(sum(masks[s]) for s in _SIDES):
            status = "empty"
        else:
            status = "ok" if all(kept.values()) else "truncated"
        out.update({f"{s}_token_mask": masks[s] for s in _SIDES})
        out["salv_status"] = status
        out["salv_mask_tokens"] = sum(kept.values())
        out["salv_completion_total"] = sum(
            truncated_mask_count(n_prompt, [1] * len(ex[f"{s}_ids"]), self.max_length, self.truncation_mode)
            for s in _SIDES
        )
        return out

    def masks(self, ex: dict[str, Any]) -> dict[str, list[int]]:
        """Both sides' masks over TRL's ``chosen_ids`` / ``rejected_ids``; raises :class:`_Unaligned`."""
        if self.mode == "full":  # standard DPO: TRL's completion mask, no alignment needed
            return {s: [1] * len(ex[f"{s}_ids"]) for s in _SIDES}
        out = {}
        for side, (text, response, frame, special) in _side_texts(self.tokenizer, ex).items():
            spans = ex[f"{side}_spans"]
            if not isinstance(ex["prompt"], list):  # a response ending in EOS text lost it above
                spans = [[min(a, len(response)), min(b, len(response))] for a, b in spans]
            try:
                out[side] = completion_token_mask(
                    self.tokenizer, text, response, spans, ex["prompt_ids"] + ex[f"{side}_ids"],
                    len(ex["prompt_ids"]), self.mode, frame=frame, add_special_tokens=special,
                )
            except TokenizerOffsetsError as exc:
                raise TokenizerOffsetsError(f"{side}: {exc}") from None
            except MaskAlignmentError as exc:
                raise _Unaligned(side, exc.reason, str(exc)) from None
        return out


class _Unaligned(Exception):
    """One side of a row cannot be aligned (caught per row, never leaves this module)."""

    def __init__(self, side: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.side, self.reason, self.detail = side, reason, detail


def _count_rows(dataset: Any, prompt_too_long: int) -> tuple[MaskStats, list[int]]:
    """Mask statistics of a masked dataset and the indices of the rows that train."""
    status = list(dataset["salv_status"])
    stats = MaskStats(rows_tokenized=len(status) + prompt_too_long)
    stats.dropped_empty = status.count("empty")
    stats.dropped_truncated = status.count("truncated") + prompt_too_long
    stats.dropped_unaligned = status.count("unaligned")
    if stats.dropped_unaligned:
        bad = dataset.select([i for i, s in enumerate(status) if s == "unaligned"])
        stats.unaligned_reasons = dict(Counter(bad["salv_reason"]))
        first = bad.select(range(min(len(bad), _MAX_EXAMPLES)))
        ids = first["id"] if "id" in first.column_names else ["?"] * len(first)
        stats.unaligned = [
            {"id": str(i), "side": side, "reason": reason, "detail": detail}
            for i, side, reason, detail in zip(ids, first["salv_side"], first["salv_reason"], first["salv_detail"])
        ]
    keep = [i for i, s in enumerate(status) if s == "ok"]
    stats.rows_trained = len(keep)
    if keep:
        kept = dataset.select(keep)
        stats.mask_tokens = sum(kept["salv_mask_tokens"])
        stats.completion_tokens = sum(kept["salv_completion_total"])
    return stats, keep


def _reasons(stats: MaskStats) -> str:
    """``"3 template_rewrites_response, 1 cone_in_prompt"``."""
    return ", ".join(f"{n} {r}" for r, n in sorted(stats.unaligned_reasons.items(), key=lambda kv: -kv[1]))


# ------------------------------------------------------------------------------------------ trainer


class SignalAwareDPOTrainer(DPOTrainer):
    """``trl.DPOTrainer`` whose loss runs over the cone tokens only (Eq. 2 of QiMeng-SALV).

    The train/eval datasets are TRL preference datasets with two extra columns, ``chosen_spans``
    and ``rejected_spans`` (character ``[start, end)`` offsets into each response). ``mask_mode``
    is ``cone`` (Eq. 2), ``full`` (standard DPO) or ``inverse`` (the released code's behaviour).
    Rows whose mask is empty (after truncation) or whose spans cannot be placed on the tokens the
    chat template produces are dropped before training and counted, with reasons, in
    :attr:`mask_stats`; the run never aborts for one row (only for a tokenizer whose offsets cannot
    be trusted). Everything else (loss types, PEFT reference = adapter disabled,
    accelerate/DeepSpeed) is TRL's own; the reference pass of ``precompute_ref_log_probs`` runs
    TRL's steps in a loop of ours (:meth:`_reference_log_probs`), and ``ref_cache_dir`` keeps its
    values for later runs (:mod:`salv_trainer._ref_cache`).
    """

    def __init__(self, *args: Any, mask_mode: str = "cone", data_collator: Any = None,
                 ref_cache_dir: str | Path | None = None, **kwargs: Any):
        if mask_mode not in MASK_MODES:
            raise ValueError(f"mask_mode must be one of {', '.join(MASK_MODES)}, got {mask_mode!r}")
        self.mask_mode = mask_mode
        # read by _precompute_ref_logps, which TRL calls from its __init__
        self.ref_cache_dir = Path(ref_cache_dir) if ref_cache_dir else None
        self.ref_cache_hits: list[str] = []
        self.mask_stats: dict[str, MaskStats] = {}
        dpo_args: DPOConfig | None = kwargs.get("args")
        tok = kwargs.get("processing_class")
        if data_collator is None and tok is not None and dpo_args is not None:
            pad = dpo_args.pad_token or tok.pad_token or tok.eos_token
            if tok.pad_token is None:
                tok.pad_token = pad
            data_collator = SignalAwareCollator(
                pad_token_id=tok.convert_tokens_to_ids(pad),
                max_length=dpo_args.max_length,
                truncation_mode=dpo_args.truncation_mode,
                pad_to_multiple_of=dpo_args.pad_to_multiple_of,
            )
        if data_collator is None:
            raise ValueError(
                "SignalAwareDPOTrainer needs `args=` and `processing_class=` keyword arguments (or a data_collator)"
            )
        super().__init__(*args, data_collator=data_collator, **kwargs)

    # -- dataset hook: TRL tokenizes, we add the token masks and drop the rows that cannot train
    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):  # noqa: ANN001
        from datasets import Dataset

        if "chosen_spans" in dataset.column_names and not isinstance(dataset, Dataset):
            raise TypeError("signal-aware DPO needs a map-style datasets.Dataset (not an IterableDataset)")
        has_spans = "chosen_spans" in dataset.column_names
        n_before = len(dataset) if hasattr(dataset, "__len__") else None
        dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        if not has_spans:
            return dataset
        # TRL drops rows whose prompt alone fills max_length: those count as truncated
        prompt_too_long = n_before - len(dataset) if n_before is not None else 0
        if len(dataset) == 0:
            raise DataFormatError(
                f"every prompt of the {dataset_name} dataset is longer than max_length={args.max_length} tokens"
            )
        tokenizer = getattr(processing_class, "tokenizer", processing_class)
        if self.mask_mode != "full" and not getattr(tokenizer, "is_fast", False):
            raise TokenizerOffsetsError(
                f"signal-aware masks need a fast tokenizer (offset mapping); {describe_tokenizer(tokenizer)} "
                "is not one: load the model's tokenizer.json, or train with --mask full"
            )
        masker = _RowMasker(tokenizer, self.mask_mode, args.max_length, args.truncation_mode)
        dataset = dataset.map(
            masker, desc=f"Token masks ({self.mask_mode}) for {dataset_name} dataset", num_proc=args.dataset_num_proc
        )
        stats, keep = _count_rows(dataset, prompt_too_long)
        self.mask_stats[dataset_name] = stats
        if stats.dropped_unaligned:
            first = stats.unaligned[0]
            logger.warning(
                "%d of %d pairs of the %s dataset dropped: their cone cannot be placed on the tokens the chat "
                "template produces (%s); first: pair %r, %s: %s", stats.dropped_unaligned, stats.rows_tokenized,
                dataset_name, _reasons(stats), first["id"], first["side"], first["detail"],
            )
        if not keep:
            raise DataFormatError(
                f"no row of the {dataset_name} dataset can be trained on: {stats.dropped_unaligned} cannot be "
                f"aligned with the chat template ({_reasons(stats) or 'none'}), {stats.dropped_empty} have an "
                f"empty {self.mask_mode} mask, {stats.dropped_truncated} lose it to truncation at "
                f"max_length={args.max_length}"
            )
        return dataset.select(keep)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if not self._is_vision_dataset:
            for col in _MASK_COLUMNS:
                if col not in self._signature_columns:
                    self._signature_columns.append(col)

    # -- reference log-probs shared across runs (see _ref_cache)
    def _precompute_ref_logps(self, dataset, name, batch_size):  # noqa: ANN001
        if self.ref_cache_dir is None:
            if self.is_deepspeed_enabled:  # TRL's loop wraps the model for ZeRO itself
                return super()._precompute_ref_logps(dataset, name, batch_size)
            chosen, rejected = self._reference_log_probs(dataset, batch_size)
            return dataset.add_column("ref_chosen_logps", chosen).add_column("ref_rejected_logps", rejected)
        reference = self.ref_model or self.accelerator.unwrap_model(self.model)
        settings = {"max_length": self.args.max_length, "truncation_mode": self.args.truncation_mode,
                    "pad_to_multiple_of": self.args.pad_to_multiple_of, "batch_size": batch_size,
                    "ld_alpha": self.ld_alpha, "mask_mode": self.mask_mode,
                    "dtype": str(next(reference.parameters()).dtype), "trl": trl.__version__}
        path = _ref_cache.cache_path(self.ref_cache_dir, reference=_ref_cache.reference_digest(reference),
                                     rows=_ref_cache.rows_digest(dataset), settings=settings)
        # rank 0 decides (and its path is the one written): under ZeRO-3 each rank hashes only
        # its shard, and ranks that disagreed on hit/miss would deadlock in the precompute's gather
        decided = [_ref_cache.load(path, len(dataset)) if self.accelerator.is_main_process else None, path]
        broadcast_object_list(decided, from_process=0)
        stored, path = decided
        if stored is not None:
            self.ref_cache_hits.append(name)
        else:
            stored = self._reference_log_probs(dataset, batch_size)
            if self.accelerator.is_main_process:
                _ref_cache.store(path, *stored)
        return dataset.add_column("ref_chosen_logps", stored[0]).add_column("ref_rejected_logps", stored[1])

    def _reference_log_probs(self, dataset, batch_size: int) -> tuple[list[float], list[float]]:  # noqa: ANN001
        """TRL's precompute loop (the same collator, ``compute_ref_log_probs``, gather) without its
        arrow cache file: for an in-memory dataset that file lies in a temporary directory of the
        process that wrote it, which the other ranks of a multi-process run cannot open."""
        if self.is_deepspeed_enabled:
            raise ConfigError("ref_log_probs_cache is not supported under DeepSpeed; use "
                              "precompute_ref_log_probs alone (TRL's own precompute)")
        from torch.utils.data import DataLoader

        loader = self.accelerator.prepare(DataLoader(dataset, batch_size=batch_size, collate_fn=self.data_collator,
                                                     shuffle=False))
        model = self.ref_model or self.model
        chosen, rejected = [], []
        for batch in loader:
            c, r = self.accelerator.gather_for_metrics(self.compute_ref_log_probs(model, batch))
            chosen.append(c.cpu())
            rejected.append(r.cpu())
        return torch.cat(chosen).tolist(), torch.cat(rejected).tolist()

    # -- logging hooks: pop our bookkeeping key, record the fraction of completion tokens in the mask
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001
        full = inputs.pop(_TOKEN_KEY, None)
        if full is not None:
            mode = "train" if self.model.training else "eval"
            kept = self.accelerator.gather_for_metrics(inputs["completion_mask"].sum()).sum()
            total = self.accelerator.gather_for_metrics(full.sum()).sum()
            self._metrics[mode]["mask/fraction"].append((kept / total.clamp(min=1)).item())
        return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    def compute_ref_log_probs(self, model, inputs):  # noqa: ANN001
        inputs = {k: v for k, v in inputs.items() if k != _TOKEN_KEY}
        return super().compute_ref_log_probs(model, inputs)


# ---------------------------------------------------------------------------------------- front door


def build_dpo_config(cfg: DPORunConfig) -> DPOConfig:
    """TRL ``DPOConfig`` for our run config (paper defaults live in :class:`DPORunConfig`)."""
    return DPOConfig(
        **trainer_kwargs(cfg),
        **launch_kwargs(cfg.bf16),
        beta=cfg.beta,
        loss_type=[cfg.loss_type],
        precompute_ref_log_probs=cfg.precompute_ref_log_probs or bool(cfg.ref_log_probs_cache),
        remove_unused_columns=True,
    )


def build_lora_config(cfg: DPORunConfig):
    from peft import LoraConfig

    target: str | list[str] = cfg.lora_target
    if target != "all-linear":
        target = [t.strip() for t in target.split(",") if t.strip()]
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=target,
        task_type="CAUSAL_LM",
    )


def train_dpo(cfg: DPORunConfig, *, callbacks: Sequence[Any] = ()) -> TrainResult:
    """Run signal-aware DPO as configured; the output directory holds a PEFT adapter.

    Writes ``train_log.jsonl`` (every log record), ``salv_run.json`` (config, mask statistics,
    final metrics), checkpoints (``checkpoint-N``) and the final adapter + tokenizer.
    """
    cfg.validate()
    check_output_dir(cfg, cfg.pairs)
    resume = resolve_resume(cfg)
    rows, read_stats = load_pairs(cfg.pairs, kinds=cfg.kind_list)
    if not rows:
        raise DataFormatError(
            f"{cfg.pairs}: no pairs of kind {cfg.kinds} to train on "
            f"({read_stats.rows_read} rows read, {read_stats.dropped_kind} of other kinds)"
        )
    args = build_dpo_config(cfg)  # before the model: under ZeRO-3 each rank then loads only its shard
    tokenizer, model = load_policy(cfg.model, bf16=load_in_bf16(cfg.bf16, full_finetune=False, args=args))
    dataset = pairs_to_dataset(rows, tokenizer, system=cfg.system_prompt or None)
    out = Path(cfg.output_dir)
    trainer = SignalAwareDPOTrainer(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=build_lora_config(cfg),
        mask_mode=cfg.mask,
        ref_cache_dir=cfg.ref_log_probs_cache or None,
        callbacks=[log_callback(out / "train_log.jsonl"), *callbacks],
    )
    stats = trainer.mask_stats["train"]
    stats.rows_read, stats.dropped_kind = read_stats.rows_read, read_stats.dropped_kind
    check_launch(trainer)
    quiet_when_piped(trainer)
    trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(str(out))
    if trainer.accelerator.is_main_process:
        tokenizer.save_pretrained(out)
    result = TrainResult(
        stage="dpo",
        output_dir=str(out),
        steps=trainer.state.global_step,
        rows=stats.rows_trained,
        metrics=final_metrics(trainer.state.log_history),
        data={**stats.to_dict(), "ref_log_probs": _ref_source(cfg, trainer)},
        config=asdict(cfg),
    )
    if trainer.accelerator.is_main_process:
        write_run_record(result)
    return result


def _ref_source(cfg: DPORunConfig, trainer: SignalAwareDPOTrainer) -> str:
    """Where the run's reference log-probs came from, for its record."""
    if "train" in trainer.ref_cache_hits:
        return "cache"
    if cfg.ref_log_probs_cache or cfg.precompute_ref_log_probs:
        return "precomputed"
    return "per step"


def merge_adapter(adapter_dir: str | Path, output_dir: str | Path, *, bf16: bool = False) -> Path:
    """Load base model + PEFT adapter from ``adapter_dir``, merge, and save full weights + tokenizer."""
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    src, dst = Path(adapter_dir), Path(output_dir)
    refuse_overwrite({"the adapter": src}, output_dirs={"the output directory": dst}, error=ConfigError)
    if not (src / "adapter_config.json").is_file():
        raise ConfigError(f"{src}: not a PEFT adapter directory (no adapter_config.json)")
    try:
        model = AutoPeftModelForCausalLM.from_pretrained(
            str(src), dtype=torch.bfloat16 if bf16 else torch.float32
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load adapter {src}: {str(exc).splitlines()[0]}") from None
    merged = model.merge_and_unload()
    dst.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(dst)
    AutoTokenizer.from_pretrained(str(src)).save_pretrained(dst)
    return dst
