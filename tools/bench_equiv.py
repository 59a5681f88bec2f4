#!/usr/bin/env python3
"""Labelling throughput of verislice.equiv: ms per candidate, by candidates per simulation.

Workload: VerilogEval v2 references (those passing on Icarus 11) with k=5 single-token mutants
of the canonical solution per problem (verislice.mutate), 1000 cycles each. Measured in the same
run, on one core (jobs=1) unless stated:

* baseline: each mutant run through the benchmark's own testbench (iverilog + vvp per candidate);
* verislice with 1, 5 (one k=5 group), 20 and 50 candidates per simulation (groups packed), for
  the cocotb engine (default) and the vvp engine;
* --jobs scaling at 20 candidates per simulation (wall time);
* the cost of the sandbox: the same runs with every process in bubblewrap (the default) and with
  ``VERISLICE_SANDBOX=none``, at 1 and 20 candidates per simulation.

CPU times are the whole machine's (from /proc/stat), so they include the sandboxed processes
and the front-end workers; run it on an idle machine.

The paper reports 39.1 ms per sample (simulation only). Goals: <= 10 ms per candidate at >= 20
per simulation, <= 20 ms for k=5 groups packed several per simulation.

    .venv/bin/python tools/bench_equiv.py            # 30 tasks (150 candidates)
    .venv/bin/python tools/bench_equiv.py --tasks 60 --jobs 1 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verislice import Source, _worker, equiv  # noqa: E402
from verislice._sandbox import run_limited, sandbox_dir  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

BENCH = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
PAPER_MS = 39.1


def workload(n_tasks: int, k: int, skip_slow: bool):
    path = BENCH / "verilogeval" / "verilogeval_v2_spec.jsonl"
    rows = [json.loads(x) for x in path.open() if x.strip()]
    rows = [r for r in rows if r["validation"]["iverilog_11.0"]["ref_pass"]]
    if skip_slow:  # their own testbenches run for seconds (conwaylife, lfsr32, count_clock)
        rows = [r for r in rows if r["validation"]["iverilog_11.0"].get("seconds", 0) < 1.0]
    groups = []
    for r in rows:
        ms = mutants(r["canonical_solution"], seed=0, limit=k)
        if len(ms) == k:
            groups.append((r, ms))
        if len(groups) == n_tasks:
            break
    return groups


def as_groups(work):
    return [(Source(r["reference"], f"{r['task_id']}_ref.sv"),
             [Source(m.text, f"{r['task_id']}_m{i}.sv") for i, m in enumerate(ms)])
            for r, ms in work]


def _cpu() -> float:
    """CPU seconds the whole machine has spent so far (every core, every process). A process in
    bubblewrap's PID namespace is reaped by the sandbox's own init, so its time never reaches
    this process's RUSAGE_CHILDREN: only the machine's total counts sandboxed work fairly. Run
    the benchmark on an otherwise idle machine (the load average is printed)."""
    with open("/proc/stat") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children): CPU time is what one core
    spends, and stays meaningful when other work shares the machine. The front-end workers are
    stopped inside the timed run, so their CPU time counts."""
    t, c = time.perf_counter(), _cpu()
    fn()
    _worker._close_all()
    return time.perf_counter() - t, _cpu() - c


def sandboxed(mode: str, fn):
    """``fn`` run with ``VERISLICE_SANDBOX=mode`` (fresh workers for it)."""
    def run():
        old = os.environ.get("VERISLICE_SANDBOX")
        os.environ["VERISLICE_SANDBOX"] = mode
        _worker._close_all()
        try:
            return fn()
        finally:
            if old is None:
                os.environ.pop("VERISLICE_SANDBOX", None)
            else:
                os.environ["VERISLICE_SANDBOX"] = old
    return run


def testbench_baseline(work) -> float:
    def one(r, text):
        with sandbox_dir("verislice-bench-") as d:
            (d / "candidate.sv").write_text(text)
            (d / "test.sv").write_text(r["testbench"])
            (d / "ref.sv").write_text(r["reference"])
            run_limited(["iverilog", "-g2012", "-s", "tb", "-o", "sim", "candidate.sv", "test.sv",
                         "ref.sv"], d, timeout=60)
            run_limited(["vvp", "-n", "sim"], d, timeout=60)

    return timed(lambda: [one(r, m.text) for r, ms in work for m in ms])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 5, 20, 50])
    ap.add_argument("--engines", nargs="+", default=["cocotb", "vvp"])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sandbox", nargs="+", default=["bwrap", "none"],
                    help="sandbox modes to compare at 1 and 20 candidates per simulation")
    ap.add_argument("--single-tasks", type=int, default=6,
                    help="tasks used for the 1-per-simulation runs (slow)")
    ap.add_argument("--include-slow", action="store_true",
                    help="keep tasks whose own testbench runs for seconds")
    a = ap.parse_args()
    if not (BENCH / "verilogeval").exists():
        print(f"benchmark data missing: {BENCH / 'verilogeval'}", file=sys.stderr)
        return 2
    work = workload(a.tasks, a.k, not a.include_slow)
    n = sum(len(ms) for _r, ms in work)
    print(f"workload: {len(work)} VerilogEval v2 tasks x k={a.k} mutants = {n} candidates, "
          f"{a.cycles} cycles, cpu count {os.cpu_count()}")
    equiv.check_batch(as_groups(work[:1]), engine="cocotb", cycles=10)  # warm imports
    rows = []
    small = work[: a.single_tasks]
    n_small = sum(len(ms) for _r, ms in small)
    t = testbench_baseline(small)
    rows.append(("benchmark testbench, 1 per run (baseline)", 1, n_small, t))
    for engine in a.engines:
        for b in a.batches:
            w, nn = (small, n_small) if b == 1 else (work, n)
            modes = a.sandbox if b in (1, 20) else a.sandbox[:1]
            for mode in modes:
                run = sandboxed(mode, lambda: equiv.check_batch(
                    as_groups(w), batch_size=b, engine=engine, cycles=a.cycles))
                t = timed(run)
                label = f"verislice {engine}, {b} per simulation"
                rows.append((label if mode == "bwrap" else f"{label}, no sandbox", 1, nn, t))
    for j in a.jobs:
        if j == 1:
            continue
        for engine in a.engines:
            t = timed(lambda: equiv.check_batch(as_groups(work), batch_size=20, engine=engine,
                                                jobs=j, cycles=a.cycles))
            rows.append((f"verislice {engine}, 20 per simulation", j, n, t))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (wall times grow with it; CPU "
          "times much less)")
    print(f"{'setup':58s} {'jobs':>4s} {'cands':>5s} {'wall s':>7s} {'wall ms/c':>9s} "
          f"{'CPU ms/c':>9s} {'paper/CPU':>9s}")
    for name, j, nn, (t, c) in rows:
        ms, cms = 1000 * t / nn, 1000 * c / nn
        print(f"{name:58s} {j:4d} {nn:5d} {t:7.2f} {ms:9.1f} {cms:9.1f} {PAPER_MS / cms:8.1f}x")
    base = {(name, j): 1000 * t[0] / nn for name, j, nn, t in rows}
    cpu = {(name, j): 1000 * t[1] / nn for name, j, nn, t in rows}
    for engine in a.engines:
        for b in (1, 20):
            on = cpu.get((f"verislice {engine}, {b} per simulation", 1))
            off = cpu.get((f"verislice {engine}, {b} per simulation, no sandbox", 1))
            if on and off:
                print(f"sandbox cost ({engine}, {b} per simulation, CPU): {on - off:+.1f} ms per "
                      f"candidate ({100 * (on - off) / off:+.1f} %)")
    for engine in a.engines:
        one = base.get((f"verislice {engine}, 20 per simulation", 1))
        for j in a.jobs:
            two = base.get((f"verislice {engine}, 20 per simulation", j))
            if j != 1 and one and two:
                print(f"jobs scaling ({engine}, 20 per simulation, wall time): {one / two:.2f}x "
                      f"with {j} jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
