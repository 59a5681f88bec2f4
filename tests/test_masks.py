"""Character spans -> token masks: the boundary rule, the modes, alignment with TRL's tokens.

Most tests use hand-made token offsets and ids (no model); the last ones use a tokenizer trained
offline by salv_trainer.tiny, like the trainer does.
"""

from __future__ import annotations

import pytest
import torch

from salv_trainer._dpo import SignalAwareCollator
from salv_trainer.masks import (
    MaskAlignmentError,
    SpanError,
    completion_token_mask,
    normalize_spans,
    spans_to_token_mask,
    truncated_mask_count,
)
from salv_trainer.tiny import build_tiny_tokenizer

# "ab cd ef": tokens "ab", " cd", " ef"
OFFSETS = [(0, 2), (2, 5), (5, 8)]


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], [0, 0, 0]),
        ([[3, 5]], [0, 1, 0]),  # "cd" only: " cd" overlaps, counts
        ([[2, 3]], [0, 1, 0]),  # just the space of " cd": overlap of one character counts
        ([[2, 2]], [0, 0, 0]),  # empty span covers nothing
        ([[0, 2]], [1, 0, 0]),  # touching " cd" at 2 is not overlapping
        ([[1, 6]], [1, 1, 1]),  # straddles three tokens
        ([[5, 8], [0, 1]], [1, 0, 1]),  # unsorted spans
        ([[0, 3], [2, 4]], [1, 1, 0]),  # overlapping spans merge
    ],
)
def test_boundary_rule_a_token_overlapping_a_span_counts(spans, expected):
    assert spans_to_token_mask(OFFSETS, spans) == expected


def test_zero_width_tokens_never_count():
    assert spans_to_token_mask([(0, 0), (0, 2), (2, 2)], [[0, 2]]) == [0, 1, 0]


def test_multibyte_character_split_over_two_tokens_marks_both():
    # byte-level BPE: "é" (1 character, 2 bytes) spread over two tokens with the same offsets
    assert spans_to_token_mask([(0, 1), (0, 1), (1, 2)], [[0, 1]]) == [1, 1, 0]


@pytest.mark.parametrize(
    ("spans", "message"),
    [
        ([[3, 2]], "span 0 = [3, 2] lies outside the text"),
        ([[0, 9]], "span 0 = [0, 9] lies outside the text (need 0 <= start <= end <= 8)"),
        ([[-1, 2]], "lies outside the text"),
        ([[0, 1, 2]], "span 0 must be a pair of integers [start, end), got [0, 1, 2]"),
        ([[0.5, 2]], "must be a pair of integers"),
        ([[0, 2], "x"], "span 1 must be a pair of integers"),
    ],
)
def test_bad_spans_are_rejected_with_the_span_named(spans, message):
    with pytest.raises(SpanError, match=None) as err:
        normalize_spans(spans, 8)
    assert message in str(err.value)


def test_truncation_counts_mirror_trl_keep_start_and_keep_end():
    mask = [0, 1, 1, 0, 1]  # completion of 5 tokens after a 4-token prompt (9 in all)
    assert truncated_mask_count(4, mask, None) == 3
    assert truncated_mask_count(4, mask, 9) == 3
    assert truncated_mask_count(4, mask, 6) == 1  # keeps completion tokens 0, 1
    assert truncated_mask_count(4, mask, 4) == 0  # prompt fills the window
    assert truncated_mask_count(4, mask, 2, "keep_end") == 1  # keeps completion tokens 3, 4
    assert truncated_mask_count(4, mask, 3, "keep_end") == 2
    with pytest.raises(ValueError, match="unsupported truncation mode 'middle'"):
        truncated_mask_count(4, mask, 3, "middle")


# ---------------------------------------------------------------- the collator (hand-made token ids)


def _examples():
    return [
        {"prompt_ids": [1, 2, 3], "chosen_ids": [4, 5, 6], "rejected_ids": [7, 8],
         "chosen_token_mask": [0, 1, 1], "rejected_token_mask": [1, 0]},
        {"prompt_ids": [9], "chosen_ids": [10, 11], "rejected_ids": [12, 13, 14],
         "chosen_token_mask": [1, 0], "rejected_token_mask": [0, 0, 1]},
    ]


def test_collator_ands_token_masks_into_trls_completion_mask():
    out = SignalAwareCollator(pad_token_id=0)(_examples())
    assert out["input_ids"].tolist() == [
        [1, 2, 3, 4, 5, 6], [9, 10, 11, 0, 0, 0], [1, 2, 3, 7, 8, 0], [9, 12, 13, 14, 0, 0],
    ]
    assert out["completion_mask"].tolist() == [
        [0, 0, 0, 0, 1, 1], [0, 1, 0, 0, 0, 0], [0, 0, 0, 1, 0, 0], [0, 0, 0, 1, 0, 0],
    ]
    # completion tokens before the AND, for the mask/fraction metric
    assert out["salv_completion_tokens"].tolist() == [3, 2, 2, 3]


def test_collator_truncates_masks_like_the_ids():
    out = SignalAwareCollator(pad_token_id=0, max_length=4)(_examples())
    assert out["input_ids"].tolist() == [[1, 2, 3, 4], [9, 10, 11, 0], [1, 2, 3, 7], [9, 12, 13, 14]]
    assert out["completion_mask"].tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]]
    end = SignalAwareCollator(pad_token_id=0, max_length=2, truncation_mode="keep_end")(_examples())
    assert end["input_ids"].tolist() == [[5, 6], [10, 11], [7, 8], [13, 14]]
    assert end["completion_mask"].tolist() == [[1, 1], [1, 0], [1, 0], [0, 1]]


def test_collator_without_masks_is_trls_collator():
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    plain = [{k: v for k, v in ex.items() if not k.endswith("token_mask")} for ex in _examples()]
    ours, stock = SignalAwareCollator(pad_token_id=0)(plain), DataCollatorForPreference(pad_token_id=0)(plain)
    assert ours.keys() == stock.keys()
    for key in stock:
        assert torch.equal(ours[key], stock[key])


# ------------------------------------------------------------ real tokenizer: modes and alignment

RESPONSE = (
    "```verilog\nmodule top_module(input a, input b, output x, output y);\n"
    "  assign x = a & b;\n  assign y = a | b;\nendmodule\n```"
)


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer([RESPONSE])


def _completion(tok, response):
    """What TRL trains on: the response then ChatML's end of turn."""
    return tok(response, add_special_tokens=False).input_ids + tok("<|im_end|>\n", add_special_tokens=False).input_ids


def test_modes_partition_the_completion_and_follow_the_spans(tok):
    start = RESPONSE.index("  assign y")
    spans = [[start, RESPONSE.index("\n", start) + 1]]
    ids = _completion(tok, RESPONSE)
    cone = completion_token_mask(tok, RESPONSE, spans, ids, "cone")
    inverse = completion_token_mask(tok, RESPONSE, spans, ids, "inverse")
    full = completion_token_mask(tok, RESPONSE, spans, ids, "full")
    assert full == [1] * len(ids)
    assert [c + i for c, i in zip(cone, inverse)] == full
    kept = tok.decode([t for t, m in zip(ids, cone) if m])
    # the span's text, plus at most the newline of a "\n " token that straddles its start
    assert "  assign y = a | b;\n" in kept and kept.strip() == "assign y = a | b;"
    assert cone[-2:] == [0, 0]  # end-of-turn tokens are outside a span that stops before the end


def test_span_reaching_the_end_covers_the_end_of_turn(tok):
    ids = _completion(tok, RESPONSE)
    whole = completion_token_mask(tok, RESPONSE, [[0, len(RESPONSE)]], ids, "cone")
    assert whole == [1] * len(ids)  # whole-response spans = TRL's standard completion mask
    tail = completion_token_mask(tok, RESPONSE, [[RESPONSE.index("endmodule"), len(RESPONSE)]], ids, "cone")
    assert tail[-2:] == [1, 1]


def test_template_that_rewrites_the_content_is_refused(tok):
    # a template that strips the content: the trained tokens are no longer the response's tokens
    stripped = _completion(tok, RESPONSE.replace("```verilog\n", "```verilog "))
    with pytest.raises(MaskAlignmentError, match="the chat template does not reproduce the response tokens"):
        completion_token_mask(tok, RESPONSE, [[0, 5]], stripped, "cone")


def test_unknown_mode_is_refused(tok):
    with pytest.raises(ValueError, match="unknown mask mode 'both'; choose one of cone, full, inverse"):
        completion_token_mask(tok, RESPONSE, [], _completion(tok, RESPONSE), "both")
