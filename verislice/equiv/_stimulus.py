"""Input vectors for one reference: seeded random values mixed with the values that catch bugs.

Plain uniform random vectors miss an output that differs for one exact wide value, a timer that
needs a long run without its load/reset, and state that needs a particular history. So the
samples are split into several independent sequences, each starting with reset asserted, each
with its own style:

* ``uniform``  mostly uniform random values, random reset pulses;
* ``constants`` values from the constants of either design (case labels, compared literals) and
  their neighbours (c-1, c+1, shifted), corner values (0, all ones, 1, only the MSB);
* ``quiet``    1-bit inputs (reset, load, enable, ...) held at one value for long stretches, data
  held stable, no reset pulses: long runs of counters, timers and FSMs;
* ``mixed``    all of the above, plus inputs set equal to another input of the same width.

Vectors depend only on the seed, the reference text and the constants, never on how candidates
are packed into simulations.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass

from ._detect import Timing

__all__ = ["InputSpec", "Stimulus", "make_stimulus"]

STYLES = ("uniform", "constants", "quiet", "mixed")
# weights of (random, corner, constant, hold, equal-to-another-input) per style, multi-bit inputs
_WEIGHTS = {
    "uniform": (0.80, 0.10, 0.00, 0.10, 0.00),
    "constants": (0.25, 0.15, 0.50, 0.10, 0.00),
    "quiet": (0.20, 0.10, 0.10, 0.60, 0.00),
    "mixed": (0.40, 0.15, 0.25, 0.10, 0.10),
}


@dataclass(frozen=True)
class InputSpec:
    name: str
    width: int


@dataclass(frozen=True)
class Stimulus:
    """``columns[name][k]``: value of input ``name`` at sample ``k``; ``starts``: sequence starts."""

    columns: dict[str, list[int]]
    samples: int
    starts: tuple[int, ...]
    styles: tuple[str, ...]

    def inputs_at(self, k: int, widths: dict[str, int]) -> dict[str, str]:
        return {n: format(col[k], f"0{widths[n]}b") for n, col in self.columns.items()}


def _seed(seed: int, key: str) -> int:
    h = hashlib.blake2b(f"{seed}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "little")


def _corners(width: int) -> list[int]:
    mask = (1 << width) - 1
    return sorted({0, mask, 1 & mask, 1 << (width - 1), mask >> 1})


def _const_pool(constants: Iterable[int], width: int) -> list[int]:
    mask = (1 << width) - 1
    pool: set[int] = set()
    for c in constants:
        for v in (c, c - 1, c + 1, ~c):
            pool.add(v & mask)
    return sorted(pool)


def make_stimulus(inputs: list[InputSpec], timing: Timing, constants: Iterable[int], *,
                  samples: int, seed: int, sequences: int, key: str) -> Stimulus:
    """Vectors for every input except the clock (``key`` identifies the reference)."""
    rng = random.Random(_seed(seed, key))
    consts = sorted(set(constants))
    data = [i for i in inputs if i.name not in (timing.clock, timing.reset)]
    cols: dict[str, list[int]] = {i.name: [0] * samples for i in inputs if i.name != timing.clock}
    nseq = max(1, min(sequences, samples))
    starts = tuple(samples * s // nseq for s in range(nseq))
    bounds = list(starts) + [samples]
    styles = tuple(STYLES[s % len(STYLES)] for s in range(nseq))
    pools = {i.name: _const_pool(consts, i.width) for i in data if i.width > 1}
    same_width: dict[int, list[str]] = {}
    for i in data:
        same_width.setdefault(i.width, []).append(i.name)

    for s in range(nseq):
        lo, hi = bounds[s], bounds[s + 1]
        style = styles[s]
        length = hi - lo
        # reset: asserted at the start of every sequence, pulses in the noisy styles
        if timing.reset:
            active = 0 if timing.reset_active_low else 1
            col = cols[timing.reset]
            hold = min(max(1, length // 10), 3)
            pulse_p = {"uniform": 1 / 48, "mixed": 1 / 96}.get(style, 0.0)
            k = lo
            while k < hi:
                if k < lo + hold:
                    col[k] = active
                    k += 1
                elif pulse_p and rng.random() < pulse_p:
                    for j in range(k, min(hi, k + rng.randint(1, 2))):
                        col[j] = active
                    k += 2
                else:
                    col[k] = 1 - active
                    k += 1
        for spec in data:
            col = cols[spec.name]
            if spec.width == 1:
                _one_bit(rng, col, lo, hi, style, spec.name in timing.controls)
            else:
                _multi_bit(rng, col, lo, hi, spec, style, pools[spec.name],
                           [n for n in same_width[spec.width] if n != spec.name], cols)
    return Stimulus(cols, samples, starts, styles)


def _one_bit(rng: random.Random, col: list[int], lo: int, hi: int, style: str,
             control: bool) -> None:
    k = lo
    length = hi - lo
    while k < hi:
        if style == "quiet":
            seg = rng.randint(max(8, length // 2), max(8, length))
            modes = ("low", "high")
        else:
            seg = rng.randint(4, max(8, length // 4))
            modes = ("random", "random", "low", "high") if not control else (
                "random", "low", "high", "low", "high")
        mode = rng.choice(modes)
        rare = 0.01 if style == "quiet" else 0.05
        for j in range(k, min(hi, k + seg)):
            if mode == "random":
                col[j] = rng.getrandbits(1)
            else:
                base = 1 if mode == "high" else 0
                col[j] = base ^ (rng.random() < rare)
        k += seg


def _multi_bit(rng: random.Random, col: list[int], lo: int, hi: int, spec: InputSpec, style: str,
               pool: list[int], peers: list[str], cols: dict[str, list[int]]) -> None:
    w = spec.width
    mask = (1 << w) - 1
    corners = _corners(w)
    weights = list(_WEIGHTS[style])
    if not pool:
        weights[0] += weights[2]
        weights[2] = 0.0
    if not peers:
        weights[0] += weights[4]
        weights[4] = 0.0
    cum = []
    acc = 0.0
    for x in weights:
        acc += x
        cum.append(acc)
    prev = rng.getrandbits(w)
    for k in range(lo, hi):
        r = rng.random() * acc
        if r < cum[0]:
            v = rng.getrandbits(w)
        elif r < cum[1]:
            v = rng.choice(corners)
        elif r < cum[2]:
            v = rng.choice(pool)
            if rng.random() < 0.2 and v:  # a constant placed at another bit position
                v = (v << rng.randint(0, max(0, w - v.bit_length()))) & mask
        elif r < cum[3]:
            v = prev if k > lo else rng.getrandbits(w)
        else:
            other = cols[rng.choice(peers)]
            v = other[k] if other is not col else rng.getrandbits(w)
        col[k] = v
        prev = v
