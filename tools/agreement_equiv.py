#!/usr/bin/env python3
"""Agreement of `verislice equiv` with the benchmarks' own testbenches, output by output.

For each VerilogEval task (v1 or v2) whose reference passes on Icarus 11, take single-token mutants
of the canonical solution (verislice.mutate), run each through the task's testbench (which prints
``Hint: Output 'x' has N mismatches``) and through verislice.equiv against the reference, and
compare per output. A mismatch the testbench finds and we miss means our stimulus is weaker:
every such case is listed, with its *class*, found by probing it again:

* ``exact value``   combinational design: the difference shows for a few input values only;
* ``long run``      sequential: found with 8x the cycles (same seed) but by none of 4 other seeds,
                    or the reference's counters have more bits than any budget lets run through
                    (``_options.COUNTER_BITS_MAX``): it needs a long run more than luck;
* ``rare history``  sequential: found by another seed at the same cycles: the stimulus can build
                    the history (or hit the value), it just did not this time;
* ``unreached``     none of the probes finds it.

"Ours only" rows (we say MISMATCH, the testbench sees nothing) are listed too; they are not
misses (see docs/equiv.md, Figures, for the known causes).

The testbench verdicts do not depend on verislice: ``--tb-cache FILE`` keeps them between runs.
Prints one table per bundle, then a summary over all bundles; ``--json FILE`` writes every row.

    .venv/bin/python tools/agreement_equiv.py --mutants 3 --jobs 2             # all four bundles
    .venv/bin/python tools/agreement_equiv.py --bench verilogeval-v2-spec --cycles 2000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from verislice import Source, equiv, load  # noqa: E402
from verislice.untrusted import run_limited, sandbox_dir  # noqa: E402
from verislice.equiv._detect import detect_timing  # noqa: E402

try:
    from verislice.equiv._options import COUNTER_BITS_MAX  # noqa: E402
except ImportError:  # a tree before the automatic budget
    COUNTER_BITS_MAX = 1 << 30
from verislice.mutate import mutants  # noqa: E402

BENCH = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
FILES = {"verilogeval-v1-human": "verilogeval_v1_human.jsonl",
         "verilogeval-v1-machine": "verilogeval_v1_machine.jsonl",
         "verilogeval-v2-spec": "verilogeval_v2_spec.jsonl",
         "verilogeval-v2-completion": "verilogeval_v2_completion.jsonl"}
HINT = re.compile(r"Hint: Output '([^']+)' has (no|\d+) mismatches")
KEYS = ("both MISMATCH", "both MATCH", "testbench only (our miss)", "ours only")
CLASSES = ("exact value", "long run", "rare history", "unreached")


def testbench_verdicts(row: dict, cand: str) -> dict[str, int] | str:
    """Output -> mismatch count from the task's own testbench, or a reason it gave none."""
    with sandbox_dir("verislice-agree-") as d:
        if row["benchmark"].startswith("verilogeval-v1"):
            # v1: one file, the testbench (it holds reference_module) then the candidate
            (d / "task.sv").write_text(row["testbench"] + "\n" + cand)
            files = ["task.sv"]
        else:
            (d / "candidate.sv").write_text(cand)
            (d / "test.sv").write_text(row["testbench"])
            (d / "ref.sv").write_text(row["reference"])
            files = ["candidate.sv", "test.sv", "ref.sv"]
        c = run_limited(["iverilog", "-Wall", "-Winfloop", "-Wno-timescale", "-g2012", "-s", "tb",
                         "-o", "sim", *files], d, timeout=60)
        if not c.ok:
            return "compile error"
        r = run_limited(["vvp", "-n", "sim"], d, timeout=60)
        if r.timed_out or "TIMEOUT" in r.stdout:
            return "timeout"
        hints = {m[1]: 0 if m[2] == "no" else int(m[2]) for m in HINT.finditer(r.stdout)}
        return hints or "no hints"


class TbCache:
    """Testbench verdicts by (benchmark, task, candidate text), in a JSON file."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, object] = {}
        if path and path.exists():
            self.data = json.loads(path.read_text())

    @staticmethod
    def key(row: dict, cand: str) -> str:
        h = hashlib.sha256(f"{row['benchmark']}\0{row['task_id']}\0{cand}".encode())
        return h.hexdigest()[:32]

    def get(self, row: dict, cand: str):
        k = self.key(row, cand)
        if k not in self.data:
            self.data[k] = testbench_verdicts(row, cand)
        return self.data[k]

    def save(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data))


def _check(groups, a, **kw):
    opts = dict(jobs=a.jobs, reference_errors="report", seed=a.seed, engine=a.engine)
    if a.cycles:
        opts["cycles"] = a.cycles
    if a.sequences:
        opts["sequences"] = a.sequences
    opts.update(kw)
    return equiv.check_batch(groups, **opts)


def classify(ref: Source, cand: Source, output: str, a, samples: int) -> str:
    """The class of one miss (see the module docstring), by probing it again."""
    timing = _timing(ref)
    if not timing.sequential:
        return "exact value"
    if getattr(timing, "counter_bits", 0) > COUNTER_BITS_MAX:  # no budget runs them through
        return "long run"
    cycles = samples // 2
    more = _check([(ref, [cand])], a, cycles=cycles * 8)[0][0]
    long_found = more.verdict == equiv.OK and more.outputs[output].verdict == equiv.MISMATCH
    for s in range(1, 5):
        other = _check([(ref, [cand])], a, cycles=cycles, seed=a.seed + s)[0][0]
        if other.verdict == equiv.OK and other.outputs[output].verdict == equiv.MISMATCH:
            return "rare history"
    return "long run" if long_found else "unreached"


def run_bundle(bench: str, a, cache: TbCache) -> dict:
    path = BENCH / "verilogeval" / FILES[bench]
    rows = [json.loads(x) for x in path.open() if x.strip()]
    rows = [r for r in rows if r["validation"]["iverilog_11.0"]["ref_pass"]]
    if a.tasks:
        rows = rows[: a.tasks]
    mseed = a.seed if a.mutant_seed is None else a.mutant_seed
    work = []  # (row, mutant)
    for r in rows:
        for m in mutants(r["canonical_solution"], seed=mseed, limit=a.mutants):
            work.append((r, m))
    t0 = time.monotonic()
    with ThreadPoolExecutor(a.jobs) as pool:
        tb = list(pool.map(lambda rm: cache.get(rm[0], rm[1].text), work))
    cache.save()
    t_tb = time.monotonic() - t0
    groups: dict[str, tuple[dict, list]] = {}
    for r, m in work:
        groups.setdefault(r["task_id"], (r, []))[1].append(m)
    srcs = {tid: (Source(r["reference"], f"{tid}_ref.sv"),
                  [Source(m.text, f"{tid}_mut{i}.sv") for i, m in enumerate(ms)])
            for tid, (r, ms) in groups.items()}
    t0 = time.monotonic()
    ours = _check(list(srcs.values()), a)
    t_ours = time.monotonic() - t0
    flat = [res for row in ours for res in row]
    cand_src = [c for _r, cs in srcs.values() for c in cs]
    counts: Counter[str] = Counter()
    rows_out, disagreements = [], []
    for (r, m), t, o, cs in zip(work, tb, flat, cand_src):
        entry = {"bench": bench, "task": r["task_id"],
                 "mutant": f"line {m.line}: {m.kind} {m.original!r} -> {m.replacement!r}",
                 "testbench": t, "verdict": o.verdict, "outputs": {}}
        if isinstance(t, str) or o.verdict != equiv.OK:
            counts[f"skipped: testbench {t}" if isinstance(t, str) else
                   f"skipped: ours {o.verdict}"] += 1
            rows_out.append(entry)
            continue
        for name, res in o.outputs.items():
            if name not in t:
                counts["skipped: output without hint"] += 1
                continue
            tb_bad, our_bad = t[name] > 0, res.verdict == equiv.MISMATCH
            key = {(True, True): KEYS[0], (False, False): KEYS[1], (True, False): KEYS[2],
                   (False, True): KEYS[3]}[(tb_bad, our_bad)]
            counts[key] += 1
            item = {"testbench": t[name], "ours": res.verdict, "mismatches": res.mismatches,
                    "samples": res.samples}
            if tb_bad and not our_bad:
                item["class"] = classify(srcs[r["task_id"]][0], cs, name, a, res.samples) \
                    if a.classify else "unclassified"
            entry["outputs"][name] = item
            if tb_bad != our_bad:
                disagreements.append((r["task_id"], entry["mutant"], name, t[name], res.verdict,
                                      item.get("class", "")))
        rows_out.append(entry)
    return {"bench": bench, "tasks": len(rows), "mutants": len(work), "counts": counts,
            "rows": rows_out, "disagreements": disagreements, "t_tb": t_tb, "t_ours": t_ours}


_TIMING: dict[str, object] = {}


def _timing(ref: Source):
    """Clock, state and counters of a reference (a benchmark's own, trusted text)."""
    if ref.name not in _TIMING:
        _TIMING[ref.name] = detect_timing(load([ref]), equiv.EquivOptions())
    return _TIMING[ref.name]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", nargs="+", default=["all"], choices=["all", *FILES])
    ap.add_argument("--mutants", type=int, default=3, help="mutants per task")
    ap.add_argument("--tasks", type=int, default=0, help="first N tasks only (0: all)")
    ap.add_argument("--seed", type=int, default=0, help="stimulus seed (and mutant choice)")
    ap.add_argument("--mutant-seed", type=int, default=None,
                    help="seed of the mutant choice (default: --seed); other values give "
                         "held-out mutants")
    ap.add_argument("--cycles", type=int, default=0, help="0: the EquivOptions default")
    ap.add_argument("--sequences", type=int, default=0, help="0: the EquivOptions default")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--engine", default="vvp")
    ap.add_argument("--no-classify", dest="classify", action="store_false",
                    help="do not probe misses for their class")
    ap.add_argument("--tb-cache", type=Path, default=None,
                    help="JSON file keeping the testbench verdicts between runs")
    ap.add_argument("--json", type=Path, help="write every row here")
    a = ap.parse_args()
    benches = list(FILES) if "all" in a.bench else a.bench
    for b in benches:
        if not (BENCH / "verilogeval" / FILES[b]).exists():
            print(f"benchmark data missing: {BENCH / 'verilogeval' / FILES[b]}", file=sys.stderr)
            return 2
    cache = TbCache(a.tb_cache)
    d = equiv.EquivOptions()
    print(f"cycles {a.cycles or d.cycles or 'automatic'}, sequences {a.sequences or d.sequences}, "
          f"seed {a.seed}, mutant seed {a.seed if a.mutant_seed is None else a.mutant_seed}, "
          f"{a.mutants} mutants per task, engine {a.engine}")
    total: Counter[str] = Counter()
    by_class: Counter[tuple[str, str]] = Counter()
    all_rows = []
    results = []
    for b in benches:
        res = run_bundle(b, a, cache)
        results.append(res)
        c = res["counts"]
        total.update(c)
        all_rows += res["rows"]
        compared = sum(c[k] for k in KEYS)
        print(f"\n{res['bench']}: {res['tasks']} tasks, {res['mutants']} mutants, "
              f"{compared} outputs compared")
        for k, v in sorted(c.items()):
            print(f"  {k:32s} {v}")
        found = c[KEYS[0]] + c[KEYS[2]]
        if found:
            print(f"  recall vs testbench: {c[KEYS[0]]}/{found} = {c[KEYS[0]] / found:.4f}")
        if compared:
            print(f"  agreement: {c[KEYS[0]] + c[KEYS[1]]}/{compared} = "
                  f"{(c[KEYS[0]] + c[KEYS[1]]) / compared:.4f}")
        print(f"  time: testbenches {res['t_tb']:.1f} s, verislice {res['t_ours']:.1f} s "
              f"({1000 * res['t_ours'] / max(res['mutants'], 1):.1f} ms per mutant, "
              f"jobs={a.jobs})")
        for dis in res["disagreements"]:
            task, mut, out, tbn, ours, cls = dis
            kind = f"our miss, {cls}" if ours != equiv.MISMATCH else "ours only"
            print(f"  disagreement ({kind}): {task} [{mut}] output {out}: testbench {tbn} "
                  f"mismatches, ours {ours}")
            if ours != equiv.MISMATCH:
                by_class[(res["bench"], cls)] += 1
        sys.stdout.flush()
    print("\nsummary | bundle | outputs | both MISMATCH | both MATCH | our miss | ours only | "
          "recall")
    for res in results + [{"bench": "all", "counts": total}]:
        c = res["counts"]
        found = c[KEYS[0]] + c[KEYS[2]]
        print(f"| {res['bench']} | {sum(c[k] for k in KEYS)} | "
              + " | ".join(str(c[k]) for k in KEYS)
              + f" | {c[KEYS[0]] / found if found else 1:.4f} |")
    print("\nmisses by class | " + " | ".join(CLASSES) + " | unclassified")
    for b in benches + ["all"]:
        row = [sum(v for (bb, cl), v in by_class.items() if cl == k and b in (bb, "all"))
               for k in (*CLASSES, "unclassified")]
        print(f"| {b} | " + " | ".join(map(str, row)) + " |")
    if a.json:
        a.json.write_text(json.dumps(all_rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
