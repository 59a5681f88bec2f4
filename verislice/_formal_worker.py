"""Worker process for :mod:`verislice._formal`: per-output proofs with Yosys (pyosys, in-process).

Run as ``python _formal_worker.py JOB.json EVENTS.jsonl`` in a sandbox directory. A Yosys error
(unreadable Verilog, a cell the SAT model lacks, ...) ends the whole process with exit code 1, so
the worker writes one JSON line per step to ``EVENTS.jsonl`` *before* and *after* each step and
flushes it: the parent reads how far it got, blames the step that was running, and starts a new
worker for the rest. Yosys's own log of the running proof (``sat.log``) is written as it goes, so
after a kill the parent can still read how many cycles the proof had covered. This file imports
only the standard library and pyosys (no verislice, no pyslang), so that a worker starts in ~40 ms.

Job (JSON): groups of one reference and its candidates, read one after the other. Every text is
the canonical text of the sandboxed front end, its modules already renamed per design::

    {"groups": [{"g": 0, "gold": [[file, text], ...], "gold_wrapper": text,
                 "clock": "clk" | null, "edges": "pos" | "neg" | "both" | "",
                 "reset": [["rst", 1], ...],
                 "cands": [{"key": 0, "files": [[file, text]], "wrapper": text,
                            "outputs": ["y", ...], "joint": true,
                            "ambiguity": true}]}],
     "depth": 20, "timeout": 10, "setup_limit": 20, "step_limit": 17,
     "init": "undef" | "zero", "reset_cycles": 1, "min_bounded": 4}

``min_bounded``: a proof stopped by its time limit after this many cycles from reset still
counts (BOUNDED at the cycles it covered).

Events (one JSON object per line, each with ``"t"``: seconds since the worker started)::

    {"ev": "gold", "g": 0} / {"ev": "gold_ok", "g": 0}   reading a group's reference
    {"k": 0, "ev": "setup"}                       reading the candidate, building the miter
    {"k": 0, "ev": "info", "mode": "comb" | "seq" | "seq2", "seq": bool, "clocks": [...],
     "resets": [[name, value], ...], "unsupported": null | "reason",
     "tainted": {"y": "reason"}}                 outputs no proof can be trusted for
    {"k": 0, "ev": "prove", "o": "y"}             a proof starts ("prove_all": all outputs)
    {"k": 0, "ev": "result", "o": "y", "status": "pass" | "fail" | "timeout" | "error",
     "how": "comb" | "induction" | "bounded", "depth": 20, "ms": 12.3,
     "ref_x": false,                              (pass) the reference output is never defined
     "trace": [{"signal": "bits", ...}, ...],     (fail) one dict per step: in_*, gold_*, gate_*
     "message": "..."}                            (error / timeout)
    {"k": 0, "ev": "vacuous", "o": [...]}         the assumptions of these proofs have no model
    {"k": 0, "ev": "done"}

Models. A design without state is proven for all input values (``comb``). A design with state is
checked by temporal induction from reset (``sat -tempinduct``): a base case of up to ``depth``
cycles from reset (a counterexample is a real trace from reset) and an induction step (when it
holds, the outputs are equal in every cycle for ever: PROVEN; when ``depth`` is reached first:
BOUNDED). ``seq``: one SAT step per clock cycle (inputs applied, outputs compared, one active
edge; asynchronous resets and latches act within the step, ``async2sync``). ``seq2``, used when
one step per cycle cannot express the clocking (flip-flops on both edges of the clock, on other
inputs or on internal signals, the clock used as data): two steps per cycle, the clock at its
idle level then at its active level, inputs held for the cycle, every flip-flop updated on the
edges it sees (``clk2fflogic``), outputs compared before and after the active edge, as the
simulation does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time

_START = time.perf_counter()
GOLD = "vsf_gold"
GATE = "vsf_gate"
MITER = "vsf_miter"
TOP = "vsf_top"

# Flip-flop cell types after `proc; opt_dff` and their clock / reset ports.
_FF_CLOCKED = {"$dff", "$dffe", "$adff", "$adffe", "$sdff", "$sdffe", "$sdffce", "$dffsr",
               "$dffsre", "$aldff", "$aldffe"}
_LATCHES = {"$dlatch", "$adlatch", "$dlatchsr", "$sr"}
_GLOBAL_FF = {"$ff"}
_STATE = _FF_CLOCKED | _LATCHES | _GLOBAL_FF | {"$mem", "$mem_v2", "$memwr", "$memwr_v2",
                                                "$memrd", "$memrd_v2", "$meminit",
                                                "$meminit_v2"}
# The most cycles the ambiguity and vacuity checks look at before trying the whole depth.
_SHORT = 2


class _Events:
    def __init__(self, path: str) -> None:
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def emit(self, **obj) -> None:
        obj["t"] = round(time.perf_counter() - _START, 6)
        self._fh.write(json.dumps(obj) + "\n")
        self._fh.flush()


def _yosys():
    from pyosys import libyosys as ys

    return ys


def _run(ys, design, cmd: str) -> None:
    ys.run_pass("tee -q -o step.log " + cmd, design)


def _read_files(ys, design, files, prefix: str) -> None:
    for i, (_, text) in enumerate(files):
        fname = f"{prefix}{i}.v"
        with open(fname, "w", encoding="utf-8", errors="replace") as fh:
            fh.write(text)
        _run(ys, design, f"read_verilog -sv {fname}")


def _write_json(ys, design, path: str, modules: str) -> None:
    _run(ys, design, f"select {modules}")
    _run(ys, design, f"write_json -selected {path}")
    _run(ys, design, "select -clear")


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _bit(v) -> int:
    if isinstance(v, int):
        return v & 1
    s = str(v).strip()
    return 1 if s and s[-1] == "1" else 0


# -- netlist analysis ---------------------------------------------------------------------------

_ALOAD_NOTE = (" through an asynchronous reset branch that loads a non-constant value (e.g. "
               "`negedge rst` tested as `if (rst)`): Yosys makes it a level-sensitive load, "
               "simulation runs it once per edge")


def _module_info(m: dict, clock: str | None) -> dict:
    """Clocking, state, drivers and loops of one flattened wrapper module (Yosys JSON)."""
    inputs: dict[int, tuple[str, int, int]] = {}
    outputs: dict[str, list] = {}
    tied = False  # an input bit tied to a constant or to another input: it is driven inside
    aload_signal = False  # an asynchronous load of a non-constant value
    for pname, p in m.get("ports", {}).items():
        if p["direction"] == "input":
            for i, b in enumerate(p["bits"]):
                if not isinstance(b, int) or b in inputs:
                    tied = True
                elif isinstance(b, int):
                    inputs[b] = (pname, i, len(p["bits"]))
        elif p["direction"] == "output":
            outputs[pname] = p["bits"]
    clocks, resets = set(), set()
    latches = global_ff = other_clk = state = 0
    clock_as_data = False
    drivers: dict[int, int] = {b: 1 for b in inputs}  # bit -> number of drivers
    driven_by: dict[int, list[str]] = {}
    cells = m.get("cells", {})
    clock_bits = {b for b, (n, _i, _w) in inputs.items() if n == clock}
    for cname, cell in cells.items():
        ctype = cell["type"]
        params = cell.get("parameters", {})
        conns = cell.get("connections", {})
        dirs = cell.get("port_directions", {})
        for port, bits in conns.items():
            if dirs.get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        drivers[b] = drivers.get(b, 0) + 1
                        driven_by.setdefault(b, []).append(cname)
            elif dirs.get(port) == "input" and port not in ("CLK", "EN_CLK") and \
                    any(b in clock_bits for b in bits):
                clock_as_data = True
        if ctype in _STATE:
            state += 1
        if ctype in ("$aldff", "$aldffe") and any(isinstance(b, int)
                                                  for b in conns.get("AD", [])):
            aload_signal = True
        if ctype in _LATCHES:
            latches += 1
            continue
        if ctype in _GLOBAL_FF:
            global_ff += 1
            continue
        if ctype not in _FF_CLOCKED:
            continue
        clk = conns.get("CLK", [None])[0]
        pol = _bit(params.get("CLK_POLARITY", "1"))
        if clk in inputs:
            clocks.add((inputs[clk][0], pol))
        else:
            other_clk += 1
        for port, ppol in (("ARST", "ARST_POLARITY"), ("SRST", "SRST_POLARITY")):
            if port in conns:
                b = conns[port][0]
                if b in inputs and inputs[b][2] == 1:
                    resets.add((inputs[b][0], _bit(params.get(ppol, "1"))))
    multi = {b for b, n in drivers.items() if n > 1}
    loops = _loop_bits(cells)
    tainted: dict[str, str] = {}
    if tied:
        return _info(clocks, resets, latches, global_ff, other_clk, state, clock_as_data,
                     aload_signal, {name: "an input is driven inside the design (the proof would fix its value)"
                      for name in outputs})
    if multi or loops:
        for name, bits in outputs.items():
            seen = _cone_bits(bits, cells, driven_by)
            if seen & multi:
                tainted[name] = ("a signal in its cone has several drivers (simulation makes it X "
                                 "or takes the last write; the prover would pick one)")
            elif seen & loops:
                tainted[name] = "its cone holds a combinational loop"
    return _info(clocks, resets, latches, global_ff, other_clk, state, clock_as_data,
                 aload_signal, tainted)


def _info(clocks, resets, latches, global_ff, other_clk, state, clock_as_data, aload,
          tainted) -> dict:
    return {"clocks": sorted(clocks), "resets": sorted(resets), "latches": latches,
            "global_ff": global_ff, "other_clk": other_clk, "state": state,
            "clock_as_data": clock_as_data, "aload": aload, "tainted": tainted}


def _cone_bits(start, cells: dict, driven_by: dict[int, list[str]]) -> set[int]:
    """Every bit the bits ``start`` depend on (through all cells, flip-flops included)."""
    seen: set[int] = set()
    todo = [b for b in start if isinstance(b, int)]
    while todo:
        b = todo.pop()
        if b in seen:
            continue
        seen.add(b)
        for cname in driven_by.get(b, ()):
            cell = cells[cname]
            dirs = cell.get("port_directions", {})
            for port, bits in cell.get("connections", {}).items():
                if dirs.get(port) == "input":
                    todo.extend(x for x in bits if isinstance(x, int) and x not in seen)
    return seen


def _loop_bits(cells: dict) -> set[int]:
    """Bits driven by cells on a combinational cycle (Tarjan's SCCs over the cells that are
    not state)."""
    comb = {n: c for n, c in cells.items() if c["type"] not in _STATE}
    out_of: dict[str, set[int]] = {}
    users: dict[int, list[str]] = {}
    for n, c in comb.items():
        dirs = c.get("port_directions", {})
        outs = set()
        for port, bits in c.get("connections", {}).items():
            ints = [b for b in bits if isinstance(b, int)]
            if dirs.get(port) == "output":
                outs.update(ints)
            elif dirs.get(port) == "input":
                for b in ints:
                    users.setdefault(b, []).append(n)
        out_of[n] = outs
    succ = {n: {u for b in out_of[n] for u in users.get(b, ())} for n in comb}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    loop_cells: set[str] = set()
    counter = 0
    for root in comb:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(succ[nxt])))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                scc = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    scc.append(x)
                    if x == node:
                        break
                if len(scc) > 1 or node in succ[node]:
                    loop_cells.update(scc)
    return {b for n in loop_cells for b in out_of[n]}


def _analyse(path: str, clock: str | None) -> dict:
    with open(path, encoding="utf-8") as fh:
        net = json.load(fh)
    return {mod: _module_info(net["modules"].get(mod, {}), clock) for mod in (GOLD, GATE)}


def _mode(info: dict, clock: str | None, edges: str) -> tuple[str, str | None]:
    """``comb``, ``seq`` (one step per cycle) or ``seq2`` (two), and why a design cannot be
    checked at all (None when it can)."""
    stateful = any(info[m]["state"] for m in (GOLD, GATE))
    if not stateful:
        return "comb", None
    clocks = {c for m in (GOLD, GATE) for c in info[m]["clocks"]}
    names = {c[0] for c in clocks}
    other = any(info[m]["other_clk"] for m in (GOLD, GATE))
    if clock is None and (clocks or other):
        # the reference has no clock (combinational): flip-flops of a candidate clocked by a
        # data input or an internal signal see edges when inputs change between vectors
        return "seq2", None
    if (edges == "both" or len(clocks) > 1 or other or (names and names != {clock})
            or any(info[m]["clock_as_data"] for m in (GOLD, GATE))):
        return "seq2", None
    return "seq", None


# -- the proof harness (seq2) -------------------------------------------------------------------

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*\Z")


def _vid(name: str) -> str:
    return name if _IDENT.match(name) else f"\\{name} "


def _harness(ports: dict, clock: str | None) -> str:
    """A top module around the miter that holds every input but the clock for the second step
    of each cycle (``seq2``): the solver may change inputs only between cycles, as the
    simulation's stimulus does."""
    decls, conns, body = [], [], []
    for name, p in ports.items():
        w = len(p["bits"])
        rng = f"[{w - 1}:0] " if w > 1 else ""
        decls.append(f"{p['direction']} {rng}{_vid(name)}")
        if p["direction"] == "input" and name != f"in_{clock}":
            q = _vid(f"vsf_q_{name}")
            body.append(f"  reg {rng}{q};")
            body.append(f"  always @($global_clock) {q} <= {_vid(name)};")
            body.append(f"  wire {rng}{_vid('vsf_h_' + name)} = vsf_ph ? {q} : {_vid(name)};")
            conns.append(f".{_vid(name)}({_vid('vsf_h_' + name)})")
        else:
            conns.append(f".{_vid(name)}({_vid(name)})")
    return "\n".join([f"module {TOP}(", ",\n".join("  " + d for d in decls), ");",
                      "  reg vsf_ph;", "  initial vsf_ph = 1'b0;",
                      "  always @($global_clock) vsf_ph <= ~vsf_ph;", *body,
                      f"  {MITER} vsf_m ({', '.join(conns)});", "endmodule", ""])


# -- SAT ----------------------------------------------------------------------------------------

_ROW = re.compile(r"^\s*(?:(\d+)\s+)?\\(\S+)\s+.*?(\S+)\s*$")


def _parse_model(log: str) -> list[dict[str, str]]:
    """The model table of `sat -show-ports` -> one {signal: bits} dict per time step."""
    start = log.find("Signal Name")
    if start < 0:
        return []
    steps: dict[int, dict[str, str]] = {}
    for line in log[start:].splitlines()[2:]:
        if not line.strip() or line.lstrip().startswith("Dumping"):
            continue
        if line.lstrip().startswith("----") or line.lstrip().startswith("init"):
            continue
        m = _ROW.match(line)
        if not m:
            if steps:
                break
            continue
        step = int(m.group(1)) if m.group(1) else 1
        steps.setdefault(step, {})[m.group(2)] = m.group(3).replace("-", "x")
    return [steps[s] for s in sorted(steps)]


class _Setup:
    """What the proofs of one candidate share: the model and the fixed constraints."""

    def __init__(self, job: dict, mode: str, resets, clock: str | None, edges: str) -> None:
        self.job = job
        self.mode = mode
        self.resets = resets
        self.clock = clock
        self.edges = edges
        self.top = TOP if mode == "seq2" else MITER
        self.per_cycle = 2 if mode == "seq2" else 1
        self.depth = int(job["depth"])
        self.pairs: list[tuple] | None = None  # register pairs (see _prove_spec)
        self.net: dict | None = None  # the proof's top module, Yosys JSON
        self.widths: dict[str, int] = {}  # output -> width

    @property
    def steps(self) -> int:
        return self.depth * self.per_cycle

    def constraints(self, steps: int) -> str:
        """Inputs defined, registers' start state, the reset in the first cycle(s) and, in
        ``seq2``, the clock's level in every step."""
        args = "-enable_undef -set-def-inputs"
        if self.mode == "comb":
            return args
        args += " -set-init-zero" if self.job.get("init") == "zero" else " -set-init-undef"
        cycles = int(self.job.get("reset_cycles", 1))
        for name, value in self.resets:
            for step in range(1, cycles * self.per_cycle + 1):
                args += f" -set-at {step} in_{name} {value}"
        if self.mode == "seq2" and self.clock:
            for step in range(1, steps + 1):
                args += f" -set-at {step} in_{self.clock} {self._level(step)}"
        return args

    def _level(self, step: int) -> int:
        cycle, phase = divmod(step - 1, 2)
        if self.edges == "both":
            return (cycle + phase) % 2
        idle = 1 if self.edges == "neg" else 0
        return idle ^ phase


def _cone(top: str, wires: list[str]) -> str:
    """Selection of the fan-in cones of ``wires``: the SAT problem holds only the logic the
    outputs depend on (smaller, and a cell the SAT model lacks elsewhere is no harm)."""
    parts = []
    for i, w in enumerate(wires):
        parts.append(f"{top}/w:{w} %ci*" + (" %u" if i else ""))
    return " ".join(parts)


def _sat(ys, design, log: str, args: str) -> str:
    if os.path.exists(log):
        os.remove(log)
    _run(ys, design, f"tee -q -o {log} sat {args}")
    return _read_text(log)


def _prove(ys, design, s: _Setup, outputs: list[str]) -> dict:
    """One proof of the conjunction of ``cmp_<output>`` for ``outputs``."""
    t0 = time.perf_counter()
    if s.mode != "comb":
        res = _prove_spec(ys, design, s, outputs)
        if res is not None:
            res["ms"] = (time.perf_counter() - t0) * 1000.0
            return res
    goals = " ".join(f"-prove cmp_{o} 1" for o in outputs)
    timeout = max(1, int(round(s.job["timeout"]))) if s.job.get("timeout") else 0
    cone = _cone(s.top, [f"cmp_{o}" for o in outputs])
    extra = f" -timeout {timeout}" if timeout else ""
    if s.mode == "comb":
        text = _sat(ys, design, "sat.log",
                    f"{s.constraints(0)} -show-ports{extra} {goals} {cone}")
    else:
        text = _sat(ys, design, "sat.log",
                    f"{s.constraints(s.steps)} -show-ports{extra} -tempinduct "
                    f"-maxsteps {s.steps} {goals} {cone}")
    ms = (time.perf_counter() - t0) * 1000.0
    return _outcome(text, s, ms)


_BASE = re.compile(r"Base case for induction length (\d+) proven")

# -- register correspondence ------------------------------------------------------------------
#
# Equal designs whose state the outputs do not show directly (a memory, a history register, a
# wide XOR state) defeat plain induction on the outputs: an unreachable state in which the two
# memories differ keeps the outputs equal for any number of steps; and the solver struggles to
# see that two copies of the same XOR network are equal. So before the plain proof, the worker
# pairs registers of the reference with registers of the candidate (same name and bit; else the
# same values in a simulated run from reset) and tries to prove, in one step and for every state
# in which each pair is equal (all other registers free, X included):
#   (a) every output satisfies the X rule, and
#   (b) the next value of each paired register is the same in both (both X, or the same 0/1).
# The pairs are merged for this step (the candidate's register replaced by the reference's), so
# the logic both designs share becomes one circuit (`opt`) and the solver only sees where they
# differ. A pair whose start values differ (`init`) is never made. When (a) and (b) hold, the pairs
# stay equal in every cycle from the start (induction on (b)), so by (a) the outputs are equal in
# every cycle, whatever the inputs and resets: PROVEN. A pair that fails (b) in the solver's model
# is dropped and the proof retried (a few rounds); when only outputs fail, the plain proof runs.

_TABLE_ROW = re.compile(r"^\s*(\d+|init)\s+(\S+)\s+\S+\s+\S+\s+([01xz-]+)\s*$")
_SPEC_ROUNDS = 4
_SIGNATURE_BITS = 2048  # the most unpaired register bits matched by simulation
_SIGNATURE_STEPS = 8


def _last_table(text: str) -> dict[int, dict[str, str]]:
    """The last model table in ``text`` -> {step: {signal: bits}} (``init`` rows skipped;
    a combinational model is step 1)."""
    start = text.rfind("Signal Name")
    rows: dict[int, dict[str, str]] = {}
    if start < 0:
        return rows
    for line in text[start:].splitlines()[2:]:
        stripped = line.strip()
        if not stripped or stripped.startswith("----") or stripped.startswith("init"):
            continue
        m = _TABLE_ROW.match(line)
        if not m:
            m2 = re.match(r"^\s*(\S+)\s+\S+\s+\S+\s+([01xz-]+)\s*$", line)  # no time column
            if m2 and m2.group(1).startswith(("\\", "$")):
                rows.setdefault(1, {})[m2.group(1).lstrip("\\")] = m2.group(2).replace("-", "x")
                continue
            if rows:
                break
            continue
        if m.group(1) == "init":
            continue
        rows.setdefault(int(m.group(1)), {})[m.group(2).lstrip("\\")] = \
            m.group(3).replace("-", "x")
    return rows


def _side(name: str) -> str | None:
    g, t = name.find("gold."), name.find("gate.")
    if g < 0 and t < 0:
        return None
    if t < 0 or 0 <= g < t:
        return "gold"
    return "gate"


def _rtlil_id(name: str) -> str:
    return name if name.startswith("$") else "\\" + name


def _key_digits(key) -> tuple:
    """The numbers in a register's name and its bit: a tie-break between equal signatures
    (``mem[3]`` bit 2 goes with ``store[3]`` bit 2 rather than with ``store[5]``)."""
    if key is None:
        return ()
    return (*map(int, re.findall(r"\d+", key[0])), key[1])


def _register_bits(m: dict) -> dict[str, list[dict]]:
    """Every register bit ($dff/$ff after ``dffunmap``) of each side of the proof's top module
    (Yosys JSON): cell, bit, Q/D bit ids, public name key, start value."""
    at: dict[int, list[tuple[str, int, bool, str]]] = {}
    for name, net in m.get("netnames", {}).items():
        init = str(net.get("attributes", {}).get("init", ""))
        for i, b in enumerate(net["bits"]):
            if isinstance(b, int):
                v = init[len(init) - 1 - i] if init and len(init) == len(net["bits"]) else "x"
                at.setdefault(b, []).append((name, i, bool(net.get("hide_name")), v))
    mux_out: dict[int, list[int]] = {}  # an asynchronous reset puts a $mux after the register
    for cell in m.get("cells", {}).values():
        if cell["type"] == "$mux":
            y = cell["connections"].get("Y", [])
            for port in ("A", "B"):
                for i, b in enumerate(cell["connections"].get(port, [])):
                    if isinstance(b, int) and i < len(y) and isinstance(y[i], int):
                        mux_out.setdefault(b, []).append(y[i])
    out: dict[str, list[dict]] = {"gold": [], "gate": []}
    for cname, cell in m.get("cells", {}).items():
        if cell["type"] not in ("$dff", "$ff"):
            continue
        qs, ds = cell["connections"].get("Q", []), cell["connections"].get("D", [])
        side = _side(cname) or next((_side(n) for b in qs + ds if isinstance(b, int)
                                     for n, _k, _h, _v in at.get(b, ()) if _side(n)), None)
        if side is None:
            continue
        for i, (q, d) in enumerate(zip(qs, ds)):
            if not isinstance(q, int):
                continue
            public = [(n, k) for n, k, hidden, _v in at.get(q, ()) if not hidden]
            if not public:
                public = [(n, k) for y in mux_out.get(q, ()) for n, k, hidden, _v
                          in at.get(y, ()) if not hidden]
            key = None
            if public:
                n, k = public[0]
                cut = n.find(side + ".")
                key = (n[cut + 5:], k) if cut >= 0 else None
            init = next((v for _n, _k, _h, v in at.get(q, ()) if v in "01"), "x")
            out[side].append({"cell": cname, "i": i, "q": q, "d": d, "key": key,
                              "init": init})
    return out


def _register_pairs(ys, design, s: _Setup) -> list[tuple[dict, dict]]:
    """(reference bit, candidate bit) pairs: same name and bit, then bits left that take the
    same values in a simulated run (:func:`_signature_pairs`); never two different start
    values."""
    m = s.net or {}
    regs = _register_bits(m)
    by_key = {r["key"]: r for r in regs["gate"] if r["key"] is not None}
    pairs, used = [], set()
    for g in regs["gold"]:
        t = by_key.get(g["key"]) if g["key"] is not None else None
        if t is not None and t["q"] != g["q"] and id(t) not in used:
            pairs.append((g, t))
            used.update((id(g), id(t)))
    left = {side: [r for r in regs[side] if id(r) not in used] for side in regs}
    if left["gold"] and left["gate"] and \
            len(left["gold"]) + len(left["gate"]) <= _SIGNATURE_BITS:
        pairs += _signature_pairs(ys, design, s, m, left["gold"], left["gate"])
    return [(g, t) for g, t in pairs if g["init"] == t["init"]]


def _id(name: str):
    return _yosys().IdString(name)


def _signature_pairs(ys, design, s: _Setup, m: dict, gold: list[dict], gate: list[dict]):
    """Register bits paired by their values in one simulated run from reset with random inputs
    (the solver with every input fixed): the same sequence of values (X included) in both, ties
    broken by the numbers in their names."""
    import random

    rnd = random.Random(20250101)
    steps = min(s.steps, _SIGNATURE_STEPS * s.per_cycle)
    resets = {f"in_{n}": v for n, v in s.resets}
    clock = f"in_{s.clock}" if s.mode == "seq2" and s.clock else None
    sets = []
    for pname, p in m.get("ports", {}).items():
        if p["direction"] != "input" or pname == clock:
            continue
        w = len(p["bits"])
        for t in range(1, steps + 1):
            if pname in resets:
                if t <= int(s.job.get("reset_cycles", 1)) * s.per_cycle:
                    continue  # asserted by the constraints
                v = resets[pname] if rnd.random() < 0.08 else 1 - resets[pname]
                sets.append(f"-set-at {t} {pname} {v}")
            else:
                sets.append(f"-set-at {t} {pname} {w}'b{rnd.getrandbits(w):0{w}b}")
    _run(ys, design, "design -save vsf_sig")
    mod = design.module(_id("\\" + s.top))
    names = []
    for k, r in enumerate(gold + gate):
        cell = mod.cell(_id(_rtlil_id(r["cell"])))
        w = mod.addWire(_id(f"\\vsf_sig{k}"), 1)
        mod.connect(ys.SigSpec(w), cell.getPort(_id("\\Q")).extract(r["i"], 1))
        names.append(f"vsf_sig{k}")
    shows = " ".join(f"-show {n}" for n in names)
    text = _sat(ys, design, "satx.log",
                f"{s.constraints(steps)} -seq {steps} {' '.join(sets)} {shows} {s.top}")
    _run(ys, design, "design -load vsf_sig")
    if "model found" not in text or "no model found" in text:
        return []
    table = _last_table(text)
    if not table:
        return []

    def signature(k: int) -> tuple | None:
        vals = tuple(table[t].get(f"vsf_sig{k}") for t in sorted(table))
        return None if None in vals else vals

    by_sig: dict[tuple, list[dict]] = {}
    for k, r in enumerate(gold):
        sig = signature(k)
        if sig is not None:
            by_sig.setdefault(sig, []).append(r)
    pairs = []
    for k, r in enumerate(gate):
        options = by_sig.get(signature(len(gold) + k) or (), [])
        if not options:
            continue
        digits = _key_digits(r["key"])
        best = min(range(len(options)),
                   key=lambda j: (_key_digits(options[j]["key"]) != digits, j))
        pairs.append((options.pop(best), r))
    return pairs


def _speculate(ys, design, s: _Setup, pairs: list[tuple[dict, dict]]) -> None:
    """Merge each pair for one proof step: the candidate's register output is replaced by the
    reference's; probes ``vsf_pg<k>``/``vsf_pt<k>`` carry both next values (kept by `opt`)."""
    mod = design.module(_id("\\" + s.top))
    q_id, d_id, keep = _id("\\Q"), _id("\\D"), _id("\\keep")
    for k, (g, t) in enumerate(pairs):
        gcell = mod.cell(_id(_rtlil_id(g["cell"])))
        tcell = mod.cell(_id(_rtlil_id(t["cell"])))
        gq = gcell.getPort(q_id).extract(g["i"], 1)
        for name, cell, r in ((f"vsf_pg{k}", gcell, g), (f"vsf_pt{k}", tcell, t)):
            w = mod.addWire(_id("\\" + name), 1)
            w.set_bool_attribute(keep, True)
            mod.connect(ys.SigSpec(w), cell.getPort(d_id).extract(r["i"], 1))
        tq_port = tcell.getPort(q_id)
        tq = tq_port.extract(t["i"], 1)
        cut = mod.addWire(_id(f"\\vsf_cut{k}"), 1)
        tq_port.replace(t["i"], ys.SigSpec(cut))
        tcell.setPort(q_id, tq_port)
        mod.connect(tq, gq)


def _prove_spec(ys, design, s: _Setup, outputs: list[str]) -> dict | None:
    """The one-step proof with register pairs (see above): a pass (``induction``) or None (no
    conclusion: prove the plain way)."""
    if s.net is None:
        _write_json(ys, design, "top.json", s.top)
        with open("top.json", encoding="utf-8") as fh:
            s.net = json.load(fh)["modules"].get(s.top, {})
    inside = _cone_of(s.net, [f"cmp_{o}" for o in outputs])
    if not any(c["type"] in ("$dff", "$ff") and
               any(b in inside for b in c["connections"].get("Q", []))
               for c in s.net.get("cells", {}).values()):
        return None  # no register in the cone: nothing to pair
    if s.pairs is None:
        s.pairs = _register_pairs(ys, design, s)
    timeout = max(1, int(round(s.job["timeout"]))) if s.job.get("timeout") else 0
    extra = f" -timeout {timeout}" if timeout else ""
    for _round in range(_SPEC_ROUNDS):
        pairs = [p for p in s.pairs if p[0]["q"] in inside or p[1]["q"] in inside]
        if not pairs:
            return None
        _run(ys, design, "design -save vsf_spec")
        try:
            _speculate(ys, design, s, pairs)
            _run(ys, design, "opt -keepdc -nodffe -nosdff")
            goals = " ".join(f"-prove cmp_{o} 1" for o in outputs)
            goals += " " + " ".join(f"-prove vsf_pg{k} vsf_pt{k}" for k in range(len(pairs)))
            shows = " ".join(f"-show vsf_pg{k} -show vsf_pt{k}" for k in range(len(pairs)))
            cone = (_cone(s.top, [f"cmp_{o}" for o in outputs] + ["vsf_pg*", "vsf_pt*"])
                    + f" {s.top}/t:$*ff* %d {s.top}/t:$*latch* %d")  # registers: free
            text = _sat(ys, design, "sat.log",
                        f"-enable_undef -set-def-inputs -show-ports {shows}{extra} "
                        f"{goals} {cone}")
        finally:
            _run(ys, design, "design -load vsf_spec")
        if "SUCCESS!" in text:
            return {"status": "pass", "how": "induction", "depth": 0, "pairs": len(pairs)}
        if "FAIL!" not in text:
            return None  # time limit or error
        table = _last_table(text)
        row = table.get(min(table)) if table else None
        if row is None:
            return None
        wrong = {k for k in range(len(pairs))
                 if row.get(f"vsf_pg{k}") != row.get(f"vsf_pt{k}")}
        if not wrong:
            return None  # only outputs fail: no pair to blame
        if 2 * len(wrong) > len(pairs):
            s.pairs = []  # most pairs are wrong: the state differs, do not spend more rounds
            return None
        bad = {(id(pairs[k][0]), id(pairs[k][1])) for k in wrong}
        s.pairs = [p for p in s.pairs if (id(p[0]), id(p[1])) not in bad]
    return None


def _cone_of(m: dict, ports: list[str]) -> set[int]:
    """Bits the output ports ``ports`` of module ``m`` (Yosys JSON) depend on."""
    cells = m.get("cells", {})
    driven_by: dict[int, list[str]] = {}
    for cname, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            if dirs.get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        driven_by.setdefault(b, []).append(cname)
    start = [b for p in ports for b in m.get("ports", {}).get(p, {}).get("bits", [])]
    return _cone_bits(start, cells, driven_by)


def _outcome(text: str, s: _Setup, ms: float) -> dict:
    if s.mode == "comb":
        if "SUCCESS!" in text:
            return {"status": "pass", "how": "comb", "ms": ms}
        if "TIMEOUT" in text:
            return {"status": "timeout", "ms": ms, "depth": 0}
        if "FAIL!" in text:
            return {"status": "fail", "ms": ms, "trace": _parse_model(text)}
        return {"status": "error", "ms": ms, "message": text.strip().splitlines()[-1:] or ""}
    if "model found for base case: FAIL!" in text:
        at = text.find("model found for base case: FAIL!")
        return {"status": "fail", "ms": ms, "trace": _parse_model(text[at:])}
    if "Induction step proven: SUCCESS!" in text:
        return {"status": "pass", "how": "induction", "ms": ms, "depth": _cycles(text, s)}
    if "Reached maximum number of time steps" in text:
        return {"status": "pass", "how": "bounded", "ms": ms, "depth": s.depth}
    if "TIMEOUT" in text:
        return {"status": "timeout", "ms": ms, "depth": _cycles(text, s)}
    return {"status": "error", "ms": ms, "message": text.strip().splitlines()[-1:] or ""}


def _cycles(text: str, s: _Setup) -> int:
    """Whole cycles from reset the base case has covered, from a (possibly partial) log."""
    found = _BASE.findall(text)
    return (int(found[-1]) if found else 0) // s.per_cycle


def _sane(ys, design, s: _Setup, outputs: list[str], steps: int, defined: list[str]) -> bool:
    """Is there a run of ``steps`` steps (one for ``comb``) that meets every constraint of the
    proofs, in the cones of ``outputs``, with the reference outputs ``defined`` fully defined in
    the last step? Without ``defined``: are the proofs not vacuous?"""
    wires = [f"cmp_{o}" for o in outputs] + [f"gold_{o}" for o in defined]
    if s.mode == "comb":
        cond = " ".join(f"-set-def gold_{o}" for o in defined)
        args = f"{s.constraints(0)} {cond}"
    else:
        cond = " ".join(f"-set-def-at {steps} gold_{o}" for o in defined)
        args = f"{s.constraints(steps)} -seq {steps} {cond}"
    text = _sat(ys, design, "satx.log", f"{args} {_cone(s.top, wires)}")
    return "SAT solving finished - model found" in text


def _checks(ys, design, s: _Setup, outputs: list[str], job: dict,
            ambiguity: bool = True) -> tuple[set[str], bool]:
    """After passing proofs: the outputs whose reference value is never defined (AMBIGUOUS,
    as in simulation; not asked when simulation already saw them defined), and whether the
    proofs were vacuous (no run of their assumptions exists in the outputs' cones: the proof
    would hold for nothing). One solver call usually answers both: a run of ``_SHORT`` cycles
    from reset in which every reference output is defined in the last cycle; only when there
    is none are the two asked apart (an output then gets the whole depth to become defined).
    Without the ambiguity question, one cycle shows the assumptions can be met."""
    _limit(job.get("step_limit"))
    if s.mode == "comb":
        short = first = 0
    else:
        short = min(s.steps, _SHORT * s.per_cycle)
        first = s.per_cycle
    if not ambiguity:
        return set(), not _sane(ys, design, s, outputs, first, [])
    if _sane(ys, design, s, outputs, short, outputs):
        return set(), False
    if not _sane(ys, design, s, outputs, first, []):
        return set(), True
    ambiguous = set()
    for o in outputs:
        if _all_x(ys, design, s, o):
            ambiguous.add(o)
    return ambiguous, False


def _all_x(ys, design, s: _Setup, output: str) -> bool:
    """Is every bit of the reference output X for every input (in every cycle up to the
    depth)? Simulation's AMBIGUOUS: no sample with a single defined bit."""
    width = int(s.widths.get(output, 1))
    goal = f"-prove-x gold_{output} {width}'b{'x' * width}"
    seq = f" -seq {s.steps}" if s.mode != "comb" else ""
    text = _sat(ys, design, "satx.log", f"{s.constraints(s.steps if seq else 0)}{seq} {goal} "
                                        f"{_cone(s.top, [f'gold_{output}'])}")
    return "SUCCESS!" in text


def _proc(ys, design) -> None:
    """``proc`` with X kept as simulation keeps it: ``-ifx`` (X in case items and if conditions
    as in Verilog), and an X constant assigned in a branch of a latch-making block stays X.
    ``proc_rmdead`` runs although ``proc -ifx`` skips it: without it a case item that repeats an
    earlier constant label is not dead for ``proc_mux -ifx`` and ``proc_rom``, and the later item
    wins where Verilog takes the first (a `bugs_case` mutant was PROVEN so); the price is that a
    ``default`` after every value of the selector is dropped, which matters only for an X
    selector. ``proc_dlatch`` would drop such a
    branch as "don't care" (holding the old value where Icarus drives X), so the X constants of
    the multiplexers are hidden from it (``$anyseq`` placeholders, deleted right after: their
    nets become undriven, and undriven nets become X)."""
    for cmd in ("proc_clean", "proc_rmdead", "proc_prune", "proc_init", "proc_arst", "proc_rom",
                "proc_mux -ifx", "setundef -anyseq t:$mux t:$pmux", "proc_dlatch", "proc_dff",
                "proc_memwr", "proc_clean", "opt_expr -keepdc", "delete t:$anyseq"):
        _run(ys, design, cmd)


def _drop_async_edges(design, modules: set[str]) -> None:
    """The approximate model of a candidate whose asynchronous reset branch loads a value that
    Yosys cannot model edge-triggered (``always @(posedge clk, negedge rst) if (rst) ...``:
    a level-sensitive load, or an error): every process of ``modules`` with several edge
    events keeps its first one only (the clock, by custom), so the others become data. Only
    differences that Icarus then confirms on the real texts are reported (the parent replays
    them); a proof on this model proves nothing."""
    ys = _yosys()
    edge = {ys.SyncType.STp, ys.SyncType.STn, ys.SyncType.STe}
    for name in modules:
        mod = design.module(ys.IdString(name))
        if mod is None:
            continue
        for proc in mod.processes.values():
            syncs = proc.syncs
            edges = [i for i in range(len(syncs)) if syncs[i].type in edge]
            if len(edges) < 2:
                continue
            for i in reversed(edges[1:]):
                syncs.pop(i)
            proc.syncs = syncs


def _limit(seconds: float | None) -> None:
    """Arm (or with ``None`` disarm) a SIGALRM with its default action: the kernel ends this
    process after ``seconds`` even inside Yosys's C++ code; the parent blames the running step."""
    signal.alarm(0 if seconds is None else max(1, int(seconds + 0.999)))


# -- one group, one candidate -------------------------------------------------------------------


def _run_group(ys, design, ev: _Events, job: dict, group: dict) -> None:
    g = group["g"]
    ev.emit(ev="gold", g=g)
    _limit(job.get("setup_limit"))
    _run(ys, design, "design -reset")
    _read_files(ys, design, group["gold"], f"g{g}_ref")
    _read_files(ys, design, [["<wrapper>", group["gold_wrapper"]]], f"g{g}_refwrap")
    _run(ys, design, "design -save vsf_base")
    _limit(None)
    ev.emit(ev="gold_ok", g=g)
    for cand in group["cands"]:
        _run_candidate(ys, design, ev, job, group, cand)


def _run_candidate(ys, design, ev: _Events, job: dict, group: dict, cand: dict) -> None:
    key = cand["key"]
    clock, edges = group.get("clock"), group.get("edges") or ""
    ev.emit(k=key, ev="setup")
    _limit(job.get("setup_limit"))
    _run(ys, design, "design -load vsf_base")
    before = {m.str() for m in design.modules_.keys()}
    _read_files(ys, design, cand["files"], f"c{key}_")
    _read_files(ys, design, [["<wrapper>", cand["wrapper"]]], f"c{key}_wrap")
    _run(ys, design, "hierarchy -check")
    if cand.get("approx"):
        _drop_async_edges(design, {m.str() for m in design.modules_.keys()} - before)
    # Icarus simulates a latch in an always_comb (state kept on an incomplete case);
    # Yosys refuses it. Model it like `always @*`, as the simulation does.
    _run(ys, design, "setattr -unset always_comb")
    _proc(ys, design)
    _run(ys, design, f"flatten {GOLD} {GATE}")
    # an undriven net is z in simulation (never equal to a 0/1 reference): make it X rather
    # than a free variable the solver may choose (X constants the proc step hid come back here)
    _run(ys, design, f"setundef -undriven -undef {GOLD} {GATE}")
    ys.run_pass("tee -q -o check.log check", design)
    check = _read_text("check.log")
    _run(ys, design, "chformal -remove")
    _run(ys, design, "delete t:$print")
    _run(ys, design, "memory")
    _run(ys, design, "opt_clean")
    _run(ys, design, "opt_dff -nodffe -keepdc")
    _write_json(ys, design, "netlist.json", f"{GOLD} {GATE}")
    info = _analyse("netlist.json", clock)
    mode, unsupported = _mode(info, clock, edges)
    tainted = dict(info[GATE]["tainted"])
    for o, why in info[GOLD]["tainted"].items():
        tainted.setdefault(o, "reference: " + why)
    if not tainted and ("conflicting" in check or "logic loop" in check):
        # `check` saw what the netlist analysis did not ("multiple conflicting drivers",
        # "Drivers conflicting with a constant", a loop): trust no proof of this candidate
        why = ("several drivers of one signal" if "conflicting" in check
               else "a combinational loop")
        if why.endswith("loop") and any(info[m]["aload"] for m in (GOLD, GATE)):
            why += _ALOAD_NOTE
            if info[GATE]["aload"] and not cand.get("approx"):
                # the candidate's asynchronous load makes the loop: retry it once with its
                # asynchronous edges ignored, for differences Icarus can confirm
                ev.emit(k=key, ev="info", mode=mode, seq=True, clocks=[], resets=[],
                        unsupported=None, tainted={}, approx_retry=f"the design has {why}")
                _limit(None)
                ev.emit(k=key, ev="done")
                return
        tainted = {o: f"the design has {why}" for o in cand["outputs"]}
    resets = [(str(n), int(v)) for n, v in group.get("reset") or []]
    clocks = sorted({tuple(c) for m in info.values() for c in m["clocks"]})
    ev.emit(k=key, ev="info", mode=mode, seq=mode != "comb", clocks=clocks, resets=resets,
            unsupported=unsupported, tainted=tainted)
    if unsupported:
        _limit(None)
        ev.emit(k=key, ev="done")
        return
    if mode == "seq2":
        _run(ys, design, "clk2fflogic")
    else:
        _run(ys, design, "async2sync")
    _run(ys, design, f"miter -equiv -flatten -make_outputs -make_outcmp -ignore_gold_x "
                     f"{GOLD} {GATE} {MITER}")
    if mode == "seq2":
        _write_json(ys, design, "miter.json", MITER)
        with open("miter.json", encoding="utf-8") as fh:
            ports = json.load(fh)["modules"][MITER]["ports"]
        _read_files(ys, design, [["<harness>", _harness(ports, clock)]], f"c{key}_top")
        _run(ys, design, f"hierarchy -top {TOP}")
        _run(ys, design, "proc")
        _run(ys, design, f"flatten {TOP}")
    else:
        _run(ys, design, f"hierarchy -top {MITER}")
    # Merge the logic the two designs share (keeping X behaviour): equal parts of a
    # candidate then cost nothing to prove.
    _run(ys, design, "opt -keepdc")
    if mode != "comb":
        _run(ys, design, "dffunmap")  # enables and resets into D: the next value is D
    s = _Setup(job, mode, resets, clock, edges)
    with open("netlist.json", encoding="utf-8") as fh:
        s.widths = {n: len(p["bits"]) for n, p in json.load(fh)["modules"][GOLD]["ports"].items()}
    outputs = [o for o in cand["outputs"] if o not in tainted]
    passed: list[str] = []
    bounded: set[str] = set()  # stopped by the time limit after enough cycles
    if len(outputs) > 1 and cand.get("joint", True):
        # Mostly right candidates: one proof for all outputs, per output only if it fails.
        ev.emit(k=key, ev="prove_all")
        _limit(job.get("step_limit"))
        res = _prove(ys, design, s, outputs)
        if res["status"] == "pass":
            for output in outputs:
                res1 = dict(res, ms=res["ms"] / len(outputs), joint=True)
                ev.emit(k=key, ev="result", o=output, **res1)
            passed, outputs = list(outputs), []
        elif res["status"] == "fail":
            # the outputs that differ in the counterexample are decided; the others are not
            last = res["trace"][-1] if res["trace"] else {}
            for output in list(outputs):
                if last.get(f"cmp_{output}") == "0":
                    ev.emit(k=key, ev="result", o=output, **dict(res, ms=0.0, joint=True))
                    outputs.remove(output)
        elif res["status"] == "timeout" and res.get("depth", 0) >= job.get("min_bounded", 1):
            for output in outputs:
                ev.emit(k=key, ev="result", o=output, **dict(res, ms=res["ms"] / len(outputs)))
            bounded.update(outputs)
            outputs = []
    for output in outputs:
        ev.emit(k=key, ev="prove", o=output)
        _limit(job.get("step_limit"))
        res = _prove(ys, design, s, [output])
        ev.emit(k=key, ev="result", o=output, **res)
        if res["status"] == "pass":
            passed.append(output)
        elif res["status"] == "timeout" and res.get("depth", 0) >= job.get("min_bounded", 1):
            bounded.add(output)
    passed += [o for o in cand["outputs"] if o not in passed and o in bounded]
    if passed:
        ev.emit(k=key, ev="checks", o=passed)
        ambiguous, vacuous = _checks(ys, design, s, passed, job, cand.get("ambiguity", True))
        if vacuous:
            ev.emit(k=key, ev="vacuous", o=passed)
        for output in sorted(ambiguous):
            ev.emit(k=key, ev="ambiguous", o=output)
    _limit(None)
    ev.emit(k=key, ev="done")


def main(argv: list[str]) -> int:
    job_path, events_path = argv[1], argv[2]
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    ev = _Events(events_path)
    ys = _yosys()
    design = ys.Design()
    for group in job["groups"]:
        _run_group(ys, design, ev, job, group)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
