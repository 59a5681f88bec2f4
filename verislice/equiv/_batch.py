"""Plain, picklable descriptions of what one simulation runs (sent to worker processes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._detect import Timing
from ._stimulus import Stimulus

__all__ = ["SimCandidate", "SimGroup"]


@dataclass(frozen=True)
class SimCandidate:
    """A candidate that passed the static checks, its modules renamed for the shared testbench."""

    key: tuple[int, int]  # (group index, candidate index) in the caller's input
    name: str  # file name or label, for messages
    top: str  # top module as written
    sim_top: str  # top module after renaming
    prefix: str  # the renaming prefix (stripped from compiler messages)
    text: str  # renamed source text
    outputs: dict[str, int]  # ref outputs the candidate has with the same width -> width
    notes: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # MISSING/WIDTH outputs
    macros: tuple[str, ...] = ()  # macros the text defines (undefined after it: no leaking)


@dataclass(frozen=True)
class SimGroup:
    """One reference with the candidates of this simulation."""

    gid: int
    ref_name: str
    ref_top: str
    ref_sim_top: str
    ref_prefix: str
    ref_text: str
    inputs: tuple[tuple[str, int], ...]  # every reference input, clock included
    outputs: tuple[tuple[str, int], ...]
    timing: Timing
    stimulus: Stimulus
    cands: tuple[SimCandidate, ...] = ()
    ref_macros: tuple[str, ...] = ()
    # several clocks: (name, edges, half period in ps, first edge in ps) each, free-running
    # (``_wrapper.clock_plan``); empty: the testbench's one clock, stepped with the stimulus
    clocks: tuple[tuple[str, str, int, int], ...] = ()

    def with_cands(self, cands) -> SimGroup:
        from dataclasses import replace

        return replace(self, cands=tuple(cands))
