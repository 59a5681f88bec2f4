"""The generated testbench: every reference and candidate of one simulation in one module.

All inputs come from one stimulus bus read from ``stim.hex``; each cycle the testbench changes the
bus away from the active clock edge, waits, compares every candidate output with its reference in
Verilog (just before the active edge), gives the clock its edge, and compares again just before
the inputs change (so a candidate clocked on the wrong edge cannot hide). Combinational designs
are compared once per vector. The X rule is applied bit by bit in ``vs_bad``: a sample
differs when some bit is 0/1 in the reference and anything else (other value, X, Z) in the
candidate; reference X/Z bits are don't-care. Results go to ``results.txt`` (trusted code; the
candidates may not use file tasks unless the user allows them).

Designs with several clocks (asynchronous FIFOs, synchronizers) get free-running clocks
instead, each with its own random period and phase (:func:`._clocks.clock_plan`): half periods
of 10-30 ns, every edge at a half nanosecond (``x.5``), so no edge ever meets an input change
(at whole multiples of 10 ns) or a sample (4 and 9 ns into each step): nothing races. Each half
period is at least two samples long, so every value a clocked output takes between two edges of its clock is
sampled, compared and counted like any other sample.

Every engine runs this one testbench and its one driver (the ``initial`` block that steps through
the preloaded stimulus with its own clocks). It starts when ``go`` is high and raises ``done``
after the results file is written: with the vvp engine (``-DVERISLICE_STANDALONE``) ``go``
starts high and the driver ends the run with ``$finish``; with cocotb, the cocotb entry
(``verislice/equiv/_cocotb``) sets ``go``, waits for ``done`` and stops the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._batch import SimGroup

__all__ = ["Layout", "PairSlot", "build_testbench", "stimulus_hex", "TB_TOP"]

TB_TOP = "verislice_tb"
_SIMPLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
_CLOCK_WIRE = {"pos": "clk_pos", "neg": "clk_neg", "both": "clk_both"}


def _clock_names(g: SimGroup) -> set[str]:
    return {c[0] for c in g.clocks} | ({g.timing.clock} if g.timing.clock else set())


def _ident(name: str) -> str:
    return name if _SIMPLE.match(name) else f"\\{name} "


@dataclass(frozen=True)
class PairSlot:
    """Index ``i`` of the result arrays: candidate ``key``'s output ``output`` (``width`` bits)."""

    key: tuple[int, int]
    gid: int
    output: str
    width: int


@dataclass
class Layout:
    """Where things are in the testbench: bus slices, result slots, and which line is whose."""

    bus_width: int
    slices: dict[tuple[int, str], tuple[int, int]]  # (gid, input) -> (lo, width)
    pairs: list[PairSlot]
    refs: list[tuple[int, str, int]]  # result slot -> (gid, output, width)
    line_owner: dict[int, tuple[int, int]]  # testbench line -> candidate key
    max_width: int


def build_testbench(groups: list[SimGroup], samples: int, nonce: str) -> tuple[str, Layout]:
    slices: dict[tuple[int, str], tuple[int, int]] = {}
    off = 0
    for g in groups:
        clocks = _clock_names(g)
        for name, width in g.inputs:
            if name in clocks:
                continue
            slices[(g.gid, name)] = (off, width)
            off += width
    bus_width = max(off, 1)
    pairs: list[PairSlot] = []
    refs: list[tuple[int, str, int]] = []
    max_width = 1
    for g in groups:
        for name, width in g.outputs:
            refs.append((g.gid, name, width))
            max_width = max(max_width, width)
        for c in g.cands:
            for name, width in g.outputs:
                if name in c.outputs:
                    pairs.append(PairSlot(c.key, g.gid, name, width))
    n_pairs, n_refs = max(len(pairs), 1), max(len(refs), 1)

    lines: list[str] = []
    owner: dict[int, tuple[int, int]] = {}
    add = lines.append
    add("`timescale 1ns/1ps")
    add(f"module {TB_TOP};")
    add(f"  reg [{bus_width - 1}:0] stim [0:{samples - 1}];")
    add(f"  reg [{bus_width - 1}:0] bus;")
    add("  reg clk_pos = 1'b0, clk_neg = 1'b1, clk_both = 1'b0;")
    add("  reg done = 1'b0;")
    # the driver below starts when go is high: at once with the vvp engine; with cocotb, when the
    # cocotb entry (verislice/equiv/_cocotb) sets it, before any process runs, so the driver
    # starts at the same point of time 0 in both engines
    add("`ifdef VERISLICE_STANDALONE")
    add("  reg go = 1'b1;")
    add("`else")
    add("  reg go;")
    add("`endif")
    add("  integer k, i, fd;")
    add("  reg vs_hit;")
    add(f"  integer cnt [0:{n_pairs - 1}];")
    add(f"  integer first [0:{n_pairs - 1}];")
    add(f"  reg [{max_width - 1}:0] fexp [0:{n_pairs - 1}];")
    add(f"  reg [{max_width - 1}:0] fact [0:{n_pairs - 1}];")
    add(f"  integer refx [0:{n_refs - 1}];")
    add(f"  integer refk [0:{n_refs - 1}];")
    add(f"  function vs_bad(input [{max_width - 1}:0] r, input [{max_width - 1}:0] c, "
        "input integer w);")
    add("    integer b;")
    add("    begin")
    add("      vs_bad = 1'b0;")
    add("      for (b = 0; b < w; b = b + 1)")
    add("        if ((r[b] === 1'b0 || r[b] === 1'b1) && c[b] !== r[b]) vs_bad = 1'b1;")
    add("    end")
    add("  endfunction")

    ref_wire: dict[tuple[int, str], str] = {}
    cand_wire: dict[tuple[tuple[int, int], str], str] = {}
    def inputs_of(g: SimGroup, tag: str) -> list[str]:
        """Port connections of one design's inputs, each through a copy of its own: Icarus
        collapses an input port into the net it is connected to, so a design that forces or
        drives its own input port would otherwise force the shared clock or stimulus bus of
        every other design. A continuous assignment is a one-way driver."""
        conns = []
        free = {c[0]: f"g{g.gid}_ck{i}" for i, c in enumerate(g.clocks)}
        for idx, (name, w) in enumerate(g.inputs):
            if name in free:
                src = free[name]
            elif name == g.timing.clock:
                src = _CLOCK_WIRE[g.timing.edges]
            else:
                lo, w = slices[(g.gid, name)]
                src = f"bus[{lo + w - 1}:{lo}]"
            add(f"  wire [{w - 1}:0] {tag}_i{idx};")
            add(f"  assign {tag}_i{idx} = {src};")
            conns.append(f".{_ident(name)}({tag}_i{idx})")
        return conns

    for g in groups:
        add(f"  // group {g.gid}: {g.timing.describe()}")
        for i, (_name, edges, half, first) in enumerate(g.clocks):
            # free-running from the driver's start (go), first edge at a half nanosecond
            reg = f"g{g.gid}_ck{i}"
            add(f"  reg {reg} = 1'b{1 if edges == 'neg' else 0};")
            add(f"  initial begin wait (go === 1'b1); #({first / 1000:.3f}); "
                f"forever begin {reg} = ~{reg}; #({half / 1000:.3f}); end end")
        conns_in = inputs_of(g, f"g{g.gid}_r")
        outs = []
        for i, (name, w) in enumerate(g.outputs):
            wire = f"g{g.gid}_r{i}"
            ref_wire[(g.gid, name)] = wire
            add(f"  wire [{w - 1}:0] {wire};")
            outs.append(f".{_ident(name)}({wire})")
        add(f"  {g.ref_sim_top} g{g.gid}_ref ({', '.join(conns_in + outs)});")
        for j, c in enumerate(g.cands):
            start = len(lines) + 1
            conns_in = inputs_of(g, f"g{g.gid}_c{j}")
            outs = []
            for i, (name, w) in enumerate(g.outputs):
                if name not in c.outputs:
                    continue
                wire = f"g{g.gid}_c{j}_{i}"
                cand_wire[(c.key, name)] = wire
                add(f"  wire [{w - 1}:0] {wire};")
                outs.append(f".{_ident(name)}({wire})")
            add(f"  {c.sim_top} g{g.gid}_c{j} ({', '.join(conns_in + outs)});")
            for ln in range(start, len(lines) + 1):
                owner[ln] = c.key

    seq_gid = {g.gid for g in groups if g.timing.clock}
    add("  task vs_sample(input integer ph);")
    add("    begin")
    for p, slot in enumerate(pairs):
        r, c = ref_wire[(slot.gid, slot.output)], cand_wire[(slot.key, slot.output)]
        start = len(lines) + 1
        gate = "" if slot.gid in seq_gid else "ph == 0 && "
        # nested ifs: Icarus evaluates both sides of && and ||; the bit loop only runs for a
        # sample where the values differ and the reference has X/Z bits
        add(f"      if ({gate}{r} !== {c}) begin")
        add(f"        if ((^{r}) !== 1'bx) vs_hit = 1'b1; else vs_hit = vs_bad({r}, {c}, "
            f"{slot.width});")
        add("        if (vs_hit) begin")
        add(f"          cnt[{p}] = cnt[{p}] + 1;")
        add(f"          if (first[{p}] < 0) begin first[{p}] = 2 * k + ph; fexp[{p}] = {r}; "
            f"fact[{p}] = {c}; end")
        add("        end")
        add("      end")
        for ln in range(start, len(lines) + 1):
            owner[ln] = slot.key
    for q, (gid, name, _w) in enumerate(refs):
        r = ref_wire[(gid, name)]
        gate = "" if gid in seq_gid else "ph == 0 && "
        add(f"      if ({gate}(^{r}) === 1'bx) refx[{q}] = refx[{q}] + 1;")
        add(f"      if ({gate}(&({r} ^ {r})) === 1'b0) refk[{q}] = refk[{q}] + 1;")
    add("    end")
    add("  endtask")
    add("  initial begin")
    add(f"    for (i = 0; i < {n_pairs}; i = i + 1) begin cnt[i] = 0; first[i] = -1; "
        "fexp[i] = 0; fact[i] = 0; end")
    add(f"    for (i = 0; i < {n_refs}; i = i + 1) begin refx[i] = 0; refk[i] = 0; end")
    add('    $readmemh("stim.hex", stim);')
    add("    wait (go === 1'b1);")
    add(f"    for (k = 0; k < {samples}; k = k + 1) begin")
    add("      bus = stim[k];")
    add("      #4 vs_sample(0);")
    add("      #1 begin clk_pos = 1'b1; clk_neg = 1'b0; clk_both = ~clk_both; end")
    add("      #4 vs_sample(1);")
    add("      #1 begin clk_pos = 1'b0; clk_neg = 1'b1; end")
    add("    end")
    add('    fd = $fopen("results.txt", "w");')
    add(f"    for (i = 0; i < {len(pairs)}; i = i + 1)")
    add('      $fdisplay(fd, "P %0d %0d %0d %b %b", i, cnt[i], first[i], fexp[i], fact[i]);')
    add(f"    for (i = 0; i < {len(refs)}; i = i + 1)")
    add('      $fdisplay(fd, "R %0d %0d %0d", i, refx[i], refk[i]);')
    add(f'    $fdisplay(fd, "END {nonce}");')
    add("    $fclose(fd);")
    add("    done = 1'b1;")
    add("`ifdef VERISLICE_STANDALONE")
    add("    $finish;")
    add("`endif")
    add("  end")
    add("endmodule")
    add("`resetall")
    layout = Layout(bus_width, slices, pairs, refs, owner, max_width)
    return "\n".join(lines) + "\n", layout


def stimulus_hex(groups: list[SimGroup], layout: Layout, samples: int) -> str:
    """``stim.hex``: one bus value per sample, hex, for ``$readmemh``."""
    digits = (layout.bus_width + 3) // 4
    bus = [0] * samples
    for g in groups:
        clocks = _clock_names(g)
        for name, _w in g.inputs:
            if name in clocks:
                continue
            lo, _ = layout.slices[(g.gid, name)]
            col = g.stimulus.columns[name]
            for k in range(samples):
                bus[k] |= col[k] << lo
    fmt = f"0{digits}x"
    return "\n".join(format(v, fmt) for v in bus) + "\n"
