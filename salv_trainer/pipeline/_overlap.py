"""How much of a pair's loss mask lies on the code that differs between chosen and rejected.

Signal-aware DPO matters where the two masks disagree on *wrong* code: a chosen response that is
right on the contrast signal but wrong elsewhere. :func:`mask_overlap` measures, over pairs with
cone spans (a pairs file in signal mode), in non-blank characters (a tokenizer-free stand-in for
tokens):

* ``cone_on_diff``: the share of the cone-masked text (chosen and rejected spans) lying on lines
  that differ between chosen and rejected (``difflib`` line matching);
* ``full_on_diff``: the same share for the whole responses (the full mask);
* ``chosen_diff_outside_cone``: of the chosen's differing lines, the share outside its cone: code
  a full mask trains as "preferred" although the cone mask leaves it out (in a partial pair, the
  chosen's own wrong outputs).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["mask_overlap"]


def _line_starts(text: str) -> list[int]:
    starts, pos = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(pos)
        pos += len(line)
    return starts


def _differing_chars(a: str, b: str) -> tuple[set[int], set[int]]:
    """Character offsets of ``a`` and of ``b`` on lines the other side does not match."""
    la, lb = a.splitlines(keepends=True), b.splitlines(keepends=True)
    sa, sb = _line_starts(a), _line_starts(b)
    da: set[int] = set()
    db: set[int] = set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, la, lb, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        for i in range(i1, i2):
            da.update(range(sa[i], sa[i] + len(la[i])))
        for j in range(j1, j2):
            db.update(range(sb[j], sb[j] + len(lb[j])))
    return da, db


def _chars(text: str, spans: Sequence[Sequence[int]] | None) -> set[int]:
    """Non-blank character offsets of ``text`` inside ``spans`` (all of them when None)."""
    idx = range(len(text)) if spans is None else (i for s, e in spans for i in range(s, e))
    return {i for i in idx if i < len(text) and not text[i].isspace()}


def mask_overlap(pairs: Iterable[Mapping[str, Any]], *, kinds: Sequence[str] = ("complete", "partial")) -> dict[str, Any]:
    """Shares (in non-blank characters) of the masks on differing lines; see the module doc."""
    cone = cone_diff = full = full_diff = chosen_diff = chosen_diff_out = 0
    n = 0
    for p in pairs:
        if p.get("kind", "complete") not in kinds:
            continue
        n += 1
        w, lo = p["chosen"], p["rejected"]
        dw, dl = _differing_chars(w, lo)
        cw, cl = _chars(w, p.get("chosen_spans")), _chars(lo, p.get("rejected_spans"))
        aw, al = _chars(w, None), _chars(lo, None)
        cone += len(cw) + len(cl)
        cone_diff += len(cw & dw) + len(cl & dl)
        full += len(aw) + len(al)
        full_diff += len(aw & dw) + len(al & dl)
        chosen_diff += len(aw & dw)
        chosen_diff_out += len((aw & dw) - cw)
    return {
        "pairs": n,
        "cone_on_diff": cone_diff / cone if cone else None,
        "full_on_diff": full_diff / full if full else None,
        "chosen_diff_outside_cone": chosen_diff_out / chosen_diff if chosen_diff else None,
        "cone_fraction": cone / full if full else None,
    }
