"""Input vectors for one reference: seeded random values mixed with the values that catch bugs.

Plain uniform random vectors miss an output that differs for one exact wide value, a timer that
needs a long run without its load/reset, and state that needs a particular history. So the
samples are split into several independent sequences, each starting with reset asserted, each
with its own style:

* ``uniform``  mostly uniform random values, random reset pulses;
* ``constants`` values from the constants of either design (case labels, compared literals) and
  their neighbours (c-1, c+1, shifted), corner values (0, all ones, 1, only the MSB);
* ``quiet``    after a short burst (a load pulse with a large or constant value), every 1-bit
  input is held to the end of the sequence: a control (an input tested by ``if`` in a clocked
  block: load, enable) at its inactive value, other inputs at a random value; data mostly
  stable, reset only at the start: long runs of counters, timers and FSMs.
* ``quiet-inverse`` the other value held: controls (enable, valid) active to the end; other
  1-bit inputs released once, after as many cycles as a constant of the designs says (+-1), or
  late in the sequence ("fall for 21 cycles, then land"). Quiet sequences are twice as long as the others;
* ``mixed``    multi-bit inputs mostly from a few values each (2-4, random, corner or constant:
  addresses and indices repeat, so what is written is read back), else all of the above, plus
  inputs set equal to another input of the same width; 1-bit inputs as slow square waves (held 6 to length/3 cycles, or as many
  cycles as a constant of the designs +-1, then flipped).

A combinational design (no clock) gets ``uniform``, ``constants`` and ``mixed`` sequences only,
with 1-bit inputs random: holding inputs only helps designs with state.

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

STYLES = ("uniform", "quiet", "constants", "quiet-inverse", "mixed")
COMB_STYLES = ("uniform", "constants", "mixed-comb")
_LENGTH = {"mixed-comb": 1, "uniform": 1, "quiet": 2, "constants": 1, "quiet-inverse": 2, "mixed": 1}
# weights of (random, corner, constant, hold, equal-to-another-input) per style, multi-bit inputs
_WEIGHTS = {
    "uniform": (0.80, 0.10, 0.00, 0.10, 0.00),
    "constants": (0.25, 0.15, 0.50, 0.10, 0.00),
    "quiet": (0.20, 0.10, 0.10, 0.60, 0.00),
    "quiet-inverse": (0.20, 0.10, 0.10, 0.60, 0.00),
    "mixed": (0.40, 0.15, 0.25, 0.10, 0.10),
    "mixed-comb": (0.50, 0.15, 0.25, 0.00, 0.10),
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
    # holding inputs only helps designs with state; a combinational design gets fresh vectors
    order = STYLES if timing.sequential else COMB_STYLES
    styles = tuple(order[s % len(order)] for s in range(nseq))
    shares = [_LENGTH[st] for st in styles]
    acc, starts_l = 0, []
    for sh in shares:
        starts_l.append(samples * acc // sum(shares))
        acc += sh
    starts = tuple(starts_l)
    bounds = list(starts) + [samples]
    # the value each 1-bit input holds in the ``quiet`` sequence: a control's inactive value
    # (`if (load)` -> 0), otherwise random; ``quiet-inverse`` holds the other value
    hold_bit = {i.name: rng.getrandbits(1) for i in data if i.width == 1}
    for name in timing.controls:
        if name in hold_bit:
            hold_bit[name] = 1 if name in timing.controls_low else 0
    pools = {i.name: _const_pool(consts, i.width) for i in data if i.width > 1}
    same_width: dict[int, list[str]] = {}
    for i in data:
        same_width.setdefault(i.width, []).append(i.name)

    for s in range(nseq):
        lo, hi = bounds[s], bounds[s + 1]
        style = styles[s]
        length = hi - lo
        rst_hold = min(max(1, length // 10), 3) if timing.reset else 0
        # quiet styles: a short burst right after reset (1-bit inputs at the value opposite to
        # the one they then hold: a load pulse; data at corner values), then a long calm run
        burst = (lo + rst_hold, min(hi, lo + rst_hold + rng.randint(1, 3))) \
            if style.startswith("quiet") and length > 8 else (lo, lo)
        # reset: asserted at the start of every sequence, pulses in the noisy styles only
        if timing.reset:
            active = 0 if timing.reset_active_low else 1
            col = cols[timing.reset]
            hold = rst_hold
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
                _one_bit(rng, col, lo, hi, style, spec.name in timing.controls,
                         hold_bit[spec.name] ^ (style == "quiet-inverse"), burst,
                         [c for c in consts if 2 <= c <= length])
            else:
                _multi_bit(rng, col, lo, hi, spec, style, pools[spec.name],
                           [n for n in same_width[spec.width] if n != spec.name], cols)
                for j in range(*burst):  # what a load pulse loads: a corner or a constant,
                    # often the largest (the longest count of a timer)
                    big = [(1 << spec.width) - 1] + pools[spec.name][-2:]
                    col[j] = rng.choice(big) if rng.random() < 0.75 else \
                        rng.choice(_corners(spec.width) + pools[spec.name])
                    if j + 1 < hi and rng.random() < 0.7:
                        col[j + 1] = col[j]
    return Stimulus(cols, samples, starts, styles)


def _one_bit(rng: random.Random, col: list[int], lo: int, hi: int, style: str,
             control: bool, hold: int, burst: tuple[int, int],
             durations: list[int]) -> None:
    k = lo
    length = hi - lo
    if style.startswith("quiet"):
        # released once, late: "fall for a long time, then land" / "count down, then load"
        pick = rng.random()
        if length <= 8 or style == "quiet" or control:
            release = hi  # held to the end (a control: inactive in quiet, active in the inverse)
        elif pick < 1 / 2 and durations:  # held exactly as long as a constant says
            release = burst[1] + rng.choice(durations) + rng.randint(-1, 2)
        else:
            release = rng.randint(lo + length // 2, hi)
        for j in range(lo, hi):
            if j < burst[0]:
                col[j] = rng.getrandbits(1)
            elif j < burst[1] or j >= release:
                col[j] = 1 - hold
            else:
                col[j] = hold
        return
    modes = ("random", "random", "low", "high") if not control else (
        "random", "low", "high", "low", "high")
    slow = style == "mixed"  # slow square waves: a condition held for a while, then released
    if slow:
        modes = ("low", "high")
    while k < hi:
        seg = rng.randint(6, max(8, length // 3)) if slow else rng.randint(4, max(8, length // 4))
        if slow and durations and rng.random() < 0.5 and min(durations) <= length // 2:
            # a condition held exactly as long as a constant of the design says (c-1 .. c+2
            # cycles): catches off-by-one timers and "more than N cycles" thresholds
            seg = max(1, rng.choice([c for c in durations if c <= length // 2]) +
                      rng.randint(-1, 2))
        mode = rng.choice(modes) if not slow else ("high" if col[k - 1] == 0 and k > lo else
                                                   "low" if k > lo else rng.choice(modes))
        rare = 0.0 if slow else 0.02
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
    # mixed (clocked designs): most values from a few per input, so that addresses, indices and
    # keys repeat: a memory written then read at the same address, a predictor trained then
    # asked about the same entry
    few = [rng.choice((rng.getrandbits(w), rng.choice(corners), rng.choice(pool or corners)))
           for _ in range(rng.randint(2, 4))] if style == "mixed" else []
    for k in range(lo, hi):
        if few and rng.random() < 0.7:
            col[k] = prev = rng.choice(few)
            continue
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
