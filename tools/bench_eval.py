#!/usr/bin/env python3
"""Scoring throughput of ``salv-train eval``: 20 responses per task on VerilogEval v2 spec-to-RTL.

Workload: for each of the 156 tasks, 20 distinct responses: the canonical solution, an empty module
(header + ``endmodule``), single-token mutants of the canonical solution (``verislice.mutate``), and
canonical copies made distinct by a comment, up to 20. Every response is a distinct candidate file,
so nothing is saved by deduplication (the worst case for the evaluator).

Measured in the same run:

* baseline: the harness as shipped (``iverilog`` then ``./sim`` = ``vvp`` writing ``wave.vcd``), one
  simulation at a time, on the first ``--baseline-tasks`` tasks;
* ours: :func:`salv_trainer.eval.score_responses` with ``--jobs`` (default 2) on all tasks
  (sandboxed runs, no waveform dump, identical candidates simulated once, fail-fast on; with
  ``--also-full`` a second run without fail-fast).

Besides wall time, the CPU seconds spent (simulator processes + the evaluator itself) are printed:
on a machine shared with other work, CPU / jobs estimates the wall time on idle cores.

Goal: all 3,120 simulations in <= 2 minutes with --jobs 2 on a 2-core machine.

    .venv/bin/python tools/bench_eval.py                 # full run
    .venv/bin/python tools/bench_eval.py --tasks 40      # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from salv_trainer.eval import load_benchmark, score_responses  # noqa: E402
from salv_trainer.eval._harness import candidate_files, sv_iv_analyze  # noqa: E402
from verislice.untrusted import run_limited, sandbox_dir  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

BENCH = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
GOAL_S = 120.0


def responses_for(task, per_task: int) -> list[str]:
    code = task.canonical_solution
    end = code.index(");", code.index("module")) + 2
    out = [code, code[:end] + "\nendmodule\n"]  # canonical, empty module
    try:
        out += [m.text for m in mutants(code, seed=0, limit=per_task - 2)]
    except Exception:  # a reference the mutator cannot parse: copies only
        pass
    i = 0
    while len(out) < per_task:
        out.append(code[:end] + f"\n  // sample {i}" + code[end:])
        i += 1
    return out[:per_task]


def baseline(tasks, responses) -> tuple[float, int]:
    """The shipped harness: compile, then run ./sim (vvp with the testbench's VCD dump)."""
    start, count = time.monotonic(), 0
    for t in tasks:
        for r in responses[t.task_id]:
            with sandbox_dir("bench-base-") as d:
                for name, text in candidate_files(t, r).items():
                    (d / name).write_text(text)
                c = run_limited(["iverilog", "-Wall", "-Winfloop", "-Wno-timescale", "-g2012", "-s",
                                 "tb", "-o", "sim", "candidate.sv", "test.sv", "ref.sv"], d, timeout=30)
                log = c.stdout + c.stderr
                if c.returncode == 0:
                    s = run_limited(["vvp", "sim"], d, timeout=30)
                    log += s.stdout + s.stderr + ("\nTIMEOUT" if s.timed_out else "")
                sv_iv_analyze(log, r)
                count += 1
    return time.monotonic() - start, count


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(BENCH), help="bundle directory (default: %(default)s)")
    ap.add_argument("--tasks", type=int, default=None, help="only the first N tasks")
    ap.add_argument("--per-task", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--also-full", action="store_true", help="also run without fail-fast")
    ap.add_argument("--baseline-tasks", type=int, default=10,
                    help="tasks run through the shipped harness, one at a time (0: skip)")
    args = ap.parse_args()

    tasks = load_benchmark("verilogeval-v2-spec", args.data, limit=args.tasks)
    responses = {t.task_id: responses_for(t, args.per_task) for t in tasks}
    total = sum(len(v) for v in responses.values())
    print(f"workload: {len(tasks)} tasks x {args.per_task} responses = {total} simulations "
          f"(cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")

    if args.baseline_tasks:
        # the same tasks through our evaluator, one job, to compare like with like
        sub = tasks[: args.baseline_tasks]
        c0 = _children_cpu()
        b_s, b_n = baseline(sub, responses)
        c1 = _children_cpu()
        o = score_responses(sub, {t.task_id: responses[t.task_id] for t in sub}, jobs=1)
        c2 = _children_cpu()
        print(f"baseline (shipped harness, 1 job, {len(sub)} tasks): {b_s:7.1f} s  "
              f"{1000 * b_s / b_n:6.1f} ms/simulation  (CPU {1000 * (c1 - c0) / b_n:.1f} ms)")
        print(f"ours     (same tasks, 1 job)               : {o.seconds:7.1f} s  "
              f"{1000 * o.seconds / max(1, o.simulations):6.1f} ms/simulation  "
              f"(CPU {1000 * (c2 - c1) / max(1, o.simulations):.1f} ms)")

    runs = [("fail-fast", True)] + ([("full", False)] if args.also_full else [])
    for label, ff in runs:
        cpu0, own0 = _children_cpu(), _self_cpu()
        result = score_responses(tasks, responses, ks=(1, 5, 10), jobs=args.jobs, fail_fast=ff)
        own = _self_cpu() - own0
        cpu = _children_cpu() - cpu0 + own
        per = 1000 * result.seconds / max(1, result.simulations)
        status = "OK" if result.seconds <= GOAL_S * len(tasks) / 156 else "over goal"
        print(f"ours     ({label}, all tasks, {args.jobs} jobs): {result.seconds:7.1f} s  {per:6.1f} ms/simulation"
              f"  ({result.simulations} simulations; goal {GOAL_S:.0f} s for 156 tasks: {status})")
        print(f"         CPU {cpu:.1f} s (simulators + {own:.1f} s evaluator) -> {cpu / args.jobs:.1f} s wall on {args.jobs} idle cores "
              f"({1000 * cpu / max(1, result.simulations):.1f} ms CPU/simulation); "
              f"load average now {os.getloadavg()[0]:.1f}")
    slow = sorted(((sum(s.seconds for s in tr.samples), tid) for tid, tr in result.tasks.items()),
                  reverse=True)[:5]
    print("slowest tasks (simulation seconds, summed):",
          ", ".join(f"{tid} {sec:.1f}" for sec, tid in slow))
    print("verdicts:", ", ".join(f"{k} {v}" for k, v in result.verdict_counts().items()))
    print("pass@k:", ", ".join(f"@{k} {v:.3f}" for k, v in result.pass_at_k.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
