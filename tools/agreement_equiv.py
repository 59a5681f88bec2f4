#!/usr/bin/env python3
"""Agreement of `verislice equiv` with the benchmarks' own testbenches, output by output.

For each VerilogEval task (v1 or v2) whose reference passes on Icarus 11, take single-token mutants of the
canonical solution (verislice.mutate), run each through the task's testbench (which prints
``Hint: Output 'x' has N mismatches``) and through verislice.equiv against the reference, and
compare per output. A mismatch the testbench finds and we miss means our stimulus is weaker:
every such case is listed. Prints figures; ``--json FILE`` writes every row.

    .venv/bin/python tools/agreement_equiv.py --mutants 2 --jobs 2
"""

from __future__ import annotations

import argparse
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

from verislice import Source, equiv  # noqa: E402
from verislice._sandbox import run_limited, sandbox_dir  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

BENCH = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
FILES = {"verilogeval-v2-spec": "verilogeval_v2_spec.jsonl",
         "verilogeval-v2-completion": "verilogeval_v2_completion.jsonl",
         "verilogeval-v1-human": "verilogeval_v1_human.jsonl",
         "verilogeval-v1-machine": "verilogeval_v1_machine.jsonl"}
HINT = re.compile(r"Hint: Output '([^']+)' has (no|\d+) mismatches")


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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", default="verilogeval-v2-spec", choices=sorted(FILES))
    ap.add_argument("--mutants", type=int, default=2, help="mutants per task")
    ap.add_argument("--tasks", type=int, default=0, help="first N tasks only (0: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cycles", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--engine", default="vvp")
    ap.add_argument("--json", type=Path, help="write every row here")
    a = ap.parse_args()
    path = BENCH / "verilogeval" / FILES[a.bench]
    if not path.exists():
        print(f"benchmark data missing: {path}", file=sys.stderr)
        return 2
    rows = [json.loads(x) for x in path.open() if x.strip()]
    rows = [r for r in rows if r["validation"]["iverilog_11.0"]["ref_pass"]]
    if a.tasks:
        rows = rows[: a.tasks]
    work = []  # (row, mutant)
    for r in rows:
        for m in mutants(r["canonical_solution"], seed=a.seed, limit=a.mutants):
            work.append((r, m))
    t0 = time.monotonic()
    with ThreadPoolExecutor(a.jobs) as pool:
        tb = list(pool.map(lambda rm: testbench_verdicts(rm[0], rm[1].text), work))
    t_tb = time.monotonic() - t0
    groups: dict[str, tuple[dict, list]] = {}
    for r, m in work:
        groups.setdefault(r["task_id"], (r, []))[1].append(m)
    t0 = time.monotonic()
    ours = equiv.check_batch(
        [(Source(r["reference"], f"{tid}_ref.sv"),
          [Source(m.text, f"{tid}_mut{i}.sv") for i, m in enumerate(ms)])
         for tid, (r, ms) in groups.items()],
        jobs=a.jobs, reference_errors="report", cycles=a.cycles, seed=a.seed, engine=a.engine)
    t_ours = time.monotonic() - t0
    flat = [res for row in ours for res in row]
    counts: Counter[str] = Counter()
    rows_out = []
    disagreements = []
    for (r, m), t, o in zip(work, tb, flat):
        entry = {"task": r["task_id"], "mutant": m.describe() if hasattr(m, "describe") else
                 f"{m.original}->{m.replacement} line {m.line}", "testbench": t,
                 "verdict": o.verdict, "outputs": {}}
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
            key = {(True, True): "both MISMATCH", (False, False): "both MATCH",
                   (True, False): "testbench only (our miss)",
                   (False, True): "ours only"}[(tb_bad, our_bad)]
            counts[key] += 1
            entry["outputs"][name] = {"testbench": t[name], "ours": res.verdict,
                                      "mismatches": res.mismatches}
            if tb_bad != our_bad:
                disagreements.append((r["task_id"], entry["mutant"], name, t[name], res.verdict))
        rows_out.append(entry)
    compared = sum(v for k, v in counts.items() if not k.startswith("skipped"))
    print(f"{a.bench}: {len(rows)} tasks, {len(work)} mutants, {compared} outputs compared")
    for k, v in sorted(counts.items()):
        print(f"  {k:32s} {v}")
    tb_found = counts["both MISMATCH"] + counts["testbench only (our miss)"]
    if tb_found:
        print(f"  recall vs testbench: {counts['both MISMATCH']}/{tb_found} = "
              f"{counts['both MISMATCH'] / tb_found:.3f}")
    if compared:
        agree = counts["both MISMATCH"] + counts["both MATCH"]
        print(f"  agreement: {agree}/{compared} = {agree / compared:.3f}")
    print(f"  time: testbenches {t_tb:.1f} s, verislice {t_ours:.1f} s "
          f"({1000 * t_ours / max(len(work), 1):.1f} ms per mutant, jobs={a.jobs})")
    for d in disagreements:
        print("  disagreement: %s [%s] output %s: testbench %s mismatches, ours %s" % d)
    if a.json:
        a.json.write_text(json.dumps(rows_out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
