"""Signal-aware DPO on a real tiny Qwen2 model and TRL's real DPOTrainer (no mocks).

The proofs of issue 5: equality with stock TRL when the masks cover every response token, zero
gradient where the mask is 0, a hand-computed Eq. 2, empty-mask rows dropped, training lowers the
loss, the adapter reloads and generates, resume continues exactly, merge keeps the function.
"""

from __future__ import annotations

import json
import warnings

import pytest
import torch
import torch.nn.functional as F
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import DPOConfig, DPOTrainer

from salv_trainer._trainer_setup import checkpointing_kwarg
from salv_trainer.training import (
    DPORunConfig,
    SignalAwareDPOTrainer,
    load_pairs,
    merge_adapter,
    pairs_to_dataset,
    train_dpo,
)
from salv_trainer.tiny import make_tiny_model_dir

warnings.filterwarnings("ignore", category=FutureWarning)

HEADER = "module top_module(input a, input b, output x, output y);\n"
GOOD = "```verilog\n" + HEADER + "  assign x = a & b;\n  assign y = a | b;\nendmodule\n```"
BAD_Y = GOOD.replace("a | b", "a ^ b")
BAD_X = GOOD.replace("a & b", "~a")


def cone_of_y(text: str) -> list[list[int]]:
    """Header, the statement driving y, endmodule: what the data stage writes for contrast {y}."""
    h = text.index("module")
    s = text.index("  assign y")
    e = text.index("endmodule")
    return [[h, text.index("\n", h) + 1], [s, text.index("\n", s) + 1], [e, e + len("endmodule")]]


def pair(i: int, **kw) -> dict:
    row = dict(
        id=f"p{i}", prompt=f"Task {i}: x is a AND b, y is a OR b.", chosen=GOOD, rejected=BAD_Y,
        contrast_signals=["y"], chosen_spans=cone_of_y(GOOD), rejected_spans=cone_of_y(BAD_Y),
        kind="partial",
    )
    row.update(kw)
    return row


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model_dir(
        tmp_path_factory.mktemp("tiny"), [GOOD, BAD_Y, BAD_X, "Task: x is a AND b, y is a OR b."],
        vocab_size=400, hidden=32, layers=2, heads=4, kv_heads=2,
    )


def write_pairs(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def dpo_args(tmp_path, **kw):
    base = dict(output_dir=str(tmp_path / "out"), per_device_train_batch_size=2, max_length=512,
                report_to=[], beta=0.1, seed=0, disable_tqdm=True, bf16=False,
                **checkpointing_kwarg(False))
    base.update(kw)
    return DPOConfig(**base)


LORA = dict(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")


def perturb_lora(model, seed=1):
    """Move the adapter away from zero (identically for equal seeds) so policy != reference."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(model.named_parameters()):
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)


def build(tiny, tmp_path, rows, *, stock=False, mask="cone", chat=True, **args_kw):
    tok = AutoTokenizer.from_pretrained(tiny)
    if not chat:  # a base model: prompts rendered as plain text, TRL appends EOS
        tok.chat_template = None
    model = AutoModelForCausalLM.from_pretrained(tiny)
    ds = pairs_to_dataset(rows, tok)
    kw = dict(model=model, args=dpo_args(tmp_path, **args_kw), train_dataset=ds, processing_class=tok,
              peft_config=LoraConfig(**LORA))
    trainer = DPOTrainer(**kw) if stock else SignalAwareDPOTrainer(mask_mode=mask, **kw)
    perturb_lora(trainer.model)
    return trainer


def batch_of(trainer, n=2):
    cols = [c for c in ("prompt_ids", "chosen_ids", "rejected_ids", "chosen_token_mask", "rejected_token_mask")
            if c in trainer.train_dataset.column_names]
    examples = [{c: trainer.train_dataset[i][c] for c in cols} for i in range(n)]
    return trainer._prepare_inputs(trainer.data_collator(examples))


def loss_of(trainer, batch):
    trainer.model.train()
    return trainer.compute_loss(trainer.model, dict(batch))


ROWS = [pair(0), pair(1, chosen=GOOD, rejected=BAD_X, contrast_signals=["x"], kind="partial",
                     chosen_spans=[[0, len(GOOD)]], rejected_spans=[[0, len(BAD_X)]])]


@pytest.mark.parametrize("chat", [True, False], ids=["chat template", "plain-text prompts"])
@pytest.mark.parametrize("how", ["whole-response spans, cone mode", "full mode"])
def test_loss_equals_stock_trl_when_masks_cover_every_response_token(tiny, tmp_path, how, chat):
    if how == "full mode":
        rows, mask = ROWS, "full"
    else:
        rows = [dict(r, chosen_spans=[[0, len(r["chosen"])]], rejected_spans=[[0, len(r["rejected"])]])
                for r in ROWS]
        mask = "cone"
    ours = build(tiny, tmp_path, rows, mask=mask, chat=chat)
    stock = build(tiny, tmp_path, rows, stock=True, chat=chat)
    b_ours, b_stock = batch_of(ours), batch_of(stock)
    assert torch.equal(b_ours["completion_mask"], b_stock["completion_mask"])
    l_ours, l_stock = loss_of(ours, b_ours), loss_of(stock, b_stock)
    assert abs(l_ours.item() - l_stock.item()) < 1e-6
    assert abs(l_stock.item() - 0.6931) > 1e-3  # a real comparison, not log 2 at init
    # and the cone mask really changes the loss
    cone = build(tiny, tmp_path, ROWS, mask="cone", chat=chat)
    assert abs(loss_of(cone, batch_of(cone)).item() - l_stock.item()) > 1e-4


def test_a_chat_template_that_rewrites_responses_drops_them_and_says_why(tiny, tmp_path):
    """Never a wrong mask: rows the template rewrites are dropped and counted (here all of them,
    so the run stops before training with the reasons)."""
    from salv_trainer.tiny import CHAT_TEMPLATE

    tok = AutoTokenizer.from_pretrained(tiny)
    tok.chat_template = CHAT_TEMPLATE.replace("message['content']", "message['content'] | replace('assign', 'ASSIGN')")
    with pytest.raises(ValueError, match=r"no row of the train dataset can be trained on: 2 cannot be aligned "
                                         r"with the chat template \(2 template_rewrites_response\)"):
        SignalAwareDPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny), args=dpo_args(tmp_path),
                              train_dataset=pairs_to_dataset(ROWS, tok), processing_class=tok,
                              peft_config=LoraConfig(**LORA))


def _offsets_mask(tok, text, spans):
    """Independent of salv_trainer.masks: a token counts when it shares a character with a span,
    unless that is only a blank while the token holds other code (the boundary rule)."""
    enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
    cone = {i for a, b in spans for i in range(a, b)}

    def counts(s, e):
        inside = "".join(text[i] for i in range(s, e) if i in cone)
        return bool(inside) and (bool(inside.strip()) or not text[s:e].strip())

    return enc.input_ids, [int(counts(s, e)) for s, e in enc.offset_mapping]


def _prompt_ids(tok, row):
    prompt = tok.apply_chat_template(pairs_to_dataset([row], tok)[0]["prompt"], tokenize=False,
                                     add_generation_prompt=True)
    return tok(prompt, add_special_tokens=False).input_ids


def _summed_logp(model, tok, row, side, *, adapter):
    """Eq. 2's sum over the cone tokens of one response, from the model's plain logits."""
    prompt_ids = _prompt_ids(tok, row)
    resp_ids, mask = _offsets_mask(tok, row[side], row[f"{side}_spans"])
    # ChatML closes the turn with "<|im_end|>\n": in the sum when a span reaches the response's end
    end_of_turn = tok("<|im_end|>\n", add_special_tokens=False).input_ids
    reaches_end = any(b == len(row[side]) for _, b in row[f"{side}_spans"])
    resp_ids, mask = resp_ids + end_of_turn, mask + [int(reaches_end)] * len(end_of_turn)
    ids = torch.tensor([prompt_ids + resp_ids])
    ctx = model.disable_adapter() if not adapter else torch.enable_grad()
    with torch.no_grad(), ctx:
        logits = model(input_ids=ids).logits[0, :-1]
    logp = torch.log_softmax(logits.float(), -1).gather(1, ids[0, 1:, None])[:, 0]
    m = torch.tensor([0] * len(prompt_ids) + mask)[1:]
    return (logp * m).sum()


def test_trainer_loss_is_hand_computed_eq2(tiny, tmp_path):
    tr = build(tiny, tmp_path, ROWS, mask="cone")  # two pairs with different spans
    tok, model = tr.processing_class, tr.model
    loss = loss_of(tr, batch_of(tr)).item()

    def log_ratio(row, side):
        return (_summed_logp(model, tok, row, side, adapter=True)
                - _summed_logp(model, tok, row, side, adapter=False))

    per_pair = [-F.logsigmoid(0.1 * (log_ratio(r, "chosen") - log_ratio(r, "rejected"))) for r in ROWS]
    expected = torch.stack(per_pair).mean().item()
    assert loss == pytest.approx(expected, abs=1e-5)
    assert abs(per_pair[0].item() - per_pair[1].item()) > 1e-4  # the two rows really differ


def test_precomputed_reference_log_probs_use_the_cone_mask(tiny, tmp_path):
    tr = build(tiny, tmp_path, ROWS[:1], mask="cone", precompute_ref_log_probs=True)
    row = ROWS[0]
    for side in ("chosen", "rejected"):
        expected = _summed_logp(tr.model, tr.processing_class, row, side, adapter=False).item()
        assert tr.train_dataset[0][f"ref_{side}_logps"] == pytest.approx(expected, abs=1e-4)


def test_shared_reference_cache_is_reused_only_for_the_same_rows_mask_and_weights(tiny, tmp_path):
    """``ref_log_probs_cache``: the first run stores the reference log-probs, a later run on the
    same pairs (another seed and lr: LoRA starts differ) reads them and trains exactly as a run that
    computes the reference at every step; another mask or other weights get their own file."""
    pairs = write_pairs(tmp_path / "pairs.jsonl", [pair(i) for i in range(4)])
    cache = tmp_path / "ref"

    def run(name, **kw):
        kw = {"learning_rate": 5e-3, **kw}
        cfg = DPORunConfig(model=str(tiny), pairs=str(pairs), output_dir=str(tmp_path / name),
                           max_steps=4, per_device_batch_size=2, logging_steps=1,
                           save_steps=100, warmup_ratio=0.0, **kw)
        result = train_dpo(cfg)
        log = [json.loads(line) for line in (tmp_path / name / "train_log.jsonl").read_text().splitlines()]
        return result, [r["loss"] for r in log if "loss" in r]

    first, _ = run("a", ref_log_probs_cache=str(cache))
    assert first.data["ref_log_probs"] == "precomputed" and len(list(cache.glob("*.pt"))) == 1
    cached, cached_losses = run("b", ref_log_probs_cache=str(cache), seed=3, learning_rate=1e-2)
    assert cached.data["ref_log_probs"] == "cache" and len(list(cache.glob("*.pt"))) == 1
    per_step, per_step_losses = run("c", seed=3, learning_rate=1e-2)
    assert per_step.data["ref_log_probs"] == "per step"
    assert cached_losses == pytest.approx(per_step_losses, abs=1e-5)
    assert run("d", ref_log_probs_cache=str(cache), mask="full")[0].data["ref_log_probs"] == "precomputed"
    assert len(list(cache.glob("*.pt"))) == 2
    # the same tokenizer (same texts) and rows, other weights
    other = make_tiny_model_dir(tmp_path / "other", [GOOD, BAD_Y, BAD_X, "Task: x is a AND b, y is a OR b."],
                                vocab_size=400, hidden=32, layers=2, heads=4, kv_heads=2, seed=1)
    cfg = DPORunConfig(model=str(other), pairs=str(pairs), output_dir=str(tmp_path / "e"), max_steps=1,
                       per_device_batch_size=2, save_steps=100, ref_log_probs_cache=str(cache))
    assert train_dpo(cfg).data["ref_log_probs"] == "precomputed" and len(list(cache.glob("*.pt"))) == 3


def test_gradient_is_zero_exactly_where_the_mask_is_zero(tiny, tmp_path):
    tr = build(tiny, tmp_path, ROWS, mask="cone")
    batch = batch_of(tr)
    kept = []
    norm = tr.model.get_base_model().model.norm

    def keep(module, inputs, output):
        if output.requires_grad:
            output.retain_grad()
        kept.append(output)

    handle = norm.register_forward_hook(keep)
    try:
        tr.model.zero_grad()
        loss_of(tr, batch).backward()
    finally:
        handle.remove()
    hidden = next(h for h in kept if h.requires_grad)  # the policy pass (the reference runs in no_grad)
    per_position = hidden.grad.abs().sum(-1)  # [2B, T]: position t predicts token t + 1
    predicts_masked = batch["completion_mask"][:, 1:] == 0
    assert torch.all(per_position[:, :-1][predicts_masked] == 0)
    assert torch.all(per_position[:, -1] == 0)
    assert torch.all(per_position[:, :-1][~predicts_masked] > 0)
    lora_grads = [p.grad for n, p in tr.model.named_parameters() if "lora_" in n]
    assert lora_grads and all(g is not None for g in lora_grads)
    assert sum(g.abs().sum().item() for g in lora_grads) > 0
    base_grads = [p.grad for n, p in tr.model.named_parameters() if "lora_" not in n]
    assert all(g is None for g in base_grads)  # the base weights (= the reference) stay frozen


def test_rows_with_an_empty_mask_after_truncation_never_reach_the_loss(tiny, tmp_path):
    late = len(GOOD) - len("endmodule\n```")
    rows = [
        pair(0),
        pair(1, chosen_spans=[]),  # nothing to learn from on the chosen side
        pair(2, chosen_spans=[[late, len(GOOD)]], rejected_spans=[[late, len(BAD_Y)]]),  # cut off below
        pair(3),
    ]
    tok = AutoTokenizer.from_pretrained(tiny)
    prompt = tok.apply_chat_template(pairs_to_dataset(rows[:1], tok)[0]["prompt"], tokenize=False,
                                     add_generation_prompt=True)
    n_prompt = len(tok(prompt, add_special_tokens=False).input_ids)
    tr = build(tiny, tmp_path, rows, mask="cone", max_length=n_prompt + 30)
    assert tr.train_dataset["id"] == ["p0", "p3"]
    stats = tr.mask_stats["train"]
    assert (stats.dropped_empty, stats.dropped_truncated, stats.rows_trained) == (1, 1, 2)
    assert 0 < stats.mask_fraction < 1
    batch = batch_of(tr)
    assert torch.all(batch["completion_mask"].sum(1) > 0)


def test_training_lowers_the_loss_and_the_adapter_reloads_and_generates(tiny, tmp_path):
    from peft import AutoPeftModelForCausalLM

    pairs = write_pairs(tmp_path / "pairs.jsonl", [pair(i) for i in range(4)])
    cfg = DPORunConfig(model=str(tiny), pairs=str(pairs), output_dir=str(tmp_path / "dpo"),
                       learning_rate=5e-3, max_steps=8, per_device_batch_size=2, logging_steps=1,
                       save_steps=100, warmup_ratio=0.0)
    result = train_dpo(cfg)
    log = [json.loads(line) for line in (tmp_path / "dpo" / "train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[0] == pytest.approx(0.6931, abs=1e-3) and losses[-1] < losses[0] - 0.05
    assert {"rewards/chosen", "rewards/accuracies", "mask/fraction"} <= set(log[0])
    assert result.steps == 8 and result.data["rows_trained"] == 4
    run = json.loads((tmp_path / "dpo" / "salv_run.json").read_text())
    assert run["config"]["mask"] == "cone" and run["data"]["mask_fraction"] > 0

    model = AutoPeftModelForCausalLM.from_pretrained(tmp_path / "dpo")
    tok = AutoTokenizer.from_pretrained(tmp_path / "dpo")
    ids = tok("module", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] > ids.shape[1]
    # merged weights compute the same function as base + adapter
    merged_dir = merge_adapter(tmp_path / "dpo", tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir)
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, merged(ids).logits, atol=1e-5)


def test_resume_continues_from_a_checkpoint_exactly(tiny, tmp_path):
    import shutil

    from safetensors.torch import load_file

    pairs = write_pairs(tmp_path / "pairs.jsonl", [pair(i) for i in range(4)])
    cfg = DPORunConfig(model=str(tiny), pairs=str(pairs), output_dir=str(tmp_path / "run"), learning_rate=5e-3,
                       max_steps=4, per_device_batch_size=2, save_steps=2, logging_steps=1)
    train_dpo(cfg)
    straight = load_file(tmp_path / "run" / "adapter_model.safetensors")
    # pretend the run died between its two checkpoints, then resume from the newest one left
    shutil.rmtree(tmp_path / "run" / "checkpoint-4")
    (tmp_path / "run" / "adapter_model.safetensors").unlink()
    cfg.resume = "latest"
    result = train_dpo(cfg)
    assert result.steps == 4
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2, 3, 4, 3, 4]  # the second run did steps 3-4 only
    resumed = load_file(tmp_path / "run" / "adapter_model.safetensors")
    assert straight.keys() == resumed.keys()
    for k in straight:
        assert torch.allclose(straight[k], resumed[k], atol=1e-6), k

    cfg.resume, cfg.output_dir = "latest", str(tmp_path / "empty")
    with pytest.raises(ValueError, match="--resume latest: no checkpoint-\\* directory in"):
        train_dpo(cfg)


def test_kinds_filter_and_pairs_file_errors(tiny, tmp_path):
    rows = [pair(0, kind="complete"), pair(1), pair(2)]
    path = write_pairs(tmp_path / "p.jsonl", rows)
    kept, stats = load_pairs(path, kinds=["complete"])
    assert [r["id"] for r in kept] == ["p0"] and stats.dropped_kind == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(pair(0)) + "\n" + json.dumps(pair(1, chosen_spans=[[0, 9999]])) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:2:1: chosen_spans: span 0 = \[0, 9999\] lies outside"):
        load_pairs(bad)
    bad.write_text('{"prompt": "p", "chosen": "c"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1:1: missing key\(s\) rejected"):
        load_pairs(bad)
    bad.write_text('{"prompt": "p",\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:1:\d+: error: invalid JSON"):
        load_pairs(bad)
