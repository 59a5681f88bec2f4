"""Replay a formal counterexample in Icarus Verilog: is the difference the prover found real?

The prover works on Yosys's model of both designs; this runs the reference and the candidate
side by side in Icarus (the same canonical, screened texts the simulation compiles) with the
counterexample's inputs, cycle by cycle, and reports the two output values where the prover said
they differ::

    from verislice._formal_replay import replay
    r = replay("ref.v", "gen.v", "y", result.outputs["y"].first_failure)
    r.differs, r.expected, r.actual

A cycle (10 time units): the inputs change at 0; outputs are sampled at 4 (``after_edge``
false); the active clock edge comes at 5; outputs are sampled again at 8 (``after_edge``); the
clock returns to its idle level at 9, before the next inputs (a flip-flop on the other edge
samples the inputs of the cycle that ends, as in the prover's model). A clock on both edges
toggles once per cycle, at 5, rising first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ._errors import VerisliceError
from ._formal import Counterexample, _vid
from ._frontend import Design, Source
from ._sandbox import run_limited, sandbox_dir

if TYPE_CHECKING:
    from .equiv._batch import SimCandidate, SimGroup

__all__ = ["Replay", "replay", "replay_prepared"]

_LINE = re.compile(r"^VSF_REPLAY (\S+) (\S+)$", re.MULTILINE)


@dataclass(frozen=True)
class Replay:
    """Icarus's values of the output in the counterexample's failing cycle.

    ``differs``: some bit is 0/1 in the reference and different in the candidate (the same rule
    as the prover: a reference X bit is don't-care).
    """

    expected: str
    actual: str
    differs: bool
    log: str = ""


def differs(expected: str, actual: str) -> bool:
    """A bit where ``expected`` is 0/1 and ``actual`` is something else (X rule)."""
    e, a = expected.lower(), actual.lower()
    if len(e) != len(a):
        return True
    return any(x in "01" and x != y for x, y in zip(e, a))


def _bits(value: str, width: int) -> str:
    v = value.lower().replace("-", "x")
    return (v.rjust(width, "0") if len(v) < width else v[-width:]) or "0" * width


def testbench(inputs: Sequence[tuple[str, int]], output: str, width: int, cex: Counterexample,
              ref_top: str, gen_top: str) -> str:
    """A testbench driving both tops with ``cex.trace``; prints the failing sample."""
    clock = cex.clock
    both = cex.clock_edge == "both"
    idle, active = ("1", "0") if cex.clock_edge == "negedge" else ("0", "1")
    rng = f"[{width - 1}:0] " if width > 1 else ""
    lines = ["`timescale 1ns/1ps", "module vsf_replay_tb;"]
    for name, w in inputs:
        # the clock starts at its idle level without an edge (a declaration initialiser makes
        # no event in Icarus, an assignment at time 0 would: x -> 1 is a rising edge)
        init = f" = 1'b{idle}" if name == clock else ""
        lines.append(f"  reg {f'[{w - 1}:0] ' if w > 1 else ''}{_vid(name)}{init};")
    lines.append(f"  wire {rng}vsf_ref_o, vsf_gen_o;")
    conns = ", ".join(f".{_vid(n)}({_vid(n)})" for n, _w in inputs)
    sep = ", " if conns else ""
    lines.append(f"  {_vid(ref_top)} vsf_ref ({conns}{sep}.{_vid(output)}(vsf_ref_o));")
    lines.append(f"  {_vid(gen_top)} vsf_gen ({conns}{sep}.{_vid(output)}(vsf_gen_o));")
    show = ['    $display("VSF_REPLAY %b %b", vsf_ref_o, vsf_gen_o);', "    $finish;"]
    lines.append("  initial begin")
    for i, step in enumerate(cex.trace):
        for name, w in inputs:
            if name == clock:
                continue
            lines.append(f"    {_vid(name)} = {w}'b{_bits(step.get(name, 'x'), w)};")
        lines.append("    #4;")
        last = i == cex.cycle
        if last and (not clock or not cex.after_edge):
            lines += show
            break
        if clock:
            lines.append(f"    #1 {_vid(clock)} = " + (f"~{_vid(clock)};" if both
                                                        else f"1'b{active};"))
            lines.append("    #3;")
            if last:
                lines += show
                break
            lines.append("    #1;" if both else f"    #1 {_vid(clock)} = 1'b{idle};")
            lines.append("    #1;")
        else:
            lines.append("    #6;")
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


def replay_prepared(group: SimGroup, cand: SimCandidate, output: str, cex: Counterexample,
                    timeout: float = 30.0) -> Replay:
    """Replay ``cex`` on a group and candidate of the equiv front end (their canonical texts,
    renamed per design); raises :class:`~verislice.VerisliceError` when they do not compile or
    simulate."""
    width = next((w for n, w in group.outputs if n == output), None)
    if width is None:
        raise VerisliceError(f"output '{output}' is not an output of {group.ref_top}")
    tb = testbench(group.inputs, output, width, cex, group.ref_sim_top, cand.sim_top)
    with sandbox_dir("verislice-replay-") as tmp:
        paths = []
        for i, text in enumerate([group.ref_text, cand.text, tb]):
            path = Path(tmp) / f"f{i}.sv"
            path.write_text(text, encoding="utf-8", errors="replace")
            paths.append(path.name)
        argv = ["iverilog", "-g2012", "-o", "replay.vvp", "-s", "vsf_replay_tb"]
        comp = run_limited([*argv, *paths], tmp, timeout=timeout)
        if not comp.ok:
            raise VerisliceError(f"replay does not compile: {(comp.stderr or comp.stdout).strip()}")
        sim = run_limited(["vvp", "-n", "replay.vvp"], tmp, timeout=timeout)
    m = _LINE.search(sim.stdout)
    if sim.timed_out or not m:
        raise VerisliceError(f"replay did not finish: {(sim.stderr or sim.stdout).strip()[-500:]}")
    expected, actual = m.group(1), m.group(2)
    return Replay(expected, actual, differs(expected, actual), sim.stdout)


def replay(
    ref: str | os.PathLike[str] | Source | Design,
    cand: str | os.PathLike[str] | Source | Design,
    output: str,
    cex: Counterexample,
    *,
    top_ref: str | None = None,
    top_gen: str | None = None,
    include_dirs: Sequence[str | os.PathLike[str]] = (),
    defines: Mapping[str, str | None] | None = None,
    timeout: float = 30.0,
) -> Replay:
    """Simulate ``cex`` on the reference and the candidate (through the equiv front end, as a
    check would); raises :class:`~verislice.VerisliceError` when the pair does not compile or
    simulate."""
    from .equiv._api import _prepare_group
    from .equiv._options import EquivOptions

    opts = EquivOptions(top_ref=top_ref, top_gen=top_gen,
                        include_dirs=tuple(str(d) for d in include_dirs), defines=defines)
    prep = _prepare_group(0, ref, [cand], opts)
    if prep.ref_error:
        raise VerisliceError(prep.ref_error)
    if prep.group is None:
        bad = prep.verdicts.get(0)
        raise VerisliceError(f"the candidate cannot be replayed: "
                             f"{bad.verdict + ': ' + bad.message if bad else 'no text'}")
    return replay_prepared(prep.group, prep.group.cands[0], output, cex, timeout=timeout)
