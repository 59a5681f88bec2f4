"""Character spans -> token masks: the boundary rule, the modes, alignment with TRL's tokens.

Most tests use hand-made token offsets and ids (no model); the last ones use a tokenizer trained
offline by salv_trainer.tiny, like the trainer does. tests/test_train_templates.py runs the same
rules through whole DPO runs with other chat templates and tokenizers.
"""

from __future__ import annotations

import pytest
import torch

from salv_trainer._dpo import SignalAwareCollator
from salv_trainer.masks import (
    MaskAlignmentError,
    SpanError,
    TokenizerOffsetsError,
    check_offsets_cover,
    completion_token_mask,
    kept_from,
    normalize_spans,
    place_response,
    spans_to_token_mask,
    template_frame,
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


# "ab;\n cd\n": tokens "ab", ";\n" (Llama 3 / Qwen2 keep a newline with its punctuation), " cd", "\n"
TEXT = "ab;\n cd\n"
TEXT_OFFSETS = [(0, 2), (2, 4), (4, 7), (7, 8)]


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([[3, 8]], [0, 0, 1, 1]),  # a span starting at the newline: ";\n" shares only a blank, holds ";"
        ([[5, 7]], [0, 0, 1, 0]),  # "cd": " cd" shares non-blank text, counts
        ([[4, 5]], [0, 0, 0, 0]),  # the space of " cd" only: a blank overlap does not pull in "cd"
        ([[0, 3]], [1, 1, 0, 0]),  # "ab;": ";\n" shares the ";"
        ([[0, 8]], [1, 1, 1, 1]),
    ],
)
def test_boundary_rule_with_text_a_blank_overlap_does_not_pull_in_other_code(spans, expected):
    assert spans_to_token_mask(TEXT_OFFSETS, spans, TEXT) == expected


def test_boundary_rule_with_text_blank_tokens_count_where_they_touch_the_cone():
    # "a\n\nb": a "\n\n" token whose first newline is outside the span (e.g. the chat template's)
    assert spans_to_token_mask([(0, 1), (1, 3), (3, 4)], [[2, 4]], "a\n\nb") == [0, 1, 1]
    # blank tokens inside a span count
    assert spans_to_token_mask([(0, 1), (1, 3), (3, 4)], [[0, 4]], "a\n\nb") == [1, 1, 1]


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


# ------------------------------------------------------------ where the template wrote the response


@pytest.mark.parametrize(
    ("written", "response", "expected"),
    [
        ("abc", "abc", 0),  # verbatim
        ("abc", "\n abc \n", 2),  # | trim
        ("abc \n", "\n abc \n", 2),  # lstrip
        ("\n abc", "\n abc \n", 0),  # rstrip
        ("code", "<think>\nhm\n</think>\n\ncode", 21),  # Qwen3 cuts the response's own think block
        ("ABC", "abc", None),  # rewritten
        ("ab", "xab abx", None),  # a piece that occurs twice inside: ambiguous
        ("", "  ", 2),  # all blank, trimmed away
    ],
)
def test_kept_from_finds_the_piece_the_template_wrote(written, response, expected):
    assert kept_from(written, response) == expected


def test_place_response_between_the_templates_turn_markers():
    frame = ("<u>q</u><a>", "</a>")
    place = place_response("<u>q</u><a>abc</a>", "\n abc\n", frame)
    assert (place.start, place.end, place.kept, place.shift) == (11, 14, 2, 9)
    for text, frame in [("<u>q</u><a>ABC</a>", frame), ("<u>q</u><a>abc</a>", None), ("<x>abc</a>", frame)]:
        with pytest.raises(MaskAlignmentError) as err:
            place_response(text, "abc", frame)
        assert err.value.reason == "template_rewrites_response"


def test_offsets_must_cover_every_non_blank_character():
    text = "pre abc def\n"
    check_offsets_cover(None, text, [(0, 3), (3, 7), (7, 11), (11, 12)], 4, 12)  # tiles the text
    check_offsets_cover(None, text, [(0, 3), (4, 7), (8, 11)], 4, 12)  # trimmed blanks are fine

    class Tok:
        name_or_path = "models/llama3"

    with pytest.raises(TokenizerOffsetsError) as err:
        check_offsets_cover(Tok(), text, [(0, 0), (3, 3), (7, 7), (11, 11)], 4, 12)  # tokenizers < 0.20.1
    msg = str(err.value)
    assert "Tok ('models/llama3')" in msg and "6 of 6 non-blank characters" in msg
    assert "4 of 4 tokens are zero-width" in msg
    with pytest.raises(TokenizerOffsetsError, match="3 of 6 non-blank characters"):
        check_offsets_cover(Tok(), text, [(0, 3), (3, 7), (7, 7), (11, 12)], 4, 12)


# ------------------------------------------------------------ real tokenizer: modes and alignment

RESPONSE = (
    "```verilog\nmodule top_module(input a, input b, output x, output y);\n"
    "  assign x = a & b;\n  assign y = a | b;\nendmodule\n```"
)


@pytest.fixture(scope="module")
def tok():
    return build_tiny_tokenizer([RESPONSE])


PROMPT = [{"role": "user", "content": "Build it."}]


def _trl(tok, response):
    """(text, ids, prompt length, frame) the way TRL 1.16 tokenizes a ChatML prompt + response."""
    text = tok.apply_chat_template(PROMPT + [{"role": "assistant", "content": response}], tokenize=False)
    ids = tok(text, add_special_tokens=False).input_ids
    prompt = tok(tok.apply_chat_template(PROMPT, tokenize=False, add_generation_prompt=True),
                 add_special_tokens=False).input_ids
    n = next((i for i, (a, b) in enumerate(zip(prompt, ids)) if a != b), len(prompt))
    return text, ids, n, template_frame(tok, PROMPT)


def _mask(tok, response, spans, mode="cone"):
    text, ids, n, frame = _trl(tok, response)
    return ids[n:], completion_token_mask(tok, text, response, spans, ids, n, mode, frame=frame)


def test_modes_partition_the_completion_and_follow_the_spans(tok):
    start = RESPONSE.index("  assign y")
    spans = [[start, RESPONSE.index("\n", start) + 1]]
    ids, cone = _mask(tok, RESPONSE, spans, "cone")
    _, inverse = _mask(tok, RESPONSE, spans, "inverse")
    _, full = _mask(tok, RESPONSE, spans, "full")
    assert full == [1] * len(ids)
    assert [c + i for c, i in zip(cone, inverse)] == full
    kept = tok.decode([t for t, m in zip(ids, cone) if m])
    assert kept.strip() == "assign y = a | b;"
    assert cone[-2:] == [0, 0]  # end-of-turn tokens are outside a span that stops before the end


def test_span_reaching_the_end_covers_the_end_of_turn(tok):
    ids, whole = _mask(tok, RESPONSE, [[0, len(RESPONSE)]])
    assert whole == [1] * len(ids)  # whole-response spans = TRL's standard completion mask
    _, tail = _mask(tok, RESPONSE, [[RESPONSE.index("endmodule"), len(RESPONSE)]])
    assert tail[-2:] == [1, 1]


def test_a_newline_token_across_the_prompt_response_boundary_is_part_of_the_completion():
    tok = build_tiny_tokenizer([RESPONSE, "a\n\nb\n\nc\n\n"] * 5)
    response = "\n" + RESPONSE
    text, ids, n, _ = _trl(tok, response)
    assert tok.decode(ids[n:n + 1]) == "\n\n"  # the template's newline + the response's
    ids, whole = _mask(tok, response, [[0, len(response)]])
    assert whole == [1] * len(ids)
    _, late = _mask(tok, response, [[response.index("  assign y"), len(response) - 4]])
    assert late[0] == 0 and tok.decode([t for t, m in zip(ids, late) if m]).strip() == "assign y = a | b;\nendmodule"


def test_rows_that_cannot_be_aligned_say_why(tok):
    text, ids, n, frame = _trl(tok, RESPONSE)
    spans = [[0, 5]]
    with pytest.raises(MaskAlignmentError) as err:  # ids that are not the text's
        completion_token_mask(tok, text, RESPONSE, spans, ids[:-1] + [0], n, frame=frame)
    assert err.value.reason == "retokenized_ids_differ"
    with pytest.raises(MaskAlignmentError) as err:  # the cone starts inside TRL's prompt tokens
        completion_token_mask(tok, text, RESPONSE, spans, ids, n + 3, frame=frame)
    assert err.value.reason == "cone_in_prompt"
    # a template that writes only the code (cuts the fence): the fence's cone text is lost
    code = RESPONSE[len("```verilog\n"):-3]
    cut_text = text.replace(RESPONSE, code)
    cut_ids = tok(cut_text, add_special_tokens=False).input_ids
    with pytest.raises(MaskAlignmentError, match="leaves out 13 non-blank characters of cone text") as err:
        completion_token_mask(tok, cut_text, RESPONSE, [[0, len(RESPONSE)]], cut_ids, n, frame=frame)
    assert err.value.reason == "template_drops_cone_text"
    assert completion_token_mask(tok, cut_text, RESPONSE, [[20, 40]], cut_ids, n, frame=frame)  # the code alone: fine


def test_template_that_rewrites_the_content_is_refused(tok):
    text, ids, n, frame = _trl(tok, RESPONSE)
    rewritten = text.replace("assign", "ASSIGN")
    with pytest.raises(MaskAlignmentError, match="does not write the response, nor a piece of it") as err:
        completion_token_mask(tok, rewritten, RESPONSE, [[0, 5]], tok(rewritten, add_special_tokens=False).input_ids,
                              n, frame=frame)
    assert err.value.reason == "template_rewrites_response"


def test_unknown_mode_is_refused(tok):
    text, ids, n, frame = _trl(tok, RESPONSE)
    with pytest.raises(ValueError, match="unknown mask mode 'both'; choose one of cone, full, inverse"):
        completion_token_mask(tok, text, RESPONSE, [], ids, n, "both", frame=frame)
