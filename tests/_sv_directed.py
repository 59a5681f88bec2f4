"""Real SystemVerilog for the equivalence tests, and a directed check to judge ``equiv`` by.

The designs come from ``../shared/rtl/rtl_corpus.jsonl`` (cv32e40p, verilog-axis; see its
README), laid out in a temporary directory, never copied into the project. Tests that need them
fail when ``CI`` is set and the file is missing, and skip otherwise.

The directed check is written here, apart from ``verislice.equiv``: a hand-made testbench that
instantiates the original module and every mutant (renamed), applies *chosen* vectors (every
one-hot and two-hot value, the low 16 bits exhaustively, ...) rather than ``equiv``'s random
sequences, compares each output with ``!==`` and counts the differing vectors per output. It is
built with the same Verilator, in the same sandbox.
"""

from __future__ import annotations

import json
import os
import random
import shlex
from collections.abc import Sequence
from pathlib import Path

import pytest

from verislice import Source, rename_modules
from verislice._sandbox import run_limited
from verislice.equiv import _verilator

REPO = Path(__file__).resolve().parents[1]
RTL_CORPUS = Path(os.environ.get("SALV_RTL", REPO.parent / "shared" / "rtl" / "rtl_corpus.jsonl"))


def layout(root: Path, corpora: Sequence[str] = ("cv32e40p", "verilog-axis")) -> Path:
    """Write the corpora's source files under ``root/<corpus>/<path>``; returns ``root``."""
    if not RTL_CORPUS.exists():
        msg = f"RTL corpus missing: {RTL_CORPUS} (set SALV_RTL to rtl_corpus.jsonl)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    with RTL_CORPUS.open() as fh:
        for line in fh:
            r = json.loads(line)
            if r["corpus"] in corpora and r["kind"] == "source":
                p = root / r["corpus"] / r["path"]
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(r["text"])
    return root


def vectors(width: int, seed: int = 1, randoms: int = 2000, low_bits: int = 12) -> list[int]:
    """Directed values of a ``width``-bit input: 0, all ones, every one-hot and two-hot value,
    every value of the low ``low_bits`` bits (upper bits random), then random values."""
    mask = (1 << width) - 1
    rng = random.Random(seed)
    out = [0, mask]
    out += [1 << i for i in range(width)]
    out += [(1 << i) | (1 << j) for i in range(width) for j in range(i)]
    out += [mask ^ (1 << i) for i in range(width)]
    hi = width - min(low_bits, width)
    out += [(rng.getrandbits(hi) << low_bits if hi else 0) | v
            for v in range(1 << min(low_bits, width))]
    out += [rng.getrandbits(width) for _ in range(randoms)]
    return out


def directed_check(shared: Sequence[Path], module: Path, top: str, mutant_texts: Sequence[str],
                   inp: tuple[str, int], outputs: Sequence[tuple[str, int]], vecs: list[int],
                   work: Path, timeout: float = 900) -> list[dict[str, int]]:
    """For each mutant, the number of ``vecs`` on which each output differs from the original
    (a combinational module with one data input ``inp``)."""
    v = _verilator.require()
    work.mkdir(parents=True, exist_ok=True)
    files = [str(p) for p in shared] + [str(module)]
    for i, text in enumerate(mutant_texts):
        f = work / f"mut{i}.sv"
        f.write_text(rename_modules(text, f"m{i}_"))
        files.append(str(f))
    name, width = inp
    (work / "vec.hex").write_text("".join(f"{x:x}\n" for x in vecs))
    n = len(mutant_texts)
    tb = ["module verislice_tb;",
          f"  logic [{width - 1}:0] vec [0:{len(vecs) - 1}];",
          f"  logic [{width - 1}:0] x;",
          f"  integer k, fd, cnt [0:{max(n, 1) * len(outputs) - 1}];"]
    for o, w in outputs:
        tb.append(f"  logic [{w - 1}:0] r_{o};")
        tb += [f"  logic [{w - 1}:0] m{i}_{o};" for i in range(n)]
    tb.append(f"  {top} dut (.{name}(x), {', '.join(f'.{o}(r_{o})' for o, _ in outputs)});")
    for i in range(n):
        tb.append(f"  m{i}_{top} mut{i} (.{name}(x), "
                  f"{', '.join(f'.{o}(m{i}_{o})' for o, _ in outputs)});")
    tb += ["  initial begin",
           f"    for (k = 0; k < {max(n, 1) * len(outputs)}; k = k + 1) cnt[k] = 0;",
           '    $readmemh("vec.hex", vec);',
           f"    for (k = 0; k < {len(vecs)}; k = k + 1) begin",
           "      x = vec[k]; #1;"]
    for i in range(n):
        for j, (o, _w) in enumerate(outputs):
            tb.append(f"      if (m{i}_{o} !== r_{o}) cnt[{i * len(outputs) + j}] += 1;")
    tb += ["    end",
           '    fd = $fopen("counts.txt", "w");',
           f"    for (k = 0; k < {n * len(outputs)}; k = k + 1) $fdisplay(fd, \"%0d\", cnt[k]);",
           "    $fclose(fd);",
           "    $finish;",
           "  end",
           "endmodule"]
    (work / "tb.sv").write_text("\n".join(tb) + "\n")
    runtime = _verilator.runtime_dir(v, 4096)
    script = (_verilator.build_script(v, ["tb.sv", *files], runtime) +
              f" && ./{shlex.quote(_verilator.BINARY)} {' '.join(_verilator.RUN_ARGS)}")
    r = run_limited(["sh", "-c", script], work, timeout=timeout, env=v.env(), memory_mb=4096,
                    readable=[str(runtime), *{os.path.dirname(f) for f in files}])
    assert r.ok, (r.stdout + r.stderr)[-3000:]
    counts = [int(x) for x in (work / "counts.txt").read_text().split()]
    return [{o: counts[i * len(outputs) + j] for j, (o, _w) in enumerate(outputs)}
            for i in range(n)]


def source(path: Path, name: str | None = None) -> Source:
    return Source(path.read_text(), name or path.name)


def fifo_directed_check(fifo: Path, mutant_texts: Sequence[str], params: dict[str, str],
                        work: Path, timeout: float = 300) -> list[dict[str, int]]:
    """Directed check of an AXI-Stream asynchronous FIFO (verilog-axis ``axis_async_fifo``) and
    its mutants on Icarus: both resets held, then frames written on a 7 ns clock while the
    reader (11 ns clock) takes words three cycles in four, stops until the FIFO is full, then
    drains it, with pause requests in the middle. Every output is compared with ``!==`` each
    nanosecond once the resets are over; returns the differing nanoseconds per output."""
    from verislice import load

    work.mkdir(parents=True, exist_ok=True)
    d = load([fifo], parameters=params)
    outs = [(p.name, p.width) for p in d.outputs]
    ins = [(p.name, p.width) for p in d.inputs]
    over = ", ".join(f".{k}({v})" for k, v in params.items())
    files = [str(fifo)]
    for i, text in enumerate(mutant_texts):
        f = work / f"mut{i}.v"
        f.write_text(rename_modules(text, f"m{i}_"))
        files.append(str(f))
    n = len(mutant_texts)
    tb = ["`timescale 1ns/1ps", "module fifo_tb;"]
    tb += [f"  reg [{w - 1}:0] {name} = 0;" for name, w in ins]
    for name, w in outs:
        tb.append(f"  wire [{w - 1}:0] r_{name};")
        tb += [f"  wire [{w - 1}:0] m{i}_{name};" for i in range(n)]
    conns_in = ", ".join(f".{name}({name})" for name, _w in ins)
    tb.append(f"  axis_async_fifo #({over}) dut ({conns_in}, "
              f"{', '.join(f'.{o}(r_{o})' for o, _ in outs)});")
    for i in range(n):
        tb.append(f"  m{i}_axis_async_fifo #({over}) mut{i} ({conns_in}, "
                  f"{', '.join(f'.{o}(m{i}_{o})' for o, _ in outs)});")
    tb += [f"  integer k, t, fd, cnt [0:{max(n, 1) * len(outs) - 1}];",
           "  reg checking = 0;",
           "  always #3.5 s_clk = ~s_clk;",
           "  always #5.5 m_clk = ~m_clk;",
           "  always @(posedge s_clk) if (!s_rst) begin",
           "    if (!s_axis_tvalid || r_s_axis_tready) begin",
           "      s_axis_tvalid <= ($time % 50) < 35;",
           "      s_axis_tdata <= s_axis_tdata + 8'd1;",
           "      s_axis_tlast <= (s_axis_tdata[1:0] == 2'd2);",
           "      s_axis_tuser <= s_axis_tdata[3];",
           "      s_axis_tid <= s_axis_tdata ^ 8'h5a;",
           "    end",
           "    s_pause_req <= ($time > 3000 && $time < 3300);",
           "  end",
           "  always @(posedge m_clk) if (!m_rst) begin",
           "    k = k + 1;",
           "    m_axis_tready <= ($time < 1500 || $time > 2600) && (k % 4 != 3);",
           "    m_pause_req <= ($time > 3600 && $time < 3800);",
           "  end",
           "  always #1 if (checking) begin"]
    for i in range(n):
        for j, (o, _w) in enumerate(outs):
            tb.append(f"    if (m{i}_{o} !== r_{o}) cnt[{i * len(outs) + j}] = "
                      f"cnt[{i * len(outs) + j}] + 1;")
    tb += ["  end",
           "  initial begin",
           f"    for (t = 0; t < {max(n, 1) * len(outs)}; t = t + 1) cnt[t] = 0;",
           "    k = 0; s_rst = 1; m_rst = 1;",
           "    #100.25 s_rst = 0; m_rst = 0;",
           "    #50 checking = 1;",
           "    #5000 checking = 0;",
           '    fd = $fopen("counts.txt", "w");',
           f"    for (t = 0; t < {n * len(outs)}; t = t + 1) $fdisplay(fd, \"%0d\", cnt[t]);",
           "    $fclose(fd);",
           "    $finish;",
           "  end",
           "endmodule"]
    (work / "tb.v").write_text("\n".join(tb) + "\n")
    script = (f"iverilog -g2012 -o sim.vvp -s fifo_tb tb.v {' '.join(map(shlex.quote, files))}"
              " && vvp -n sim.vvp")
    r = run_limited(["sh", "-c", script], work, timeout=timeout, memory_mb=4096,
                    readable=[*{os.path.dirname(f) for f in files}])
    assert r.ok, (r.stdout + r.stderr)[-3000:]
    counts = [int(x) for x in (work / "counts.txt").read_text().split()]
    return [{o: counts[i * len(outs) + j] for j, (o, _w) in enumerate(outs)} for i in range(n)]
