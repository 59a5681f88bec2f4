"""``stats``: what a data file holds (pairs, labeled samples, samples or prompts).

The kind of file is recognised from its first row: pairs have ``chosen``/``rejected``, labeled
rows ``labels``, sample rows ``responses``, anything else is read as prompts.
"""

from __future__ import annotations

import itertools
import os
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ._jsonl import read_jsonl
from ._verdicts import CATEGORIES, category

__all__ = ["file_kind", "stats"]


def file_kind(row: Mapping[str, Any]) -> str:
    """``pairs``, ``labeled``, ``samples`` or ``prompts``."""
    if "chosen" in row and "rejected" in row:
        return "pairs"
    if "labels" in row:
        return "labeled"
    if "responses" in row:
        return "samples"
    return "prompts"


def _coverage(spans: Sequence[Sequence[int]], text: str) -> float:
    if not text:
        return 0.0
    return sum(max(0, min(e, len(text)) - max(s, 0)) for s, e in spans) / len(text)


def _summary(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 4), "median": round(statistics.median(values), 4),
            "min": round(min(values), 4), "max": round(max(values), 4)}


def stats(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Counts of the file ``path`` as a JSON-ready dict (``kind`` says what it was read as).

    * pairs: pairs, prompts, ``kinds``, ``contrast_signals`` histogram (pairs by number of contrast
      signals), span coverage of chosen/rejected (fraction of the response's characters inside the
      spans), and how many rejected spans are the whole response;
    * labeled: prompts, candidates by category (fully right, partially right, wrong, broken) and
      verdict, output verdicts, prompts with at least one fully right candidate;
    * samples / prompts: rows and responses.
    """
    rows = (row for _, row in read_jsonl(path))
    first = next(rows, None)
    if first is None:
        return {"kind": "empty", "rows": 0}
    kind = file_kind(first)
    stream = itertools.chain([first], rows)  # streamed: memory does not grow with the file
    if kind == "pairs":
        return {"kind": kind, **_pair_stats(stream)}
    if kind == "labeled":
        return {"kind": kind, **_labeled_stats(stream)}
    n = responses = 0
    for row in stream:
        n += 1
        responses += len(row.get("responses") or [])
    out: dict[str, Any] = {"kind": kind, "rows": n}
    if kind == "samples":
        out["responses"] = responses
    return out


def _pair_stats(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    n = 0
    prompts: set[str] = set()
    kinds: Counter = Counter()
    contrast: Counter = Counter()
    signals: Counter = Counter()
    cov_c, cov_r = [], []
    by_rule: dict[str, list[tuple[float, float]]] = {}
    whole_rejected = 0
    for p in rows:
        n += 1
        prompts.add(str(p.get("id")))
        kinds[p.get("kind", "?")] += 1
        cs = p.get("contrast_signals") or []
        contrast[len(cs)] += 1
        signals.update(cs)
        chosen, rejected = p.get("chosen", ""), p.get("rejected", "")
        cov_c.append(_coverage(p.get("chosen_spans") or [], chosen))
        cov_r.append(_coverage(p.get("rejected_spans") or [], rejected))
        by_rule.setdefault(f"{p.get('kind', '?')} {p.get('mask_rule', '?')}", []).append((cov_c[-1], cov_r[-1]))
        whole_rejected += (p.get("rejected_spans") or []) == [[0, len(rejected)]]
    return {
        "pairs": n,
        "prompts": len(prompts),
        "kinds": dict(sorted(kinds.items())),
        "contrast_signals": {str(k): v for k, v in sorted(contrast.items())},
        "top_contrast_signals": dict(signals.most_common(10)),
        "chosen_coverage": _summary(cov_c),
        "rejected_coverage": _summary(cov_r),
        "rejected_whole_response": whole_rejected,
        "mask_rules": {k: len(v) for k, v in sorted(by_rule.items())},
        "chosen_coverage_by_rule": {k: round(statistics.fmean(c for c, _ in v), 4)
                                    for k, v in sorted(by_rule.items())},
        "rejected_coverage_by_rule": {k: round(statistics.fmean(r for _, r in v), 4)
                                      for k, v in sorted(by_rule.items())},
    }


def _labeled_stats(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    n = 0
    cats: Counter = Counter()
    verdicts: Counter = Counter()
    outputs: Counter = Counter()
    with_full = 0
    candidates = 0
    for row in rows:
        n += 1
        labels = row.get("labels") or []
        candidates += len(labels)
        row_cats = [category(lab) for lab in labels]
        cats.update(row_cats)
        with_full += "fully right" in row_cats
        for lab in labels:
            verdicts[lab.get("verdict", "?")] += 1
            outputs.update((lab.get("outputs") or {}).values())
    return {
        "prompts": n,
        "candidates": candidates,
        "categories": {c: cats.get(c, 0) for c in CATEGORIES},
        "verdicts": dict(sorted(verdicts.items())),
        "output_verdicts": dict(sorted(outputs.items())),
        "prompts_with_fully_right": with_full,
    }
