"""``pairs``: preference pairs from labeled candidates (QiMeng-SALV Eq. 1).

For one prompt with candidates y_1..y_k, ``correct(y)`` is the set of reference outputs whose
verdict counts as right (``MATCH``, or ``PROVEN``/``BOUNDED`` from formal checking). Every ordered
pair (A, B) of distinct candidates with a non-empty contrast set ``c = correct(A) \\ correct(B)``
gives a pair: chosen A, rejected B, ``contrast_signals`` c.

Masks (character ``[start, end)`` spans, sorted and merged; ``mask_rule`` names the rule as
``<chosen>/<rejected>``). Eq. 2 trains on S_w^c, the code of A that drives c, and S_l^c, the code of
B that drives c; a mask never holds a statement of an output A gets wrong:

* ``cone/cone``: both sides simulated. ``chosen_spans`` = union of A's cones of the signals in c
  (each cone keeps the module header and ``endmodule``), ``rejected_spans`` the same in B.
* ``cone/whole``: B was not simulated (no code, does not parse or compile, interface mismatch,
  timeout, rejected). Its verdict is about the whole candidate, no output of it was judged and
  none is right, so its whole response stands for its failure; A keeps its cones of c. Also
  where B simulated with no output right but has no cone for a signal of c (it lacks that
  output).
* ``whole/whole``: A is fully right and B holds no code at all: the paper's ordinary
  full-response pair (nothing in A is wrong, and B has no code to locate anything in).

Pairs Eq. 1 gives but no mask can honour are dropped (and counted): A has no cone for a signal
of c (a whole chosen would train on its wrong outputs), or B is partially right and has no cone
for any signal of c (a whole rejected would push down its right outputs). The table of every
(chosen, rejected) verdict combination is in ``docs/data.md``.

``AMBIGUOUS`` outputs (the reference is X on every sample, so nothing was really compared) are not
correct for anyone, so they never enter a contrast set; they do not stop a candidate from being
*fully* correct either. A candidate is fully correct when it simulated (verdict ``OK``), at least
one output is correct, and every output that is not ``AMBIGUOUS`` is correct.

``kind`` is ``complete`` when the chosen candidate is fully correct, else ``partial`` (the paper's
Table 3). **Module mode** (standard DPO baseline) keeps only pairs with a fully correct chosen and
a rejected that is not, both spans the whole responses (``whole/whole``).

Identical response texts are paired once: duplicates are dropped before pairing.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from verislice.equiv import OK

from .._paths import refuse_overwrite
from ..config import setting
from ._errors import DataError
from ._jsonl import JsonlWriter, read_jsonl, require_fields
from ._verdicts import CORRECT_VERDICTS, correct_outputs, is_fully_correct

__all__ = [
    "CORRECT_VERDICTS",
    "KINDS",
    "MASK_RULES",
    "Candidate",
    "PairsConfig",
    "PairsReport",
    "candidates_of",
    "make_pairs",
    "merge_spans",
    "pair_masks",
    "pairs_for_row",
]

KINDS = ("complete", "partial")
#: ``<chosen mask>/<rejected mask>``: cone = the cones of the contrast signals, whole = the response.
MASK_RULES = ("cone/cone", "cone/whole", "whole/whole")
Spans = list[list[int]]
PairMode = Literal["signal", "module"]

# Prompt fields copied from the labeled row into each pair.
_PROMPT_FIELDS = ("prompt", "messages", "module_header", "top_module")


@dataclass
class PairsConfig:
    """Options of :func:`make_pairs` (and of ``salv-train pairs``)."""

    mode: PairMode = setting("signal", "signal (Eq. 1, cone spans) or module (standard DPO, whole "
                                       "responses).")
    kinds: tuple[str, ...] = setting(KINDS, "Pair kinds to keep, comma-separated (complete, partial).")
    max_pairs_per_prompt: int | None = setting(None, "Keep at most N pairs per prompt (random draw; "
                                                     "default: all).")
    seed: int = setting(0, "Seed of the --max-pairs-per-prompt draw (a prompt's draw depends only "
                           "on the seed and its id).")

    def __post_init__(self) -> None:
        if self.mode not in ("signal", "module"):
            raise DataError(f"unknown pair mode {self.mode!r}: choose signal or module")
        bad = [k for k in self.kinds if k not in KINDS]
        if bad or not self.kinds:
            raise DataError(f"unknown pair kind {', '.join(bad) or '(none)'}: choose from complete, partial")
        if self.max_pairs_per_prompt is not None and self.max_pairs_per_prompt < 1:
            raise DataError("--max-pairs-per-prompt must be at least 1")


@dataclass(frozen=True)
class Candidate:
    """One labeled response, as pairing sees it."""

    index: int
    response: str
    verdict: str
    correct: frozenset[str]
    fully_correct: bool
    has_code: bool
    cones: Mapping[str, Sequence[Sequence[int]]]


def merge_spans(spans: Iterable[Sequence[int]]) -> list[list[int]]:
    """Sort ``[start, end)`` spans and merge the ones that overlap or touch; drop empty ones."""
    out: list[list[int]] = []
    for s, e in sorted((int(a), int(b)) for a, b in spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


def candidates_of(row: Mapping[str, Any]) -> list[Candidate]:
    """The candidates of a labeled row (``responses`` + ``labels``), duplicates texts dropped."""
    responses, labels = row["responses"], row["labels"]
    if len(responses) != len(labels):
        raise DataError(f"{len(responses)} responses but {len(labels)} labels")
    seen: set[str] = set()
    out = []
    for i, (resp, lab) in enumerate(zip(responses, labels)):
        if resp in seen:
            continue
        seen.add(resp)
        out.append(Candidate(
            i, resp, lab.get("verdict", ""), correct_outputs(lab), is_fully_correct(lab),
            lab.get("code_span") is not None, lab.get("cones") or {},
        ))
    return out


def _cone_spans(cand: Candidate, signals: Iterable[str]) -> Spans | None:
    """Union of ``cand``'s cones of ``signals``; ``None`` when it has no cone for one of them."""
    spans: list[Sequence[int]] = []
    for s in signals:
        cone = cand.cones.get(s)
        if not cone:
            return None
        spans.extend(cone)
    return merge_spans(spans)


def _whole(text: str) -> Spans:
    return [[0, len(text)]] if text else []


def pair_masks(a: Candidate, b: Candidate, contrast: Sequence[str]) -> tuple[Spans, Spans, str] | None:
    """Eq. 2 masks of the pair (chosen ``a``, rejected ``b``) over the contrast signals:
    ``(chosen_spans, rejected_spans, mask_rule)``, or ``None`` when no mask keeps the code of
    ``a``'s wrong outputs out and ``b``'s right outputs in their place (the pair is dropped)."""
    if a.fully_correct and not b.has_code:
        return _whole(a.response), _whole(b.response), "whole/whole"
    chosen = _cone_spans(a, contrast)
    if chosen is None:
        return None
    if b.verdict != OK:
        return chosen, _whole(b.response), "cone/whole"
    have = [s for s in contrast if b.cones.get(s)]
    if len(have) < len(contrast) and not b.correct:
        return chosen, _whole(b.response), "cone/whole"
    if not have:
        return None
    # a partially right b lacking an output of c: its cones of the others (header included)
    return chosen, _cone_spans(b, have) or [], "cone/cone"


def _row_pairs(row: Mapping[str, Any], cfg: PairsConfig) -> tuple[list[dict[str, Any]], int]:
    """The pairs of one row in (chosen index, rejected index) order, capped; and how many Eq. 1
    pairs of the kept kinds were dropped for want of a mask."""
    cands = candidates_of(row)
    pairs = []
    dropped = 0
    for a in cands:
        for b in cands:
            if a is b:
                continue
            contrast = sorted(a.correct - b.correct)
            if not contrast:
                continue
            kind = "complete" if a.fully_correct else "partial"
            if kind not in cfg.kinds:
                continue
            if cfg.mode == "module":
                if not a.fully_correct or b.fully_correct:
                    continue
                masks = _whole(a.response), _whole(b.response), "whole/whole"
            else:
                masks = pair_masks(a, b, contrast)
                if masks is None:
                    dropped += 1
                    continue
            pair = {"id": row["id"], "pair_id": f"{row['id']}/{a.index}-{b.index}"}
            pair.update({f: row[f] for f in _PROMPT_FIELDS if f in row and row[f] is not None})
            pair.update({
                "chosen": a.response,
                "rejected": b.response,
                "contrast_signals": contrast,
                "chosen_spans": masks[0],
                "rejected_spans": masks[1],
                "kind": kind,
                "mask_rule": masks[2],
                "chosen_index": a.index,
                "rejected_index": b.index,
            })
            pairs.append(pair)
    cap = cfg.max_pairs_per_prompt
    if cap is not None and len(pairs) > cap:
        rng = random.Random(f"{cfg.seed}:{row['id']}")
        keep = sorted(rng.sample(range(len(pairs)), cap))
        pairs = [pairs[i] for i in keep]
    return pairs, dropped


def pairs_for_row(row: Mapping[str, Any], config: PairsConfig | None = None) -> list[dict[str, Any]]:
    """All pairs of one labeled row, in (chosen index, rejected index) order, then capped."""
    return _row_pairs(row, config or PairsConfig())[0]


@dataclass
class PairsReport:
    """What :func:`make_pairs` wrote."""

    prompts: int = 0
    prompts_with_pairs: int = 0
    pairs: int = 0
    kinds: Counter = field(default_factory=Counter)
    mask_rules: Counter = field(default_factory=Counter)
    dropped: int = 0
    """Eq. 1 pairs left out because no mask keeps the chosen's wrong code out (see module doc)."""

    def to_json(self) -> dict[str, Any]:
        return {"prompts": self.prompts, "prompts_with_pairs": self.prompts_with_pairs,
                "pairs": self.pairs, "kinds": {k: self.kinds.get(k, 0) for k in KINDS},
                "mask_rules": {r: self.mask_rules.get(r, 0) for r in MASK_RULES},
                "dropped": self.dropped}


def iter_pairs(path: str | os.PathLike[str],
               config: PairsConfig) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Pairs of every row of the labeled file ``path``, one list per row, with the row's count
    of dropped pairs."""
    for lineno, row in read_jsonl(path):
        require_fields(path, lineno, row, ("id", "responses", "labels"))
        try:
            yield _row_pairs(row, config)
        except DataError as exc:
            raise DataError(f"{path}:{lineno}:1: error: {exc.message}") from None
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}:{lineno}:1: error: malformed labeled row: {exc!r}") from None


def make_pairs(
    labeled: str | os.PathLike[str],
    out: str | os.PathLike[str],
    config: PairsConfig | None = None,
    *,
    progress: Callable[[int], None] | None = None,
) -> PairsReport:
    """Write the pairs of every row of ``labeled`` to ``out`` (overwritten); return counts."""
    cfg = config or PairsConfig()
    report = PairsReport()
    refuse_overwrite({"the labeled file": labeled}, {"the output": out}, error=DataError)
    with JsonlWriter(out, resume=False) as writer:
        for pairs, dropped in iter_pairs(labeled, cfg):
            report.prompts += 1
            report.dropped += dropped
            report.prompts_with_pairs += bool(pairs)
            for p in pairs:
                writer.write(p)
                report.kinds[p["kind"]] += 1
                report.mask_rules[p["mask_rule"]] += 1
            report.pairs += len(pairs)
            if progress:
                progress(report.prompts)
    return report
