"""Scores of a model on the test split, from the data stage's labeled file.

A test sample is correct when every output of the reference matches
(:func:`salv_trainer.data.is_fully_correct`, the same rule that makes a candidate ``complete``
for pairs). pass@k is the unbiased estimator (:func:`salv_trainer.eval.mean_pass_at_k`);
per-output accuracy is the fraction of (sample, reference output) pairs whose output matches
(a sample that does not compile or simulate has every output wrong). ``per_output`` keeps, for
every ``problem/output``, the share of samples right on it (0 or 1 for one greedy answer: the
input of McNemar's test per output).

Confidence intervals are 95 % normal intervals over test problems (``ci95``), and for a
difference to the SFT model (``delta_vs_sft``) over the paired per-problem differences, which
removes the spread of problem difficulty.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..data import CATEGORIES, category, correct_outputs, is_fully_correct, read_rows
from ..eval import mean_pass_at_k

__all__ = ["mean_ci", "paired_delta", "score_rows", "score_labeled"]

# Two-sided 95 % quantiles of Student's t for small sample counts (df = 1..10); normal beyond.
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262,
        10: 2.228}


def mean_ci(values: Sequence[float], bounds: tuple[float, float] | None = None) -> dict[str, Any]:
    """Mean and 95 % interval (t quantile for fewer than 12 values, else normal), clipped to
    ``bounds`` when given (e.g. ``(0, 1)`` for a proportion)."""
    n = len(values)
    if n == 0:
        return {"mean": None, "ci95": None, "n": 0}
    mean = sum(values) / n
    if n == 1:
        return {"mean": mean, "ci95": None, "n": 1}
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    q = _T95.get(n - 1, 1.96)
    half = q * math.sqrt(var / n)
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(bounds[0], lo), min(bounds[1], hi)
    return {"mean": mean, "ci95": [lo, hi], "n": n}


def _output_names(row: Mapping[str, Any]) -> list[str]:
    outs = row.get("outputs")
    if isinstance(outs, list) and outs and isinstance(outs[0], dict):
        return [o["name"] for o in outs]  # synthetic rows list the reference's outputs
    seen: list[str] = []
    for lab in row.get("labels", []):
        for name in lab.get("outputs") or {}:
            if name not in seen:
                seen.append(name)
    return seen


def score_rows(rows: Iterable[Mapping[str, Any]], ks: Sequence[int] = (1, 5, 10)) -> dict[str, Any]:
    """Scores of labeled test rows (``labels`` per row, one per sample)."""
    counts: list[tuple[int, int]] = []
    per_problem: dict[str, float] = {}
    per_problem_outputs: dict[str, float] = {}
    per_output: dict[str, float] = {}
    cats: Counter = Counter()
    right = total = 0
    for row in rows:
        labels = row["labels"]
        names = _output_names(row)
        c = sum(is_fully_correct(lab) for lab in labels)
        counts.append((len(labels), c))
        per_problem[str(row["id"])] = c / len(labels) if labels else 0.0
        r = 0
        hits: Counter = Counter()
        for lab in labels:
            ok = correct_outputs(lab)
            r += sum(name in ok for name in names)
            hits.update(name for name in names if name in ok)
            cats[category(lab)] += 1
        for name in names:
            per_output[f"{row['id']}/{name}"] = hits[name] / len(labels) if labels else 0.0
        right += r
        total += len(names) * len(labels)
        per_problem_outputs[str(row["id"])] = r / (len(names) * len(labels)) if names and labels else 0.0
    samples = sum(cats.values())
    return {
        "problems": len(counts),
        "samples": samples,
        "pass_at_k": mean_pass_at_k(counts, ks),
        "pass1": mean_ci(list(per_problem.values()), (0.0, 1.0)),
        "output_accuracy": right / total if total else 0.0,
        "output_accuracy_ci": mean_ci(list(per_problem_outputs.values()), (0.0, 1.0)),
        "categories": {c: cats.get(c, 0) / samples if samples else 0.0 for c in CATEGORIES},
        "per_problem": per_problem,
        "per_problem_outputs": per_problem_outputs,
        "per_output": per_output,
    }


def score_labeled(path: Any, ks: Sequence[int] = (1, 5, 10)) -> dict[str, Any]:
    """:func:`score_rows` of a labeled JSONL file."""
    return score_rows(read_rows(path, fields=("id", "labels")), ks)


def paired_delta(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, Any]:
    """Mean and 95 % interval of ``a[p] - b[p]`` over the problems both score."""
    common = sorted(set(a) & set(b))
    return mean_ci([a[p] - b[p] for p in common])
