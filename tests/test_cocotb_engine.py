"""The cocotb engine: the same verdicts as the vvp engine, and cocotb's own part of a run.

With ``engine="cocotb"``, cocotb's PyGPI starts Python inside ``vvp`` and calls
``verislice/equiv/_cocotb/verislice_equiv_cocotb.py:start``: it starts the generated testbench's
clock-free driver (``go``), waits for ``done`` under a simulated-time limit, checks the results
file's nonce and writes ``cocotb.txt``. The per-cycle work (stimulus, clock, comparisons) is the
same Verilog the vvp engine runs, so both engines must give the same results, field by field.
"""

from __future__ import annotations

import re

import pytest
from conftest import load_bundle, ref_passes_on_icarus11

from verislice import Source, equiv
from verislice._sandbox import run_limited, sandbox_dir
from verislice.equiv import _runner
from verislice.mutate import mutants

# VerilogEval v2 tasks, chosen to cover every kind of timing the testbench drives
TASKS = {
    "Prob047_dff8ar": "async",        # posedge areset
    "Prob119_fsm3": "async",          # FSM with an asynchronous reset
    "Prob127_lemmings1": "async",
    "Prob041_dff8r": "sync",          # synchronous reset
    "Prob035_count1to10": "sync",
    "Prob120_fsm3s": "sync",
    "Prob046_dff8p": "sync",          # negedge clock, synchronous reset
    "Prob078_dualedge": "clock",      # both edges, no reset
    "Prob080_timer": "clock",         # a load/count timer, no reset
    "Prob050_kmap1": "comb",
    "Prob018_mux256to1": "comb",
    "Prob009_popcount3": "comb",
    "Prob143_fsm_onehot": "comb",     # next-state logic of a one-hot FSM
}
MUTANTS = 4


def _full(results) -> list[list[dict]]:
    """Everything a result says except its share of the wall time."""
    out = []
    for row in results:
        out.append([])
        for r in row:
            d = r.to_json()
            d.pop("seconds", None)
            d.pop("engine", None)  # names the engine, which differs by design
            out[-1].append(d)
    return out


@pytest.fixture(scope="module")
def verilogeval_groups():
    rows = {r["task_id"]: r for r in load_bundle("verilogeval-v2-spec")}
    groups = []
    for task, kind in TASKS.items():
        r = rows[task]
        assert ref_passes_on_icarus11(r), task
        ref = r["reference"]
        if kind == "async":
            assert re.search(r"(posedge|negedge)\s+\w*(reset|rst)", ref), task
        elif kind == "sync":
            assert re.search(r"(posedge|negedge)\s+clk\s*\)", ref) and "reset" in ref, task
        elif kind == "comb":
            assert "posedge" not in ref and "negedge" not in ref, task
        cands = [Source(r["canonical_solution"], f"{task}_canonical.sv")]
        cands += [Source(m.text, f"{task}_m{i}.sv")
                  for i, m in enumerate(mutants(r["canonical_solution"], seed=1, limit=MUTANTS))]
        groups.append((Source(ref, f"{task}_ref.sv"), cands))
    return groups


def test_engines_give_the_same_full_results_on_verilogeval_mutants(verilogeval_groups):
    cocotb = equiv.check_batch(verilogeval_groups, engine="cocotb")
    vvp = equiv.check_batch(verilogeval_groups, engine="vvp")
    assert _full(cocotb) == _full(vvp)
    flat = [c for row in cocotb for c in row]
    # the sample is not trivial: canonical solutions match, many mutants do not
    assert all(row[0].verdict == equiv.OK and row[0].ok for row in cocotb)
    assert sum(1 for c in flat if c.verdict == equiv.OK and not c.ok) >= 15
    # other packings (groups split across simulations, several simulations per group) too
    for size in (3, 7):
        small = [equiv.check_batch(verilogeval_groups[:5], engine=e, batch_size=size)
                 for e in ("cocotb", "vvp")]
        assert _full(small[0]) == _full(small[1])


# Designs sensitive to what happens at time 0 (the driver must start at the same point of
# time 0 in both engines), and a reset-less register that stays X
REF = "module top(input clk, input [3:0] a, output [3:0] y, output [3:0] q);\n" \
      "  assign y = ~a;\n  reg [3:0] r = 4'd0;\n  always @(posedge clk) r <= a;\n" \
      "  assign q = r;\nendmodule"
TIME0 = [
    # an event control that may miss the first change of a
    "module top(input clk, input [3:0] a, output reg [3:0] y, output [3:0] q);\n"
    "  always @(a) y = ~a;\n  reg [3:0] r = 4'd0;\n  always @(posedge clk) r <= a;\n"
    "  assign q = r;\nendmodule",
    # an initial block racing the first stimulus
    "module top(input clk, input [3:0] a, output reg [3:0] y, output [3:0] q);\n"
    "  initial y = 4'd5;\n  always @(a) y = ~a;\n  reg [3:0] r;\n"
    "  initial #3 r = 4'd0;\n  always @(posedge clk) r <= a;\n  assign q = r;\nendmodule",
    # no initial value: X until the first edge
    "module top(input clk, input [3:0] a, output [3:0] y, output [3:0] q);\n"
    "  assign y = ~a;\n  reg [3:0] r;\n  always @(posedge clk) r <= a;\n"
    "  assign q = r;\nendmodule",
    # a process of its own that never ends (cocotb stops the simulator at done)
    "module top(input clk, input [3:0] a, output [3:0] y, output [3:0] q);\n"
    "  reg t = 0;\n  always #1 t = ~t;\n  assign y = ~a;\n  reg [3:0] r = 0;\n"
    "  always @(posedge clk) r <= a;\n  assign q = r;\nendmodule",
]


@pytest.mark.parametrize("cycles", [1, 200])
def test_engines_agree_on_time_zero_races(cycles):
    groups = [(Source(REF, "ref.v"), [Source(t, f"t{i}.v") for i, t in enumerate(TIME0)])]
    cocotb = equiv.check_batch(groups, engine="cocotb", cycles=cycles)
    vvp = equiv.check_batch(groups, engine="vvp", cycles=cycles)
    assert _full(cocotb) == _full(vvp)
    assert all(r.verdict == equiv.OK for r in cocotb[0])


# -- cocotb's part, on a hand-made testbench ---------------------------------------------------

TB = """`timescale 1ns/1ps
module verislice_tb;
  reg go;
  reg done = 1'b0;
  integer fd;
  initial begin
    wait (go === 1'b1);
    #{delay};
    {body}
    fd = $fopen("results.txt", "w");
    $fdisplay(fd, "END {nonce}");
    $fclose(fd);
    done = 1'b1;
  end
endmodule
"""
PROBE = """import sys

def run():
    # cocotb's GPI binding (cocotb.simulator) is expected; the cocotb package is not
    bad = sorted(m for m in sys.modules if m.split(".")[0] in ("pytest", "_pytest", "asyncio")
                 or (m.split(".")[0] == "cocotb" and m != "cocotb.simulator"))
    with open("probe.txt", "w") as fh:
        fh.write(" ".join(bad) + "\\n")
"""


def _run_tb(tb: str, nonce: str, sim_ns: int, probe: bool = False):
    """Compile ``tb`` and run it under the cocotb entry, sandboxed: (exit code, cocotb.txt,
    probe.txt or None)."""
    with sandbox_dir("verislice-test-cocotb-") as d:
        (d / "tb.v").write_text(tb)
        (d / ".nonce").write_text(nonce)
        r = run_limited(["iverilog", "-g2012", "-o", "sim.vvp", "-s", "verislice_tb", "tb.v"], d,
                        timeout=60)
        assert r.ok, r.stderr
        env = _runner._cocotb_env(d, sim_ns)
        if probe:  # a second PyGPI entry, run right after ours: what did ours import?
            (d / "vsprobe.py").write_text(PROBE)
            env["PYTHONPATH"] += ":" + str(d)
            env["PYGPI_USERS"] += ",vsprobe:run"
        argv = ["vvp", "-n", "-m", _runner._cocotb_paths()[2], "sim.vvp", "-none"]
        r = run_limited(argv, d, timeout=60, env=env)
        status = _runner._cocotb_status(d)
        seen = (d / "probe.txt").read_text().strip() if (d / "probe.txt").exists() else None
        return r.returncode, status, seen


def test_cocotb_passes_a_finished_run_and_imports_no_test_framework():
    code, status, seen = _run_tb(TB.format(delay=100, body="", nonce="abc123"), "abc123", 1000,
                                 probe=True)
    assert (code, status) == (0, "PASS")
    assert seen == "", f"the cocotb entry imported {seen}"


def test_cocotb_fails_a_run_past_its_simulated_time_limit():
    code, status, _ = _run_tb(TB.format(delay=5000, body="", nonce="abc123"), "abc123", 1000)
    assert code == 0
    assert status == "FAIL the testbench did not finish within 1000 ns"


def test_cocotb_fails_results_without_this_runs_nonce():
    code, status, _ = _run_tb(TB.format(delay=10, body="", nonce="old"), "abc123", 1000)
    assert code == 0
    assert status == "FAIL the results file does not end with this run's nonce"


def test_cocotb_fails_a_simulation_that_ends_early():
    code, status, _ = _run_tb(TB.format(delay=10, body="$finish;", nonce="abc123"), "abc123",
                              1000)
    assert status == "FAIL the simulation ended before the testbench finished"


def test_cocotb_fails_a_testbench_without_its_handshake():
    tb = "module verislice_tb; reg done = 1'b0; initial #5 done = 1'b1; endmodule\n"
    _code, status, _ = _run_tb(tb, "abc123", 1000)
    assert status.startswith("FAIL testbench verislice_tb with go and done not found")


def test_a_failed_cocotb_verdict_fails_the_simulation(monkeypatch):
    """The runner needs cocotb's PASS as well as the nonce: without it the run is a failure
    (split until a candidate is alone), never read as results."""
    ref = "module top(input [3:0] a, output [3:0] y); assign y = ~a; endmodule"
    monkeypatch.setattr(_runner, "_cocotb_status", lambda d: "FAIL injected")
    res = equiv.check_batch([(Source(ref, "ref.v"), [Source(ref, "c.v")])], engine="cocotb",
                            reference_errors="report")[0][0]
    assert res.verdict == equiv.REFERENCE_ERROR
    assert "cocotb: injected" in res.message
