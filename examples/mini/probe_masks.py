"""How much of the cone mask lies on code that differs between chosen and rejected, per task family.

No model: each problem's candidates are its reference and single-token mutants of it
(verislice.mutate), labelled per output with Icarus and paired in signal mode exactly as the
pipeline does with model samples (salv_trainer.data.label / make_pairs). Prints, per family, the
shares of salv_trainer.pipeline.mask_overlap (in non-blank characters).

    .venv/bin/python examples/mini/probe_masks.py --problems 60
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from salv_trainer.data import LabelConfig, PairsConfig, label, make_pairs
from salv_trainer.pipeline import mask_overlap
from salv_trainer.prompts import format_response
from salv_trainer.synth import SynthConfig, generate
from verislice.mutate import mutants


def candidates(reference: str, n: int, seed: int) -> list[str]:
    """The reference and up to ``n`` mutants, each in a different line of the module."""
    out: list[str] = [reference]
    lines: set[int] = set()
    for m in mutants(reference, seed=seed):
        if m.line not in lines:
            lines.add(m.line)
            out.append(m.text)
        if len(out) > n:
            break
    return out


def probe(family: str, problems: int, mutants_per_problem: int, work: Path) -> dict:
    splits = generate(SynthConfig(seed=0, train=problems, validation=0, test=0, family=family))
    samples = work / f"{family}-samples.jsonl"
    with samples.open("w") as fh:
        for i, p in enumerate(splits["train"]):
            row = p.to_row()
            row["responses"] = [format_response(c) for c in candidates(p.reference, mutants_per_problem, i)]
            fh.write(json.dumps(row) + "\n")
    labeled = work / f"{family}-labeled.jsonl"
    label(samples, labeled, LabelConfig(cones=True, jobs=2))
    pairs = work / f"{family}-pairs.jsonl"
    make_pairs(labeled, pairs, PairsConfig(mode="signal", max_pairs_per_prompt=8))
    rows = [json.loads(line) for line in pairs.read_text().splitlines() if line.strip()]
    return {"all": mask_overlap(rows), "partial": mask_overlap(rows, kinds=("partial",))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", type=int, default=60)
    ap.add_argument("--mutants", type=int, default=4, help="mutants per problem (besides the reference)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = {f: probe(f, args.problems, args.mutants, Path(tmp)) for f in ("independent", "shared")}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
