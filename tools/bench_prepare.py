#!/usr/bin/env python3
"""Throughput of `salv-train prepare` (rows/s) on a corpus of distinct, real designs.

The corpus: every VerilogEval reference (all four files) and up to --mutants single-token mutants
of each (verislice.mutate), so rows are distinct designs that are all checked in full; every
--broken-every-th row is cut in half (a parse error), like the invalid rows of a scraped corpus.
Figures for --jobs 1 (baseline) and --jobs N in the same run, and the time a 165k-row corpus would
take at the measured rate.

    .venv/bin/python tools/bench_prepare.py [--rows 3000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from salv_trainer.data import PrepareConfig, prepare  # noqa: E402
from verislice.mutate import mutants  # noqa: E402

BENCH = Path(os.environ.get("SALV_BENCHMARKS", REPO.parent / "shared" / "benchmarks"))


def corpus(n: int, per_ref: int, broken_every: int) -> list[dict]:
    refs, seen = [], set()
    for f in sorted((BENCH / "verilogeval").glob("*.jsonl")):
        for line in f.open():
            r = json.loads(line)
            if r["canonical_solution"] not in seen:
                seen.add(r["canonical_solution"])
                refs.append(r)
    rows: list[dict] = []
    for r in refs:
        texts = [r["canonical_solution"]] + [m.text for m in mutants(r["canonical_solution"], seed=0, limit=per_ref)]
        for t in texts:
            i = len(rows)
            code = t[: len(t) // 2] if broken_every and i % broken_every == broken_every - 1 else t
            rows.append({"id": f"r{i}", "description": r["prompt"], "code": code})
            if len(rows) == n:
                return rows
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--mutants", type=int, default=12)
    ap.add_argument("--broken-every", type=int, default=7)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    rows = corpus(args.rows, args.mutants, args.broken_every)
    print(f"{len(rows)} rows; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "raw.jsonl"
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(f"{'jobs':>4} {'rows':>6} {'kept':>6} {'seconds':>8} {'rows/s':>8} {'165k rows':>10}  dropped")
        for jobs in sorted({1, args.jobs}):
            rep = prepare(src, Path(tmp) / f"out{jobs}.jsonl", PrepareConfig(jobs=jobs))
            rate = rep.total / rep.seconds
            print(f"{jobs:>4} {rep.total:>6} {rep.kept:>6} {rep.seconds:>8.2f} {rate:>8.0f} "
                  f"{165_000 / rate / 60:>8.1f} m  {dict(sorted(rep.dropped.items()))}")


if __name__ == "__main__":
    main()
