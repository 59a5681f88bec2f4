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

With --executor ray it measures instead `label --executor ray` on a local Ray cluster against
`label --jobs N` in this process, in the same run on the same candidates, with 1 and with N
workers (cores): a 1-CPU cluster against --jobs 1, an N-CPU cluster against --jobs N. Each
cluster is started and its workers warmed up (one small label) before the timing: a long run pays
that once (printed as "cluster start"). Runs alternate local/ray --repeat times; the median counts.

    .venv/bin/python tools/bench_label.py --executor ray [--prompts 40] [--jobs 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
    ap.add_argument("--executor", choices=["local", "ray"], default="local",
                    help="ray: Ray cluster against this process (see above)")
    ap.add_argument("--repeat", type=int, default=3, help="--executor ray: timed runs per setting")
    ap.add_argument("--prompts-per-call", type=int, default=None,
                    help="--executor ray: prompts per Ray task (default: 2 tasks per worker); "
                         "the local runs keep label's default (64 per check_batch call)")
    args = ap.parse_args()

    samples = build_samples(args.prompts, args.k)
    if args.executor == "ray":
        bench_ray(samples, args)
        return
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


def bench_ray(samples: list[dict], args: argparse.Namespace) -> None:
    """`label --executor ray` against `label --jobs N` (this process), 1 and N workers."""
    import ray

    from salv_trainer._executor import RayExecutor

    n_cands = sum(len(s["responses"]) for s in samples)
    workers = max(2, args.jobs)
    ppc = args.prompts_per_call or max(1, len(samples) // (2 * workers))
    local_ppc = LabelConfig().prompts_per_call
    opts = EquivOptions(engine=args.engine)
    print(f"{len(samples)} prompts x k={args.k} = {n_cands} candidates; ray: {ppc} prompts per "
          f"task ({-(-len(samples) // ppc)} tasks), local: {local_ppc} per call; "
          f"engine={args.engine}; {os.cpu_count()} cores; median of {args.repeat}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-label-ray-"))
    src = tmp / "samples.jsonl"
    src.write_text("".join(json.dumps(s) + "\n" for s in samples))
    warm = tmp / "warm.jsonl"
    warm.write_text("".join(json.dumps(s) + "\n" for s in samples[:workers]))
    outputs: dict[str, bytes] = {}

    def timed(name: str, jobs: int, executor=None) -> float:
        out = tmp / f"{name}.jsonl"
        t = time.perf_counter()
        label(src, out, LabelConfig(jobs=jobs, prompts_per_call=ppc if executor else local_ppc,
                                    equiv=opts), resume=False, executor=executor)
        sec = time.perf_counter() - t
        outputs.setdefault(name, out.read_bytes())
        return sec

    rows = []
    for n in (1, workers):
        t = time.perf_counter()
        ray.init(num_cpus=n, include_dashboard=False, log_to_driver=False, logging_level="warning")
        with RayExecutor() as ex:
            label(warm, tmp / "warm-out.jsonl", LabelConfig(jobs=1, prompts_per_call=1, equiv=opts),
                  resume=False, executor=ex)  # starts and imports every worker
            start = time.perf_counter() - t
            local, remote = [], []
            for _ in range(args.repeat):  # alternated: a load change on the box hits both
                local.append(timed(f"local{n}", n))
                remote.append(timed(f"ray{n}", 1, ex))
        ray.shutdown()
        rows.append((n, statistics.median(local), statistics.median(remote), start, local, remote))
    print(f"{'workers':>7} {'local s':>8} {'ray s':>8} {'local c/s':>9} {'ray c/s':>8} "
          f"{'ray overhead':>12} {'cluster start':>13}")
    for n, tl, tr, start, _, _ in rows:
        print(f"{n:>7} {tl:>8.2f} {tr:>8.2f} {n_cands / tl:>9.1f} {n_cands / tr:>8.1f} "
              f"{100 * (tr / tl - 1):>+11.1f}% {start:>12.1f}s")
    (n1, l1, r1, *_), (n2, l2, r2, *_) = rows
    for name, t1, t2 in (("local", l1, l2), ("ray", r1, r2)):
        gain = (n_cands / t2 - n_cands / t1) / (n2 - n1)
        print(f"{name}: +{gain:.1f} cand/s per added core from {n1} to {n2} workers "
              f"(speed-up {t1 / t2:.2f}x, efficiency {100 * t1 / t2 / (n2 / n1):.0f}%)")
    print("all runs (s):", {f"{k}{n}": [round(x, 2) for x in v]
                             for n, *_, lo, re in rows for k, v in (("local", lo), ("ray", re))})
    same = len(set(outputs.values())) == 1
    print(f"labels of every run identical: {same} (chunking differs: packing may, in rare "
          f"time-0 races, change a verdict); load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
