"""Join the ``--json`` results of ``eval --shard I/N`` runs into the result of the whole benchmark.

Each shard's result records its shard (``"shard": "I/N"``) and its tasks with every sample's
verdict. :func:`merge_results` checks that the shards are ``0/N`` .. ``N-1/N`` of one benchmark,
each given once, and that no task is in two of them; then it rebuilds one :class:`EvalResult`
(pass@k over all tasks, coverage, counts) from the samples, as one unsharded run reports it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._shard import parse_shard
from ._errors import EvalError
from ._harness import SampleResult
from ._runner import EvalResult, TaskResult

__all__ = ["merge_results"]


def _read(path: str | os.PathLike[str]) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise EvalError(f"{path}:{exc.lineno}:{exc.colno}: error: invalid JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tasks"), dict) or "benchmark" not in doc:
        raise EvalError(f"{path}: not the --json result of salv-train eval")
    return doc


def merge_results(paths: Sequence[str | os.PathLike[str]]) -> tuple[EvalResult | None, list[str]]:
    """``(merged result, [])``, or ``(None, problems)``: one line per problem (shards missing or
    given twice, a task in two shards, results of different benchmarks or pass@k settings)."""
    docs = [(p, _read(p)) for p in paths]
    if not docs:
        raise EvalError("no result files given")
    problems: list[str] = []
    first = docs[0][1]
    for p, d in docs[1:]:
        for field in ("benchmark", "k"):
            if d.get(field) != first.get(field):
                problems.append(f"{p}: {field} {d.get(field)!r}, not {first.get(field)!r} as "
                                f"{docs[0][0]}")
    shards: dict[int, list[str]] = {}
    counts = set()
    for p, d in docs:
        shard = parse_shard(str(d.get("shard", "0/1")))
        shards.setdefault(shard.index, []).append(str(p))
        counts.add(shard.count)
    if len(counts) > 1:
        problems.append(f"the results are of different shard counts: {sorted(counts)}")
    n = max(counts)
    absent = [i for i in range(n) if i not in shards]
    if absent:
        problems.append(f"{len(absent)} shard(s) missing: " + ", ".join(f"{i}/{n}" for i in absent))
    for i, ps in sorted(shards.items()):
        if len(ps) > 1:
            problems.append(f"shard {i}/{n} given {len(ps)} times: {', '.join(ps)}")
    where: dict[str, str] = {}
    for p, d in docs:
        for tid in d["tasks"]:
            if tid in where:
                problems.append(f"task {tid!r} in both {where[tid]} and {p}")
            where.setdefault(tid, str(p))
    if problems:
        return None, problems
    tasks = {tid: TaskResult(tid, [SampleResult.from_json(s) for s in t["samples"]],
                             t.get("ref_passes_icarus11"))
             for _, d in docs for tid, t in d["tasks"].items()}
    settings = {k: v for k, v in first.items() if k not in _RESULT_KEYS}
    settings.pop("shard", None)
    settings["merged_shards"] = n
    merged = EvalResult(
        benchmark=first["benchmark"], ks=tuple(first["k"]), tasks=dict(sorted(tasks.items())),
        settings=settings,
        missing=sorted(t for _, d in docs for t in d.get("missing_tasks", [])),
        unknown=sorted(t for _, d in docs for t in d.get("unknown_tasks", [])),
        simulations=sum(d.get("simulations", 0) for _, d in docs),
        cached=sum(d.get("cached", 0) for _, d in docs),
        seconds=sum(d.get("seconds", 0.0) for _, d in docs))
    return merged, []


# the keys of EvalResult.to_json that are the run's settings (everything else is recomputed)
_RESULT_KEYS = {"benchmark", "k", "harness_version", "pass_at_k", "pass_at_k_icarus11_passable",
                "num_tasks", "coverage", "unpassable_on_icarus11", "missing_tasks", "unknown_tasks",
                "verdict_counts", "simulations", "cached", "seconds", "tasks"}

