"""Formal per-output checking (Yosys via pyosys in worker processes): verdicts, counterexamples
replayed in Icarus, resets of every kind, and every failure as a verdict rather than a crash."""

from __future__ import annotations

import pytest

from verislice import Source, VerisliceError, equiv
from verislice.equiv import (
    AMBIGUOUS,
    BOUNDED,
    COMPILE_ERROR,
    INTERFACE,
    MISMATCH,
    MISSING,
    OK,
    PROVEN,
    REFERENCE_ERROR,
    UNKNOWN,
    WIDTH,
)

pytest.importorskip("pyosys")

from verislice._formal import Counterexample, FormalOptions, check_formal, check_formal_batch  # noqa: E402
from verislice._formal_replay import replay  # noqa: E402


def verdicts(result) -> dict[str, str]:
    return {n: o.verdict for n, o in result.outputs.items()}


def assert_real(ref: Source, cand: Source, result, output: str) -> Counterexample:
    """The counterexample of ``output``, replayed in Icarus, shows the values the prover gave."""
    cex = result.outputs[output].first_failure
    assert isinstance(cex, Counterexample)
    assert cex.inputs == dict(cex.trace[cex.cycle])
    r = replay(ref, cand, output, cex)
    assert r.differs, (output, cex, r)
    assert (r.expected, r.actual) == (cex.expected, cex.actual)
    return cex


# -- combinational -------------------------------------------------------------------------------

ALU_REF = Source("""
module alu(input [7:0] a, input [7:0] b, input [1:0] op, output reg [7:0] y,
           output zero, output parity, output [7:0] max);
  always @* begin
    case (op)
      2'd0: y = a + b;
      2'd1: y = a - b;
      2'd2: y = a & b;
      default: y = a ^ b;
    endcase
  end
  assign zero = (y == 8'd0);
  assign parity = ^a;
  assign max = (a > b) ? a : b;
endmodule
""", "alu_ref.v")

# Same functions, written differently: two's complement subtraction, a parity loop, a swapped
# comparison, a helper submodule whose name clashes with nothing in the reference.
ALU_SAME = Source("""
module sub8(input [7:0] x, input [7:0] y, output [7:0] d);
  assign d = x + ~y + 8'd1;
endmodule
module alu(input [7:0] a, input [7:0] b, input [1:0] op, output [7:0] y,
           output zero, output reg parity, output [7:0] max);
  wire [7:0] diff;
  sub8 s(.x(a), .y(b), .d(diff));
  assign y = op[1] ? (op[0] ? (a ^ b) : (a & b)) : (op[0] ? diff : b + a);
  assign zero = ~|y;
  integer i;
  always @* begin
    parity = 1'b0;
    for (i = 0; i < 8; i = i + 1) parity = parity ^ a[i];
  end
  assign max = (b >= a) ? b : a;
endmodule
""", "alu_same.v")

# Wrong only in `max` (signed comparison) and `parity` (one bit left out).
ALU_WRONG = Source("""
module alu(input [7:0] a, input [7:0] b, input [1:0] op, output reg [7:0] y,
           output zero, output parity, output [7:0] max);
  always @* begin
    case (op)
      2'd0: y = a + b;
      2'd1: y = a - b;
      2'd2: y = a & b;
      default: y = a ^ b;
    endcase
  end
  assign zero = (y == 8'd0);
  assign parity = ^a[6:0];
  assign max = ($signed(a) > $signed(b)) ? a : b;
endmodule
""", "alu_wrong.v")


def test_restructured_combinational_design_is_proven():
    [r] = check_formal(ALU_REF, [ALU_SAME])
    assert r.verdict == OK and r.method == "formal"
    assert verdicts(r) == {"y": PROVEN, "zero": PROVEN, "parity": PROVEN, "max": PROVEN}
    assert all(o.method == "formal" and o.correct for o in r.outputs.values())
    assert r.correct_outputs == {"y", "zero", "parity", "max"}


def test_wrong_outputs_get_counterexamples_that_simulation_confirms():
    [r] = check_formal(ALU_REF, [ALU_WRONG])
    assert verdicts(r) == {"y": PROVEN, "zero": PROVEN, "parity": MISMATCH, "max": MISMATCH}
    for name in ("parity", "max"):
        cex = assert_real(ALU_REF, ALU_WRONG, r, name)
        assert cex.cycle == 0 and len(cex.trace) == 1 and cex.clock is None
        assert set(cex.inputs) == {"a", "b", "op"}
        assert all(set(v) <= {"0", "1"} for v in cex.inputs.values())
    j = r.to_json()
    assert j["method"] == "formal"
    assert j["outputs"]["max"]["first_failure"]["trace"] == [r.outputs["max"].first_failure.inputs]


def test_difference_at_one_exact_wide_value_is_found():
    # Random stimulus almost never hits one 32-bit value; the proof does.
    ref = Source("module m(input [31:0] k, output ok); assign ok = k[0]; endmodule\n", "k_ref.v")
    cand = Source("module m(input [31:0] k, output ok);\n"
                  "  assign ok = (k == 32'hDEADBEEF) ? 1'b0 : k[0];\nendmodule\n", "k_gen.v")
    [r] = check_formal(ref, [cand])
    assert r.outputs["ok"].verdict == MISMATCH
    cex = assert_real(ref, cand, r, "ok")
    assert cex.inputs == {"k": format(0xDEADBEEF, "032b")}


def test_reference_x_is_dont_care_and_candidate_x_is_a_difference():
    ref = Source("""
module m(input [1:0] s, input a, output reg y, output z);
  always @* case (s) 2'd0: y = a; 2'd1: y = ~a; default: y = 1'bx; endcase
  assign z = s[0] ? a : 1'bx;
endmodule
""", "x_ref.v")
    fills = Source("""
module m(input [1:0] s, input a, output y, output z);
  assign y = s[0] ^ a;   // any value where the reference is X
  assign z = a;
endmodule
""", "x_fill.v")
    leaves_x = Source("""
module m(input [1:0] s, input a, output y, output z);
  assign y = (s == 2'd0) ? a : (s == 2'd1) ? ~a : 1'b0;
  assign z = s[1] ? 1'bx : a;    // X where the reference is defined (s = 3)
endmodule
""", "x_leave.v")
    r_fill, r_x = check_formal(ref, [fills, leaves_x])
    assert verdicts(r_fill) == {"y": PROVEN, "z": PROVEN}
    # The X constant is in z's cone only: y is still proven (an output whose cone writes an X
    # constant never is, see the next test).
    assert verdicts(r_x) == {"y": PROVEN, "z": MISMATCH}
    cex = r_x.outputs["z"].first_failure
    assert cex.inputs["s"] == "11" and cex.actual == "x" and cex.expected in ("0", "1")
    assert_real(ref, leaves_x, r_x, "z")


def test_candidate_x_constants_are_modelled_like_simulation():
    # Found by tools/agreement_formal.py (a kmap3 mutant): by default Yosys's `proc` takes
    # `out = 1'bx` in this latch-making case as "don't care" (the next branch's 0) while Icarus
    # drives X where the reference is 0 (s = 1). `proc -ifx` keeps the X, as simulation does:
    # the difference is found, and Icarus confirms it.
    ref = Source("module m(input [1:0] s, output reg out);\n"
                 "  always @* case (s) 2'd0: out = 0; 2'd1: out = 0; 2'd2: out = 1; "
                 "2'd3: out = 1'bx; endcase\nendmodule\n", "xc_ref.v")
    cand = Source("module m(input [1:0] s, output reg out);\n"
                  "  always @* case (s) 2'd0: out = 0; 2'd1: out = 1'bx; 2'd1: out = 0; "
                  "2'd2: out = 1; endcase\nendmodule\n", "xc_gen.v")
    [r] = check_formal(ref, [cand])
    assert verdicts(r) == {"out": MISMATCH}
    cex = assert_real(ref, cand, r, "out")
    assert cex.actual == "x" and cex.expected == "0"
    # An X constant where the reference is X too is fine (don't-care there).
    same = Source("module m(input [1:0] s, output reg out);\n"
                  "  always @* case (s) 2'd0, 2'd1: out = 0; 2'd2: out = 1; "
                  "default: out = 1'bx; endcase\nendmodule\n", "xc_same.v")
    [r] = check_formal(ref, [same])
    assert verdicts(r) == {"out": PROVEN}


def test_latch_in_always_comb_is_modelled_like_simulation():
    # Yosys rejects an always_comb that keeps state; Icarus simulates it. Model it as always @*.
    ref = Source("""
module m(input clk, input reset, output ena);
  parameter B0 = 0, B1 = 1, DONE = 2;
  reg [1:0] state, next;
  always_comb begin
    case (state) B0: next = B1; B1: next = DONE; DONE: next = DONE; endcase
  end
  always @(posedge clk) if (reset) state <= B0; else state <= next;
  assign ena = (state != DONE);
endmodule
""", "latch_ref.v")
    [r] = check_formal(ref, [ref], depth=8)
    assert verdicts(r) == {"ena": PROVEN}, r


# -- sequential: resets of every kind ------------------------------------------------------------

def counter(reset: str, edge: str, test: str, bug: bool = False) -> str:
    """A 4-bit counter with an enable; ``bug`` wraps at 9 instead of 15 in ``q`` only."""
    events = f"posedge clk or {edge} {reset}" if edge else "posedge clk"
    nxt = "(q == 4'd9) ? 4'd0 : q + 4'd1" if bug else "q + 4'd1"
    return f"""
module cnt(input clk, input {reset}, input en, output reg [3:0] q, output carry);
  always @({events})
    if ({test}) q <= 4'd0;
    else if (en) q <= {nxt};
  assign carry = en & (q == 4'd15);
endmodule
"""


RESETS = {
    "sync-high": ("rst", "", "rst"),
    "sync-low": ("rst_n", "", "!rst_n"),
    "async-high": ("areset", "posedge", "areset"),
    "async-low": ("rst_n", "negedge", "!rst_n"),
}


@pytest.mark.parametrize("kind", sorted(RESETS))
def test_sequential_resets_bounded_and_refuted(kind):
    reset, edge, test = RESETS[kind]
    ref = Source(counter(reset, edge, test), f"{kind}_ref.v")
    # Same behaviour, rewritten: the enable folded into the adder.
    same_text = counter(reset, edge, test).replace("else if (en) q <= q + 4'd1;",
                                                   "else q <= q + {3'd0, en};")
    assert same_text != counter(reset, edge, test)
    same = Source(same_text, f"{kind}_same.v")
    wrong = Source(counter(reset, edge, test, bug=True), f"{kind}_wrong.v")
    r_same, r_wrong = check_formal(ref, [same, wrong], depth=20)
    # the same state in both: the induction step holds, equal for ever after reset
    assert verdicts(r_same) == {"q": PROVEN, "carry": PROVEN}
    assert r_same.outputs["q"].message.endswith("induction)")
    # The bug shows in q after 10 enabled cycles; carry never reaches 15 in the candidate.
    assert verdicts(r_wrong) == {"q": MISMATCH, "carry": MISMATCH}
    low = kind.endswith("low")
    for name in ("q", "carry"):
        cex = assert_real(ref, wrong, r_wrong, name)
        assert cex.clock == "clk" and cex.clock_edge == "posedge"
        assert cex.reset == ((reset, 0 if low else 1),)
        assert cex.trace[0][reset] == ("0" if low else "1")
        assert cex.cycle >= 10


def test_given_reset_overrides_detection():
    ref = Source(counter("rst", "", "rst"), "ovr_ref.v")
    wrong = Source(counter("rst", "", "rst", bug=True), "ovr_wrong.v")
    [r] = check_formal(ref, [wrong], reset="rst", reset_active_low=False, depth=16)
    assert r.outputs["q"].first_failure.reset == (("rst", 1),)
    # Too few cycles to reach the bug: bounded, and the message says how far.
    [short] = check_formal(ref, [wrong], depth=5)
    assert verdicts(short) == {"q": BOUNDED, "carry": BOUNDED}
    assert "5 cycles" in short.outputs["q"].message


def test_no_reset_starts_from_x_like_simulation():
    # A shift register without reset: the reference is X until data has shifted in.
    ref = Source("module sr(input clk, input d, output q);\n reg [2:0] r;\n"
                 " always @(posedge clk) r <= {r[1:0], d};\n assign q = r[2];\nendmodule\n", "sr.v")
    zero = Source("module sr(input clk, input d, output q);\n reg [2:0] r = 3'b0;\n"
                  " always @(posedge clk) r <= {r[1:0], d};\n assign q = r[2];\nendmodule\n",
                  "sr0.v")
    [r] = check_formal(ref, [zero], depth=10)
    assert verdicts(r) == {"q": PROVEN}
    # The other way round the reference is defined (0) where the candidate is X.
    [back] = check_formal(zero, [ref], depth=10)
    assert verdicts(back) == {"q": MISMATCH}
    assert back.outputs["q"].first_failure.actual == "x"


# -- interface and input problems are verdicts ---------------------------------------------------

def test_interface_problems_are_per_candidate_verdicts():
    ref = Source("module m(input [3:0] a, input b, output [3:0] y, output z);\n"
                 " assign y = a; assign z = b;\nendmodule\n", "i_ref.v")
    missing_out = Source("module m(input [3:0] a, input b, output [3:0] y);\n"
                         " assign y = a;\nendmodule\n", "i_missing.v")
    wide = Source("module m(input [3:0] a, input b, output [3:0] y, output [1:0] z);\n"
                  " assign y = a; assign z = {b, b};\nendmodule\n", "i_wide.v")
    no_input = Source("module m(input [3:0] a, output [3:0] y, output z);\n"
                      " assign y = a; assign z = 0;\nendmodule\n", "i_noin.v")
    broken = Source("module m(input [3:0] a, input b, output [3:0] y, output z);\n"
                    " assign y = a +;\nendmodule\n", "i_broken.v")
    r1, r2, r3, r4 = check_formal(ref, [missing_out, wide, no_input, broken])
    assert verdicts(r1) == {"y": PROVEN, "z": MISSING}
    assert verdicts(r2) == {"y": PROVEN, "z": WIDTH}
    assert r2.outputs["z"].candidate_width == 2 and r2.outputs["z"].width == 1
    assert r3.verdict == INTERFACE and r3.message == "input 'b' is missing"
    assert r4.verdict == COMPILE_ERROR and r4.message.startswith("i_broken.v:2:")
    assert [r.name for r in (r1, r2, r3, r4)] == ["i_missing.v", "i_wide.v", "i_noin.v",
                                                   "i_broken.v"]


def test_candidate_yosys_cannot_read_is_unknown_and_costs_no_one_else():
    ref = Source("module m(input [1:0] a, output y, output w);\n"
                 " assign y = (a == 2'd1) | (a == 2'd2); assign w = a[0];\nendmodule\n", "u_ref.v")
    unreadable = Source("module m(input [1:0] a, output y, output w);\n"
                        " assign y = a inside {2'd1, 2'd2}; assign w = a[0];\nendmodule\n",
                        "u_inside.v")
    good = Source("module m(input [1:0] a, output y, output w);\n"
                  " assign y = ^a; assign w = a[0];\nendmodule\n", "u_good.v")
    r_bad, r_good = check_formal(ref, [unreadable, good])
    assert r_bad.verdict == OK
    assert verdicts(r_bad) == {"y": UNKNOWN, "w": UNKNOWN}
    assert r_bad.message.startswith("u_inside.v:2: ERROR: syntax error")
    assert r_bad.outputs["y"].message == r_bad.message
    assert verdicts(r_good) == {"y": PROVEN, "w": PROVEN}


def test_reference_yosys_cannot_read_gives_unknown_with_the_reason():
    ref = Source("module m(input [1:0] a, output y);\n assign y = a inside {2'd1};\nendmodule\n",
                 "bad_ref.v")
    cand = Source("module m(input [1:0] a, output y);\n assign y = a == 2'd1;\nendmodule\n", "c.v")
    [r] = check_formal(ref, [cand])
    assert verdicts(r) == {"y": UNKNOWN}
    assert r.message.startswith("Yosys cannot read the reference: bad_ref.v:2: ERROR:")


def test_solver_time_limit_gives_unknown():
    ref = Source("module m(input [31:0] a, b, output [63:0] p);\n assign p = a * b;\nendmodule\n",
                 "mul.v")
    swapped = Source("module m(input [31:0] a, b, output [63:0] p);\n"
                     " wire [63:0] x = {32'd0, b}, y = {32'd0, a};\n assign p = x * y;\nendmodule\n",
                     "mul2.v")
    [r] = check_formal(ref, [swapped], timeout=1)
    assert verdicts(r) == {"p": UNKNOWN}
    assert r.outputs["p"].message == "solver time limit (1 s) reached"


def test_several_clocks_are_a_reference_error_as_in_simulation():
    two = Source("module m(input c1, input c2, input d, output reg q, output reg r);\n"
                 " always @(posedge c1) q <= d;\n always @(posedge c2) r <= d;\nendmodule\n",
                 "two.v")
    with pytest.raises(VerisliceError, match="several clocks"):
        check_formal(two, [two])
    # with one of them chosen, the other is data, as in simulation
    ok = equiv.check(two, two, method="formal", clock="c1")
    assert verdicts(ok) == {"q": PROVEN, "r": PROVEN}


def test_flip_flops_on_both_edges_are_modelled_with_two_steps_per_cycle():
    both = Source("module m(input clk, input d, output reg q, output reg r);\n"
                  " always @(posedge clk) q <= d;\n always @(negedge clk) r <= d;\nendmodule\n",
                  "both.v")
    one = Source("module m(input clk, input d, output reg q, output reg r);\n"
                 " always @(posedge clk) begin q <= d; r <= d; end\nendmodule\n", "one.v")
    r_same, r_one = check_formal(both, [both, one])
    assert verdicts(r_same) == {"q": PROVEN, "r": PROVEN}
    assert verdicts(r_one) == {"q": PROVEN, "r": MISMATCH}
    cex = assert_real(both, one, r_one, "r")
    assert cex.clock_edge == "both"


def test_bad_reference_raises_in_check_and_is_a_verdict_in_batches():
    bad = Source("module m(input a, output y);\n assign y = a +;\nendmodule\n", "broken_ref.v")
    good = Source("module m(input a, output y);\n assign y = a;\nendmodule\n", "ok.v")
    with pytest.raises(VerisliceError, match=r"broken_ref.v:2:\d+: error:"):
        check_formal(bad, [good])
    [[r_bad], [r_ok]] = check_formal_batch([(bad, [good]), (good, [good])])
    assert r_bad.verdict == REFERENCE_ERROR and "broken_ref.v:2:" in r_bad.message
    assert verdicts(r_ok) == {"y": PROVEN}


def test_only_the_asked_outputs_are_proven():
    [r] = check_formal(ALU_REF, [ALU_WRONG], outputs=[{"y", "max"}])
    assert verdicts(r) == {"y": PROVEN, "max": MISMATCH}


def test_options_are_checked():
    with pytest.raises(VerisliceError, match="--depth must be at least 1"):
        FormalOptions(depth=0)
    with pytest.raises(VerisliceError, match="init must be 'undef' or 'zero'"):
        FormalOptions(init="random")


def test_parallel_workers_keep_input_order():
    cands = [ALU_SAME, ALU_WRONG, ALU_REF, ALU_WRONG]
    rs = check_formal(ALU_REF, cands, jobs=2)
    assert [r.name for r in rs] == [c.name for c in cands]
    assert [verdicts(r)["max"] for r in rs] == [PROVEN, MISMATCH, PROVEN, MISMATCH]


def test_reference_output_always_x_is_ambiguous_not_proven():
    # Nothing can be wrong against an output that is never defined: like simulation's AMBIGUOUS,
    # never a "correct" label for whatever the candidate drives.
    ref = Source("module m(input [1:0] a, output y, output z);\n"
                 " assign y = 1'bx; assign z = a[0] ? 1'bx : a[1];\nendmodule\n", "amb_ref.v")
    cand = Source("module m(input [1:0] a, output y, output z);\n"
                  " assign y = 1'b1; assign z = a[1];\nendmodule\n", "amb_gen.v")
    [r] = check_formal(ref, [cand])
    assert verdicts(r) == {"y": AMBIGUOUS, "z": PROVEN}
    assert r.outputs["y"].message == ("the reference output is X for every input: "
                                      "nothing to compare")
    assert not r.outputs["y"].correct
    # Sequential: a register that is never reset nor loaded stays X.
    seq_ref = Source("module s(input clk, input d, output reg q, output reg p);\n"
                     " always @(posedge clk) begin q <= q; p <= d; end\nendmodule\n", "amb_s.v")
    seq_gen = Source("module s(input clk, input d, output reg q, output reg p);\n"
                     " always @(posedge clk) begin q <= 1'b0; p <= d; end\nendmodule\n",
                     "amb_s2.v")
    [r] = check_formal(seq_ref, [seq_gen], depth=6)
    assert verdicts(r) == {"q": AMBIGUOUS, "p": PROVEN}
    # one defined bit is enough, as in simulation (VerilogEval's gatesv leaves bit 3 X)
    part = Source("module g(input [3:0] i, output [3:0] both);\n"
                  "  assign both[2:0] = i[2:0] & i[3:1];\n  assign both[3] = 1'bx;\nendmodule\n",
                  "part_x.v")
    [r] = check_formal(part, [part])
    assert verdicts(r) == {"both": PROVEN}


def test_a_reset_that_is_no_input_is_a_usage_error():
    ref = Source(counter("rst", "", "rst"), "r_ref.v")
    with pytest.raises(VerisliceError, match=r"--reset nrst: no such input in cnt"):
        check_formal(ref, [ref], reset="nrst")


def test_a_cell_the_prover_cannot_model_costs_only_the_outputs_that_need_it():
    ref = Source("module m(input [3:0] a, b, output [7:0] y, output z);\n"
                 " assign y = a ** b; assign z = a[0] ^ b[0];\nendmodule\n", "pow_ref.v")
    cand = Source("module m(input [3:0] a, b, output [7:0] y, output z);\n"
                  " assign y = b ** a; assign z = b[0] ^ a[0];\nendmodule\n", "pow_gen.v")
    other = Source("module m(input [3:0] a, b, output [7:0] y, output z);\n"
                   " assign y = 8'd1; assign z = a[0];\nendmodule\n", "pow_other.v")
    r, r_other = check_formal(ref, [cand, other])
    assert verdicts(r) == {"y": UNKNOWN, "z": PROVEN}
    assert r.outputs["y"].message.startswith("the prover has no model for $pow cells (pow_")
    assert verdicts(r_other)["z"] == MISMATCH


def test_files_includes_defines_and_multi_file_designs(tmp_path):
    (tmp_path / "w.vh").write_text("`define W 4\n")
    ref = tmp_path / "ref.v"
    ref.write_text('`include "w.vh"\nmodule top(input [`W-1:0] a, output [`W-1:0] y);\n'
                   "  assign y = a ^ `MASK;\nendmodule\n")
    top = tmp_path / "gen.v"
    top.write_text("module inv(input [3:0] x, output [3:0] z);\n  assign z = ~x;\nendmodule\n"
                   "module top(input [3:0] a, output [3:0] y);\n"
                   "  wire [3:0] t;\n  inv u(.x(a), .z(t));\n  assign y = ~(t ^ `MASK);\n"
                   "endmodule\n")
    [r] = check_formal(ref, [top], defines={"MASK": "4'b1010"})
    assert r.name == str(top) and r.top == "top"
    assert verdicts(r) == {"y": PROVEN}
    [r] = check_formal(str(ref), [top], defines={"MASK": "4'b1010"}, include_dirs=[tmp_path])
    assert verdicts(r) == {"y": PROVEN}


def test_a_proof_that_outgrows_its_time_limit_costs_only_its_output():
    # A registered 32x32 product against the same product with its operands swapped: the
    # solver cannot show the multipliers equal within one second (register pairs and induction
    # alike), the worker is stopped, that output gets UNKNOWN; the other output is still proven.
    ref = Source("module r(input clk, input [31:0] a, input [31:0] b, output reg [63:0] q,\n"
                 "         output reg p);\n"
                 "  always @(posedge clk) begin q <= a * b; p <= ^a; end\nendmodule\n", "mulr.v")
    swapped = Source("module r(input clk, input [31:0] a, input [31:0] b, output reg [63:0] q,\n"
                     "         output reg p);\n  wire [63:0] x = {32'd0, b}, y = {32'd0, a};\n"
                     "  always @(posedge clk) begin q <= x * y; p <= ^a; end\nendmodule\n",
                     "mulr2.v")
    [r] = check_formal(ref, [swapped], timeout=1)
    assert verdicts(r) == {"q": UNKNOWN, "p": PROVEN}
    assert "time limit" in r.outputs["q"].message
    # a wide state written the same way: registers paired, proven at once
    rule90 = Source("module r(input clk, input load, input [255:0] data, output reg [255:0] q);\n"
                    "  always @(posedge clk) if (load) q <= data;\n"
                    "    else q <= q[255:1] ^ {q[254:0], 1'b0};\nendmodule\n", "rule90.v")
    [r] = check_formal(rule90, [rule90], timeout=1)
    assert verdicts(r) == {"q": PROVEN}


# -- sequential designs that plain induction cannot decide ---------------------------------------

MEM_REF = Source("""
module m(input clk, input areset, input we, input [2:0] wa, input [2:0] ra, input [3:0] wd,
         output [3:0] rd, output reg [3:0] last);
  reg [3:0] mem [0:7];
  integer i;
  always @(posedge clk or posedge areset)
    if (areset) begin
      for (i = 0; i < 8; i = i + 1) mem[i] <= 4'd0;
      last <= 4'd0;
    end else begin
      if (we) mem[wa] <= wd;
      last <= mem[ra];
    end
  assign rd = mem[ra];
endmodule
""", "mem_ref.v")

# The same memory under other names, reset written the other way round: the outputs do not
# show the memory, so only register pairs (found by simulation) make the induction go through.
MEM_SAME = Source("""
module m(input clk, input areset, input we, input [2:0] wa, input [2:0] ra, input [3:0] wd,
         output [3:0] rd, output reg [3:0] last);
  reg [3:0] store [7:0];
  integer k;
  always @(posedge clk, posedge areset) begin
    if (!areset) begin
      last <= store[ra];
      if (we) store[wa] <= wd;
    end else begin
      last <= 0;
      for (k = 7; k >= 0; k = k - 1) store[k] <= 0;
    end
  end
  assign rd = store[ra];
endmodule
""", "mem_same.v")


def test_async_reset_with_a_memory_is_proven_and_its_mistakes_refuted():
    wrong = Source(MEM_REF.text.replace("mem[i] <= 4'd0;", "mem[i] <= (i == 5) ? 4'd1 : 4'd0;"),
                   "mem_wrong.v")
    sync = Source(MEM_REF.text.replace("posedge clk or posedge areset", "posedge clk"),
                  "mem_sync.v")
    r_same, r_wrong, r_sync = check_formal(MEM_REF, [MEM_SAME, wrong, sync])
    assert verdicts(r_same) == {"rd": PROVEN, "last": PROVEN}, r_same
    assert verdicts(r_wrong) == {"rd": MISMATCH, "last": MISMATCH}
    assert verdicts(r_sync) == {"rd": MISMATCH, "last": MISMATCH}
    for r, cand in ((r_wrong, wrong), (r_sync, sync)):
        for name in ("rd", "last"):
            cex = assert_real(MEM_REF, cand, r, name)
            assert cex.reset == (("areset", 1),)
    # a synchronous reset acts at the first edge: the outputs are X before it (don't-care)
    assert r_sync.outputs["rd"].first_failure.actual == "xxxx"


def test_a_wide_shared_state_is_proven_through_register_pairs():
    # 64 entries of 8 bits: plain induction or 20 cycles of bounded checking on two copies of
    # this memory take the solver seconds to minutes; paired registers make it one step.
    ref = Source("""
module m(input clk, input rst, input we, input [5:0] a, input [7:0] d, output [7:0] q,
         output reg [7:0] acc);
  reg [7:0] ram [0:63];
  integer i;
  always @(posedge clk)
    if (rst) begin for (i = 0; i < 64; i = i + 1) ram[i] <= 0; acc <= 0; end
    else begin if (we) ram[a] <= d ^ ram[a]; acc <= acc + ram[a]; end
  assign q = ram[a];
endmodule
""", "ram_ref.v")
    [r] = check_formal(ref, [ref], timeout=5)
    assert verdicts(r) == {"q": PROVEN, "acc": PROVEN}


def test_initial_values_are_start_values_as_in_simulation():
    ref = Source("module c(input clk, input en, output reg [3:0] q = 4'd5);\n"
                 "  always @(posedge clk) if (en) q <= q + 4'd1;\nendmodule\n", "init_ref.v")
    same = Source("module c(input clk, input en, output reg [3:0] q);\n"
                  "  initial q = 4'b0101;\n"
                  "  always @(posedge clk) q <= en ? q + 4'd1 : q;\nendmodule\n", "init_same.v")
    off = Source("module c(input clk, input en, output reg [3:0] q);\n"
                 "  initial q = 4'd4;\n"
                 "  always @(posedge clk) if (en) q <= q + 4'd1;\nendmodule\n", "init_off.v")
    none = Source("module c(input clk, input en, output reg [3:0] q);\n"
                  "  always @(posedge clk) if (en) q <= q + 4'd1;\nendmodule\n", "init_none.v")
    r_same, r_off, r_none = check_formal(ref, [same, off, none])
    assert verdicts(r_same) == {"q": PROVEN}
    assert verdicts(r_off) == {"q": MISMATCH} and verdicts(r_none) == {"q": MISMATCH}
    cex = assert_real(ref, off, r_off, "q")
    assert cex.cycle == 0 and (cex.expected, cex.actual) == ("0101", "0100")
    assert assert_real(ref, none, r_none, "q").actual == "xxxx"


def test_latches_keep_their_value_between_cycles():
    ref = Source("module l(input en, input [1:0] d, output reg [1:0] q);\n"
                 "  always @* if (en) q = d;\nendmodule\n", "latch_ref.v")
    same = Source("module l(input en, input [1:0] d, output reg [1:0] q);\n"
                  "  always @(en or d) begin if (en) q <= d; end\nendmodule\n", "latch_same.v")
    low = Source("module l(input en, input [1:0] d, output reg [1:0] q);\n"
                 "  always @* if (!en) q = d;\nendmodule\n", "latch_low.v")
    r_same, r_low = check_formal(ref, [same, low])
    assert verdicts(r_same)["q"] in (PROVEN, BOUNDED)
    assert verdicts(r_low) == {"q": MISMATCH}
    assert_real(ref, low, r_low, "q")


# -- no vacuous proofs ---------------------------------------------------------------------------

VAC_REF = Source("""
module v(input clk, input rst, input [1:0] d, output reg q, output reg w);
  always @(posedge clk) if (rst) q <= 0; else q <= d[0];
  always @(posedge clk) if (rst) w <= 0; else w <= d[1];
endmodule
""", "vac_ref.v")


def test_a_signal_driven_by_two_always_blocks_is_never_proven():
    # The red team's case: `w` driven from two blocks made the SAT model contradictory for some
    # inputs, and q and w came out BOUNDED while simulation saw them differ.
    two = Source("""
module v(input clk, input rst, input [1:0] d, output reg q, output reg w);
  always @(posedge clk) if (rst) q <= 0; else w <= d[0];
  always @(posedge clk) w <= d[1];
endmodule
""", "vac_two.v")
    [r] = check_formal(VAC_REF, [two], depth=10)
    assert r.outputs["w"].verdict == UNKNOWN
    assert "several drivers" in r.outputs["w"].message
    # q's cone has no conflict: its difference (it never takes d[0]) is a real one
    assert r.outputs["q"].verdict == MISMATCH
    assert_real(VAC_REF, two, r, "q")
    sim = equiv.check(VAC_REF, two, engine="vvp", cycles=200)
    assert {n: o.verdict for n, o in sim.outputs.items()} == {"q": MISMATCH, "w": MISMATCH}


@pytest.mark.parametrize(("body", "why"), [
    ("assign y = a & b; assign y = a | b;", "several drivers"),
    ("wire t; assign t = a; assign t = 1'b0; assign y = t & b;", "driven inside"),
    ("reg r; always @* r = a & b; always @* r = a | b; assign y = r;", "several drivers"),
    ("wire t; assign t = b ? a : t; assign y = t & b;", "combinational loop"),
], ids=["two-assigns", "assign-and-constant", "two-always", "loop"])
def test_conflicting_drivers_and_loops_are_unknown(body, why):
    ref = Source("module m(input a, input b, output y, output z);\n"
                 " assign y = a & b; assign z = a ^ b;\nendmodule\n", "cd_ref.v")
    cand = Source(f"module m(input a, input b, output y, output z);\n {body}\n"
                  " assign z = a ^ b;\nendmodule\n", "cd_gen.v")
    [r] = check_formal(ref, [cand])
    assert r.outputs["y"].verdict == UNKNOWN, r
    assert why in r.outputs["y"].message
    assert r.outputs["z"].verdict in (PROVEN, UNKNOWN)  # never a wrong "correct"


def test_a_repeated_case_label_is_dead_as_in_verilog():
    # Found by tools/agreement_formal.py (a `bugs_case` mutant): with the first label changed to
    # repeat a later one, Verilog takes the first match; without `proc_rmdead` Yosys's ROM (and
    # `proc_mux -ifx`) let the later item win, and `out` was PROVEN where it differs.
    labels = ["8'h45", "8'h16", "8'h1e", "8'h26", "8'h25", "8'h2e", "8'h36", "8'h3d", "8'h3e",
              "8'h46"]

    def design(first: str, name: str) -> Source:
        items = "\n".join(f"      {first if i == 0 else lab}: out = {i};"
                          for i, lab in enumerate(labels))
        return Source("module d(input [7:0] code, output reg [3:0] out, output reg valid);\n"
                      "  always @(*) begin\n    out = 0;\n    valid = 1;\n    case (code)\n"
                      f"{items}\n      default: valid = 0;\n    endcase\n  end\nendmodule\n", name)

    ref, cand = design("8'h45", "dup_ref.v"), design("8'h46", "dup_gen.v")
    [r] = check_formal(ref, [cand])
    assert verdicts(r) == {"out": MISMATCH, "valid": MISMATCH}
    cex = assert_real(ref, cand, r, "out")
    assert cex.inputs == {"code": "01000110"} and (cex.expected, cex.actual) == ("1001", "0000")


def test_an_asynchronous_load_yosys_cannot_model_is_refuted_only_when_icarus_agrees():
    # `negedge rst_n` tested as `if (rst_n)` (the commonest async-reset mistake) loads `q + d`
    # asynchronously: Yosys makes that a level-sensitive load, a loop through `q`. The prover
    # retries such a candidate with its asynchronous edges ignored and keeps only a difference
    # that Icarus reproduces on the real texts; a proof on that model would prove nothing.
    ref = Source("module c(input clk, input rst_n, input [3:0] d, output reg [3:0] q);\n"
                 "  always @(posedge clk or negedge rst_n)\n"
                 "    if (!rst_n) q <= 4'd0; else q <= q + d;\nendmodule\n", "al_ref.v")
    cand = Source("module c(input clk, input rst_n, input [3:0] d, output reg [3:0] q);\n"
                  "  always @(posedge clk or negedge rst_n)\n"
                  "    if (rst_n) q <= 4'd0; else q <= q + d;\nendmodule\n", "al_gen.v")
    [r] = check_formal(ref, [cand])
    assert verdicts(r) == {"q": MISMATCH}, r
    assert "asynchronous edges of the candidate ignored, replayed in Icarus" in r.outputs["q"].message
    assert_real(ref, cand, r, "q")
