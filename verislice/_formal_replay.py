"""Replay a formal counterexample in Icarus Verilog: is the difference the prover found real?

The prover works on Yosys's model of both designs; this runs the original Verilog of the
reference and the candidate side by side in Icarus with the counterexample's inputs, cycle by
cycle (apply the inputs, let them settle, sample, then one active clock edge), and reports the
two output values in the failing cycle::

    from verislice._formal_replay import replay
    r = replay("ref.v", "gen.v", "y", result.outputs["y"].first_failure)
    r.differs, r.expected, r.actual
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ._errors import VerisliceError
from ._formal import Counterexample, FormalOptions, _include_dirs, _load, _vid
from ._frontend import Design, Source, rename_modules
from ._sandbox import run_limited, sandbox_dir

__all__ = ["Replay", "replay"]

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


def testbench(rd: Design, cd_top: str, output: str, cex: Counterexample,
              ref_top: str, gen_top: str) -> str:
    """A testbench driving both renamed tops with ``cex.trace``; prints the failing cycle."""
    ins = [p for p in rd.inputs]
    out = next((p for p in rd.outputs if p.name == output), None)
    if out is None:
        raise VerisliceError(f"output '{output}' is not an output of {rd.top}")
    clock = cex.clock
    idle, active = ("1", "0") if cex.clock_edge == "negedge" else ("0", "1")
    w = out.width
    rng = f"[{w - 1}:0] " if w > 1 else ""
    lines = ["`timescale 1ns/1ps", "module vsf_replay_tb;"]
    for p in ins:
        lines.append(f"  reg {f'[{p.width - 1}:0] ' if p.width > 1 else ''}{_vid(p.name)};")
    lines.append(f"  wire {rng}vsf_ref_o, vsf_gen_o;")
    conns = ", ".join(f".{_vid(p.name)}({_vid(p.name)})" for p in ins)
    sep = ", " if conns else ""
    lines.append(f"  {_vid(ref_top)} vsf_ref ({conns}{sep}.{_vid(output)}(vsf_ref_o));")
    lines.append(f"  {_vid(gen_top)} vsf_gen ({conns}{sep}.{_vid(output)}(vsf_gen_o));")
    lines.append("  initial begin")
    if clock:
        lines.append(f"    {_vid(clock)} = 1'b{idle};")
    for i, step in enumerate(cex.trace):
        for p in ins:
            if p.name == clock:
                continue
            lines.append(f"    {_vid(p.name)} = {p.width}'b{_bits(step.get(p.name, 'x'), p.width)};")
        lines.append("    #5;")
        if i == cex.cycle:
            lines.append('    $display("VSF_REPLAY %b %b", vsf_ref_o, vsf_gen_o);')
            lines.append("    $finish;")
            break
        if clock:
            lines.append(f"    {_vid(clock)} = 1'b{active};")
            lines.append("    #5;")
            lines.append(f"    {_vid(clock)} = 1'b{idle};")
    lines += ["  end", "endmodule", ""]
    return "\n".join(lines)


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
    """Simulate ``cex`` on the reference and the candidate; raises
    :class:`~verislice.VerisliceError` when the pair does not compile or simulate."""
    opts = FormalOptions(top_ref=top_ref, top_gen=top_gen, include_dirs=tuple(include_dirs),
                         defines=defines)
    rd = _load(ref, top_ref, opts)
    cd = _load(cand, top_gen, opts, fallback_top=rd.top)
    files = []
    for prefix, d in (("vrr_", rd), ("vrc_", cd)):
        names = set(d.modules)
        files.append("\n".join(rename_modules(s.text, prefix, names) for s in d.sources))
    tb = testbench(rd, cd.top, output, cex, "vrr_" + rd.top, "vrc_" + cd.top)
    with sandbox_dir("verislice-replay-") as tmp:
        paths = []
        for i, text in enumerate([*files, tb]):
            path = Path(tmp) / f"f{i}.sv"
            path.write_text(text, encoding="utf-8", errors="replace")
            paths.append(path.name)
        argv = ["iverilog", "-g2012", "-o", "replay.vvp", "-s", "vsf_replay_tb"]
        for d in dict.fromkeys(_include_dirs(rd, opts) + _include_dirs(cd, opts)):
            argv.append(f"-I{d}")
        for k, v in (defines or {}).items():
            argv.append(f"-D{k}" if v is None else f"-D{k}={v}")
        comp = run_limited([*argv, *paths], tmp, timeout=timeout)
        if not comp.ok:
            raise VerisliceError(f"replay does not compile: {(comp.stderr or comp.stdout).strip()}")
        sim = run_limited(["vvp", "-n", "replay.vvp"], tmp, timeout=timeout)
    m = _LINE.search(sim.stdout)
    if sim.timed_out or not m:
        raise VerisliceError(f"replay did not finish: {(sim.stderr or sim.stdout).strip()[-500:]}")
    expected, actual = m.group(1), m.group(2)
    return Replay(expected, actual, differs(expected, actual), sim.stdout)
