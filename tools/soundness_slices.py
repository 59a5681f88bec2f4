#!/usr/bin/env python3
"""Soundness of slices on real designs, by simulation (issue 15): the full run.

For every top module of ``../shared/rtl`` (verilog-axis, darkriscv: Icarus; cv32e40p: Verilator)
and every VerilogEval reference that passes its own testbench (Icarus), every output and
``--internal`` sampled internal signals are sliced (``ports="all"``) and each slice is simulated
beside the original on the same random stimulus (resets, random, held, sparse, reset pulse; each
clock its own period and phase); the sliced signal must equal the original's at every check,
X included (``!==``). See ``tests/_slice_sim.py`` for the testbench.

Prints, per corpus and per language group: signals checked, designs, failures (listed), slices
refused, signals not simulated (original does not build, unreachable name), and the median share
of non-blank lines kept (slice / top's file).

    .venv/bin/python tools/soundness_slices.py [--internal 3] [--seed 1] [--only cv32e40p ...]
                                               [--json] [--keep DIR]

Exit 1 when a check fails; with ``CI`` set, missing data is exit 1 too (never a silent skip).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

import _slice_sim as sim  # noqa: E402

BENCH = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))
VERILOGEVAL = ["verilogeval_v2_spec.jsonl", "verilogeval_v2_completion.jsonl",
               "verilogeval_v1_human.jsonl", "verilogeval_v1_machine.jsonl"]
GROUPS = {"SystemVerilog (cv32e40p, Verilator)": ["cv32e40p"],
          "open-source Verilog (verilog-axis, darkriscv, Icarus)": ["verilog-axis", "darkriscv"],
          "VerilogEval references (Icarus)": ["verilogeval"]}


def verilogeval_rows() -> list[tuple[str, dict]]:
    rows = []
    for name in VERILOGEVAL:
        path = BENCH / "verilogeval" / name
        if not path.exists():
            raise FileNotFoundError(path)
        with path.open() as fh:
            for line in fh:
                if line.strip():
                    r = json.loads(line)
                    if r["validation"]["iverilog_11.0"]["ref_pass"]:
                        rows.append((name.removesuffix(".jsonl"), r))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--internal", type=int, default=3, help="internal signals sampled per design")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", nargs="*", default=None,
                    help="corpora: verilog-axis darkriscv cv32e40p verilogeval")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--keep", type=Path, default=None, help="keep the work files in DIR")
    args = ap.parse_args(argv)
    only = set(args.only or ["verilog-axis", "darkriscv", "cv32e40p", "verilogeval"])
    work = args.keep or Path(tempfile.mkdtemp(prefix="soundness-"))
    cases = []
    try:
        rtl = [c for c in ("verilog-axis", "darkriscv", "cv32e40p") if c in only]
        if rtl:
            sim.layout_rtl(sim.rtl_rows(), work / "rtl")
            cases += sim.rtl_cases(work / "rtl", rtl)
        if "verilogeval" in only:
            cases += sim.verilogeval_cases(verilogeval_rows(), work / "rtl")
    except FileNotFoundError as exc:
        print(f"error: data missing: {exc}", file=sys.stderr)
        return 1 if os.environ.get("CI") else 0
    t0 = time.perf_counter()
    try:
        checks = sim.check_cases(cases, internal=args.internal, seed=args.seed,
                                 work=work / "sim")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - t0
    per = sim.summary(checks)
    grouped = {}
    for title, corpora in GROUPS.items():
        sub = [c for c in checks if c.case.corpus in corpora]
        if sub:
            grouped[title] = sim.summary([_as(c, title) for c in sub])[title]
    failures = sum(len(s["failures"]) for s in per.values())
    if args.json:
        print(json.dumps({"corpora": per, "groups": grouped, "seconds": round(elapsed, 1)},
                         indent=2))
    else:
        print(f"slice soundness by simulation ({elapsed:.0f} s, seed {args.seed}, "
              f"{args.internal} internal signals per design)")
        for name, s in list(per.items()) + list(grouped.items()):
            share = "-" if s["median_lines_kept"] is None else f"{100 * s['median_lines_kept']:.0f}%"
            print(f"  {name}: {s['checked']} signals checked in {s['designs']} designs, "
                  f"{len(s['failures'])} failures, {s['refused']} refused, {s['nosim']} not "
                  f"simulated; median lines kept {share}")
        for s in per.values():
            for f in s["failures"]:
                print(f"    FAIL {f}")
        reasons: dict[str, int] = {}
        for c in checks:
            if c.status in ("nosim", "refused"):
                key = f"{c.case.name}: {c.status}: {c.detail[:120]}"
                reasons[key] = reasons.get(key, 0) + 1
        for k, n in sorted(reasons.items()):
            print(f"    ({n}) {k}")
    return 1 if failures else 0


def _as(check: sim.Check, corpus: str) -> sim.Check:
    """The same check counted under a group name."""
    case = sim.Case(check.case.name, corpus, check.case.files, check.case.top)
    out = sim.Check(case, check.signal, check.status, check.detail, check.share)
    return out


if __name__ == "__main__":
    sys.exit(main())
