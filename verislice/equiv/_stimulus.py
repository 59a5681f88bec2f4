"""Input vectors for one reference: seeded random values mixed with the values that catch bugs.

Plain uniform random vectors miss an output that differs for one exact wide value, a timer that
needs a long run without its load/reset, and state that needs a particular history. So the
samples are split into several independent sequences, each with a seed of its own, each starting
with reset asserted, each with its own style (docs/equiv.md, *Stimulus*):

* ``uniform``  mostly uniform random values, corner values, one- and two-hot values, values held
  for random spans; controls (load, enable, valid: ``_detect``) active two cycles in three; rare
  reset pulses;
* ``constants`` values from the constants of either design (literals, case labels, parameter
  values) and their neighbours (c-1, c+1, ~c, shifted, cut to the input's width), corner values,
  and the reference's *placed* constants: the input values that make a comparison true where it
  is made (``{hi, lo} == 16'hBEEF`` sets ``hi`` and ``lo`` together, ``bus[23:8] == K`` sets
  those bits, ``x + 3 == K`` sets ``K - 3``);
* ``quiet``    after a short burst (a load pulse with a large or constant value), every 1-bit
  input is held to the end of the sequence: a control at its inactive value, other inputs at a
  random value; data mostly stable, reset only at the start: long runs of counters, timers, FSMs;
* ``quiet-inverse`` the other value held: controls (enable, valid) active to the end; other
  1-bit inputs released once, after as many cycles as a constant of the designs says (+-1), or
  late in the sequence ("fall for 21 cycles, then land");
* ``mixed``    multi-bit inputs mostly from a few values each (2-4, random, corner or constant:
  addresses and indices repeat, so what is written is read back), held for random spans, else all
  of the above, plus inputs set equal to another input of the same width; 1-bit inputs as slow
  square waves (held 6 to length/3 cycles, or as many cycles as a constant of the designs +-1),
  controls active twice as long as inactive;
* ``repeat``   deep history: a motif of 1-8 vectors (multi-bit inputs from 1-3 values each or equal
  to another input, controls active four times in five) repeated 2-40 times, or as many times as
  a constant says; then one or two inputs of the motif change, or the motif pauses (some enables
  off) and resumes: saturating counters saturate and are driven back, a predictor is trained on
  one entry and then asked about it, shift registers fill with one pattern.

Shares: 1 each, 2 for the quiet sequences and ``repeat``; the quiet ones also last as long as the
reference's counters need to run through their range (``_options.long_run``). "As many cycles as
a constant says" prefers the constants the reference compares its counters with
(``Timing.durations``: ``fall_counter >= 20``). A combinational design gets ``uniform``,
``constants`` and ``mixed`` sequences only, with 1-bit inputs random (holding inputs only helps
designs with state), and every input combination when they fit in its ``uniform`` sequence.

``samples=None`` sizes the stimulus from the reference's state (:func:`._options.auto_cycles`).
Vectors depend only on the seed, the reference (its text, state and placed constants), the
constants of the group's designs and the number of samples, never on how candidates are packed
into simulations.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass

from ._detect import Timing
from ._options import CYCLES_FLOOR, auto_cycles, long_run

__all__ = ["InputSpec", "Stimulus", "make_stimulus", "sequence_lengths"]

STYLES = ("uniform", "quiet", "constants", "quiet-inverse", "mixed", "repeat")
COMB_STYLES = ("uniform", "constants", "mixed-comb")
_LENGTH = {"mixed-comb": 1, "uniform": 1, "quiet": 2, "constants": 1, "quiet-inverse": 2,
           "mixed": 1, "repeat": 2}
# weights of (random, corner, constant, hold, equal-to-another-input) per style, multi-bit inputs
_WEIGHTS = {
    "uniform": (0.75, 0.10, 0.05, 0.10, 0.00),
    "constants": (0.25, 0.15, 0.50, 0.10, 0.00),
    "quiet": (0.20, 0.10, 0.10, 0.60, 0.00),
    "quiet-inverse": (0.20, 0.10, 0.10, 0.60, 0.00),
    "mixed": (0.40, 0.15, 0.25, 0.10, 0.10),
    "mixed-comb": (0.50, 0.15, 0.25, 0.00, 0.10),
}
# share of samples that get one of the reference's placed constants, per style
_HINT_P = {"uniform": 0.03, "constants": 0.30, "mixed": 0.08, "mixed-comb": 0.10}
# probability of a reset pulse starting at a cycle, per style (reset is asserted at every
# sequence start anyway: pulses are rare so that long histories survive)
_PULSE_P = {"uniform": 1 / 128, "mixed": 1 / 256}


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


def _sparse(rng: random.Random, width: int) -> int:
    """One or two bits set, or all but one or two (one-hot states, two-hot states, masks)."""
    v = 1 << rng.randrange(width)
    if rng.random() < 0.5:
        v |= 1 << rng.randrange(width)
    return v if rng.random() < 0.75 else ~v & ((1 << width) - 1)


def _const_pool(constants: Iterable[int], width: int) -> list[int]:
    mask = (1 << width) - 1
    pool: set[int] = set()
    for c in constants:
        for v in (c, c - 1, c + 1, ~c):
            pool.add(v & mask)
        # a wide constant cut to this width: the other halves of `{hi, lo} == 16'hBEEF`
        k = width
        while c >> k and k <= 4 * width:
            pool.add((c >> k) & mask)
            k += width
    return sorted(pool)


def sequence_lengths(samples: int, styles: tuple[str, ...], counter_bits: int) -> list[int]:
    """Samples of each sequence: by share (``_LENGTH``), the quiet ones as long as the counters
    need (``long_run``) while the others keep at least half their shares of the first 1000
    samples (the automatic budget leaves them all of it)."""
    shares = [_LENGTH[st] for st in styles]
    total = sum(shares)
    lengths = [samples * sh // total for sh in shares]
    quiet = [i for i, st in enumerate(styles) if st.startswith("quiet")]
    others = sum(sh for st, sh in zip(styles, shares) if not st.startswith("quiet"))
    keep = min(samples, CYCLES_FLOOR) * others // total // 2
    need = min(long_run(counter_bits), (samples - keep) // max(1, len(quiet)))
    if quiet and need:
        for i in quiet:
            lengths[i] = max(lengths[i], need)
        rest = [i for i in range(len(styles)) if i not in quiet]
        left = samples - sum(lengths[i] for i in quiet)
        if rest and left >= len(rest):
            sub = sum(shares[i] for i in rest)
            for i in rest:
                lengths[i] = left * shares[i] // sub
    lengths[-1] += samples - sum(lengths)
    # a sequence never ends up empty while there are samples to spare
    for i, n in enumerate(lengths):
        if n <= 0:
            j = max(range(len(lengths)), key=lambda x: lengths[x])
            if lengths[j] > 1:
                lengths[j] -= 1
                lengths[i] = 1
    return lengths


def make_stimulus(inputs: list[InputSpec], timing: Timing, constants: Iterable[int], *,
                  samples: int | None, seed: int, sequences: int, key: str) -> Stimulus:
    """Vectors for every input except the clock (``key`` identifies the reference).

    ``samples=None``: as many as :func:`._options.auto_cycles` gives the reference's state."""
    if samples is None:
        samples = auto_cycles(timing.sequential, timing.hidden_bits, timing.counter_bits)
    rng = random.Random(_seed(seed, key))
    consts = sorted(set(constants))
    data = [i for i in inputs if i.name not in (timing.clock, timing.reset)]
    widths = {i.name: i.width for i in data}
    cols: dict[str, list[int]] = {i.name: [0] * samples for i in inputs if i.name != timing.clock}
    nseq = max(1, min(sequences, samples))
    # holding inputs only helps designs with state; a combinational design gets fresh vectors
    order = STYLES if timing.sequential else COMB_STYLES
    styles = tuple(order[s % len(order)] for s in range(nseq))
    lengths = sequence_lengths(samples, styles, timing.counter_bits if timing.sequential else 0)
    starts_l, acc = [], 0
    for n in lengths:
        starts_l.append(acc)
        acc += n
    starts = tuple(starts_l)
    bounds = list(starts) + [samples]
    # the value each 1-bit input holds in the ``quiet`` sequence: a control's inactive value
    # (`if (load)` -> 0), otherwise random; ``quiet-inverse`` holds the other value
    hold_bit = {i.name: rng.getrandbits(1) for i in data if i.width == 1}
    active = {}  # control -> its active value
    for name in timing.controls:
        if name in hold_bit:
            active[name] = 0 if name in timing.controls_low else 1
            hold_bit[name] = 1 - active[name]
    pools = {i.name: _const_pool(consts, i.width) for i in data if i.width > 1}
    hints = [h for h in timing.hints if all(p[0] in widths and p[1] + p[2] <= widths[p[0]]
                                            for p in h)]
    for h in hints:  # a placed constant is also a plain constant of its input
        for name, lsb, w, v in h:
            if widths[name] > 1 and lsb == 0 and w == widths[name] and v not in pools[name]:
                pools[name].append(v)
    same_width: dict[int, list[str]] = {}
    for i in data:
        same_width.setdefault(i.width, []).append(i.name)

    for s in range(nseq):
        lo, hi = bounds[s], bounds[s + 1]
        if hi <= lo:
            continue
        # how long a condition is held: the constants of the designs, three times as often
        # those the reference compares a counter with (`fall_counter >= 20`)
        durations = [c for c in timing.durations if 2 <= c <= hi - lo] * 3 + \
            [c for c in consts if 2 <= c <= hi - lo]
        style = styles[s]
        # every sequence has a seed of its own: what one sequence draws never shifts another
        srng = random.Random(_seed(seed, f"{key}\0{s}\0{style}"))
        length = hi - lo
        rst_hold = min(max(1, length // 10), 3) if timing.reset else 0
        # quiet styles: a short burst right after reset (1-bit inputs at the value opposite to
        # the one they then hold: a load pulse; data at corner values), then a long calm run
        burst = (lo + rst_hold, min(hi, lo + rst_hold + srng.randint(1, 3))) \
            if style.startswith("quiet") and length > 8 else (lo, lo)
        # reset: asserted at the start of every sequence, rare pulses in the noisy styles only
        if timing.reset:
            act = 0 if timing.reset_active_low else 1
            col = cols[timing.reset]
            pulse_p = _PULSE_P.get(style, 0.0)
            k = lo
            while k < hi:
                if k < lo + rst_hold:
                    col[k] = act
                    k += 1
                elif pulse_p and srng.random() < pulse_p:
                    for j in range(k, min(hi, k + srng.randint(1, 2))):
                        col[j] = act
                    k += 2
                else:
                    col[k] = 1 - act
                    k += 1
        if style == "repeat":
            _repeat(srng, cols, lo + rst_hold, hi, data, active, pools, hints, same_width,
                    durations)
            for spec in data:  # during reset: random values
                for j in range(lo, min(hi, lo + rst_hold)):
                    cols[spec.name][j] = srng.getrandbits(spec.width)
            continue
        for spec in data:
            col = cols[spec.name]
            if spec.width == 1:
                _one_bit(srng, col, lo, hi, style, active.get(spec.name),
                         hold_bit[spec.name] ^ (style == "quiet-inverse"), burst, durations)
            else:
                _multi_bit(srng, col, lo, hi, spec, style, pools[spec.name],
                           [n for n in same_width[spec.width] if n != spec.name], cols)
                for j in range(*burst):  # what a load pulse loads: a corner or a constant,
                    # often the largest (the longest count of a timer)
                    big = [(1 << spec.width) - 1] + pools[spec.name][-2:]
                    col[j] = srng.choice(big) if srng.random() < 0.75 else \
                        srng.choice(_corners(spec.width) + pools[spec.name])
                    if j + 1 < hi and srng.random() < 0.7:
                        col[j + 1] = col[j]
        if style == "uniform" and not timing.sequential:
            _exhaustive(srng, cols, lo, hi, data)
        p = _HINT_P.get(style, 0.0)
        if hints and p:
            k = lo + rst_hold
            while k < hi:
                if srng.random() < p:
                    h = srng.choice(hints)
                    for j in range(k, min(hi, k + srng.choice((1, 1, 2, 3)))):
                        _place(cols, h, j)
                k += 1
    return Stimulus(cols, samples, starts, styles)


def _exhaustive(rng: random.Random, cols: dict[str, list[int]], lo: int, hi: int,
                data: list[InputSpec]) -> None:
    """A combinational design with few input bits: every input combination once (in a random
    order) at the start of the sequence, when the sequence has room for all of them."""
    bits = sum(spec.width for spec in data)
    if not data or bits > 16 or (1 << bits) > hi - lo:
        return
    order = list(range(1 << bits))
    rng.shuffle(order)
    for k, v in zip(range(lo, hi), order):
        for spec in data:
            cols[spec.name][k] = v & ((1 << spec.width) - 1)
            v >>= spec.width


def _place(cols: dict[str, list[int]], hint, k: int) -> None:
    for name, lsb, w, v in hint:
        m = ((1 << w) - 1) << lsb
        cols[name][k] = (cols[name][k] & ~m) | ((v << lsb) & m)


def _one_bit(rng: random.Random, col: list[int], lo: int, hi: int, style: str,
             active: int | None, hold: int, burst: tuple[int, int],
             durations: list[int]) -> None:
    """One 1-bit input; ``active`` is a control's active value (None: not a control)."""
    k = lo
    length = hi - lo
    control = active is not None
    if style.startswith("quiet"):
        # released once: "fall for 21 cycles, then land" / "count down, then load"; a control
        # is held to the end (inactive in quiet, active in the inverse)
        pick = rng.random()
        if length <= 8 or control:
            release = hi
        elif pick < 1 / 2 and durations:  # held exactly as long as a constant says
            release = burst[1] + rng.choice(durations) + rng.randint(-1, 2)
        elif style == "quiet":
            release = hi  # held to the end
        else:
            release = rng.randint(lo + length // 2, hi)  # late
        for j in range(lo, hi):
            if j < burst[0]:
                col[j] = rng.getrandbits(1)
            elif j < burst[1] or j >= release:
                col[j] = 1 - hold
            else:
                col[j] = hold
        return
    slow = style == "mixed"  # slow square waves: a condition held for a while, then released
    if slow:
        modes: tuple[str, ...] = ("low", "high")
    elif control:  # enables and valids mostly active: transactions happen, state moves
        modes = ("active", "active", "active", "random", "inactive", "inactive")
    else:
        modes = ("random", "random", "low", "high")
    while k < hi:
        seg = rng.randint(6, max(8, length // 3)) if slow else \
            rng.randint(4, max(8, min(48, length // 4)))
        if durations and rng.random() < (0.5 if slow else 0.3) and min(durations) <= length // 2:
            # a condition held exactly as long as a constant of the design says (c-1 .. c+2
            # cycles): catches off-by-one timers and "more than N cycles" thresholds
            seg = max(1, rng.choice([c for c in durations if c <= length // 2]) +
                      rng.randint(-1, 2))
        if slow:
            mode = ("high" if col[k - 1] == 0 else "low") if k > lo else rng.choice(modes)
            if control and mode == ("high" if active else "low"):
                seg *= 2  # a control's active stretches twice as long as its inactive ones
        else:
            mode = rng.choice(modes)
            if mode == "active":
                mode = "high" if active else "low"
            elif mode == "inactive":
                mode = "low" if active else "high"
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
    k = lo
    while k < hi:
        if few and rng.random() < 0.7:
            col[k] = prev = rng.choice(few)
            k += 1
            continue
        r = rng.random() * acc
        if r < cum[0]:
            v = rng.getrandbits(w)
        elif r < cum[1]:
            v = rng.choice(corners) if rng.random() < 0.5 else _sparse(rng, w)
        elif r < cum[2]:
            v = rng.choice(pool)
            if rng.random() < 0.2 and v:  # a constant placed at another bit position
                v = (v << rng.randint(0, max(0, w - v.bit_length()))) & mask
        elif r < cum[3]:
            v = prev if k > lo else rng.getrandbits(w)
            if style in ("uniform", "mixed"):  # held for a random span
                for j in range(k, min(hi, k + rng.randint(1, 12))):
                    col[j] = v
                    k = j
        else:
            other = cols[rng.choice(peers)]
            v = other[k] if other is not col else rng.getrandbits(w)
        col[k] = v
        prev = v
        k += 1


def _repeat(rng: random.Random, cols: dict[str, list[int]], lo: int, hi: int,
            data: list[InputSpec], active: dict[str, int], pools: dict[str, list[int]],
            hints: list, same_width: dict[int, list[str]], durations: list[int]) -> None:
    """Deep history: motifs of 1-8 vectors repeated (often as many times as a constant of the
    designs says), each next motif one or two inputs away from the last (a direction flipped,
    an index changed, some enables off): train one way many times, then the other way."""
    if lo >= hi or not data:
        return
    few: dict[str, list[int]] = {}
    for spec in data:
        if spec.width > 1:
            corners = _corners(spec.width)
            pool = pools[spec.name] or corners
            few[spec.name] = [rng.choice((rng.getrandbits(spec.width), rng.choice(corners),
                                          rng.choice(pool)))
                              for _ in range(rng.randint(1, 3))]
    bits = [spec for spec in data if spec.width == 1]
    words = [spec for spec in data if spec.width > 1]
    motif: dict[str, list[int]] = {}

    def fresh(spec: InputSpec) -> int:
        if spec.width == 1:
            if spec.name in active:
                return active[spec.name] if rng.random() < 0.8 else 1 - active[spec.name]
            return rng.getrandbits(1)
        if rng.random() < 0.25:
            peers = [n for n in same_width[spec.width] if n != spec.name and motif.get(n)]
            if peers:  # the value of another input: an index equal to another index
                return rng.choice(motif[rng.choice(peers)])
        return rng.choice(few[spec.name])

    def new_motif(m: int) -> dict[str, list[int]]:
        return {spec.name: [fresh(spec) for _ in range(m)] for spec in data}

    m = rng.choice((1, 1, 1, 2, 2, 3, 4, 6, 8))
    motif = new_motif(m)
    hint_rows: dict[int, object] = {}
    short = [c for c in durations if c <= 64]
    paused: dict[str, list[int]] | None = None  # the motif to go back to after a pause
    k = lo
    while k < hi:
        if short and rng.random() < 0.5:  # as many times as a constant says (c-1 .. c+2)
            reps = max(1, rng.choice(short) + rng.randint(-1, 2))
        else:
            reps = rng.randint(2, 40)
        for _ in range(reps):
            for i in range(m):
                if k >= hi:
                    break
                for spec in data:
                    v = motif[spec.name][i]
                    if rng.random() < 0.01:  # a little noise
                        v = fresh(spec)
                    cols[spec.name][k] = v
                if i in hint_rows:
                    _place(cols, hint_rows[i], k)
                k += 1
        if paused is not None:  # the pause is over: back to the motif it interrupted
            motif, paused = paused, None
            continue
        # the next motif: sometimes a new one altogether, else one or two inputs changed
        r = rng.random()
        if r < 0.1:
            m = rng.choice((1, 1, 2, 3, 4, 6, 8))
            motif = new_motif(m)
            hint_rows = {}
            if hints and rng.random() < 0.3:
                hint_rows[rng.randrange(m)] = rng.choice(hints)
            continue
        if r < 0.25 and active:  # a pause, some enables off: the state stays while it is
            paused = motif  # looked at; then the same motif again
            motif = {n: list(v) for n, v in motif.items()}
            for name in active:
                if rng.random() < 0.5:
                    motif[name] = [1 - active[name]] * m
            continue
        for _ in range(rng.choice((1, 1, 2))):
            i = rng.randrange(m)
            if bits and (not words or rng.random() < 0.6):
                spec = rng.choice(bits)
                motif[spec.name][i] ^= 1
            else:
                spec = rng.choice(words)
                motif[spec.name][i] = fresh(spec)
