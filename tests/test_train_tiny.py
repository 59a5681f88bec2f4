"""The offline tiny model kit: what other tests and examples build on."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from salv_trainer.prompts import build_messages, render_prompt
from salv_trainer.tiny import build_tiny_tokenizer, make_tiny_model_dir

VERILOG = "module top_module(input a, input b, output out);\n  assign out = a ^ b;\nendmodule\n"


def test_tiny_dir_loads_with_auto_classes_and_generates(tmp_path):
    path = make_tiny_model_dir(tmp_path / "tiny", [VERILOG] * 3, vocab_size=300, hidden=32, layers=1)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.num_hidden_layers == 1 and model.config.hidden_size == 32
    assert model.config.vocab_size == len(tok)
    assert tok.pad_token == "<|pad|>" and tok.eos_token == "<|im_end|>"
    assert tok.pad_token_id != tok.eos_token_id

    text = render_prompt(tok, build_messages("Make an XOR gate."))
    assert text.endswith("<|im_start|>assistant\n")
    ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids
    out = model.generate(ids, max_new_tokens=5, do_sample=False)
    assert out.shape == (1, ids.shape[1] + 5) or out[0, -1].item() == tok.eos_token_id
    assert torch.equal(out[0, : ids.shape[1]], ids[0])


def test_tokenizer_round_trips_any_text_with_untrimmed_offsets():
    tok = build_tiny_tokenizer([VERILOG])
    text = "  assign y = a ≠ b; // ünïcode\n"
    enc = tok(text, return_offsets_mapping=True, add_special_tokens=False)
    assert tok.decode(enc.input_ids) == text
    # offsets tile the text (spaces belong to the following token, nothing is trimmed away)
    covered = sorted({i for s, e in enc.offset_mapping for i in range(s, e)})
    assert covered == list(range(len(text)))


def test_same_seed_same_weights(tmp_path):
    a = AutoModelForCausalLM.from_pretrained(make_tiny_model_dir(tmp_path / "a", seed=3))
    b = AutoModelForCausalLM.from_pretrained(make_tiny_model_dir(tmp_path / "b", seed=3))
    c = AutoModelForCausalLM.from_pretrained(make_tiny_model_dir(tmp_path / "c", seed=4))
    wa, wb, wc = (m.model.layers[0].self_attn.q_proj.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)


def test_tokenizer_in_memory_splits_text_like_the_saved_one(tmp_path):
    """A model trained in memory and then saved must see the same ids after reloading."""
    from transformers import AutoTokenizer

    from salv_trainer.tiny import build_tiny_model, build_tiny_tokenizer, save_tiny

    tok = build_tiny_tokenizer()
    save_tiny(build_tiny_model(tok), tok, tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    text = "module m(input a, output y);\n\n  assign y = ~a;   // note\n\n\nendmodule  \n"
    assert tok(text)["input_ids"] == reloaded(text)["input_ids"]
    assert tok(text, return_offsets_mapping=True)["offset_mapping"] == reloaded(
        text, return_offsets_mapping=True
    )["offset_mapping"]
