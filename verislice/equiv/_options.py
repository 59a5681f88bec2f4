"""Options of an equivalence check. The same dataclass drives the Python API and the CLI."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

__all__ = ["EquivOptions", "auto_cycles"]

ENGINES = ("cocotb", "vvp", "verilator")
METHODS = ("sim", "formal", "both")

#: The automatic cycle budget (``cycles=None``): its floor (also the vectors of a combinational
#: design), its step and ceiling, and the hidden state a design may have before it grows.
CYCLES_FLOOR = 1000
CYCLES_STEP = 500
CYCLES_CEILING = 4000
STATE_BITS_FREE = 32
#: A counter of w bits (``q <= q + 1``) needs up to 2**w cycles to run through its range; the
#: quiet sequences are made that long for w up to this many bits.
COUNTER_BITS_MAX = 12
#: The default of ``EquivOptions.cycles``: ``None``, automatic (:func:`auto_cycles`): the batch
#: API sizes each reference's stimulus with :meth:`EquivOptions.cycles_for` and runs each
#: simulation at its groups' length.
DEFAULT_CYCLES: int | None = None


def long_run(counter_bits: int) -> int:
    """Length of a quiet sequence that lets ``counter_bits`` bits of counters run through their
    range once from reset: 2**w (w at most ``COUNTER_BITS_MAX``), an eighth more, and 32 cycles
    for the reset and the burst."""
    if counter_bits <= 0:
        return 0
    span = 1 << min(counter_bits, COUNTER_BITS_MAX)
    return span + span // 8 + 32


def auto_cycles(sequential: bool, hidden_bits: int = 0, counter_bits: int = 0) -> int:
    """The automatic cycle budget of a design (``EquivOptions.cycles=None``)::

        combinational:  1000 vectors
        sequential:     base  = 1000 * (1 + log2(hidden_bits / 32))   (1000 up to 32 bits)
                        extra = 2 * (long_run(counter_bits) - 2/9 * base)   (when positive)
                        base + extra, rounded up to a multiple of 500, at most 4000

    ``hidden_bits``: state the outputs do not show (a predictor's table, an FSM's state
    register); ``counter_bits``: the bits of the design's counters added up
    (``_detect.state_of``). ``extra`` makes both quiet sequences (2 of the 9 shares each)
    long enough for the counters to run through their range once.
    """
    if not sequential:
        return CYCLES_FLOOR
    base = CYCLES_FLOOR * (1 + max(0.0, math.log2(max(hidden_bits, 1) / STATE_BITS_FREE)))
    extra = max(0.0, 2 * (long_run(counter_bits) - base * 2 / 9))
    n = math.ceil((base + extra) / CYCLES_STEP) * CYCLES_STEP
    return max(CYCLES_FLOOR, min(CYCLES_CEILING, n))


def _opt(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class EquivOptions:
    """How a reference and its candidates are simulated and compared.

    Every field has a CLI flag of the same name (``cycles`` -> ``--cycles``). ``None`` means
    "detect" for the clock/reset fields and "automatic" for ``cycles`` and ``timeout``.
    """

    cycles: int | None = _opt(DEFAULT_CYCLES,
                              "Samples per simulation: clock cycles, or input vectors for a "
                              "combinational design. None: automatic, per reference: 1000, plus "
                              "1000 per doubling of the state its outputs do not show beyond 32 "
                              "bits, plus what its counters need to run through their range; "
                              "rounded up to 500, at most 4000.")
    seed: int = _opt(0, "Random seed of the stimulus (same seed, same vectors).")
    sequences: int = _opt(6, "Independent stimulus sequences the samples are split into, each "
                             "starting with reset asserted and using its own mix of value styles.")
    clock: str | None = _opt(None, "Clock input (default: detected from edge-triggered event "
                                   "controls; '' for none: treat the design as combinational).")
    reset: str | None = _opt(None, "Reset input (default: detected by use and name; '' for none).")
    reset_active_low: bool | None = _opt(None, "Reset polarity (default: detected).")
    reset_async: bool | None = _opt(None, "Reset is asynchronous (default: detected).")
    top_ref: str | None = _opt(None, "Top module of the reference (default: the module no other "
                                     "instantiates).")
    top_gen: str | None = _opt(None, "Top module of each candidate (default: detected; when "
                                     "ambiguous, the one named like the reference's top).")
    allow_file_io: bool = _opt(False, "Allow file and system tasks ($fopen, $readmemh, $system, "
                                      "...) in candidates instead of rejecting them.")
    timeout: float | None = _opt(None, "Wall-clock limit of one simulation in seconds "
                                       "(default: 10 s plus a share per candidate and cycle; "
                                       "while isolating a hanging candidate, parts of the batch "
                                       "get at most 10x the slowest finished simulation).")
    batch_size: int = _opt(50, "Most candidates per simulation (several groups are packed into "
                               "one simulation up to this size).")
    engine: str = _opt("cocotb", "Simulation driver: 'cocotb' (cocotb test on Icarus), 'vvp' "
                                 "(the same generated testbench run by vvp alone; faster start) "
                                 "or 'verilator' (the same testbench built with Verilator 5: "
                                 "SystemVerilog Icarus cannot read; 2-state). A reference "
                                 "Icarus cannot compile is run with Verilator when it is "
                                 "installed.")
    max_memory_bits: int = _opt(1 << 24, "Candidates whose variables hold more bits than this are "
                                         "rejected (huge memories).")
    memory_mb: int = _opt(2048, "Address-space limit of each compiler/simulator process (MiB).")
    include_dirs: tuple[str, ...] = _opt((), "Include directories of every design (-I).")
    defines: Mapping[str, str | None] | None = _opt(None, "Macro definitions of every design (-D).")
    parameters: Mapping[str, str] | None = _opt(None, "Top-level parameter overrides of every "
                                                      "design, NAME -> VALUE (-P NAME=VALUE): "
                                                      "written into each design's text as the "
                                                      "parameter's default.")
    keep_dir: bool = _opt(False, "Keep the simulation directories (their paths go in messages).")
    method: str = _opt("sim", "sim: random simulation; formal: Yosys proofs of every output; "
                              "both: simulate, then prove the outputs simulation calls MATCH.")

    def __post_init__(self) -> None:
        from .._errors import VerisliceError

        if self.cycles is not None and self.cycles < 1:
            raise VerisliceError("--cycles must be at least 1")
        if self.sequences < 1:
            raise VerisliceError("--sequences must be at least 1")
        if self.batch_size < 1:
            raise VerisliceError("--batch-size must be at least 1")
        if self.engine not in ENGINES:
            raise VerisliceError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.method not in METHODS:
            raise VerisliceError(f"--method must be sim, formal or both, not {self.method!r}")
        object.__setattr__(self, "include_dirs", tuple(str(d) for d in self.include_dirs))
        if self.timeout is not None and self.timeout <= 0:
            raise VerisliceError("--timeout must be positive")

    def with_(self, **changes: Any) -> EquivOptions:
        return replace(self, **changes)

    @classmethod
    def from_kwargs(cls, options: EquivOptions | None = None, **kw: Any) -> EquivOptions:
        """``options`` updated with keyword arguments (unknown names raise ``TypeError``)."""
        names = {f.name for f in fields(cls)}
        bad = sorted(set(kw) - names)
        if bad:
            raise TypeError(f"unknown equivalence option(s): {', '.join(bad)}")
        base = options or cls()
        return replace(base, **kw) if kw else base

    def cycles_for(self, timing) -> int:
        """Samples for a reference with this ``timing`` (a :class:`~._detect.Timing`):
        ``cycles`` when given, else :func:`auto_cycles` from its hidden state and counters."""
        if self.cycles is not None:
            return self.cycles
        return auto_cycles(timing.sequential, timing.hidden_bits, timing.counter_bits)

    def sim_timeout(self, candidates: int) -> float:
        """Wall-clock limit for one simulation of ``candidates`` candidates."""
        if self.timeout is not None:
            return self.timeout
        return 10.0 + 2e-5 * (self.cycles or CYCLES_CEILING) * (1 + candidates)
