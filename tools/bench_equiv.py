#!/usr/bin/env python3
"""Labelling throughput of verislice.equiv: ms per candidate, by candidates per simulation.

Workload: VerilogEval v2 references (those passing on Icarus 11) with k=5 single-token mutants
of the canonical solution per problem (verislice.mutate), automatic cycles. Measured in the same
run, on one core (jobs=1) unless stated:

* baseline: each mutant run through the benchmark's own testbench (iverilog + vvp per candidate);
* verislice with 1, 5 (one k=5 group), 20 and 50 candidates per simulation (groups packed), for
  the cocotb engine (default) and the vvp engine;
* --jobs scaling at 20 candidates per simulation (wall time);
* the cost of the sandbox: the same runs with every process in bubblewrap (the default) and with
  ``VERISLICE_SANDBOX=none``, at 1 and 20 candidates per simulation.

CPU times are the whole machine's (from /proc/stat), so they include the sandboxed processes
and the front-end workers; run it on an idle machine, or pass ``--cpu cgroup`` (as root) to count
exactly this process and everything it starts, whatever else runs on the machine.

The paper reports 39.1 ms per sample (simulation only). Goals: <= 10 ms per candidate at >= 20
per simulation, <= 20 ms for k=5 groups packed several per simulation.

    .venv/bin/python tools/bench_equiv.py            # 30 tasks (150 candidates)
    .venv/bin/python tools/bench_equiv.py --tasks 60 --jobs 1 2
    .venv/bin/python tools/bench_equiv.py --tasks 20 --batches 20 50 --engines cocotb vvp \\
        --sandbox bwrap --jobs 1 --no-baseline --repeat 5 --cpu cgroup   # engines, run by run
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verislice import Source, _worker, equiv  # noqa: E402
from verislice.untrusted import run_limited, sandbox_dir  # noqa: E402
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


class _CgroupCpu:
    """CPU seconds of this process and everything it starts (sandboxes, workers, simulators),
    from a cpu-accounting cgroup of its own that every child inherits: exact on a shared machine,
    where /proc/stat also counts other people's work. Needs a writable cgroup hierarchy (root)."""

    def __init__(self) -> None:
        self.usage = None
        for root, name, parse in (
                (Path("/sys/fs/cgroup/cpuacct"), "cpuacct.usage", lambda t: int(t) / 1e9),
                (Path("/sys/fs/cgroup/cpu,cpuacct"), "cpuacct.usage", lambda t: int(t) / 1e9),
                (Path("/sys/fs/cgroup"), "cpu.stat",
                 lambda t: int(t.split("usage_usec")[1].split()[0]) / 1e6)):
            if not (root / name).exists() and not (root / "cgroup.procs").exists():
                continue
            cg = root / f"verislice-bench-{os.getpid()}"
            try:
                cg.mkdir(exist_ok=True)
                (cg / "cgroup.procs").write_text(str(os.getpid()))
                parse((cg / name).read_text())
            except (OSError, ValueError, IndexError):
                try:
                    cg.rmdir()
                except OSError:
                    pass
                continue
            self.root, self.cg, self.usage = root, cg, (lambda: parse((cg / name).read_text()))
            atexit.register(self.close)
            return
        raise OSError("no writable cpu-accounting cgroup (run as root, or use --cpu machine)")

    def close(self) -> None:
        try:
            (self.root / "cgroup.procs").write_text(str(os.getpid()))
            self.cg.rmdir()
        except OSError:
            pass


_CPU_SOURCE = None  # a _CgroupCpu with --cpu cgroup


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children): CPU time is what one core
    spends, and stays meaningful when other work shares the machine. The front-end workers are
    stopped inside the timed run, so their CPU time counts."""
    cpu = _CPU_SOURCE.usage if _CPU_SOURCE is not None else _cpu
    t, c = time.perf_counter(), cpu()
    fn()
    _worker._close_all()
    return time.perf_counter() - t, cpu() - c


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


def _spread(values: list[float]) -> str:
    return f"{min(values):.1f}-{max(values):.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=30)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=None,
                    help="samples per simulation (default: automatic, as verislice equiv)")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 5, 20, 50])
    ap.add_argument("--engines", nargs="+", default=["cocotb", "vvp"])
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--sandbox", nargs="+", default=["bwrap", "none"],
                    help="sandbox modes to compare at 1 and 20 candidates per simulation")
    ap.add_argument("--single-tasks", type=int, default=6,
                    help="tasks used for the 1-per-simulation runs (slow)")
    ap.add_argument("--include-slow", action="store_true",
                    help="keep tasks whose own testbench runs for seconds")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure every setup N times, interleaved (so a change of the machine's "
                         "load hits every setup alike); the table gives medians and the spread "
                         "(min-max), and the engines are compared run by run")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the benchmark's own testbench (1 per run, slow)")
    ap.add_argument("--cpu", choices=["machine", "cgroup"], default="machine",
                    help="CPU time source: the whole machine's (/proc/stat, needs an idle "
                         "machine) or a cpu-accounting cgroup holding this process and all it "
                         "starts (exact on a shared machine; needs root)")
    a = ap.parse_args()
    global _CPU_SOURCE
    if a.cpu == "cgroup":
        try:
            _CPU_SOURCE = _CgroupCpu()
        except OSError as exc:
            print(f"--cpu cgroup: {exc}", file=sys.stderr)
            return 2
    if not (BENCH / "verilogeval").exists():
        print(f"benchmark data missing: {BENCH / 'verilogeval'}", file=sys.stderr)
        return 2
    work = workload(a.tasks, a.k, not a.include_slow)
    n = sum(len(ms) for _r, ms in work)
    print(f"workload: {len(work)} VerilogEval v2 tasks x k={a.k} mutants = {n} candidates, "
          f"{a.cycles or 'automatic'} cycles, cpu count {os.cpu_count()}, load average at the start: "
          f"{os.getloadavg()[0]:.1f}")
    for engine in a.engines:  # warm imports
        equiv.check_batch(as_groups(work[:1]), engine=engine, cycles=10)
    setups = []  # (label, jobs, candidates, function)
    small = work[: a.single_tasks]
    n_small = sum(len(ms) for _r, ms in small)
    if not a.no_baseline:
        setups.append(("benchmark testbench, 1 per run (baseline)", 1, n_small,
                       lambda: testbench_baseline(small)))
    for engine in a.engines:
        for b in a.batches:
            w, nn = (small, n_small) if b == 1 else (work, n)
            modes = a.sandbox if b in (1, 20) else a.sandbox[:1]
            for mode in modes:
                run = sandboxed(mode, lambda w=w, b=b, engine=engine: equiv.check_batch(
                    as_groups(w), batch_size=b, engine=engine, cycles=a.cycles))
                label = f"verislice {engine}, {b} per simulation"
                setups.append((label if mode == "bwrap" else f"{label}, no sandbox", 1, nn,
                               lambda run=run: timed(run)))
    for j in a.jobs:
        if j == 1:
            continue
        for engine in a.engines:
            setups.append((f"verislice {engine}, 20 per simulation", j, n,
                           lambda engine=engine, j=j: timed(lambda: equiv.check_batch(
                               as_groups(work), batch_size=20, engine=engine, jobs=j,
                               cycles=a.cycles))))
    times: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for _rep in range(max(1, a.repeat)):
        for name, j, _nn, fn in setups:
            times.setdefault((name, j), []).append(fn())
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (wall times grow with it; CPU "
          "times much less)" + ("; CPU: this process's cgroup" if _CPU_SOURCE else
                                "; CPU: the whole machine's"))
    many = a.repeat > 1
    print(f"{'setup':58s} {'jobs':>4s} {'cands':>5s} {'wall s':>7s} {'wall ms/c':>9s} "
          f"{'CPU ms/c':>9s} {'paper/CPU':>9s}"
          + (f" {'wall spread':>12s} {'CPU spread':>12s}" if many else ""))
    base: dict[tuple[str, int], float] = {}
    cpu: dict[tuple[str, int], float] = {}
    per: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for name, j, nn, _fn in setups:
        runs = [(1000 * t / nn, 1000 * c / nn) for t, c in times[(name, j)]]
        per[(name, j)] = runs
        t = statistics.median(t for t, _c in times[(name, j)])
        ms = statistics.median(w for w, _c in runs)
        cms = statistics.median(c for _w, c in runs)
        base[(name, j)], cpu[(name, j)] = ms, cms
        line = (f"{name:58s} {j:4d} {nn:5d} {t:7.2f} {ms:9.1f} {cms:9.1f} "
                f"{PAPER_MS / cms if cms > 0 else float('inf'):8.1f}x")
        if many:
            line += (f" {_spread([w for w, _c in runs]):>12s} "
                     f"{_spread([c for _w, c in runs]):>12s}")
        print(line)
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
    if len(a.engines) >= 2:  # the first engine against the second, repetition by repetition
        e1, e2 = a.engines[:2]
        for b in a.batches:
            r1 = per.get((f"verislice {e1}, {b} per simulation", 1))
            r2 = per.get((f"verislice {e2}, {b} per simulation", 1))
            if not r1 or not r2:
                continue
            wall = [x[0] / y[0] for x, y in zip(r1, r2)]
            cpus = [x[1] / y[1] for x, y in zip(r1, r2) if y[1] > 0]
            print(f"{e1} / {e2}, {b} per simulation: wall {statistics.median(wall):.2f}x"
                  + (f" (runs {min(wall):.2f}-{max(wall):.2f})" if many else "")
                  + (f", CPU {statistics.median(cpus):.2f}x" if cpus else "")
                  + (f" (runs {min(cpus):.2f}-{max(cpus):.2f})" if many and cpus else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
