"""Slice soundness by simulation: the original design and its slices on the same random stimulus.

For each design (a top module of a real corpus, or a VerilogEval reference) and each sliced signal
(every output and a sample of internal signals of the top module), :func:`run_batch` builds one
testbench that instantiates the original and one ``ports="all"`` slice per signal, drives them all
from the same inputs, and compares the sliced signal of the slice with the same signal of the
original (hierarchical references: this testbench is trusted code, not a candidate) with ``!==``
(X and Z included) twice per step. The stimulus (:func:`_stimulus`) has phases: reset asserted,
random inputs, inputs held, sparse changes (resets included), a reset pulse, random again. Each
clock (1-bit inputs named like ``clk``) has its own period and phase; inputs change and are
compared away from every clock edge.

Icarus runs Verilog; Verilator (``--binary --timing``, 2-state) runs SystemVerilog.

Used by ``tests/test_slice_soundness.py`` (a sample) and ``tools/soundness_slices.py`` (all).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import verislice
import verislice._graph
from verislice._frontend import module_names, rename_modules

REPO = Path(__file__).resolve().parents[1]
RTL_CORPUS = Path(os.environ.get("SALV_RTL", REPO.parent / "shared" / "rtl" / "rtl_corpus.jsonl"))

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLOCK = re.compile(r"(^|_)(clk|clock)(_|$)|^clk|clk$", re.I)
_RESET = re.compile(r"rst|reset", re.I)
_ACTIVE_LOW = re.compile(r"(n|ni|n_i|_b)$", re.I)
STEP = 20  # inputs change at STEP*k + 3, checks at +7 and +17, clock edges at multiples of 10


@dataclass
class Case:
    """One design to check: ``top`` in ``files`` (compile order)."""

    name: str
    corpus: str
    files: list[Path]
    top: str
    include_dirs: list[Path] = field(default_factory=list)
    lang: str = "verilog"  # verilog: Icarus; sv: Verilator
    rename: bool = False  # single-file designs batched together: prefix their modules

    @property
    def defines(self) -> dict[str, str]:
        """The macros the simulator predefines: the slice is cut for the same active branches
        as the simulator sees (darkriscv's config.vh tests `__ICARUS__`)."""
        return {"VERILATOR": "1"} if self.lang == "sv" else {"__ICARUS__": "1"}


@dataclass
class Check:
    """One sliced signal of one design and what became of it."""

    case: Case
    signal: str
    status: str = "pending"  # ok | mismatch | refused | compile | nosim
    detail: str = ""
    share: float | None = None  # non-blank lines kept / non-blank lines of the top's file
    slice_text: str = ""


# --- corpora --------------------------------------------------------------------------------------


def rtl_rows(path: Path = RTL_CORPUS) -> list[dict]:
    with path.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def layout_rtl(rows: Iterable[dict], root: Path) -> Path:
    """Write the corpus's source files under ``root/<corpus>/<path>`` (never into the repo)."""
    for r in rows:
        if r["kind"] != "source":
            continue
        p = root / r["corpus"] / r["path"]
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(r["text"], encoding="utf-8")
    return root


def rtl_cases(root: Path, corpora: Sequence[str] = ("verilog-axis", "darkriscv", "cv32e40p"),
              tops: dict[str, Sequence[str]] | None = None) -> list[Case]:
    """Every top module of each laid-out corpus (``tops`` limits them per corpus)."""
    out: list[Case] = []
    for corpus in corpora:
        rtl = root / corpus / "rtl"
        if corpus == "cv32e40p":
            pkgs = [rtl / "include" / f"{n}.sv" for n in
                    ("cv32e40p_apu_core_pkg", "cv32e40p_fpu_pkg", "cv32e40p_pkg")]
            # no FPU (FPnew is not in the corpus); the latch register file declares the same
            # module as the flip-flop one (a build picks one of the two)
            mods = sorted(p for p in rtl.glob("*.sv") if p.name not in (
                "cv32e40p_fp_wrapper.sv", "cv32e40p_register_file_latch.sv"))
            files, lang, inc = pkgs + mods + [_clock_gate(root / corpus)], "sv", [rtl / "include"]
        else:
            mods = sorted(rtl.glob("*.v"))
            files, lang, inc = mods, "verilog", [rtl]
        for f in mods:
            for top in module_names(f.read_text(encoding="utf-8")):
                if tops is not None and top not in tops.get(corpus, ()):
                    continue
                out.append(Case(f"{corpus}/{top}", corpus, files, top, inc, lang))
    return out


def _clock_gate(root: Path) -> Path:
    """cv32e40p instantiates a technology clock gate that the corpus leaves out (upstream keeps
    simulation models apart): a behavioural one of our own, a latch on the enable."""
    f = root / "harness" / "cv32e40p_clock_gate.sv"
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text("""module cv32e40p_clock_gate (input logic clk_i, input logic en_i,
    input logic scan_cg_en_i, output logic clk_o);
  logic en_latched;
  always_latch if (!clk_i) en_latched = en_i | scan_cg_en_i;
  assign clk_o = clk_i & en_latched;
endmodule
""", encoding="utf-8")
    return f


def verilogeval_cases(rows: Iterable[tuple[str, dict]], root: Path) -> list[Case]:
    """Distinct reference designs of VerilogEval rows ``(tag, row)``, one file each."""
    out: list[Case] = []
    seen: set[str] = set()
    d = root / "verilogeval"
    d.mkdir(parents=True, exist_ok=True)
    for tag, row in rows:
        text = row["canonical_solution"]
        if text in seen:
            continue
        seen.add(text)
        f = d / f"ref{len(out)}.sv"
        f.write_text(text, encoding="utf-8")
        top = "TopModule" if "TopModule" in module_names(text) else "top_module"
        out.append(Case(f"{tag}/{row['task_id']}", "verilogeval", [f], top, rename=True))
    return out


# --- slicing ------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    case: Case
    design: object
    checks: list[Check]
    prefix: str = ""


def choose_signals(graph, internal: int, rng: random.Random) -> list[str]:
    """Every output and ``internal`` internal signals of the top module (sampled)."""
    outs = [o for o in graph.outputs if _IDENT.match(o)]
    body = {m.name for m in graph.design.body
            if m.kind in (verislice._graph.SK.Net, verislice._graph.SK.Variable)}
    inner = [n for n in graph.signals
             if n not in graph.outputs and n not in graph.inputs and _IDENT.match(n)
             and n in body and graph.graph.nodes[n]["kind"] in ("net", "variable")]
    rng.shuffle(inner)
    return outs + sorted(inner[:internal])


def prepare(case: Case, internal: int, rng: random.Random) -> _Prepared | None:
    """Load ``case`` and slice its signals; None when the original cannot be loaded."""
    try:
        design = verislice.load(case.files, top=case.top, include_dirs=case.include_dirs,
                                defines=case.defines)
        graph = verislice.build_graph(design)
    except verislice.VerisliceError as exc:
        return _Prepared(case, None, [Check(case, "*", "nosim", f"load: {exc.message[:200]}")])
    if any(_unpacked(p) for p in design.body.portList):
        return _Prepared(case, None, [Check(case, "*", "nosim", "unpacked array port")])
    checks = []
    for s in choose_signals(graph, internal, rng):
        c = Check(case, s)
        try:
            sl = verislice.cone(graph, [s])
        except verislice.VerisliceError as exc:
            c.status, c.detail = "refused", exc.message
        else:
            c.slice_text = sl.text
            c.share = _share(sl)
            c._slice = sl  # type: ignore[attr-defined]
        checks.append(c)
    return _Prepared(case, design, checks)


def _share(sl) -> float:
    """Non-blank lines of the slice / non-blank lines of the top's file."""
    size = getattr(sl, "size", None)  # (computed here for slicers from before `size`)
    if not size:
        with open(sl.file, encoding="utf-8", errors="replace") as fh:
            total = sum(1 for x in fh if x.strip())
        size = {"lines": sum(1 for x in sl.text.splitlines() if x.strip()), "file_lines": total}
    return size["lines"] / max(1, size["file_lines"])


def _unpacked(p) -> bool:
    try:
        return bool(p.type.isUnpackedArray)
    except Exception:
        return True


# --- testbench ----------------------------------------------------------------------------------


def _rand_stmt(reg: str, width: int) -> list[str]:
    """Statements giving ``reg`` (``width`` bits) fresh random bits from the xorshift state."""
    out = []
    for lo in range(0, width, 64):
        hi = min(width, lo + 64) - 1
        out.append("nxt;")
        out.append(f"{reg}[{hi}:{lo}] = st[{hi - lo}:0];" if width > 1 else f"{reg} = st[0];")
    return out


def _stimulus(groups: list[dict], seed: int) -> list[str]:
    """The driving ``initial`` block: phases over every group's inputs."""
    def each(kind: str) -> list[str]:
        lines = []
        for g in groups:
            for reg, width, role, active in g["inputs"]:
                if role == "clock":
                    continue
                if kind == "rand" and role == "data":
                    lines += _rand_stmt(reg, width)
                elif kind == "sparse" and role in ("data", "reset"):
                    lines.append("nxt;")
                    lines.append(f"if (st[2:0] == 3'd0) begin")
                    lines += ["  " + x for x in _rand_stmt(reg, width)]
                    lines.append("end")
                elif kind == "reset_on" and role == "reset":
                    lines.append(f"{reg} = 1'b{active};")
                elif kind == "reset_off" and role == "reset":
                    lines.append(f"{reg} = 1'b{1 - active};")
        return lines

    def loop(n: int, body: list[str]) -> list[str]:
        return [f"for (k = 0; k < {n}; k = k + 1) begin"] + ["  " + x for x in body] + \
               [f"  #{STEP};", "end"]

    body = [f"st = 64'h{seed:016x};"] + each("reset_on") + each("rand") + ["#3;"]
    body += loop(4, each("rand"))
    body += each("reset_off")
    body += loop(60, each("rand"))
    body += loop(25, [])  # held inputs
    body += loop(60, each("sparse"))
    body += each("reset_on") + loop(2, each("rand")) + each("reset_off")
    body += loop(40, each("rand"))
    return ["initial begin"] + ["  " + x for x in body] + ["  done = 1;", "end"]


def testbench(groups: list[dict], seed: int) -> tuple[str, dict[int, int]]:
    """One testbench over every group (a design, its original instance and its slices), and
    the line of each check's comparison (1-based) -> check index."""
    check_lines: dict[int, int] = {}
    lines = ["`timescale 1ns/1ps", "module slice_tb;", "  reg [63:0] st;", "  integer k;",
             "  reg done = 0;",
             "  task nxt; begin st = st ^ (st << 13); st = st ^ (st >> 7); "
             "st = st ^ (st << 17); end endtask"]
    checks: list[tuple[int, str, str, str]] = []  # (index, orig path, slice path, label)
    nclock = 0
    for g in groups:
        for reg, width, role, _ in g["inputs"]:
            rng = f"[{width - 1}:0] " if width > 1 else ""
            init = " = 1'b0" if role == "clock" else ""
            lines.append(f"  reg {rng}{reg}{init};")
        conns = ", ".join(f".{port}({reg})" for port, reg in g["conns"])
        lines.append(f"  {g['module']} {g['inst']} ({conns});")
        for j, (module, inst, signal, idx) in enumerate(g["slices"]):
            lines.append(f"  {module} {inst} ({conns});")
            checks.append((idx, f"{g['inst']}.{signal}", f"{inst}.{signal}", signal))
        for reg, _, role, _ in g["inputs"]:
            if role == "clock":
                half = 10 * (1, 3, 2, 1)[nclock % 4]
                phase = 10 * (nclock % 3)
                lines.append(f"  initial begin #{phase}; forever #{half} {reg} = ~{reg}; end")
                nclock += 1
    for idx, _, _, _ in checks:
        lines.append(f"  integer e{idx} = 0;")
    lines.append("  initial begin")
    lines.append("    #7;")
    lines.append("    while (!done) begin")
    for idx, a, b, _ in checks:
        check_lines[len(lines) + 1] = idx
        lines.append(f"      if ({a} !== {b}) begin")
        lines.append(f"        if (e{idx} == 0) $display(\"FIRST {idx} %0t %h %h\", $time, {a}, {b});")
        lines.append(f"        e{idx} = e{idx} + 1;")
        lines.append("      end")
    lines.append("      #10;")
    lines.append("    end")
    lines.append("    $finish;")
    lines.append("  end")
    # a design may call $finish itself (darkuart does on an input): report from `final`
    lines.append("  final begin")
    for idx, _, _, _ in checks:
        lines.append(f"    $display(\"RESULT {idx} %0d\", e{idx});")
    lines.append("  end")
    lines += ["  " + x for x in _stimulus(groups, seed)]
    lines.append("endmodule")
    return "\n".join(lines) + "\n", check_lines


def _role(name: str, width: int) -> tuple[str, int]:
    if width == 1 and _CLOCK.search(name):
        return "clock", 1
    if width == 1 and _RESET.search(name):
        return "reset", 0 if _ACTIVE_LOW.search(name) else 1
    return "data", 1


# --- simulation ---------------------------------------------------------------------------------


def verilator_bin() -> str | None:
    cand = Path(sys.executable).parent / "verilator-cli"
    if cand.exists():
        return str(cand)
    return shutil.which("verilator")


def _compile_cmd(lang: str, files: list[str], inc: list[str], out: str) -> list[str]:
    if lang == "sv":
        return [verilator_bin() or "verilator", "--binary", "--timing", "-Wno-fatal", "-Wno-lint",
                "-Wno-style", "-Wno-MULTIDRIVEN", "-Wno-UNOPTFLAT", "--top-module", "slice_tb",
                # random stimulus breaks the designs' own assumptions (`unique case`, immediate
                # assertions), which would stop the run; slices drop assertions anyway
                "--no-assert", "--no-assert-case",
                "--Mdir", out + ".d", "-o", "../" + os.path.basename(out), "--build-jobs", "2",
                # one build per batch: a fast C++ compile matters more than a fast model (a
                # later -O wins; make variables on its command line break precompiled headers)
                "-CFLAGS", "-O0",
                # the PyPI build's verilated.mk leaves the precompiled-header flag empty: a
                # model split into several C++ files then fails to compile
                "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
                *[f"-I{d}" for d in inc], *files]
    return ["iverilog", "-g2012", "-Wno-timescale", "-s", "slice_tb", "-o", out,
            *[f"-I{d}" for d in inc], *files]


def run_batch(prepared: list[_Prepared], work: Path, seed: int = 1, timeout: float = 900) -> None:
    """Simulate every prepared design of one language in one testbench; fill in each check."""
    if not prepared:
        return
    work.mkdir(parents=True, exist_ok=True)
    lang = prepared[0].case.lang
    files: list[str] = []
    inc: list[str] = []
    groups: list[dict] = []
    index: dict[int, Check] = {}
    slice_files: dict[str, list[Check]] = {}
    for k, p in enumerate(prepared):
        if p.design is None:
            continue
        case = p.case
        live = [c for c in p.checks if c.status == "pending"]
        if not live:
            continue
        for d in case.include_dirs:
            if str(d) not in inc:
                inc.append(str(d))
        module = case.top
        if case.rename:
            f = work / f"d{k}.v"
            text = case.files[0].read_text(encoding="utf-8")
            f.write_text(rename_modules(text, f"d{k}_"), encoding="utf-8")
            files.append(str(f))
            module = f"d{k}_{case.top}"
        else:
            for f in case.files:
                if str(f) not in files:
                    files.append(str(f))
        inputs = []
        conns = []
        for port in p.design.ports:
            reg = f"d{k}_i_{port.name}"
            if port.direction == "input":
                role, active = _role(port.name, port.width)
                inputs.append((reg, max(1, port.width), role, active))
                conns.append((port.name, reg))
        group = {"module": module, "inst": f"d{k}_orig", "inputs": inputs, "conns": conns,
                 "slices": []}
        for j, c in enumerate(live):
            sl = c._slice  # type: ignore[attr-defined]
            names = {sl.top} | (set(sl.submodules) - set(sl.external_modules))
            prefix = f"d{k}s{j}_"
            f = work / f"d{k}_s{j}.v"
            f.write_text(rename_modules(sl.text, prefix, names), encoding="utf-8")
            idx = len(index)
            index[idx] = c
            slice_files[str(f)] = [c]
            group["slices"].append((prefix + sl.top, f"d{k}_s{j}", c.signal, idx))
        groups.append(group)
    if not groups:
        return
    for attempt in range(6):
        tb = work / "slice_tb.sv"
        text, check_lines = testbench(groups, seed)
        tb.write_text(text, encoding="utf-8")
        exe = str(work / "sim")
        cmd = _compile_cmd(lang, files + [f for f in slice_files] + [str(tb)], inc, exe)
        r = subprocess.run(cmd, cwd=work, capture_output=True, text=True, errors="replace", timeout=timeout)
        log = r.stdout + r.stderr
        (work / f"compile{attempt}.log").write_text(log, encoding="utf-8")
        if r.returncode == 0 and os.path.exists(exe):
            break
        # blame the slice files named in the errors, drop them and retry
        errors = "\n".join(x for x in log.splitlines() if "rror" in x)
        bad = [f for f in slice_files if os.path.basename(f) + ":" in errors]
        # a comparison the simulator cannot reach (a name it elaborates differently): the
        # harness's limit, not the slice's fault
        unreachable = {check_lines[int(m.group(1))] for m in
                       re.finditer(r"slice_tb\.sv:(\d+)", errors) if int(m.group(1)) in check_lines}
        for idx in unreachable:
            c = index[idx]
            c.status, c.detail = "nosim", "signal not reachable from the testbench: " + \
                _first_error(log, "slice_tb.sv")
            for g in groups:
                g["slices"] = [x for x in g["slices"] if x[3] != idx]
        if not bad and not unreachable:
            for c in index.values():
                if c.status == "pending":
                    c.status, c.detail = "nosim", "testbench does not compile: " + _first_error(log)
            return
        for f in bad:
            for c in slice_files.pop(f):
                c.status, c.detail = "compile", _first_error(log, os.path.basename(f))
                for g in groups:
                    g["slices"] = [s for s in g["slices"] if index[s[3]] is not c]
    else:
        return
    run = [exe] if lang == "sv" else ["vvp", "-n", exe]
    r = subprocess.run(run, cwd=work, capture_output=True, text=True, errors="replace", timeout=timeout)
    first = {}
    for m in re.finditer(r"FIRST (\d+) (\S+) (\S+) (\S+)", r.stdout, re.M):
        first[int(m.group(1))] = f"t={m.group(2)} original={m.group(3)} slice={m.group(4)}"
    results = {int(m.group(1)): int(m.group(2))
               for m in re.finditer(r"RESULT (\d+) (\d+)", r.stdout, re.M)}
    for idx, c in index.items():
        if c.status != "pending":
            continue
        if idx not in results:
            c.status, c.detail = "nosim", "no result: " + (r.stdout + r.stderr)[-300:]
        elif results[idx] == 0:
            c.status = "ok"
        else:
            c.status, c.detail = "mismatch", f"{results[idx]} mismatches, first {first.get(idx)}"


def _first_error(log: str, name: str | None = None) -> str:
    for line in log.splitlines():
        if ("rror" in line) and (name is None or name in line):
            return line.strip()[:300]
    return log.strip()[:300]


BATCH = {"verilog": 40, "sv": 6}  # designs per testbench (one Verilator build each)


def check_cases(cases: list[Case], internal: int = 3, seed: int = 1,
                work: Path | None = None) -> list[Check]:
    """Slice and simulate ``cases``; every check ends ok, mismatch, refused, compile or nosim."""
    rng = random.Random(seed)
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="slice-sim-")) if own else work
    out: list[Check] = []
    try:
        prepared = [prepare(c, internal, rng) for c in cases]
        by_lang: dict[str, list[_Prepared]] = {}
        for p in prepared:
            out += p.checks
            if p.design is not None:
                by_lang.setdefault(p.case.lang, []).append(p)
        n = 0
        for lang, ps in by_lang.items():
            batch = BATCH[lang]
            for i in range(0, len(ps), batch):
                chunk = ps[i:i + batch]
                _originals_only(chunk, work / f"orig{n}", seed)
                run_batch([p for p in chunk if p.design is not None], work / f"b{n}", seed)
                n += 1
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)
    return out


def _originals_only(chunk: list[_Prepared], work: Path, seed: int) -> None:
    """Designs whose original does not compile or run alone here are marked nosim, not failed."""
    for p in chunk:
        if p.design is None:
            continue
        d = work / p.case.name.replace("/", "_")
        d.mkdir(parents=True, exist_ok=True)
        files = [str(f) for f in p.case.files]
        inc = [str(x) for x in p.case.include_dirs]
        if p.case.lang == "sv":  # a lint run: no C++ build
            cmd = [verilator_bin() or "verilator", "--lint-only", "-Wno-fatal", "-Wno-lint",
                   "-Wno-style", "--top-module", p.case.top, *[f"-I{x}" for x in inc], *files]
            tool = "Verilator"
        else:
            tb = d / "tb.sv"
            tb.write_text(f"module slice_tb; {p.case.top} u (); endmodule\n")
            cmd = _compile_cmd("verilog", files + [str(tb)], inc, str(d / "sim"))
            tool = "Icarus"
        r = subprocess.run(cmd, cwd=d, capture_output=True, text=True, errors="replace", timeout=300)
        if r.returncode != 0:
            why = _first_error(r.stdout + r.stderr)
            for c in p.checks:
                if c.status == "pending":
                    c.status, c.detail = "nosim", f"original does not compile in {tool}: {why}"
            p.design = None


def summary(checks: list[Check]) -> dict:
    """Figures per corpus: signals checked, designs, failures, median share of lines kept."""
    out: dict[str, dict] = {}
    for c in checks:
        s = out.setdefault(c.case.corpus, {"checked": 0, "designs": set(), "failures": [],
                                           "refused": 0, "nosim": 0, "shares": []})
        if c.status in ("ok", "mismatch", "compile"):
            s["checked"] += 1
            s["designs"].add(c.case.name)
            if c.share is not None:
                s["shares"].append(c.share)
        if c.status in ("mismatch", "compile"):
            s["failures"].append(f"{c.case.name} {c.signal}: {c.status}: {c.detail}")
        elif c.status == "refused":
            s["refused"] += 1
        elif c.status == "nosim":
            s["nosim"] += 1
    for s in out.values():
        s["designs"] = len(s["designs"])
        s["median_lines_kept"] = statistics.median(s["shares"]) if s["shares"] else None
        del s["shares"]
    return out
