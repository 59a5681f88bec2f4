"""Worker process for :mod:`verislice._formal`: per-output proofs with Yosys (pyosys, in-process).

Run as ``python _formal_worker.py JOB.json EVENTS.jsonl`` in a sandbox directory. A Yosys error
(unreadable Verilog, a cell the SAT model lacks, ...) ends the whole process with exit code 1, so
the worker writes one JSON line per step to ``EVENTS.jsonl`` *before* and *after* each step and
flushes it: the parent reads how far it got, blames the step that was running, and starts a new
worker for the rest. This file imports only the standard library and pyosys (no verislice, no
pyslang), so that a worker starts in ~40 ms.

Job (JSON): groups of one reference and its candidates, read one after the other::

    {"groups": [{"g": 0, "gold": [[file, text], ...], "gold_wrapper": text,
                 "include_dirs": [...], "reset": null | [{"name": "rst", "value": 1 | 0 | null}],
                 "cands": [{"key": 0, "files": [[file, text]], "wrapper": text,
                            "include_dirs": [...], "outputs": ["y", ...], "joint": true}]}],
     "defines": {"N": "4"}, "depth": 20, "timeout": 10, "setup_limit": 20, "step_limit": 17,
     "init": "undef" | "zero", "reset_cycles": 1}

``reset: null`` means "take the inputs Yosys finds driving a reference flip-flop's reset".

Events (one JSON object per line, each with ``"t"``: seconds since the worker started)::

    {"ev": "gold", "g": 0} / {"ev": "gold_ok", "g": 0}   reading a group's reference
    {"k": 0, "ev": "setup"}                       reading the candidate, building the miter
    {"k": 0, "ev": "info", "seq": true, "clocks": [...], "resets": [[name, value], ...],
     "unsupported": null | "reason"}
    {"k": 0, "ev": "prove", "o": "y"}             a proof starts
    {"k": 0, "ev": "result", "o": "y", "status": "pass" | "fail" | "timeout", "ms": 12.3,
     "ref_x": false,                              (pass) the reference output is never defined
     "trace": [{"signal": "bits", ...}, ...]}     (fail) one dict per cycle: in_*, gold_*, gate_*
    {"k": 0, "ev": "done"}
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

# Flip-flop cell types after `proc; opt_dff` and their clock / reset ports.
_FF_CLOCKED = {"$dff", "$dffe", "$adff", "$adffe", "$sdff", "$sdffe", "$sdffce", "$dffsr",
               "$dffsre", "$aldff", "$aldffe"}
_LATCHES = {"$dlatch", "$adlatch", "$dlatchsr", "$sr"}
_GLOBAL_FF = {"$ff"}


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


def _read_files(ys, design, files, prefix: str, include_dirs, defines) -> None:
    opts = "-sv"
    for inc in include_dirs:
        opts += f" -I {_quote(inc) if any(c.isspace() for c in inc) else inc}"
    for name, value in (defines or {}).items():
        opts += f" -D{name}" if value is None else f" -D{name}={value}"
    for i, (_, text) in enumerate(files):
        fname = f"{prefix}{i}.v"
        with open(fname, "w", encoding="utf-8", errors="replace") as fh:
            fh.write(text)
        _run(ys, design, f"read_verilog {opts} {fname}")


def _quote(s: str) -> str:
    return '"' + s.replace('"', '\\"') + '"'


def _analyse(path: str) -> dict:
    """Flip-flops of the gold and gate wrappers from Yosys's JSON netlist."""
    with open(path, encoding="utf-8") as fh:
        net = json.load(fh)
    out = {}
    for mod in (GOLD, GATE):
        m = net["modules"].get(mod, {})
        inputs = {}
        for pname, p in m.get("ports", {}).items():
            if p["direction"] == "input":
                for i, b in enumerate(p["bits"]):
                    inputs[b] = (pname, i, len(p["bits"]))
        clocks, resets, latches, global_ff, internal_clk = set(), set(), 0, 0, 0
        for cell in m.get("cells", {}).values():
            ctype = cell["type"]
            params = cell.get("parameters", {})
            conns = cell.get("connections", {})
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
                internal_clk += 1
            for port, ppol in (("ARST", "ARST_POLARITY"), ("SRST", "SRST_POLARITY")):
                if port in conns:
                    b = conns[port][0]
                    if b in inputs and inputs[b][2] == 1:
                        resets.add((inputs[b][0], _bit(params.get(ppol, "1"))))
        out[mod] = {"clocks": sorted(clocks), "resets": sorted(resets), "latches": latches,
                    "global_ff": global_ff, "internal_clk": internal_clk}
    return out


def _bit(v) -> int:
    if isinstance(v, int):
        return v & 1
    s = str(v).strip()
    return 1 if s and s[-1] == "1" else 0


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def _unsupported(info: dict) -> str | None:
    clocks = {c for m in info.values() for c in m["clocks"]}
    names = {c[0] for c in clocks}
    if len(names) > 1:
        return f"several clocks ({', '.join(sorted(names))}): bounded proofs support one clock"
    if len(clocks) > 1:
        return (f"flip-flops on both edges of '{next(iter(names))}': bounded proofs model one "
                "clock edge per cycle")
    for mod, who in ((GOLD, "reference"), (GATE, "candidate")):
        if info[mod]["internal_clk"]:
            return f"the {who} clocks flip-flops from an internal signal (generated clock)"
    return None


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
            continue
        step = int(m.group(1)) if m.group(1) else 1
        steps.setdefault(step, {})[m.group(2)] = m.group(3).replace("-", "x")
    return [steps[s] for s in sorted(steps)]


def _resets(given, detected) -> list[tuple[str, int]]:
    """The reset inputs to assert in the first cycle(s): the user's, else those Yosys found
    driving an asynchronous or synchronous reset of a reference flip-flop. A given reset with
    no value takes the detected polarity, else active-low when its name ends in ``n``/``_b``."""
    if given is None:
        return [tuple(r) for r in detected]
    found = dict(detected)
    out = []
    for r in given:
        value = r.get("value")
        if value is None:
            low = r["name"].lower().endswith(("n", "_b", "_l"))
            value = found.get(r["name"], 0 if low else 1)
        out.append((r["name"], int(value)))
    return out


def _sat_args(job: dict, seq: bool, resets) -> str:
    args = "-enable_undef -set-def-inputs -show-ports"
    if job.get("timeout"):
        args += f" -timeout {max(1, int(round(job['timeout'])))}"
    if seq:
        args += f" -seq {int(job['depth'])}"
        args += " -set-init-zero" if job.get("init") == "zero" else " -set-init-undef"
        for name, value in resets:
            for step in range(1, int(job.get("reset_cycles", 1)) + 1):
                args += f" -set-at {step} in_{name} {value}"
    return args


def _cone(wires: list[str]) -> str:
    """Selection of the fan-in cones of ``wires`` in the miter: the SAT problem holds only the
    logic an output depends on (smaller, and a cell the SAT model lacks elsewhere is no harm)."""
    parts = []
    for i, w in enumerate(wires):
        parts.append(f"{MITER}/w:{w} %ci*" + (" %u" if i else ""))
    return " ".join(parts)


def _prove(ys, design, job: dict, seq: bool, resets, outputs: list[str]) -> dict:
    """One `sat -prove` of the conjunction of ``cmp_<output>`` for ``outputs``."""
    log = "sat.log"
    if os.path.exists(log):
        os.remove(log)
    goals = " ".join(f"-prove cmp_{o} 1" for o in outputs)
    t0 = time.perf_counter()
    _run(ys, design, f"tee -q -o {log} sat {_sat_args(job, seq, resets)} {goals} "
                     f"{_cone([f'cmp_{o}' for o in outputs])}")
    ms = (time.perf_counter() - t0) * 1000.0
    with open(log, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    if "SUCCESS!" in text:
        return {"status": "pass", "ms": ms}
    if "TIMEOUT" in text:
        return {"status": "timeout", "ms": ms}
    if "FAIL!" in text:
        return {"status": "fail", "ms": ms, "trace": _parse_model(text)}
    return {"status": "error", "ms": ms, "message": text.strip().splitlines()[-1:] or ""}


def _always_x(ys, design, job: dict, seq: bool, resets, output: str) -> bool:
    """True when no input (sequence) makes the reference output fully defined (in the last
    cycle): simulation would call it AMBIGUOUS, and a proof of equality means nothing."""
    _limit(job.get("step_limit"))
    log = "satx.log"
    if os.path.exists(log):
        os.remove(log)
    args = _sat_args(job, seq, resets).replace(" -show-ports", "")
    cond = f"-set-def-at {int(job['depth'])} gold_{output}" if seq else f"-set-def gold_{output}"
    _run(ys, design, f"tee -q -o {log} sat {args} {cond} {_cone([f'gold_{output}'])}")
    with open(log, encoding="utf-8", errors="replace") as fh:
        return "no model found" in fh.read()


def _limit(seconds: float | None) -> None:
    """Arm (or with ``None`` disarm) a SIGALRM with its default action: the kernel ends this
    process after ``seconds`` even inside Yosys's C++ code; the parent blames the running step."""
    signal.alarm(0 if seconds is None else max(1, int(seconds + 0.999)))


def _run_group(ys, design, ev: _Events, job: dict, group: dict) -> None:
    g = group["g"]
    inc, defs = group.get("include_dirs", []), job.get("defines") or {}
    ev.emit(ev="gold", g=g)
    _limit(job.get("setup_limit"))
    _run(ys, design, "design -reset")
    _read_files(ys, design, group["gold"], f"g{g}_ref", inc, defs)
    _read_files(ys, design, [["<wrapper>", group["gold_wrapper"]]], f"g{g}_refwrap", [], {})
    _run(ys, design, "design -save vsf_base")
    _limit(None)
    ev.emit(ev="gold_ok", g=g)
    for cand in group["cands"]:
        _run_candidate(ys, design, ev, job, group, cand)


def _run_candidate(ys, design, ev: _Events, job: dict, group: dict, cand: dict) -> None:
    inc, defs = cand.get("include_dirs", []), job.get("defines") or {}
    key = cand["key"]
    ev.emit(k=key, ev="setup")
    _limit(job.get("setup_limit"))
    _run(ys, design, "design -load vsf_base")
    _read_files(ys, design, cand["files"], f"c{key}_", inc, defs)
    _read_files(ys, design, [["<wrapper>", cand["wrapper"]]], f"c{key}_wrap", [], {})
    _run(ys, design, "hierarchy -check")
    # Icarus simulates a latch in an always_comb (state kept on an incomplete case);
    # Yosys refuses it. Model it like `always @*`, as the simulation does.
    _run(ys, design, "setattr -unset always_comb")
    _run(ys, design, "proc")
    _run(ys, design, f"flatten {GOLD} {GATE}")
    # A net with two drivers is X in simulation where they disagree; the prover would pick
    # one of them and could call a wrong candidate PROVEN: no proof for such a design.
    ys.run_pass("tee -q -o check.log check", design)
    conflict = "multiple conflicting drivers" in _read_text("check.log")
    _run(ys, design, "chformal -remove")
    _run(ys, design, "delete t:$print")
    _run(ys, design, "memory")
    _run(ys, design, "opt_clean")
    _run(ys, design, "opt_dff -nodffe")
    _run(ys, design, "write_json netlist.json")
    info = _analyse("netlist.json")
    unsupported = _unsupported(info) or (
        "a net has several conflicting drivers (simulation makes it X where they disagree; "
        "the prover would pick one)" if conflict else None)
    seq = any(info[m]["clocks"] or info[m]["latches"] or info[m]["global_ff"]
              or info[m]["internal_clk"] for m in (GOLD, GATE))
    resets = _resets(group.get("reset"), info[GOLD]["resets"])
    clocks = sorted({tuple(c) for m in info.values() for c in m["clocks"]})
    ev.emit(k=key, ev="info", seq=seq, clocks=clocks, resets=resets, unsupported=unsupported)
    if unsupported:
        _limit(None)
        ev.emit(k=key, ev="done")
        return
    _run(ys, design, "async2sync")
    _run(ys, design, f"miter -equiv -flatten -make_outputs -make_outcmp -ignore_gold_x "
                     f"{GOLD} {GATE} {MITER}")
    _run(ys, design, f"hierarchy -top {MITER}")
    # Merge the logic the two designs share (keeping X behaviour): equal parts of a
    # candidate then cost nothing to prove.
    _run(ys, design, "opt -keepdc")
    outputs = list(cand["outputs"])
    if len(outputs) > 1 and cand.get("joint", True):
        # Mostly right candidates: one proof for all outputs, per output only if it fails.
        ev.emit(k=key, ev="prove_all")
        _limit(job.get("step_limit"))
        res = _prove(ys, design, job, seq, resets, outputs)
        if res["status"] == "pass":
            ref_x = {o: _always_x(ys, design, job, seq, resets, o) for o in outputs}
            for output in outputs:
                ev.emit(k=key, ev="result", o=output, status="pass",
                        ms=res["ms"] / len(outputs), joint=True, ref_x=ref_x[output])
            outputs = []
    for output in outputs:
        ev.emit(k=key, ev="prove", o=output)
        _limit(job.get("step_limit"))
        res = _prove(ys, design, job, seq, resets, [output])
        if res["status"] == "pass":
            res["ref_x"] = _always_x(ys, design, job, seq, resets, output)
        ev.emit(k=key, ev="result", o=output, **res)
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
