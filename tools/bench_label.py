#!/usr/bin/env python3
"""Throughput of `salv-train label` (candidates/s) for k=5 candidates per prompt.

Prompts are VerilogEval v2 references; each gets k=5 responses: the canonical solution and single-
token mutants (verislice.mutate), so most candidates simulate and some outputs differ. Three figures,
measured in the same run on the same candidates:

  label            salv_trainer.data.label: batched equivalence + cone spans + JSONL writing
  check_batch      verislice.equiv.check_batch alone on the same groups (verislice's batch figure)
  one-per-call     baseline: verislice.equiv.check once per candidate (one simulation each),
                   on the first --baseline-prompts prompts only

label and check_batch are measured with every untrusted run in bubblewrap (the default) and with
VERISLICE_SANDBOX=none in the same run: the cost of the sandbox.

    .venv/bin/python tools/bench_label.py [--prompts 40] [--jobs 2] [--engine cocotb]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from salv_trainer.data import LabelConfig, label  # noqa: E402
from salv_trainer.prompts import format_response  # noqa: E402
from verislice import Source, _worker  # noqa: E402
from verislice.equiv import EquivOptions, check, check_batch  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

BENCH = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))


def build_samples(n: int, k: int) -> list[dict]:
    path = BENCH / "verilogeval" / "verilogeval_v2_spec.jsonl"
    rows = [json.loads(line) for line in path.open()]
    out = []
    for r in rows:
        if not r["validation"]["iverilog_11.0"]["ref_pass"]:
            continue
        ms = mutants(r["canonical_solution"], seed=1, limit=k - 1)
        if len(ms) < k - 1:
            continue
        responses = [format_response(r["canonical_solution"])] + [format_response(m.text) for m in ms]
        out.append({"id": r["task_id"], "prompt": r["prompt"], "reference": r["reference"],
                    "responses": responses})
        if len(out) == n:
            break
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=40)
    ap.add_argument("-k", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--engine", default="cocotb")
    ap.add_argument("--baseline-prompts", type=int, default=4)
    ap.add_argument("--sandbox", nargs="+", default=["bwrap", "none"])
    args = ap.parse_args()

    samples = build_samples(args.prompts, args.k)
    n_cands = sum(len(s["responses"]) for s in samples)
    opts = EquivOptions(engine=args.engine)
    print(f"{len(samples)} prompts x k={args.k} = {n_cands} candidates; jobs={args.jobs}, "
          f"engine={args.engine}, {opts.cycles} cycles; {os.cpu_count()} cores")

    from salv_trainer.extract import extract_code

    groups = [(Source(s["reference"], "<reference>"),
               [Source(extract_code(r).text, f"<response {j}>") for j, r in enumerate(s["responses"])])
              for s in samples]
    timings: dict[str, tuple[float, float]] = {}
    for mode in args.sandbox:
        os.environ["VERISLICE_SANDBOX"] = mode
        _worker._close_all()  # fresh front-end workers for this mode
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "samples.jsonl"
            src.write_text("".join(json.dumps(s) + "\n" for s in samples))
            t = time.perf_counter()
            report = label(src, Path(tmp) / "labeled.jsonl",
                           LabelConfig(jobs=args.jobs, equiv=opts), resume=False)
            t_label = time.perf_counter() - t
        t = time.perf_counter()
        check_batch(groups, jobs=args.jobs, options=opts, reference_errors="report")
        timings[mode] = (t_label, time.perf_counter() - t)
    os.environ["VERISLICE_SANDBOX"] = args.sandbox[0]
    t_label, t_batch = timings[args.sandbox[0]]
    cats = report.to_json()["categories"]

    base = groups[: args.baseline_prompts]
    n_base = sum(len(c) for _, c in base)
    t = time.perf_counter()
    for ref, cands in base:
        for c in cands:
            check(ref, c, options=opts)
    t_one = time.perf_counter() - t

    print(f"{'method':<14} {'candidates':>10} {'seconds':>8} {'cand/s':>8} {'ms/cand':>8}")
    for name, n, sec in (("label", n_cands, t_label), ("check_batch", n_cands, t_batch),
                         ("one-per-call", n_base, t_one)):
        print(f"{name:<14} {n:>10} {sec:>8.2f} {n / sec:>8.1f} {1000 * sec / n:>8.1f}")
    for mode, (tl, tb) in timings.items():
        print(f"sandbox={mode:<6} label {n_cands / tl:6.1f} cand/s   check_batch {n_cands / tb:6.1f} "
              "cand/s")
    if {"bwrap", "none"} <= set(timings):
        on, off = timings["bwrap"][0], timings["none"][0]
        print(f"label throughput with the sandbox: {100 * (off / on - 1):+.1f} % against none "
              f"(load average {os.getloadavg()[0]:.1f})")
    print(f"label / check_batch time: {t_label / t_batch:.2f}x; "
          f"label speed-up over one-per-call: {(n_cands / t_label) / (n_base / t_one):.1f}x")
    print("label categories:", ", ".join(f"{k} {v}" for k, v in cats.items()))


if __name__ == "__main__":
    main()
