"""Character spans of a response -> token masks for signal-aware DPO (Eq. 2 of QiMeng-SALV).

The data stage records, for each chosen/rejected response, the character spans (``[start, end)``
offsets into the response text) of the contrast signals' backward cones. The trainer needs, for the
token ids TRL trains on, a 0/1 mask saying which tokens enter the summed log-ratio.

**Boundary rule.** A token counts when its character range overlaps a span by at least one
character: token ``[s, e)`` and span ``[a, b)`` overlap when ``s < b and a < e``. A token that
straddles a span boundary (e.g. ``" assign"`` whose leading space is outside the span) therefore
counts; a token that merely touches a span (``e == a``) does not; empty spans cover nothing.
Offsets come from the tokenizer's offset mapping of the response alone.

**Alignment rule.** TRL tokenizes ``prompt + response`` through the chat template and takes the
tokens after the prompt as the completion. Those completion tokens must start with exactly the
tokens of the response tokenized alone; what follows is the template's end of turn (for ChatML
``<|im_end|>`` and a newline, or the EOS token). If a template rewrites the content (trims it,
escapes it) or a token merges across the prompt/response boundary, the offsets of the response no
longer describe the trained tokens, and :class:`MaskAlignmentError` says so instead of silently
masking the wrong tokens.

**Modes** (:data:`MASK_MODES`), over the completion tokens ``[response tokens | end-of-turn]``:

* ``cone`` (paper, Eq. 2): the response tokens that overlap a span. The end-of-turn tokens count
  only when a span reaches the very end of the response text, so spans covering the whole
  response give exactly TRL's standard completion mask.
* ``full`` (standard DPO): every completion token, whatever the spans.
* ``inverse`` (the released reference code's behaviour, for ablation): every completion token
  that ``cone`` leaves out. ``cone`` and ``inverse`` partition ``full``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

__all__ = [
    "MASK_MODES",
    "MaskAlignmentError",
    "MaskMode",
    "SpanError",
    "completion_token_mask",
    "normalize_spans",
    "response_token_mask",
    "spans_to_token_mask",
    "truncated_mask_count",
]

MaskMode = Literal["cone", "full", "inverse"]
MASK_MODES: tuple[str, ...] = ("cone", "full", "inverse")


class SpanError(ValueError):
    """A span is malformed or lies outside the text it points into."""


class MaskAlignmentError(ValueError):
    """The tokens of a response are not the start of the completion tokens TRL trains on."""


def normalize_spans(spans: Sequence[Sequence[int]], length: int) -> list[tuple[int, int]]:
    """Validate ``[start, end)`` spans against a text of ``length`` characters; sort and merge them.

    Raises :class:`SpanError` naming the offending span when one is not a pair of integers with
    ``0 <= start <= end <= length``. Empty spans are dropped; overlapping or touching spans merge.
    """
    out: list[tuple[int, int]] = []
    for i, span in enumerate(spans):
        if (
            not isinstance(span, (list, tuple))
            or len(span) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in span)
        ):
            raise SpanError(f"span {i} must be a pair of integers [start, end), got {span!r}")
        start, end = span
        if not 0 <= start <= end <= length:
            raise SpanError(
                f"span {i} = [{start}, {end}] lies outside the text (need 0 <= start <= end <= {length})"
            )
        if start < end:
            out.append((start, end))
    out.sort()
    merged: list[tuple[int, int]] = []
    for start, end in out:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def spans_to_token_mask(
    offsets: Sequence[Sequence[int]], spans: Sequence[Sequence[int]]
) -> list[int]:
    """0/1 per token: 1 when the token's ``(start, end)`` offsets overlap any span (model-free).

    Zero-width tokens (``start == end``, e.g. special tokens) never count. Spans need not be sorted.
    Runs in O((tokens + spans) log spans).
    """
    import bisect

    merged = normalize_spans(spans, max([e for _, e in spans] + [0])) if spans else []
    starts = [a for a, _ in merged]
    mask: list[int] = []
    for s, e in offsets:
        if e <= s:
            mask.append(0)
            continue
        # the last span starting before the token's end is the only candidate that can overlap
        j = bisect.bisect_left(starts, e) - 1
        mask.append(1 if j >= 0 and merged[j][1] > s else 0)
    return mask


def response_token_mask(
    tokenizer: Any, response: str, spans: Sequence[Sequence[int]]
) -> tuple[list[int], list[int]]:
    """Tokenize ``response`` alone (no special tokens) and mark the tokens overlapping ``spans``.

    Returns ``(token_ids, mask)``. Needs a fast tokenizer (for the offset mapping).
    """
    normalize_spans(spans, len(response))  # validate against the response
    if not getattr(tokenizer, "is_fast", False):
        raise TypeError("token masks need a fast tokenizer (return_offsets_mapping)")
    enc = tokenizer(response, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), spans_to_token_mask(enc["offset_mapping"], spans)


def completion_token_mask(
    tokenizer: Any,
    response: str,
    spans: Sequence[Sequence[int]],
    completion_ids: Sequence[int],
    mode: MaskMode = "cone",
    *,
    response_ids: Sequence[int] | None = None,
    response_mask: Sequence[int] | None = None,
) -> list[int]:
    """Mask over ``completion_ids`` (the tokens TRL trains on for this response) for ``mode``.

    ``completion_ids`` must start with the tokens of ``response`` tokenized alone (see the module
    docstring); otherwise :class:`MaskAlignmentError` explains where they differ. ``response_ids``
    and ``response_mask`` may be passed when already computed by :func:`response_token_mask`.
    """
    if mode not in MASK_MODES:
        raise ValueError(f"unknown mask mode {mode!r}; choose one of {', '.join(MASK_MODES)}")
    if response_ids is None or response_mask is None:
        response_ids, response_mask = response_token_mask(tokenizer, response, spans)
    n = len(response_ids)
    completion_ids = list(completion_ids)
    if completion_ids[:n] != list(response_ids):
        k = next(
            (i for i, (a, b) in enumerate(zip(completion_ids, response_ids)) if a != b),
            min(n, len(completion_ids)),
        )
        raise MaskAlignmentError(
            "the chat template does not reproduce the response tokens: the trained completion starts "
            f"with {_show(tokenizer, completion_ids[k:k + 8])} at token {k} where the response "
            f"tokenized alone has {_show(tokenizer, list(response_ids)[k:k + 8])}. The template "
            "probably rewrites the assistant content (trim, escape) or a token merges across the "
            "prompt/response boundary; use a template that inserts the content verbatim."
        )
    tail = len(completion_ids) - n
    if mode == "full":
        return [1] * len(completion_ids)
    reaches_end = any(b >= len(response) and b > a for a, b in spans) if len(response) else False
    cone = list(response_mask) + [1 if reaches_end else 0] * tail
    if mode == "cone":
        return cone
    return [1 - m for m in cone]


def truncated_mask_count(
    prompt_len: int,
    mask: Sequence[int],
    max_length: int | None,
    truncation_mode: str = "keep_start",
) -> int:
    """How many masked tokens survive TRL's truncation of ``prompt + completion`` to ``max_length``.

    Mirrors ``DataCollatorForPreference``: ``keep_start`` keeps the first ``max_length`` tokens,
    ``keep_end`` the last ``max_length``.
    """
    if max_length is None:
        return sum(mask)
    total = prompt_len + len(mask)
    if truncation_mode == "keep_start":
        keep = max(0, min(len(mask), max_length - prompt_len))
        return sum(mask[:keep])
    if truncation_mode == "keep_end":
        first = max(0, total - max_length - prompt_len)
        return sum(mask[first:])
    raise ValueError(f"unsupported truncation mode {truncation_mode!r} (keep_start or keep_end)")


def _show(tokenizer: Any, ids: Sequence[int]) -> str:
    try:
        return repr(tokenizer.decode(list(ids)))
    except Exception:  # noqa: BLE001 - only used to build an error message
        return repr(list(ids))
