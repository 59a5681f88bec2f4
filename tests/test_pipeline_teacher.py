"""Teacher-forced metrics (salv_trainer.pipeline._teacher) on a real tiny Qwen2 model.

The summed log-probs are recomputed token by token (one forward pass per prefix), the implicit
rewards reproduce TRL's DPO loss on the same batch (whole responses and Eq. 2's cone), and the
aggregate metrics are checked on records whose answer is worked out by hand.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig

from salv_trainer.pipeline import pair_logps, signal_pairs, teacher_metrics
from salv_trainer.prompts import DEFAULT_SYSTEM, build_messages
from salv_trainer.tiny import make_tiny_model_dir
from salv_trainer.training import SignalAwareDPOTrainer, pairs_to_dataset

warnings.filterwarnings("ignore", category=FutureWarning)

HEADER = "module top_module(input a, input b, output x, output y);\n"
GOOD = "```verilog\n" + HEADER + "  wire t = a & b;\n  assign x = t;\n  assign y = t | b;\nendmodule\n```"
BAD_Y = GOOD.replace("t | b", "t ^ a")
BAD_X = GOOD.replace("assign x = t", "assign x = ~a")


def _span(text: str, needle: str) -> list[int]:
    s = text.index(needle)
    return [s, text.index("\n", s) + 1]


def _cone(text: str, *lines: str) -> list[list[int]]:
    return [_span(text, "module")] + [_span(text, ln) for ln in lines] + [_span(text, "endmodule")]


PAIRS = [
    dict(id="p0", pair_id="p0/0-1", prompt="x is a AND b, y is x OR b.", chosen=GOOD, rejected=BAD_Y,
         contrast_signals=["y"], kind="partial", chosen_spans=_cone(GOOD, "  wire t", "  assign y"),
         rejected_spans=_cone(BAD_Y, "  wire t", "  assign y"),
         signal_spans={"y": [_cone(GOOD, "  wire t", "  assign y"), _cone(BAD_Y, "  wire t", "  assign y")]}),
    dict(id="p1", pair_id="p1/0-2", prompt="x is a AND b, y is x OR b.", chosen=GOOD, rejected=BAD_X,
         contrast_signals=["x"], kind="partial", chosen_spans=_cone(GOOD, "  wire t", "  assign x"),
         rejected_spans=_cone(BAD_X, "  assign x"),
         signal_spans={"x": [_cone(GOOD, "  wire t", "  assign x"), _cone(BAD_X, "  assign x")]}),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny"), [GOOD, BAD_Y, BAD_X, PAIRS[0]["prompt"]],
                               vocab_size=400, hidden=32, layers=2, heads=4, kv_heads=2, seed=3)


_PREFIX_CACHE: dict = {}


def _by_prefixes(model, tok, row, response, spans=None):
    """Sum of log p(token | every token before it), one forward pass per completion token; with
    ``spans``, only the tokens that share a character with a span, unless that is only a blank
    while the token holds other code (the trainer's boundary rule, docs in salv_trainer.masks)."""
    messages = build_messages(row["prompt"], system=DEFAULT_SYSTEM)
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False)
    enc = tok(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = enc.input_ids, enc.offset_mapping
    n = len(tok(prompt, add_special_tokens=False).input_ids)
    at = full.index(response, len(prompt) - 1)
    if full not in _PREFIX_CACHE:
        logps = []
        for t in range(n, len(ids)):
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([ids[:t]])).logits[0, -1]
            logps.append(torch.log_softmax(logits.float(), -1)[ids[t]].item())
        _PREFIX_CACHE[full] = logps
    total = 0.0
    cone = {i + at for a, b in spans for i in range(a, b)} if spans is not None else None
    for t, lp in zip(range(n, len(ids)), _PREFIX_CACHE[full]):
        if cone is not None:
            s, e = offsets[t]
            shared = "".join(full[i] for i in range(s, e) if i in cone)
            if not shared or (not shared.strip() and full[s:e].strip()):
                continue
        total += lp
    return total


def test_summed_log_probs_equal_a_prefix_by_prefix_recomputation(tiny):
    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny)
    rec = pair_logps(model, tok, PAIRS)
    assert [r["pair_id"] for r in rec] == ["p0/0-1", "p1/0-2"]
    for p, r in zip(PAIRS, rec):
        assert r["chosen"] == pytest.approx(_by_prefixes(model, tok, p, p["chosen"]), abs=1e-4)
        assert r["rejected"] == pytest.approx(_by_prefixes(model, tok, p, p["rejected"]), abs=1e-4)
        (s, (right, wrong)), = p["signal_spans"].items()
        assert r["signals"][s][0] == pytest.approx(_by_prefixes(model, tok, p, p["chosen"], right), abs=1e-4)
        assert r["signals"][s][1] == pytest.approx(_by_prefixes(model, tok, p, p["rejected"], wrong), abs=1e-4)
        assert r["chosen_cone"] > r["chosen"]  # fewer (negative) terms
    # the same response scored for two pairs gives one number
    assert rec[0]["chosen"] == rec[1]["chosen"]


@pytest.mark.parametrize("mask", ["full", "cone"])
def test_implicit_rewards_reproduce_trls_dpo_loss(tiny, tmp_path, mask):
    """-log sigmoid(margin), averaged over the batch, is the trainer's loss on that batch."""
    tok = AutoTokenizer.from_pretrained(tiny)
    model = AutoModelForCausalLM.from_pretrained(tiny)
    args = DPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=2, max_length=512, report_to=[],
                     beta=0.1, seed=0, disable_tqdm=True, bf16=False)
    tr = SignalAwareDPOTrainer(model=model, args=args, train_dataset=pairs_to_dataset(PAIRS, tok),
                               processing_class=tok, mask_mode=mask,
                               peft_config=LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0,
                                                      target_modules="all-linear", task_type="CAUSAL_LM"))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # move the adapter away from zero so that policy != reference
        for name, p in sorted(tr.model.named_parameters()):
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    cols = ["prompt_ids", "chosen_ids", "rejected_ids", "chosen_token_mask", "rejected_token_mask"]
    examples = [{c: tr.train_dataset[i][c] for c in cols} for i in range(2)]
    batch = tr._prepare_inputs(tr.data_collator(examples))
    tr.model.train()
    with torch.no_grad():
        loss = tr.compute_loss(tr.model, dict(batch)).item()
    policy = pair_logps(tr.model, tok, PAIRS)
    with tr.model.disable_adapter():
        reference = pair_logps(tr.model, tok, PAIRS)
    ref = {r["pair_id"]: r for r in reference}
    key = ("chosen", "rejected") if mask == "full" else ("chosen_cone", "rejected_cone")
    margins = [0.1 * ((p[key[0]] - ref[p["pair_id"]][key[0]]) - (p[key[1]] - ref[p["pair_id"]][key[1]]))
               for p in policy]
    assert loss == pytest.approx((-F.logsigmoid(torch.tensor(margins))).mean().item(), abs=1e-5)
    m = teacher_metrics(policy, reference, beta=0.1)
    got = m["reward_margin"] if mask == "full" else m["cone_reward_margin"]
    assert got == pytest.approx(sum(margins) / 2, abs=1e-6)
    assert abs(margins[0] - margins[1]) > 1e-4


def test_metrics_by_hand():
    ref = [{"pair_id": "a", "chosen": -10.0, "rejected": -12.0, "chosen_cone": -4.0, "rejected_cone": -5.0,
            "signals": {"y": [-3.0, -2.0]}},
           {"pair_id": "b", "chosen": -8.0, "rejected": -9.0, "chosen_cone": None, "rejected_cone": -1.0,
            "signals": {"x": [-1.0, -1.5], "y": [-2.0, -2.0]}}]
    pol = [{"pair_id": "a", "chosen": -9.0, "rejected": -14.0, "chosen_cone": -4.5, "rejected_cone": -5.0,
            "signals": {"y": [-2.0, -3.0]}},
           {"pair_id": "b", "chosen": -9.0, "rejected": -9.5, "chosen_cone": -1.0, "rejected_cone": -1.0,
            "signals": {"x": [-1.0, -1.0], "y": [-2.5, -2.0]}}]
    m = teacher_metrics(pol, ref, beta=0.5)
    # a: 0.5 * ((-9 + 10) - (-14 + 12)) = 1.5; b: 0.5 * ((-9 + 8) - (-9.5 + 9)) = -0.25
    assert m["reward_margin"] == pytest.approx((1.5 - 0.25) / 2)
    assert m["reward_accuracy"] == 0.5
    # cone: only a (b's reference cone is unknown): 0.5 * ((-4.5 + 4) - (-5 + 5)) = -0.25
    assert m["cone_reward_margin"] == pytest.approx(-0.25) and m["cone_reward_accuracy"] == 0.0
    assert m["chosen_shift"] == pytest.approx((1.0 - 1.0) / 2)
    # signals: a/y: (1) - (-1) = 2; b/x: 0 - 0.5 = -0.5; b/y: -0.5 - 0 = -0.5
    assert m["signals"] == 3 and m["signal_shift"] == pytest.approx(1.0 / 3)
    assert m["signal_shift_positive"] == pytest.approx(1 / 3)


def test_signal_pairs_take_each_contrast_signals_cones_from_the_labeled_file(tmp_path):
    labeled = {"id": "p0", "responses": [GOOD, BAD_Y],
               "labels": [{"cones": {"x": [[0, 5]], "y": [[0, 9]]}}, {"cones": {"x": [[0, 6]], "y": [[1, 7]]}}]}
    pair = {"id": "p0", "pair_id": "p0/0-1", "prompt": "p", "chosen": GOOD, "rejected": BAD_Y,
            "chosen_index": 0, "rejected_index": 1, "contrast_signals": ["y"]}
    (tmp_path / "labeled.jsonl").write_text(json.dumps(labeled) + "\n")
    (tmp_path / "pairs.jsonl").write_text(json.dumps(pair) + "\n" + json.dumps({**pair, "rejected_index": 0}) + "\n")
    rows = signal_pairs(tmp_path / "pairs.jsonl", tmp_path / "labeled.jsonl")
    assert rows[0]["signal_spans"] == {"y": [[[0, 9]], [[1, 7]]]}
    assert rows[1]["signal_spans"] == {"y": [[[0, 9]], [[0, 9]]]}
