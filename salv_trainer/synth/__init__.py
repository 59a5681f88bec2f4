"""A seeded synthetic spec-to-Verilog task family, for end-to-end runs at tiny scale.

Every problem is a module ``top_module`` with 2-4 outputs (by default); each output is a small
combinational function of the data inputs (gates, muxes, comparators, adders, reductions, shifts)
or a register with a synchronous active-high reset (delay, counters, accumulator, toggle). Each
problem has a short textual spec, one line per output, that determines the output exactly, and
a reference module written in one canonical style::

    from salv_trainer.synth import SynthConfig, generate, write_splits
    splits = generate(SynthConfig(seed=0, train=800, validation=50, test=100))
    print(splits["test"][0].spec)
    print(splits["test"][0].reference)
    write_splits(splits, "runs/mini/data")   # train.jsonl, validation.jsonl, test.jsonl

The rows use the data stage's prompts format (``id``, ``prompt``, ``module_header``,
``reference``, ``top_module``) plus ``split``, ``width`` and ``outputs`` (one record per output
port: ``name``, ``kind``, ``width``, ``registered``, ``operands``, ``const``).
Splits never share a problem: no two problems compute the same set of output functions.
"""

from __future__ import annotations

import json
from pathlib import Path

from ._catalog import KINDS, Kind, OutputFunc
from ._check import ReferenceProblem, check_references
from ._generate import (
    DATA_INPUTS,
    SPLITS,
    Problem,
    SynthConfig,
    SynthError,
    generate,
    iter_rows,
    problem_from_row,
)

__all__ = [
    "DATA_INPUTS",
    "KINDS",
    "SPLITS",
    "Kind",
    "OutputFunc",
    "Problem",
    "ReferenceProblem",
    "SynthConfig",
    "SynthError",
    "check_references",
    "generate",
    "iter_rows",
    "problem_from_row",
    "read_split",
    "write_splits",
]


def write_splits(splits: dict[str, list[Problem]], out_dir: str | Path) -> dict[str, Path]:
    """Write ``<split>.jsonl`` for every split into ``out_dir`` (created); return the paths.

    Each file is written to a temporary name first and renamed, so a file that exists is complete.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, problems in splits.items():
        path = out / f"{name}.jsonl"
        tmp = path.with_suffix(".jsonl.tmp")
        with tmp.open("w") as fh:
            for p in problems:
                fh.write(json.dumps(p.to_row()) + "\n")
        tmp.replace(path)
        paths[name] = path
    return paths


def read_split(path: str | Path) -> list[Problem]:
    """Problems of a split file written by :func:`write_splits`."""
    with Path(path).open() as fh:
        return [problem_from_row(json.loads(line)) for line in fh if line.strip()]
