"""``--shard I/N``: a deterministic split of a run's rows by id, for schedulers without Ray.

Shard ``I`` of ``N`` (``0 <= I < N``, e.g. a Slurm array's ``$SLURM_ARRAY_TASK_ID`` with
``--array=0-(N-1)``) takes the rows whose id hashes to ``I``::

    int(sha256(str(id).encode("utf-8")).hexdigest()[:16], 16) % N == I

The rule depends on the id alone: not on the row's position, on the other rows, on the machine
or on Python's per-process ``hash`` seed. So every shard reads the same whole input file, the
shards never overlap and together hold every row, and a shard rerun (resume) takes the same rows.
``salv-train merge`` joins the shards' outputs and checks that every id is there exactly once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from verislice import VerisliceError

__all__ = ["Shard", "parse_shard", "shard_of"]


def shard_of(row_id: object, count: int) -> int:
    """The shard (``0 .. count-1``) that the row with id ``row_id`` belongs to."""
    digest = hashlib.sha256(str(row_id).encode("utf-8", "surrogatepass")).hexdigest()
    return int(digest[:16], 16) % count


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``; ``Shard(0, 1)`` is the whole input."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise VerisliceError(f"--shard {self.index}/{self.count}: expected I/N with 0 <= I < N")

    def has(self, row_id: object) -> bool:
        """Does the row with id ``row_id`` belong to this shard?"""
        return self.count == 1 or shard_of(row_id, self.count) == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str | None) -> Shard | None:
    """``"3/8"`` -> ``Shard(3, 8)``; ``None`` or ``""`` -> ``None`` (no sharding)."""
    if not text:
        return None
    left, sep, right = text.strip().partition("/")
    try:
        if not sep:
            raise ValueError
        index, count = int(left), int(right)
    except ValueError:
        raise VerisliceError(f"--shard {text}: expected I/N (e.g. 0/4: the first of 4 shards)") from None
    return Shard(index, count)
