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
