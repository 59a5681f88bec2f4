"""Paired statistics between two models scored on the same test problems.

Two models evaluated on the same problems (and, with several training seeds, the same seeds) are
compared on their *paired* differences, which removes problem difficulty from the spread:

* :func:`paired_bootstrap`: mean difference and its 95 % percentile interval, resampling problems
  (and, when there are several runs, runs too: a two-level bootstrap, so the interval covers
  both the choice of test problems and training randomness), with a two-sided bootstrap p-value;
* :func:`mcnemar`: McNemar's test for binary outcomes (a greedy answer right or wrong, per problem
  or per output): the exact two-sided binomial p-value on the discordant pairs, and the
  continuity-corrected chi-square one;
* :func:`seed_problem_ci`: mean and interval of one model's score over seeds and problems (the
  same two-level bootstrap).

Only the standard library and numpy; every function is deterministic for a given ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["binom_two_sided", "mcnemar", "paired_bootstrap", "seed_problem_ci"]

Scores = Mapping[str, float]


def _matrix(runs: Sequence[Scores], keys: Sequence[str]) -> np.ndarray:
    return np.array([[float(r[k]) for k in keys] for r in runs], dtype=float)


def _common(runs_a: Sequence[Scores], runs_b: Sequence[Scores]) -> list[str]:
    keys = set(runs_a[0])
    for r in (*runs_a, *runs_b):
        keys &= set(r)
    return sorted(keys)


def _two_level_means(m: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Bootstrap means of a runs x problems matrix: runs and problems resampled independently
    (one run: problems only)."""
    rng = np.random.default_rng(seed)
    runs, probs = m.shape
    out = np.empty(n_boot)
    for i in range(n_boot):
        cols = rng.integers(0, probs, probs)
        rows = rng.integers(0, runs, runs) if runs > 1 else np.zeros(1, dtype=int)
        out[i] = m[np.ix_(rows, cols)].mean()
    return out


def paired_bootstrap(
    runs_a: Sequence[Scores] | Scores,
    runs_b: Sequence[Scores] | Scores,
    *,
    n_boot: int = 4000,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean of ``a - b`` over the problems both score, with a 95 % bootstrap interval and p-value.

    ``runs_a``/``runs_b``: one ``{problem: score}`` mapping, or one per run (training seed), paired
    run by run (run ``i`` of ``a`` against run ``i`` of ``b``: the same SFT model and seed). The
    p-value is two-sided: twice the smaller share of bootstrap means on either side of 0 (at least
    ``1 / n_boot``). Returns ``{"mean", "ci95", "p", "n_problems", "n_runs", "n_boot"}``.
    """
    a = [runs_a] if isinstance(runs_a, Mapping) else list(runs_a)
    b = [runs_b] if isinstance(runs_b, Mapping) else list(runs_b)
    if len(a) != len(b) or not a:
        raise ValueError(f"paired runs needed: {len(a)} against {len(b)}")
    keys = _common(a, b)
    if not keys:
        return {"mean": None, "ci95": None, "p": None, "n_problems": 0, "n_runs": len(a), "n_boot": n_boot}
    diff = _matrix(a, keys) - _matrix(b, keys)
    boots = _two_level_means(diff, n_boot, seed)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    below, above = float(np.mean(boots <= 0)), float(np.mean(boots >= 0))
    p = min(1.0, max(2 * min(below, above), 1 / n_boot)) if diff.any() else 1.0
    return {"mean": float(diff.mean()), "ci95": [float(lo), float(hi)], "p": p,
            "n_problems": len(keys), "n_runs": len(a), "n_boot": n_boot}


def seed_problem_ci(runs: Sequence[Scores] | Scores, *, n_boot: int = 4000, seed: int = 0,
                    bounds: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """Mean of one model's per-problem scores over runs and problems, 95 % two-level bootstrap
    interval (runs and problems resampled), clipped to ``bounds``."""
    rs = [runs] if isinstance(runs, Mapping) else list(runs)
    keys = _common(rs, rs)
    if not keys:
        return {"mean": None, "ci95": None, "n_problems": 0, "n_runs": len(rs)}
    m = _matrix(rs, keys)
    lo, hi = np.percentile(_two_level_means(m, n_boot, seed), [2.5, 97.5])
    return {"mean": float(m.mean()), "ci95": [max(bounds[0], float(lo)), min(bounds[1], float(hi))],
            "n_problems": len(keys), "n_runs": len(rs)}


def binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` fair coin flips (doubling the smaller
    tail, capped at 1): McNemar's exact test on ``n`` discordant pairs."""
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def mcnemar(a: Mapping[str, bool], b: Mapping[str, bool]) -> dict[str, Any]:
    """McNemar's test of two paired binary outcomes over the keys both have.

    ``a_only``: keys right under ``a`` and wrong under ``b``; ``b_only`` the reverse. ``p``: exact
    two-sided binomial p-value on the ``a_only + b_only`` discordant keys; ``p_chi2``: the
    continuity-corrected chi-square (1 df) p-value, ``(|a_only - b_only| - 1)^2 / (a_only +
    b_only)``. ``delta``: the difference in the share right, ``(a_only - b_only) / n``.
    """
    keys = sorted(set(a) & set(b))
    a_only = sum(bool(a[k]) and not bool(b[k]) for k in keys)
    b_only = sum(bool(b[k]) and not bool(a[k]) for k in keys)
    d = a_only + b_only
    chi2 = (abs(a_only - b_only) - 1) ** 2 / d if d else 0.0
    if d and abs(a_only - b_only) <= 1:
        chi2 = 0.0
    return {"n": len(keys), "a_only": a_only, "b_only": b_only,
            "delta": (a_only - b_only) / len(keys) if keys else None,
            "p": binom_two_sided(a_only, d), "chi2": chi2,
            "p_chi2": math.erfc(math.sqrt(chi2 / 2)) if d else 1.0}
