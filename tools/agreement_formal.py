#!/usr/bin/env python3
"""Formal vs simulation, output by output, on VerilogEval references.

Candidates per task: the task's canonical solution (must be right) and ``--mutants`` single-token
mutants of it (``verislice.mutate``). Both methods label every output; this prints how often they
agree where both decide, and lists every disagreement:

* ``sim MATCH / formal MISMATCH``: simulation missed a difference (the cases that poison labels).
  Each counterexample is replayed in Icarus (``verislice._formal_replay``) to show it is real.
* ``sim MISMATCH / formal PROVEN``: one of the two is wrong; must never happen.
* ``sim MISMATCH / formal BOUNDED``: the difference needs more cycles than ``--depth``.

    .venv/bin/python tools/agreement_formal.py                       # v2-completion, 3 mutants
    .venv/bin/python tools/agreement_formal.py --bundle verilogeval-v1-human --limit 40 --json out.json
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from conftest import load_bundle, ref_passes_on_icarus11  # noqa: E402

from verislice import Source, VerisliceError, equiv  # noqa: E402
from verislice._formal import FormalOptions, check_formal_batch  # noqa: E402
from verislice._formal_replay import replay  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

SIM_DECIDED = {"MATCH", "MISMATCH"}
FORMAL_DECIDED = {"PROVEN", "BOUNDED", "MISMATCH"}


def reason(message: str) -> str:
    """A message without file names and numbers, to count UNKNOWNs by cause."""
    text = re.sub(r"\S+\.s?v:\d+(:\d+)?:?", "<file>:", message)
    text = re.sub(r"\(\d+(\.\d+)? s per proof.*?\)", "", text)
    return text[:110]


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
        meta.append((r["task_id"], kinds))
    return groups, meta


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default="verilogeval-v2-completion")
    ap.add_argument("--mutants", type=int, default=3, help="mutants per task (default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="first N tasks only")
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=5.0, help="solver limit per proof (s)")
    ap.add_argument("--cycles", type=int, default=1000, help="simulation samples")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", type=Path, help="write every disagreement here")
    args = ap.parse_args()

    rows = [r for r in load_bundle(args.bundle) if ref_passes_on_icarus11(r)]
    if args.limit:
        rows = rows[: args.limit]
    groups, meta = build(rows, args.mutants, args.seed)
    n_cands = sum(len(c) for _, c in groups)
    print(f"{args.bundle}: {len(rows)} tasks, {n_cands} candidates "
          f"(canonical + {args.mutants} mutants each)")

    t0 = time.monotonic()
    sim = equiv.check_batch(groups, jobs=args.jobs, reference_errors="report", cycles=args.cycles)
    t_sim = time.monotonic() - t0
    t0 = time.monotonic()
    formal = check_formal_batch(groups, options=FormalOptions(
        depth=args.depth, timeout=args.timeout, jobs=args.jobs))
    t_formal = time.monotonic() - t0
    print(f"simulation {t_sim:.1f} s ({1000 * t_sim / n_cands:.0f} ms/candidate), "
          f"formal {t_formal:.1f} s ({1000 * t_formal / n_cands:.0f} ms/candidate)")

    pairs = collections.Counter()
    unknown = collections.Counter()  # why the prover did not decide
    findings = []
    for (task, kinds), (ref, cands), srs, frs in zip(meta, groups, sim, formal):
        for kind, cand, s, f in zip(kinds, cands, srs, frs):
            for name, so in s.outputs.items():
                fo = f.outputs.get(name)
                fv = fo.verdict if fo else f.verdict
                pairs[(so.verdict, fv)] += 1
                if fv == "UNKNOWN":
                    unknown[reason(fo.message)] += 1
                if so.verdict == "MATCH" and fv == "MISMATCH":
                    item = {"task": task, "candidate": kind, "output": name, "case": "sim-missed",
                            "counterexample": fo.first_failure.to_json()}
                    try:
                        r = replay(ref, cand, name, fo.first_failure)
                        item["replay"] = {"expected": r.expected, "actual": r.actual,
                                          "differs": r.differs}
                    except VerisliceError as exc:
                        item["replay"] = {"error": exc.message}
                    findings.append(item)
                elif so.verdict == "MISMATCH" and fv in ("PROVEN", "BOUNDED"):
                    ff = so.first_failure
                    findings.append({
                        "task": task, "candidate": kind, "output": name,
                        "case": "formal-" + fv.lower(), "sim_first_failure":
                        ff.to_json() if ff else None, "formal_message": fo.message})
            if f.verdict not in ("OK",) and s.verdict == "OK":
                pairs[("cand:" + s.verdict, "cand:" + f.verdict)] += 1

    both = sum(n for (a, b), n in pairs.items() if a in SIM_DECIDED and b in FORMAL_DECIDED)
    agree = sum(n for (a, b), n in pairs.items()
                if (a, b) in {("MATCH", "PROVEN"), ("MATCH", "BOUNDED"), ("MISMATCH", "MISMATCH")})
    print(f"\noutputs decided by both: {both}; agree: {agree} "
          f"({100 * agree / max(1, both):.1f}%)")
    print("\nsim verdict      formal verdict   outputs")
    for (a, b), n in sorted(pairs.items(), key=lambda x: (-x[1], x[0])):
        print(f"{a:<16} {b:<16} {n}")
    if unknown:
        print("\nformal UNKNOWN, by reason:")
        for why, n in unknown.most_common():
            print(f"  {n:>4}  {why}")
    by_case = collections.Counter(f["case"] for f in findings)
    print(f"\ndisagreements: {dict(by_case) or 'none'}")
    for f in findings:
        if f["case"] == "sim-missed":
            cex, rp = f["counterexample"], f["replay"]
            status = ("confirmed by Icarus replay" if rp.get("differs") else
                      f"NOT reproduced ({rp})")
            print(f"  sim missed  {f['task']} [{f['candidate']}] {f['output']}: cycle "
                  f"{cex['cycle']}, inputs {cex['inputs']}, expected {cex['expected']}, actual "
                  f"{cex['actual']}; {status}")
        else:
            ff = f["sim_first_failure"] or {}
            print(f"  {f['case']:<11} {f['task']} [{f['candidate']}] {f['output']}: sim first "
                  f"failure at cycle {ff.get('cycle')}; formal: {f['formal_message']}")
    if args.json:
        args.json.write_text(json.dumps({"pairs": {f"{a}|{b}": n for (a, b), n in pairs.items()},
                                         "findings": findings}, indent=2))
    return 1 if by_case.get("formal-proven") else 0


if __name__ == "__main__":
    sys.exit(main())
