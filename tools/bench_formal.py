#!/usr/bin/env python3
"""Speed of formal per-output checking, with simulation on the same candidates as the baseline.

Candidates: VerilogEval references (those passing on Icarus 11) against their canonical solution
and ``--mutants`` single-token mutants of it, split into combinational and sequential tasks (the
clock detection of ``verislice.equiv``). Prints, for each method, wall time and CPU time (this
process plus its workers/simulators) per candidate, and for formal the CPU ms per proven output.
CPU time is the figure to compare on a shared machine; wall time depends on the load. The
"in-worker time" of a candidate is what its own steps took inside the Yosys worker (reading,
miter, proofs, checks), without the worker's start-up (~45 ms, shared by up to 64 candidates);
its median and 95th percentile are printed per set and over all candidates. The paper quotes 39.1 ms
of simulation per sample.

    .venv/bin/python tools/bench_formal.py                  # 40 tasks of v2-completion
    .venv/bin/python tools/bench_formal.py --tasks 0 --jobs 2
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import load_bundle, ref_passes_on_icarus11  # noqa: E402

from verislice import Source, VerisliceError, equiv, load  # noqa: E402
from verislice.equiv import FormalOptions  # noqa: E402
from verislice.equiv._detect import detect_timing  # noqa: E402
from verislice.equiv import EquivOptions  # noqa: E402
from verislice.mutate import mutants  # noqa: E402


def cpu() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def measure(fn):
    w0, c0 = time.monotonic(), cpu()
    out = fn()
    return out, time.monotonic() - w0, cpu() - c0


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else 0.0


def groups_of(rows, k):
    comb, seq = [], []
    for r in rows:
        ref = Source(r["reference"], f"{r['task_id']}_ref.sv")
        try:
            sequential = detect_timing(load([ref]), EquivOptions()).sequential
        except VerisliceError:
            continue  # several clocks etc.: not part of the benchmark
        cands = [Source(r["canonical_solution"], f"{r['task_id']}_canonical.sv")]
        cands += [Source(m.text, f"{r['task_id']}_mut{i}.sv")
                  for i, m in enumerate(mutants(r["canonical_solution"], seed=0, limit=k))]
        (seq if sequential else comb).append((ref, cands))
    return comb, seq


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default="verilogeval-v2-completion")
    ap.add_argument("--tasks", type=int, default=40, help="first N tasks (0: all)")
    ap.add_argument("--mutants", type=int, default=2)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-sim", action="store_true", help="skip the simulation baseline")
    args = ap.parse_args()

    rows = [r for r in load_bundle(args.bundle) if ref_passes_on_icarus11(r)]
    if args.tasks:
        rows = rows[: args.tasks]
    comb, seq = groups_of(rows, args.mutants)
    print(f"{args.bundle}: {len(comb)} combinational + {len(seq)} sequential tasks, "
          f"canonical + {args.mutants} mutants each; jobs={args.jobs}; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print(f"{'set':<15} {'method':<16} {'cands':>6} {'outputs':>8} {'wall ms/cand':>13} "
          f"{'cpu ms/cand':>12} {'cpu ms/output':>14}  verdicts")
    everyone = []
    for label, groups in (("combinational", comb), ("sequential", seq)):
        if not groups:
            continue
        n = sum(len(c) for _, c in groups)
        opts = FormalOptions(depth=args.depth, timeout=args.timeout)
        res, wall, used = measure(lambda: equiv.check_batch(
            groups, jobs=args.jobs, reference_errors="report", method="formal", formal=opts))
        verdicts = collections.Counter(o.verdict for g in res for c in g for o in c.outputs.values())
        proved = sum(v for k, v in verdicts.items() if k in ("PROVEN", "BOUNDED", "MISMATCH",
                                                             "UNKNOWN", "AMBIGUOUS"))
        method = "formal" + (f" depth {args.depth}" if label == "sequential" else "")
        print(f"{label:<15} {method:<16} {n:>6} {proved:>8} {1000 * wall / n:>13.1f} "
              f"{1000 * used / n:>12.1f} {1000 * used / max(1, proved):>14.1f}  "
              f"{dict(verdicts)}")
        own = sorted(c.seconds for g in res for c in g if c.outputs)
        everyone += own
        if own:
            per_out = sorted(c.seconds / len(c.outputs) for g in res for c in g if c.outputs)
            print(f"{'':<15} {'':<16} in-worker time per candidate: median "
                  f"{1000 * statistics.median(own):.1f} ms, p95 {1000 * pct(own, 0.95):.1f} ms, "
                  f"max {1000 * own[-1]:.0f} ms; per output: median "
                  f"{1000 * statistics.median(per_out):.1f} ms")
        if not args.no_sim:
            res, wall, used = measure(lambda: equiv.check_batch(
                groups, jobs=args.jobs, reference_errors="report"))
            verdicts = collections.Counter(o.verdict for g in res for c in g
                                           for o in c.outputs.values())
            outs = sum(verdicts.values())
            print(f"{label:<15} {'simulation':<16} {n:>6} {outs:>8} {1000 * wall / n:>13.1f} "
                  f"{1000 * used / n:>12.1f} {1000 * used / max(1, outs):>14.1f}  "
                  f"{dict(verdicts)}")
    if everyone:
        print(f"all candidates: in-worker time median {1000 * statistics.median(everyone):.1f} ms,"
              f" p95 {1000 * pct(sorted(everyone), 0.95):.1f} ms ({len(everyone)} candidates)")
    print("paper (simulation, per sample): 39.1 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
