"""Generation with a tiny local Qwen2 model (no hub): batching with left padding, greedy and seeded
sampling, the shared prompt template, clear errors."""

from __future__ import annotations

import importlib.util

import pytest

from salv_trainer.generate import GenerationError, SamplingConfig, generate, load_model
from salv_trainer.prompts import build_messages, render_prompt
from salv_trainer.tiny import make_tiny_model_dir

PROMPTS = [
    build_messages("Output the AND of a and b."),
    build_messages("A longer problem: a 4-bit counter with synchronous reset, enable and load, "
                   "counting up on every rising clock edge.", module_header="module top_module("
                   "input clk, input reset, output [3:0] q);"),
    [{"role": "user", "content": "Invert a."}],
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_model(make_tiny_model_dir(tmp_path_factory.mktemp("tiny")), device="cpu")


def test_greedy_batches_match_one_prompt_at_a_time(tiny):
    model, tok = tiny
    batched = generate(model, tok, PROMPTS, n=3, temperature=0, max_new_tokens=12, batch_size=3)
    single = [generate(model, tok, [p], n=1, temperature=0, max_new_tokens=12, batch_size=1)[0][0]
              for p in PROMPTS]
    assert [len(o) for o in batched] == [3, 3, 3]
    assert all(len(set(o)) == 1 for o in batched)          # greedy: n copies of one answer
    assert [o[0] for o in batched] == single                # left padding changes nothing
    assert tok.padding_side == "left"  # tiny tokenizers are left-padded already; restored as found


def test_sampling_is_reproducible_for_a_seed(tiny):
    model, tok = tiny
    a = generate(model, tok, PROMPTS[:2], n=4, temperature=1.0, top_p=0.95, max_new_tokens=10,
                 seed=3, batch_size=3)
    b = generate(model, tok, PROMPTS[:2], n=4, temperature=1.0, top_p=0.95, max_new_tokens=10,
                 seed=3, batch_size=3)
    c = generate(model, tok, PROMPTS[:2], n=4, temperature=1.0, top_p=0.95, max_new_tokens=10,
                 seed=4, batch_size=3)
    assert a == b and a != c
    assert [len(o) for o in a] == [4, 4]
    assert len(set(a[0])) > 1                                # a random tiny model: diverse samples


def _stock_generate(model_dir, tok, prompts, **kw):
    """The answers of transformers' own path: default attention, dynamic cache, one batch whose
    rows are in generate's order (longest prompt first), given back in the prompts' order."""
    texts = [render_prompt(tok, list(p)) for p in prompts]
    order = sorted(range(len(texts)), key=lambda i: -len(tok(texts[i], add_special_tokens=False).input_ids))
    answers = _stock_batch(model_dir, tok, [prompts[i] for i in order], **kw)
    return [answers[order.index(i)] for i in range(len(prompts))]


def _stock_batch(model_dir, tok, prompts, **kw):
    import torch
    from transformers import AutoModelForCausalLM, set_seed

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    assert model.config._attn_implementation == "sdpa"
    enc = tok([render_prompt(tok, list(p)) for p in prompts], return_tensors="pt", padding=True,
              add_special_tokens=False)
    set_seed(kw.pop("seed", 0))
    with torch.inference_mode():
        seqs = model.generate(**enc, pad_token_id=tok.pad_token_id, **kw)
    return tok.batch_decode(seqs[:, enc["input_ids"].shape[1]:], skip_special_tokens=True)


def test_cpu_fast_path_changes_no_token(tiny, tmp_path):
    """load_model switches a grouped-query model on a CPU to the copy-free attention and
    generate uses a static cache (salv_trainer._cpu_decoding): the answers, greedy and seeded
    samples, are those of transformers' own path."""
    from salv_trainer._cpu_decoding import ATTENTION

    model_dir = make_tiny_model_dir(tmp_path / "m", heads=4, kv_heads=2)
    model, tok = load_model(model_dir, device="cpu")
    assert model.config._attn_implementation == ATTENTION
    ours = generate(model, tok, PROMPTS, n=1, temperature=0, max_new_tokens=24, batch_size=3)
    assert [o[0] for o in ours] == _stock_generate(
        model_dir, tok, PROMPTS, do_sample=False, max_new_tokens=24)
    ours = generate(model, tok, PROMPTS, n=1, temperature=1.0, top_p=0.9, max_new_tokens=24,
                    seed=5, batch_size=3)
    assert [o[0] for o in ours] == _stock_generate(
        model_dir, tok, PROMPTS, do_sample=True, temperature=1.0, top_p=0.9, top_k=0,
        max_new_tokens=24, seed=5)
    # no grouped heads: transformers' attention is already copy-free, left as it is
    plain, _ = load_model(make_tiny_model_dir(tmp_path / "p", heads=2, kv_heads=2), device="cpu")
    assert plain.config._attn_implementation == "sdpa"


def test_prompts_are_rendered_with_the_shared_template(tiny):
    model, tok = tiny
    text = render_prompt(tok, PROMPTS[1])
    assert text.endswith("<|im_start|>assistant\n") and "module top_module(" in text
    # the response is only the new text: no piece of the prompt comes back
    (out,) = generate(model, tok, [PROMPTS[1]], max_new_tokens=8)
    assert "<|im_start|>" not in out[0] and "counter with synchronous" not in out[0]


@pytest.mark.parametrize(("kw", "message"), [
    ({"n": 0}, "n must be at least 1"),
    ({"temperature": -1}, "temperature must be >= 0"),
    ({"top_p": 0}, r"top_p must be in \(0, 1\]"),
    ({"batch_size": 0}, "batch_size must be at least 1"),
    ({"backend": "tgi"}, "unknown backend 'tgi'"),
])
def test_bad_settings_are_clear_errors(tiny, kw, message):
    model, tok = tiny
    with pytest.raises(GenerationError, match=message):
        generate(model, tok, PROMPTS[:1], **kw)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_vllm_backend_without_vllm_says_so(tiny):
    model, tok = tiny
    with pytest.raises(GenerationError, match="backend 'vllm' needs the vllm package"):
        generate(model, tok, PROMPTS[:1], backend="vllm")


def test_load_model_errors(tmp_path):
    with pytest.raises(GenerationError, match="no such model directory"):
        load_model(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenerationError, match="cannot load model"):
        load_model(tmp_path / "empty")


def test_sampling_config_records_its_settings():
    cfg = SamplingConfig(n=20, temperature=0.8)
    assert cfg.to_json() == {"n": 20, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": 1024,
                             "seed": 0, "backend": "transformers"}
