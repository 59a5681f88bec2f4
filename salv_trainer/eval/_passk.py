"""The unbiased pass@k estimator (Chen et al., 2021, "Evaluating Large Language Models Trained on
Code"), as used by VerilogEval and RTLLM."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import comb

__all__ = ["mean_pass_at_k", "pass_at_k"]


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn without replacement from ``n``
    samples, ``c`` of them correct, is correct: ``1 - C(n-c, k) / C(n, k)``.

    Exact (integer binomials). Requires ``0 <= c <= n`` and ``1 <= k <= n``.
    """
    if not (0 <= c <= n):
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not (1 <= k <= n):
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def mean_pass_at_k(counts: Iterable[tuple[int, int]], ks: Sequence[int]) -> dict[str, float]:
    """Mean pass@k over tasks given ``(n, c)`` per task, for each ``k`` no larger than every
    task's ``n`` (keys are ``str(k)``, as in the JSON output). Empty input gives ``{}``."""
    counts = list(counts)
    if not counts:
        return {}
    n_min = min(n for n, _ in counts)
    out: dict[str, float] = {}
    for k in ks:
        if k <= n_min:
            out[str(k)] = sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
    return out
