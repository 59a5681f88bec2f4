"""Character spans of a response -> token masks for signal-aware DPO (Eq. 2 of QiMeng-SALV).

The data stage records, for each chosen/rejected response, the character spans (``[start, end)``
offsets into the response text) of the contrast signals' backward cones. The trainer needs, for the
token ids TRL trains on, a 0/1 mask saying which tokens enter the summed log-ratio.

**Boundary rule.** A token counts when its character range overlaps a span by at least one
character (token ``[s, e)`` and span ``[a, b)`` overlap when ``s < b and a < e``), unless that
overlap is blank while the token holds non-blank text outside the spans. So a token straddling a
span boundary with blank text outside (``" assign"`` whose leading space is outside the span, a
``"\n\n"`` token whose first newline belongs to the chat template) counts, and so does a blank
token inside a span; a ``";\n"`` token whose only character inside is the newline a span starts
with does not (the ``;`` ends the previous statement); a token that merely touches a span
(``e == a``) does not; empty spans cover nothing. The masked tokens therefore decode to the cone
text, up to blanks at its edges.

**Alignment rule.** TRL renders ``prompt + response`` through the chat template, tokenizes that text
and calls the tokens after the prompt the completion. The offsets used here are the offset mapping
of *that* text, re-tokenized (the ids must come out identical to TRL's, else the row is dropped), so
tokens merging across the prompt/response boundary are handled like any other token. The response
is found in the text between the template's own turn prefix and suffix (rendered once per prompt
with a placeholder as the content: :func:`template_frame`); what the template wrote there must be
the response or one contiguous piece of it (:func:`kept_from`: verbatim, ``| trim`` and friends,
or Qwen3's cut of the response's own think block). Text the template adds around the content
(an injected ``<think>\n\n</think>\n\n``, headers) is never in the cone. A row is **dropped**, with
a reason (:class:`MaskAlignmentError` ``.reason``), when the template rewrites the response
(``template_rewrites_response``), when it leaves out non-blank cone text
(``template_drops_cone_text``), when re-tokenizing gives other ids than TRL's
(``retokenized_ids_differ``), or when cone text falls in TRL's prompt tokens (``cone_in_prompt``).

**Offsets are checked.** Every non-blank character of the response's text must be covered by some
token's offsets. Some tokenizers return zero-width offsets (e.g. Llama 3's fast tokenizer before
``tokenizers`` 0.20.1), which would silently empty the masks: :class:`TokenizerOffsetsError` stops
the run, naming the tokenizer.

**Modes** (:data:`MASK_MODES`), over the completion tokens ``[template head | response | end of turn]``:

* ``cone`` (paper, Eq. 2): the tokens that overlap a span. The end-of-turn tokens (after the last
  token of the response's text) count only when a span reaches the end of what the template wrote
  of the response, so spans covering a whole verbatim response give exactly TRL's completion mask
  (except a template head such as an injected think block, which is not the response).
* ``full`` (standard DPO): every completion token, whatever the spans; no alignment is needed.
* ``inverse`` (the released reference code's behaviour, for ablation): every completion token
  that ``cone`` leaves out. ``cone`` and ``inverse`` partition ``full``.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import SalvError

__all__ = [
    "MASK_MODES",
    "REASONS",
    "MaskAlignmentError",
    "MaskMode",
    "Placement",
    "SpanError",
    "TokenizerOffsetsError",
    "check_offsets_cover",
    "completion_token_mask",
    "describe_tokenizer",
    "kept_from",
    "normalize_spans",
    "place_response",
    "spans_to_token_mask",
    "template_frame",
    "truncated_mask_count",
]

MaskMode = Literal["cone", "full", "inverse"]
MASK_MODES: tuple[str, ...] = ("cone", "full", "inverse")

#: Why a row could not be aligned (the keys of ``MaskStats.unaligned_reasons``).
REWRITES = "template_rewrites_response"
DROPS_CONE = "template_drops_cone_text"
IDS_DIFFER = "retokenized_ids_differ"
CONE_IN_PROMPT = "cone_in_prompt"
REASONS: tuple[str, ...] = (REWRITES, DROPS_CONE, IDS_DIFFER, CONE_IN_PROMPT)

#: The assistant content used to find where a template puts it (private-use characters: no
#: template filter changes them, no response contains them by chance).
MARKER = "\ue000salv-response\ue001"


class SpanError(SalvError, ValueError):
    """A span is malformed or lies outside the text it points into."""


class MaskAlignmentError(SalvError, ValueError):
    """A response's spans cannot be placed on the tokens TRL trains on; ``reason`` is one of
    :data:`REASONS`. The trainer drops such a row and counts it."""

    def __init__(self, message: str, reason: str = REWRITES) -> None:
        super().__init__(message)
        self.reason = reason


class TokenizerOffsetsError(MaskAlignmentError):
    """The tokenizer's offset mapping does not describe its text: no mask can be trusted, so the
    run stops (never a per-row drop)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="tokenizer_offsets")


@dataclass(frozen=True)
class Placement:
    """Where the template wrote the response: ``text[start:end] == response[kept:kept + end - start]``."""

    start: int
    end: int
    kept: int

    @property
    def shift(self) -> int:
        """Add to a response offset to get a text offset."""
        return self.start - self.kept


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
    offsets: Sequence[Sequence[int]], spans: Sequence[Sequence[int]], text: str | None = None
) -> list[int]:
    """0/1 per token: 1 when the token's ``(start, end)`` offsets overlap a span (model-free).

    With ``text`` (what the offsets index), a token that overlaps the spans in blank characters
    only but carries non-blank text outside them does not count: it belongs to the neighbouring
    code (Llama 3 and Qwen2 split ``";\n"`` as one token, so a span starting at a line's newline
    would otherwise pull in the previous statement's ``;``). Zero-width tokens (``start == end``)
    never count: :func:`check_offsets_cover` makes sure the response's text is covered by real
    offsets. Spans need not be sorted. Runs in O((tokens + spans) log spans).
    """
    merged = normalize_spans(spans, max([e for _, e in spans] + [0])) if spans else []
    starts = [a for a, _ in merged]
    mask: list[int] = []
    for s, e in offsets:
        if e <= s:
            mask.append(0)
            continue
        # the last span starting before the token's end is the only candidate that can overlap
        j = bisect.bisect_left(starts, e) - 1
        if j < 0 or merged[j][1] <= s:
            mask.append(0)
        elif text is None or (merged[j][0] <= s and e <= merged[j][1]):
            mask.append(1)  # inside one span (the common case)
        else:
            mask.append(int(_counts_at_boundary(text, s, e, merged, j)))
    return mask


def _counts_at_boundary(text: str, s: int, e: int, merged: Sequence[tuple[int, int]], j: int) -> bool:
    """For a token ``[s, e)`` straddling span boundaries (``merged[j]`` is the last span it meets):
    it counts unless its overlap with the spans is blank while it holds non-blank text outside."""
    inside = []
    while j >= 0 and merged[j][1] > s:
        inside.append(text[max(s, merged[j][0]):min(e, merged[j][1])])
        j -= 1
    return bool("".join(inside).strip()) or not text[s:e].strip()


# ----------------------------------------------------------------------- where is the response?


def template_frame(
    tokenizer: Any, prompt: Sequence[Mapping[str, Any]], **template_kwargs: Any
) -> tuple[str, str] | None:
    """What the chat template writes before and after an assistant turn's content, for ``prompt``.

    Renders ``prompt`` plus one assistant turn whose content is :data:`MARKER` (the way TRL renders
    prompt + completion, without the generation prompt) and splits the text at the marker. None
    when the marker does not come out exactly once (the template rewrites every content).
    """
    text = tokenizer.apply_chat_template(
        list(prompt) + [{"role": "assistant", "content": MARKER}], tokenize=False, **template_kwargs
    )
    if text.count(MARKER) != 1:
        return None
    prefix, suffix = text.split(MARKER)
    return prefix, suffix


def kept_from(written: str, response: str) -> int | None:
    """Where the text the template ``written`` for the content starts inside ``response``.

    Accepted: the response itself, stripped on one or both sides (``| trim``), a suffix (Qwen3
    cuts the response's own ``...</think>``), a prefix, or else one unique occurrence. None when
    ``written`` is not a piece of the response (the template escapes or replaces text).
    """
    if written == response:
        return 0
    lead = len(response) - len(response.lstrip())
    if written in (response.strip(), response.lstrip()):
        return lead
    if written == response.rstrip() or response.startswith(written):
        return 0
    if response.endswith(written):
        return len(response) - len(written)
    k = response.find(written)
    return k if k >= 0 and response.find(written, k + 1) < 0 else None


def place_response(text: str, response: str, frame: tuple[str, str] | None) -> Placement:
    """Where ``response`` lies in the rendered ``text``, given the template's ``frame``.

    Raises :class:`MaskAlignmentError` (``template_rewrites_response``) when ``text`` is not
    ``prefix + piece of the response + suffix``.
    """
    if frame is not None:
        prefix, suffix = frame
        end = len(text) - len(suffix)
        if text.startswith(prefix) and text.endswith(suffix) and len(prefix) <= end:
            written = text[len(prefix):end]
            k = kept_from(written, response)
            if k is not None:
                return Placement(len(prefix), end, k)
            raise MaskAlignmentError(
                f"the chat template does not write the response, nor a piece of it, verbatim: it "
                f"writes {_clip(written)} for {_clip(response)}",
                REWRITES,
            )
    raise MaskAlignmentError(
        "the chat template does not write the response between its usual turn markers", REWRITES
    )


# ------------------------------------------------------------------------------- offset checks


def describe_tokenizer(tokenizer: Any) -> str:
    """``ClassName ('name_or_path')`` for error messages."""
    return f"{type(tokenizer).__name__} ({getattr(tokenizer, 'name_or_path', '') or '?'!r})"


def check_offsets_cover(tokenizer: Any, text: str, offsets: Sequence[Sequence[int]], start: int, end: int) -> None:
    """Raise :class:`TokenizerOffsetsError` unless every non-blank character of ``text[start:end]``
    lies inside some token's ``[s, e)`` offsets.

    Blank characters may be left out (tokenizers with ``trim_offsets`` do that); anything else
    means the offset mapping does not describe the tokens and the masks would silently lose them.
    """
    covered, missing = start, 0
    for s, e in offsets:
        if e <= covered or e <= s:
            continue
        if s >= end:
            break
        if s > covered:
            missing += _non_blank(text, covered, s)
        covered = e
    missing += _non_blank(text, covered, end)
    if not missing:
        return
    zero = sum(1 for s, e in offsets if e <= s)
    raise TokenizerOffsetsError(
        f"the offset mapping of the tokenizer {describe_tokenizer(tokenizer)} does not describe its tokens: "
        f"{missing} of {_non_blank(text, start, end)} non-blank characters of the response are not covered "
        f"by any token, and {zero} of {len(offsets)} tokens are zero-width (start == end), so the cone "
        "masks would silently lose tokens. This is a tokenizer bug (Llama 3 fast tokenizers return "
        "zero-width offsets with tokenizers < 0.20.1): upgrade `tokenizers`, or train with --mask full"
    )


def _non_blank(text: str, a: int, b: int) -> int:
    return sum(1 for c in text[a:b] if not c.isspace()) if a < b else 0


def _cut_cone_text(response: str, spans: Sequence[tuple[int, int]], kept: int, kept_end: int) -> str:
    """The non-blank cone text outside ``response[kept:kept_end]`` (what the template left out)."""
    out = []
    for a, b in spans:
        for x, y in ((a, min(b, kept)), (max(a, kept_end), b)):
            if x < y and response[x:y].strip():
                out.append(response[x:y])
    return "".join(out)


# ------------------------------------------------------------------------------------ the mask


def completion_token_mask(
    tokenizer: Any,
    text: str,
    response: str,
    spans: Sequence[Sequence[int]],
    token_ids: Sequence[int],
    prompt_len: int,
    mode: MaskMode = "cone",
    *,
    frame: tuple[str, str] | None = ("", ""),
    add_special_tokens: bool = False,
) -> list[int]:
    """Mask over the completion tokens ``token_ids[prompt_len:]`` for ``mode``.

    ``text`` is the string TRL tokenized into ``token_ids`` (``tokenizer(text,
    add_special_tokens=...)``), ``frame`` the template's turn prefix/suffix around the response
    (:func:`template_frame`; ``("", "")`` when ``text`` is the response itself). See the module
    docstring for the rules; raises :class:`MaskAlignmentError` for a row that cannot be aligned
    and :class:`TokenizerOffsetsError` for a tokenizer whose offsets cannot be trusted.
    """
    if mode not in MASK_MODES:
        raise ValueError(f"unknown mask mode {mode!r}; choose one of {', '.join(MASK_MODES)}")
    n_completion = len(token_ids) - prompt_len
    if mode == "full":
        return [1] * n_completion
    merged = normalize_spans(spans, len(response))
    if not merged:  # nothing to place: no cone token (the trainer drops the row as empty)
        return [0 if mode == "cone" else 1] * n_completion
    place = place_response(text, response, frame)
    kept_end = place.kept + place.end - place.start
    cut = _cut_cone_text(response, merged, place.kept, kept_end)
    if cut:
        raise MaskAlignmentError(
            f"the chat template leaves out {_non_blank(cut, 0, len(cut))} non-blank characters of cone text "
            f"({_clip(cut)}), so "
            "no trained token carries them", DROPS_CONE,
        )
    enc = tokenizer(text, add_special_tokens=add_special_tokens, return_offsets_mapping=True)
    if list(enc["input_ids"]) != list(token_ids):
        raise MaskAlignmentError(
            "tokenizing the rendered text again does not give the ids TRL trains on", IDS_DIFFER
        )
    offsets = enc["offset_mapping"]
    check_offsets_cover(tokenizer, text, offsets, place.start, place.end)
    # spans in text coordinates, clipped to what the template wrote of the response
    placed = [(max(a, place.kept) + place.shift, min(b, kept_end) + place.shift) for a, b in merged]
    placed = [(a, b) for a, b in placed if a < b]
    prompt_end = max((e for _, e in offsets[:prompt_len]), default=0)
    if any(a < prompt_end and text[a:min(b, prompt_end)].strip() for a, b in placed):
        raise MaskAlignmentError("part of the cone lies in the tokens TRL counts as the prompt", CONE_IN_PROMPT)
    completion = offsets[prompt_len:]
    cone = spans_to_token_mask(completion, placed, text) if placed else [0] * n_completion
    # the end of turn: every token after the last one overlapping the response's text
    reaches_end = any(b == place.end for _, b in placed)
    if reaches_end:
        last = max((i for i, (s, e) in enumerate(completion) if s < place.end and e > place.start), default=None)
        if last is not None:
            cone[last + 1:] = [1] * (n_completion - last - 1)
    return cone if mode == "cone" else [1 - m for m in cone]


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


def _clip(text: str, n: int = 40) -> str:
    """A short repr of ``text`` for messages."""
    return repr(text if len(text) <= n else text[: n - 3] + "...")
