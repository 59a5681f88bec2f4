"""``merge``: join the JSONL outputs of ``--shard I/N`` runs and check that every id is there once.

Each shard of ``sample``, ``label`` or ``eval --save-responses`` writes its rows in input order
(:mod:`salv_trainer._shard`). :func:`merge_shards` reads the shard files twice, streaming (memory
holds ids, not rows): once to count every id, once to write. An id found twice (in two shards, or
twice in one) is *doubled*; with ``expect`` (the file the shards were cut from), an id of it found
in no shard is *missing* and an id that is not in it is *unexpected*. Any of these and nothing is
written (the report lists them; ``salv-train merge`` exits 1). Otherwise the rows are written in
the order of ``expect`` (a k-way merge: each shard is already in that order), or shard after
shard without it, to a temporary file renamed into place: never half a merged file.

A shard file whose last line was cut off by a crash (see :mod:`._jsonl`) is read as the resumable
writer reads it: the torn row is not there, so its id is reported missing (rerun that shard).
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._paths import refuse_overwrite
from ._errors import DataError
from ._jsonl import JsonlWriter, read_jsonl

__all__ = ["MergeReport", "merge_shards"]


@dataclass
class MergeReport:
    """What :func:`merge_shards` found; ``ok`` when the output was written."""

    files: int = 0
    rows: int = 0
    doubled: dict[str, int] = field(default_factory=dict)
    """Ids found more than once, with their count."""
    missing: list[str] = field(default_factory=list)
    """Ids of ``expect`` found in no shard."""
    unexpected: list[str] = field(default_factory=list)
    """Ids found in a shard that are not in ``expect``."""

    @property
    def ok(self) -> bool:
        return not (self.doubled or self.missing or self.unexpected)

    def problems(self, most: int = 10) -> list[str]:
        """One line per kind of problem, naming up to ``most`` ids each."""

        def listed(ids: Sequence[str]) -> str:
            more = f", ... and {len(ids) - most} more" if len(ids) > most else ""
            return ", ".join(repr(i) for i in ids[:most]) + more

        lines = []
        if self.missing:
            lines.append(f"{len(self.missing)} id(s) missing: {listed(self.missing)}")
        if self.doubled:
            lines.append(f"{len(self.doubled)} id(s) doubled: "
                         f"{listed([f'{i} (x{n})' for i, n in self.doubled.items()])}")
        if self.unexpected:
            lines.append(f"{len(self.unexpected)} id(s) not in the expected file: "
                         f"{listed(self.unexpected)}")
        return lines

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "files": self.files, "rows": self.rows, "doubled": self.doubled,
                "missing": self.missing, "unexpected": self.unexpected}


def _ids(path: str | os.PathLike[str], key: str, partial_tail_ok: bool) -> Iterator[str]:
    for lineno, row in read_jsonl(path, partial_tail_ok=partial_tail_ok):
        if key not in row:
            raise DataError(f"{path}:{lineno}:1: error: missing field '{key}'")
        yield str(row[key])


def merge_shards(
    shards: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    expect: str | os.PathLike[str] | None = None,
    key: str = "id",
) -> MergeReport:
    """Check that the rows of ``shards`` hold every id once (every id of ``expect`` when given),
    then write them to ``out``; on a problem write nothing and report it (``ok`` false)."""
    if not shards:
        raise DataError("no shard files given")
    refuse_overwrite({f"shard {p}": p for p in shards} | {"--expect": expect},
                     {"the output": out}, error=DataError)
    report = MergeReport(files=len(shards))
    counts: Counter[str] = Counter()
    for p in shards:
        counts.update(_ids(p, key, partial_tail_ok=True))
    report.rows = sum(counts.values())
    report.doubled = {i: n for i, n in counts.items() if n > 1}
    order: dict[str, int] | None = None
    if expect is not None:
        order = {}
        for i in _ids(expect, key, partial_tail_ok=False):
            order.setdefault(i, len(order))
        report.missing = [i for i in order if i not in counts]
        report.unexpected = [i for i in counts if i not in order]
    if not report.ok:
        return report

    def rows(p: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        for _, row in read_jsonl(p, partial_tail_ok=True):
            yield (order[str(row[key])] if order is not None else 0), row

    tmp = Path(str(out) + ".tmp")
    merged = (heapq.merge(*(rows(p) for p in shards), key=lambda pr: pr[0]) if order is not None
              else (pr for p in shards for pr in rows(p)))
    with JsonlWriter(tmp, resume=False) as writer:
        for _, row in merged:
            writer.write(row)
    try:
        tmp.replace(out)
    except OSError as exc:
        raise DataError(f"{out}: cannot write: {exc.strerror}") from None
    return report
