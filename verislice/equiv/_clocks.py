"""Several clocks (asynchronous FIFOs, synchronizers): each clock's period and phase, and the
resets of every clock domain held long enough to take.

The testbench (``_wrapper``) runs these clocks free; the stimulus (``_stimulus``) is made per
10 ns step as for one clock, then :func:`hold_resets` asserts every domain's reset together, for
as long as every clock needs to see two active edges (a synchronous reset of a slow clock would
otherwise not take, and a domain never reset stays X: don't-care for every comparison).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import replace

from ._stimulus import Stimulus

__all__ = ["HALF_PERIOD_NS", "clock_plan", "hold_resets"]

#: Half periods of the free-running clocks of a design with several clocks, in ns.
HALF_PERIOD_NS = (10, 30)
#: The stimulus step (one sample of the bus), in ps.
STEP_PS = 10_000


def clock_plan(timing, seed: int, key: str) -> tuple[tuple[str, str, int, int], ...]:
    """(name, edges, half period in ps, first edge in ps) of every clock of a design with several
    (``timing.clocks``), from the stimulus seed and the reference (``key``): the same for every
    packing of the group. Empty for designs with one clock or none."""
    if len(timing.clocks) < 2:
        return ()
    h = hashlib.blake2b(f"{seed}\0clocks\0{key}".encode(), digest_size=8).digest()
    rng = random.Random(int.from_bytes(h, "little"))
    plan = []
    for name, edges in timing.clocks:
        half = rng.randint(*HALF_PERIOD_NS)
        first = rng.randint(1, 2 * half)
        plan.append((name, edges, half * 1000, first * 1000 + 500))
    return tuple(plan)


def hold_resets(stim: Stimulus, timing, plan: tuple[tuple[str, str, int, int], ...]) -> Stimulus:
    """``stim`` with the reset (``timing.reset``) asserted from each sequence start until every
    clock of ``plan`` has had two active edges, and every other domain's reset
    (``timing.resets``) asserted exactly when it is (at each start and at its pulses)."""
    if not plan or not timing.reset:
        return stim
    ready = max(first + 4 * half for _n, _e, half, first in plan)  # ps: two periods in
    hold = -(-ready // STEP_PS) + 1
    cols = dict(stim.columns)
    act = 0 if timing.reset_active_low else 1
    main = list(cols[timing.reset])
    bounds = [*stim.starts, stim.samples]
    for lo, hi in zip(bounds, bounds[1:]):
        for k in range(lo, min(hi, lo + hold)):
            main[k] = act
    cols[timing.reset] = main
    for name, low in timing.resets:
        if name in cols:
            on, off = (0, 1) if low else (1, 0)
            cols[name] = [on if v == act else off for v in main]
    return replace(stim, columns=cols)
