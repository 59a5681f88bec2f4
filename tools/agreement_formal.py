#!/usr/bin/env python3
"""Formal, simulation and both, output by output, against the benchmarks' own testbenches.

Candidates per task: the task's canonical solution (must be right) and ``--mutants``
single-token mutants of it (``verislice.mutate``), for every VerilogEval task whose reference
passes on Icarus 11. Each candidate goes through the task's own testbench (which prints ``Hint:
Output 'x' has N mismatches``) and through ``verislice.equiv`` with ``method="sim"``,
``"formal"`` and ``"both"``. Printed per bundle:

* formal verdicts, and the UNKNOWN outputs by reason (the rate the issue bounds at 1%);
* each method against the testbench: ``missed`` (the testbench flags the output, we call it
  MATCH/PROVEN/BOUNDED), ``extra`` (we call MISMATCH, the testbench sees none);
* formal against simulation where both decide, and every disagreement: a formal MISMATCH where
  simulation said MATCH is replayed in Icarus (``verislice._formal_replay``);
* time per candidate: the formal engine's own time (median, 95th percentile) and wall time.

    .venv/bin/python tools/agreement_formal.py                               # all four bundles
    .venv/bin/python tools/agreement_formal.py --bundle verilogeval-v2-spec --limit 40 --json out.json
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import VERILOGEVAL_FILES, load_bundle, ref_passes_on_icarus11  # noqa: E402

from verislice import Source, VerisliceError, equiv  # noqa: E402
from verislice.equiv import FormalOptions  # noqa: E402
from verislice._formal_replay import replay  # noqa: E402
from verislice.untrusted import run_limited, sandbox_dir  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

CORRECT = {"MATCH", "PROVEN", "BOUNDED"}
FORMAL_DECIDED = {"PROVEN", "BOUNDED", "MISMATCH"}
HINT = re.compile(r"Hint: Output '([^']+)' has (no|\d+) mismatches")


def reason(message: str) -> str:
    """A message without file names and numbers, to count UNKNOWNs by cause."""
    text = re.sub(r"\S+\.s?v:\d+(:\d+)?:?", "<file>:", message)
    text = re.sub(r"\(\d+(\.\d+)? s per proof.*?\)", "", text)
    text = re.sub(r"after \d+ cycles? from reset", "after N cycles", text)
    text = re.sub(r"\(\d+(\.\d+)? s\)", "", text)
    return text[:110]


def testbench_verdicts(row: dict, cand: str) -> dict[str, int] | str:
    """Output -> mismatch count from the task's own testbench, or a reason it gave none."""
    with sandbox_dir("verislice-agree-") as d:
        if row["benchmark"].startswith("verilogeval-v1"):
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


def build(rows: list[dict], k: int, seed: int):
    groups, meta = [], []
    for r in rows:
        ref = Source(r["reference"], f"{r['task_id']}_ref.sv")
        cands = [Source(r["canonical_solution"], f"{r['task_id']}_canonical.sv")]
        kinds = ["canonical"]
        for i, m in enumerate(mutants(r["canonical_solution"], seed=seed, limit=k)):
            cands.append(Source(m.text, f"{r['task_id']}_mut{i}.sv"))
            kinds.append(m.describe())
        groups.append((ref, cands))
        meta.append((r, kinds))
    return groups, meta


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else 0.0


def run_bundle(bundle: str, args) -> dict:
    rows = [r for r in load_bundle(bundle) if ref_passes_on_icarus11(r)]
    if args.limit:
        rows = rows[: args.limit]
    groups, meta = build(rows, args.mutants, args.seed)
    flat = [(r, kind, cand) for (r, kinds), (_ref, cands) in zip(meta, groups)
            for kind, cand in zip(kinds, cands)]
    n_cands = len(flat)
    print(f"\n== {bundle}: {len(rows)} tasks, {n_cands} candidates "
          f"(canonical + {args.mutants} mutants each)", flush=True)
    t0 = time.monotonic()
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        tb = list(pool.map(lambda x: testbench_verdicts(x[0], x[2].text), flat))
    t_tb = time.monotonic() - t0
    fopts = FormalOptions(depth=args.depth, timeout=args.timeout)
    res, times = {}, {}
    for method in args.methods:
        t0 = time.monotonic()
        res[method] = equiv.check_batch(groups, jobs=args.jobs, reference_errors="report",
                                        cycles=args.cycles, engine="vvp", method=method,
                                        formal=fopts)
        times[method] = time.monotonic() - t0
        print(f"  {method}: {times[method]:.1f} s wall "
              f"({1000 * times[method] / n_cands:.0f} ms/candidate)", flush=True)
    print(f"  testbenches: {t_tb:.1f} s")

    flat_res = {m: [c for g in res[m] for c in g] for m in res}
    out: dict = {"bundle": bundle, "tasks": len(rows), "candidates": n_cands,
                 "wall_s": times, "findings": []}
    vs_tb = {m: collections.Counter() for m in res}
    pairs = collections.Counter()
    unknown = collections.Counter()
    fverdicts = collections.Counter()
    for i, (row, kind, cand) in enumerate(flat):
        t = tb[i]
        task = row["task_id"]
        for m in res:
            c = flat_res[m][i]
            if isinstance(t, str):
                vs_tb[m][f"skipped: testbench {t}"] += 1
                continue
            if c.verdict != "OK":
                vs_tb[m][f"candidate {c.verdict}"] += 1
                continue
            for name, o in c.outputs.items():
                if name not in t:
                    vs_tb[m]["output without hint"] += 1
                    continue
                bad = t[name] > 0
                v = o.verdict
                if bad and v in CORRECT:
                    vs_tb[m]["missed"] += 1
                    out["findings"].append({"case": f"tb-missed:{m}", "task": task,
                                            "candidate": kind, "output": name, "verdict": v,
                                            "message": o.message})
                elif not bad and v == "MISMATCH":
                    vs_tb[m]["extra"] += 1
                    out["findings"].append({"case": f"tb-extra:{m}", "task": task,
                                            "candidate": kind, "output": name,
                                            "message": o.message})
                elif v in CORRECT or v == "MISMATCH":
                    vs_tb[m]["agree"] += 1
                else:
                    vs_tb[m][v] += 1
        if "sim" in res and "formal" in res:
            s, f = flat_res["sim"][i], flat_res["formal"][i]
            if f.verdict == "OK":
                for name, fo in f.outputs.items():
                    fverdicts[fo.verdict] += 1
                    if fo.verdict == "UNKNOWN":
                        unknown[reason(fo.message)] += 1
                        out["findings"].append({"case": "unknown", "task": task,
                                                "candidate": kind, "output": name,
                                                "message": fo.message})
            elif s.verdict == "OK":
                pairs[("cand:" + s.verdict, "cand:" + f.verdict)] += 1
            for name, so in s.outputs.items():
                fo = f.outputs.get(name)
                if fo is None:
                    continue
                pairs[(so.verdict, fo.verdict)] += 1
                if so.verdict == "MATCH" and fo.verdict == "MISMATCH":
                    item = {"case": "sim-missed", "task": task, "candidate": kind,
                            "output": name, "counterexample": fo.first_failure.to_json(),
                            "testbench": t if isinstance(t, str) else t.get(name)}
                    try:
                        rp = replay(groups[[r[0]["task_id"] for r in meta].index(task)][0],
                                    cand, name, fo.first_failure)
                        item["replay"] = {"expected": rp.expected, "actual": rp.actual,
                                          "differs": rp.differs}
                    except VerisliceError as exc:
                        item["replay"] = {"error": exc.message}
                    out["findings"].append(item)
                elif so.verdict == "MATCH" and fo.verdict == "AMBIGUOUS":
                    out["findings"].append({
                        "case": "formal-ambiguous", "task": task, "candidate": kind,
                        "output": name, "formal_message": fo.message})
                elif so.verdict == "MISMATCH" and fo.verdict in ("PROVEN", "BOUNDED"):
                    ff = so.first_failure
                    out["findings"].append({
                        "case": "formal-" + fo.verdict.lower(), "task": task, "candidate": kind,
                        "output": name, "sim_first_failure": ff.to_json() if ff else None,
                        "formal_message": fo.message,
                        "testbench": t if isinstance(t, str) else t.get(name)})
    n_out = sum(fverdicts.values())
    n_unknown = fverdicts["UNKNOWN"]
    print(f"  formal verdicts ({n_out} outputs): {dict(fverdicts.most_common())}")
    print(f"  UNKNOWN: {n_unknown} of {n_out} outputs "
          f"({100 * n_unknown / max(1, n_out):.2f}%)")
    for why, n in unknown.most_common():
        print(f"    {n:>4}  {why}")
    for m in res:
        c = vs_tb[m]
        print(f"  {m:<6} vs testbench: {dict(sorted(c.items()))}")
    both_decided = sum(n for (a, b), n in pairs.items()
                       if a in ("MATCH", "MISMATCH") and b in FORMAL_DECIDED)
    agree = sum(n for (a, b), n in pairs.items()
                if (a, b) in {("MATCH", "PROVEN"), ("MATCH", "BOUNDED"),
                              ("MISMATCH", "MISMATCH")})
    print(f"  formal vs sim where both decide: {agree}/{both_decided} agree")
    for (a, b), n in sorted(pairs.items(), key=lambda x: (-x[1], x[0])):
        if (a, b) not in {("MATCH", "PROVEN"), ("MATCH", "BOUNDED"), ("MISMATCH", "MISMATCH")}:
            print(f"    sim {a:<10} formal {b:<10} {n}")
    if "formal" in res:
        own = [c.seconds for c in flat_res["formal"] if c.verdict == "OK" and c.outputs]
        print(f"  formal time per candidate (in the prover): median {1000 * statistics.median(own):.0f}"
              f" ms, p95 {1000 * pct(own, 0.95):.0f} ms, max {1000 * max(own):.0f} ms"
              if own else "  no formal timings")
        out["formal_ms"] = {"median": 1000 * statistics.median(own) if own else None,
                            "p95": 1000 * pct(own, 0.95) if own else None}
    for f in out["findings"]:
        if f["case"] == "unknown":
            continue
        if f["case"] == "sim-missed":
            rp = f["replay"]
            status = ("confirmed by Icarus replay" if rp.get("differs") else
                      f"NOT reproduced ({rp})")
            print(f"    sim missed  {f['task']} [{f['candidate']}] {f['output']}: cycle "
                  f"{f['counterexample']['cycle']}; testbench {f['testbench']}; {status}")
        else:
            print(f"    {f['case']:<13} {f['task']} [{f['candidate']}] {f['output']}: "
                  f"{f.get('verdict', '')} {f.get('message') or f.get('formal_message') or ''}"
                  [:220])
    out.update({"formal_verdicts": dict(fverdicts), "unknown": dict(unknown),
                "vs_testbench": {m: dict(c) for m, c in vs_tb.items()},
                "pairs": {f"{a}|{b}": n for (a, b), n in pairs.items()}})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", action="append", choices=sorted(VERILOGEVAL_FILES),
                    help="bundle(s) to run (default: all four)")
    ap.add_argument("--mutants", type=int, default=3, help="mutants per task (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N tasks only")
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=10.0, help="solver limit per SAT call (s)")
    ap.add_argument("--cycles", type=int, default=None,
                    help="simulation samples (default: automatic, as verislice equiv)")
    ap.add_argument("--methods", nargs="+", default=["sim", "formal", "both"],
                    choices=["sim", "formal", "both"])
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write figures and every finding here")
    args = ap.parse_args()
    bundles = args.bundle or list(VERILOGEVAL_FILES)
    outs = [run_bundle(b, args) for b in bundles]
    if args.json:
        args.json.write_text(json.dumps(outs, indent=1))
    missed_both = sum(o["vs_testbench"].get("both", {}).get("missed", 0) for o in outs)
    return 1 if missed_both else 0


if __name__ == "__main__":
    sys.exit(main())
