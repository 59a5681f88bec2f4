"""One engine API: ``verislice.equiv.check(..., method="sim"|"formal"|"both")``.

Simulation and Yosys proofs share the front end (canonical text, screen, choice of the
candidate's top, interface check) and the result type; ``both`` simulates, then proves the
outputs simulation called MATCH, and a difference the prover finds (replayed in Icarus) overrides
the MATCH. The same from ``verislice equiv --method both`` and ``salv-train label --method
both``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from verislice import Source, VerisliceError, equiv
from verislice.equiv import (
    BOUNDED,
    COMPILE_ERROR,
    INTERFACE,
    MATCH,
    MISMATCH,
    MISSING,
    OK,
    PROVEN,
    REFERENCE_ERROR,
    REJECTED,
    UNKNOWN,
    WIDTH,
    EquivOptions,
)

pytest.importorskip("pyosys")

from verislice._formal import Counterexample, FormalOptions  # noqa: E402
from verislice._formal_replay import replay  # noqa: E402

SIM = dict(engine="vvp", cycles=300)

REF = Source("""
module m(input [31:0] k, input [3:0] a, output ok, output [3:0] y, output z);
  assign ok = k[0];
  assign y = a + 4'd1;
  assign z = ^a;
endmodule
""", "m_ref.v")

# `ok` differs for one 32-bit value that no literal of either design names (random simulation
# all but never hits it); `y` is the same function written otherwise; `z` is plainly wrong.
HIDDEN = Source("""
module m(input [31:0] k, input [3:0] a, output ok, output [3:0] y, output z);
  assign ok = ((k ^ 32'h11111111) == 32'h0325BADC) ? 1'b0 : k[0];
  assign y = a - 4'hf;
  assign z = &a;
endmodule
""", "m_hidden.v")


def verdicts(r) -> dict[str, str]:
    return {n: o.verdict for n, o in r.outputs.items()}


def test_both_overrides_a_simulation_match_with_a_replayed_difference():
    sim = equiv.check(REF, HIDDEN, method="sim", **SIM)
    assert verdicts(sim) == {"ok": MATCH, "y": MATCH, "z": MISMATCH}
    both = equiv.check(REF, HIDDEN, method="both", **SIM)
    assert both.verdict == OK and both.method == "both"
    assert verdicts(both) == {"ok": MISMATCH, "y": PROVEN, "z": MISMATCH}
    ok = both.outputs["ok"]
    assert ok.method == "formal" and "replayed in Icarus" in ok.message
    assert isinstance(ok.first_failure, Counterexample)
    assert ok.first_failure.inputs["k"] == format(0x0325BADC ^ 0x11111111, "032b")
    assert replay(REF, HIDDEN, "ok", ok.first_failure).differs
    # simulation's own verdict stays where it saw a difference
    assert both.outputs["z"].method == "sim" and both.outputs["z"] == sim.outputs["z"]
    assert both.correct_outputs == {"y"} and not both.ok
    j = both.to_json()
    assert j["method"] == "both" and j["outputs"]["ok"]["first_failure"]["trace"]


def test_formal_alone_and_the_old_entry_point_agree():
    r = equiv.check(REF, HIDDEN, method="formal")
    assert r.method == "formal"
    assert verdicts(r) == {"ok": MISMATCH, "y": PROVEN, "z": MISMATCH}
    from verislice._formal import check_formal

    [old] = check_formal(REF, [HIDDEN])
    assert verdicts(old) == verdicts(r)


def test_check_batch_many_groups_and_jobs_keep_input_order():
    seq_ref = Source("module c(input clk, input rst, input en, output reg [3:0] q);\n"
                     "  always @(posedge clk) if (rst) q <= 0; else if (en) q <= q + 1;\n"
                     "endmodule\n", "c_ref.v")
    seq_same = Source("module c(input clk, input rst, input en, output reg [3:0] q);\n"
                      "  always @(posedge clk) q <= rst ? 4'd0 : q + {3'd0, en};\nendmodule\n",
                      "c_same.v")
    bad_ref = Source("module c(input a, output y);\n assign y = a +;\nendmodule\n", "bad.v")
    groups = [(REF, [HIDDEN, REF]), (seq_ref, [seq_same, seq_ref]), (bad_ref, [seq_same])]
    for method in ("formal", "both"):
        res = equiv.check_batch(groups, method=method, jobs=2, reference_errors="report",
                                formal=FormalOptions(depth=8), **SIM)
        assert [[c.name for c in g] for g in res] == [["m_hidden.v", "m_ref.v"],
                                                      ["c_same.v", "c_ref.v"], ["c_same.v"]]
        assert verdicts(res[0][1]) == {"ok": PROVEN, "y": PROVEN, "z": PROVEN}
        assert verdicts(res[1][0]) == {"q": PROVEN}
        assert res[2][0].verdict == REFERENCE_ERROR
        assert all(c.method == method for g in res for c in g)
    with pytest.raises(VerisliceError, match="bad.v"):
        equiv.check_batch(groups, method="formal")


def test_the_method_is_checked():
    with pytest.raises(VerisliceError, match="--method must be sim, formal or both"):
        EquivOptions(method="proof")
    with pytest.raises(VerisliceError, match="--method must be sim, formal or both"):
        equiv.check(REF, REF, method="exhaustive")


# -- one front end: the same verdicts and messages for a bad candidate under every method ------

IFACE_REF = Source("module top(input [3:0] a, input b, output [3:0] y, output z);\n"
                   " assign y = a; assign z = b;\nendmodule\n", "i_ref.v")

BAD = {
    "missing-input": "module top(input [3:0] a, output [3:0] y, output z);\n"
                     " assign y = a; assign z = 0;\nendmodule\n",
    "extra-input": "module top(input [3:0] a, input b, input c, output [3:0] y, output z);\n"
                   " assign y = a; assign z = b;\nendmodule\n",
    "input-width": "module top(input [2:0] a, input b, output [3:0] y, output z);\n"
                   " assign y = a; assign z = b;\nendmodule\n",
    "output-as-input": "module top(input [3:0] a, input b, input z, output [3:0] y);\n"
                       " assign y = a;\nendmodule\n",
    "missing-output": "module top(input [3:0] a, input b, output [3:0] y);\n"
                      " assign y = a;\nendmodule\n",
    "output-width": "module top(input [3:0] a, input b, output [3:0] y, output [1:0] z);\n"
                    " assign y = a; assign z = {b, b};\nendmodule\n",
    "syntax": "module top(input [3:0] a, input b, output [3:0] y, output z);\n"
              " assign y = a +;\nendmodule\n",
    "file-task": "module top(input [3:0] a, input b, output [3:0] y, output z);\n"
                 " integer f; initial f = $fopen(\"x.txt\");\n"
                 " assign y = a; assign z = b;\nendmodule\n",
    "no-top": "module p(input [3:0] a, input b, output [3:0] y, output z);\n"
              " assign y = a; assign z = b;\nendmodule\n"
              "module q(input [3:0] a, input b, output [3:0] y, output z);\n"
              " assign y = ~a; assign z = b;\nendmodule\n",
    # an answer with a testbench and a helper: the top is the module with the reference's ports
    "testbench": "module inv(input [3:0] x, output [3:0] w);\n assign w = ~x;\nendmodule\n"
                 "module top(input [3:0] a, input b, output [3:0] y, output z);\n"
                 " wire [3:0] t; inv u(.x(a), .w(t)); assign y = ~t; assign z = b;\nendmodule\n"
                 "module tb; reg [3:0] a; reg b; wire [3:0] y; wire z;\n"
                 " top dut(.a(a), .b(b), .y(y), .z(z));\nendmodule\n",
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_every_method_sees_the_same_bad_candidate_the_same_way(kind):
    cand = Source(BAD[kind], f"i_{kind}.v")
    res = {m: equiv.check(IFACE_REF, cand, method=m, **SIM) for m in ("sim", "formal", "both")}
    sim = res["sim"]
    for method, r in res.items():
        assert r.method == method
        assert (r.verdict, r.message, r.top) == (sim.verdict, sim.message, sim.top), (method, r)
        if r.verdict != OK:
            assert r.outputs == {}
            continue
        for name, o in sim.outputs.items():
            fo = r.outputs[name]
            if o.verdict in (MISSING, WIDTH):
                assert (fo.verdict, fo.message, fo.width, fo.candidate_width) == \
                    (o.verdict, o.message, o.width, o.candidate_width), (method, name)
    expected = {"missing-input": INTERFACE, "extra-input": INTERFACE, "input-width": INTERFACE,
                "output-as-input": INTERFACE, "missing-output": OK, "output-width": OK,
                "syntax": COMPILE_ERROR, "file-task": REJECTED, "no-top": INTERFACE,
                "testbench": OK}[kind]
    assert sim.verdict == expected, sim
    if kind == "missing-output":
        assert verdicts(res["formal"]) == {"y": PROVEN, "z": MISSING}
    if kind == "output-width":
        assert verdicts(res["formal"]) == {"y": PROVEN, "z": WIDTH}
    if kind == "testbench":
        assert sim.top == "top" and verdicts(res["formal"]) == {"y": PROVEN, "z": PROVEN}


# -- the command lines ---------------------------------------------------------------------------

def test_verislice_equiv_method_both_json_and_exit_codes(tmp_path):
    from verislice.cli import app

    for name, src in (("ref.v", REF), ("hidden.v", HIDDEN)):
        (tmp_path / name).write_text(src.text)
    runner = CliRunner()
    r = runner.invoke(app, ["equiv", str(tmp_path / "ref.v"), str(tmp_path / "hidden.v"),
                            "--method", "both", "--json", "--engine", "vvp", "--cycles", "300"])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["method"] == "both"
    [c] = doc["candidates"]
    assert c["method"] == "both"
    assert {n: o["verdict"] for n, o in c["outputs"].items()} == \
        {"ok": MISMATCH, "y": PROVEN, "z": MISMATCH}
    assert c["outputs"]["ok"]["first_failure"]["trace"]
    r = runner.invoke(app, ["equiv", str(tmp_path / "ref.v"), str(tmp_path / "ref.v"),
                            "--method", "both", "--json", "--engine", "vvp", "--cycles", "300"])
    assert r.exit_code == 0, r.output
    assert all(o["verdict"] in (PROVEN, BOUNDED)
               for o in json.loads(r.output)["candidates"][0]["outputs"].values())


def test_salv_train_label_method_both(tmp_path):
    from salv_trainer.cli import app

    samples = tmp_path / "samples.jsonl"
    responses = [f"```verilog\n{HIDDEN.text}```", f"```verilog\n{REF.text}```"]
    samples.write_text(json.dumps({"id": "p0", "reference": REF.text,
                                   "responses": responses}) + "\n")
    out = tmp_path / "labeled.jsonl"
    r = CliRunner().invoke(app, ["label", str(samples), "--out", str(out), "--method", "both",
                                 "--engine", "vvp", "--cycles", "300", "--json"])
    assert r.exit_code == 0, r.output
    [row] = [json.loads(line) for line in out.read_text().splitlines()]
    hidden, same = row["labels"]
    assert hidden["verdict"] == OK
    assert hidden["outputs"] == {"ok": MISMATCH, "y": PROVEN, "z": MISMATCH}
    assert same["outputs"] == {"ok": PROVEN, "y": PROVEN, "z": PROVEN}
    # the same file labelled by simulation alone calls the hidden difference right
    out_sim = tmp_path / "labeled_sim.jsonl"
    r = CliRunner().invoke(app, ["label", str(samples), "--out", str(out_sim), "--engine", "vvp",
                                 "--cycles", "300", "--json"])
    assert r.exit_code == 0, r.output
    [row] = [json.loads(line) for line in out_sim.read_text().splitlines()]
    assert row["labels"][0]["outputs"]["ok"] == MATCH


LONG_COUNTER = """module clock16(input clk, input reset, input ena, output reg [7:0] hi, output reg [7:0] lo);
  always @(posedge clk)
    if (reset) begin hi <= 0; lo <= 0; end
    else if (ena) begin
      lo <= lo + 8'd1;
      if (lo == 8'd255) hi <= (hi == 8'd{wrap}) ? 8'd0 : hi + 8'd1;
    end
endmodule
"""


def test_both_never_calls_right_what_neither_engine_could_reach():
    # the count_clock shape: a difference only after 250 x 256 enabled cycles, beyond any
    # stimulus budget and any bounded proof. Under `both` the candidate's hi is UNKNOWN (never
    # MATCH or BOUNDED, which would be a "correct" label); the reference itself is PROVEN.
    ref = Source(LONG_COUNTER.replace("{wrap}", "255"), "lc_ref.v")
    same = Source(LONG_COUNTER.replace("{wrap}", "255"), "lc_same.v")
    late = Source(LONG_COUNTER.replace("{wrap}", "250"), "lc_late.v")
    r_same, r_late = equiv.check_batch([(ref, [same, late])], method="both")[0]
    assert {n: o.verdict for n, o in r_same.outputs.items()} == {"hi": PROVEN, "lo": PROVEN}
    hi = r_late.outputs["hi"]
    assert hi.verdict == UNKNOWN and not hi.correct, hi
    assert "not covered: the reference's counters (16 bits)" in hi.message
    sim = equiv.check(ref, late).outputs["hi"]
    assert sim.verdict == MATCH  # simulation alone cannot see it: why `both` must not trust it
