"""verislice.equiv on hand-written designs whose wrong outputs we know (real Icarus simulations)."""

from __future__ import annotations

from pathlib import Path

import pytest

from verislice import Source, VerisliceError, equiv

REPO = Path(__file__).resolve().parents[1]
FAST = {"engine": "vvp"}  # same testbench without cocotb's start-up; the cocotb path has its own tests


def S(text: str, name: str = "cand.v") -> Source:
    return Source(text, name)


def verdicts(r) -> dict[str, str]:
    return {n: o.verdict for n, o in r.outputs.items()}


# -- the paper's Figure 1 ----------------------------------------------------------------------

def test_kbd_example_a_mismatch_d_match_on_cocotb():
    r = equiv.check(REPO / "examples/kbd/ref.v", REPO / "examples/kbd/gen.v")
    assert r.verdict == equiv.OK
    assert verdicts(r) == {"a": equiv.MISMATCH, "d": equiv.MATCH}
    assert r.correct_outputs == {"d"}
    ff = r.outputs["a"].first_failure
    assert ff is not None and set(ff.inputs) == {"scancode"}
    assert len(ff.inputs["scancode"]) == 16 and ff.expected != ff.actual
    assert r.outputs["a"].samples == 1000 and 0 < r.outputs["a"].mismatches < 1000


# -- combinational -----------------------------------------------------------------------------

REF3 = """module top(input [3:0] a, input [3:0] b, output [3:0] y_and, output [3:0] y_or,
                 output [4:0] sum);
  assign y_and = a & b;
  assign y_or = a | b;
  assign sum = a + b;
endmodule"""


def test_mutant_mismatches_exactly_the_outputs_it_breaks():
    bad_or = REF3.replace("a | b", "a ^ b")
    bad_sum = REF3.replace("a + b", "a - b")
    res = equiv.check_batch([(S(REF3, "ref.v"), [S(REF3), S(bad_or), S(bad_sum)])], **FAST)[0]
    assert [verdicts(r) for r in res] == [
        {"y_and": "MATCH", "y_or": "MATCH", "sum": "MATCH"},
        {"y_and": "MATCH", "y_or": "MISMATCH", "sum": "MATCH"},
        {"y_and": "MATCH", "y_or": "MATCH", "sum": "MISMATCH"},
    ]
    ff = res[1].outputs["y_or"].first_failure
    a, b = int(ff.inputs["a"], 2), int(ff.inputs["b"], 2)
    assert int(ff.expected, 2) == a | b and int(ff.actual, 2) == a ^ b


def test_one_exact_wide_value_is_found_from_the_designs_constants():
    ref = """module top(input [31:0] key, output hit, output [7:0] low);
      assign hit = (key == 32'hDEADBEEF);
      assign low = key[7:0];
    endmodule"""
    cand = ref.replace("assign hit = (key == 32'hDEADBEEF);", "assign hit = 1'b0;")
    r = equiv.check(S(ref, "ref.v"), S(cand), **FAST)
    assert verdicts(r) == {"hit": "MISMATCH", "low": "MATCH"}
    assert r.outputs["hit"].first_failure.inputs["key"] == format(0xDEADBEEF, "032b")


def test_case_label_neighbour_is_tried():
    ref = """module top(input [15:0] code, output reg z);
      always @(*) case (code) 16'h1234: z = 1'b1; default: z = 1'b0; endcase
    endmodule"""
    cand = ref.replace("16'h1234", "16'h1235")  # off by one: wrong on two exact values
    r = equiv.check(S(ref, "ref.v"), S(cand), **FAST)
    assert verdicts(r) == {"z": "MISMATCH"}


# -- sequential: clocks, resets ----------------------------------------------------------------

def counter(rst_decl: str, sens: str, test: str, value: str = "4'd0", edge: str = "posedge") -> str:
    return f"""module counter(input clk, input {rst_decl}, input en, output reg [3:0] q,
                              output wrap);
  always @({edge} clk{sens}) if ({test}) q <= {value}; else if (en) q <= q + 4'd1;
  assign wrap = (q == 4'hf);
endmodule"""


RESETS = {
    "sync-high": ("rst", "", "rst"),
    "sync-low": ("rst_n", "", "!rst_n"),
    "async-high": ("areset", " or posedge areset", "areset"),
    "async-low": ("rst_n", " or negedge rst_n", "~rst_n"),
}


@pytest.mark.parametrize("kind", sorted(RESETS))
def test_reset_variants_detected_and_checked(kind):
    from verislice import load
    from verislice.equiv._detect import detect_timing
    from verislice.equiv._options import EquivOptions

    decl, sens, test = RESETS[kind]
    ref = counter(decl, sens, test)
    t = detect_timing(load([S(ref, "ref.v")]), EquivOptions())
    assert (t.clock, t.edges, t.reset) == ("clk", "pos", decl)
    assert t.reset_active_low == kind.endswith("low")
    assert t.reset_async == kind.startswith("async")
    wrong_value = counter(decl, sens, test, value="4'd3")
    no_reset = counter(decl, sens, "1'b0")
    res = equiv.check_batch([(S(ref, "ref.v"), [S(ref), S(wrong_value), S(no_reset)])], **FAST)[0]
    assert verdicts(res[0]) == {"q": "MATCH", "wrap": "MATCH"}
    assert verdicts(res[1])["q"] == "MISMATCH"
    # without a reset, q is X in the candidate where the reference is known: a mismatch (X rule)
    assert verdicts(res[2])["q"] == "MISMATCH"
    assert res[2].outputs["q"].first_failure.actual == "xxxx"


def test_async_reference_against_sync_candidate_differs():
    ref = counter("rst_n", " or negedge rst_n", "!rst_n")
    cand = counter("rst_n", "", "!rst_n")
    r = equiv.check(S(ref, "ref.v"), S(cand), **FAST)
    assert verdicts(r)["q"] == "MISMATCH"


def test_wrong_clock_edge_is_caught():
    ref = counter("rst", "", "rst")
    cand = counter("rst", "", "rst", edge="negedge")
    r = equiv.check(S(ref, "ref.v"), S(cand), **FAST)
    assert verdicts(r)["q"] == "MISMATCH"
    assert "after the active clock edge" in r.outputs["q"].message or \
        "before the active clock edge" in r.outputs["q"].message


def test_negedge_and_dual_edge_designs():
    neg = counter("rst", "", "rst", edge="negedge")
    assert equiv.check(S(neg, "ref.v"), S(neg), **FAST).ok
    dual = """module d(input clk, input [3:0] x, output reg [3:0] q);
      reg [3:0] p, n;
      always @(posedge clk) p <= x;
      always @(negedge clk) n <= x;
      always @(*) q = clk ? p : n;
    endmodule"""
    assert equiv.check(S(dual, "ref.v"), S(dual), **FAST).ok
    only_pos = dual.replace("always @(negedge clk) n <= x;", "always @(posedge clk) n <= x;")
    assert verdicts(equiv.check(S(dual, "ref.v"), S(only_pos), **FAST)) == {"q": "MISMATCH"}


def test_timer_needs_a_long_run_without_load():
    ref = """module timer(input clk, input load, input [7:0] data, output tc);
      reg [7:0] n;
      always @(posedge clk) if (load) n <= data; else if (n != 0) n <= n - 8'd1;
      assign tc = (n == 8'd0);
    endmodule"""
    # wrong only when the count reaches zero after a load of 200 or more
    cand = ref.replace("assign tc = (n == 8'd0);",
                       "reg big; always @(posedge clk) if (load) big <= data >= 8'd200;\n"
                       "      assign tc = (n == 8'd0) && !big;")
    r = equiv.check(S(ref, "ref.v"), S(cand), **FAST)
    assert verdicts(r) == {"tc": "MISMATCH"}


def test_several_clocks_run_free_and_are_compared():
    ref = """module two(input c1, input c2, input d, output reg q1, output reg q2);
      always @(posedge c1) q1 <= d;
      always @(posedge c2) q2 <= d;
    endmodule"""
    # each clock its own period and phase (tests/test_equiv_sv.py has the async FIFO)
    assert equiv.check(S(ref, "ref.v"), S(ref), **FAST).ok
    wrong = ref.replace("always @(posedge c2)", "always @(posedge c1)")
    assert verdicts(equiv.check(S(ref, "ref.v"), S(wrong), **FAST)) == {"q1": "MATCH",
                                                                         "q2": "MISMATCH"}
    # choosing one clock makes the other data (random values)
    assert equiv.check(S(ref, "ref.v"), S(ref), clock="c1", **FAST).ok
    bidir = "module b(input en, inout io, output y); assign io = en ? 1'b0 : 1'bz; " \
            "assign y = io; endmodule"
    with pytest.raises(VerisliceError, match=r"inout ports \(io\) are not supported"):
        equiv.check(S(bidir, "ref.v"), S(bidir), **FAST)


# -- the X rule --------------------------------------------------------------------------------

def test_x_rule():
    ref = """module m(input sel, input [1:0] a, output [1:0] y, output z, output w);
      reg never;
      assign y = sel ? a : 2'bxx;
      assign z = never;
      assign w = a[0];
    endmodule"""
    cand = """module m(input sel, input [1:0] a, output [1:0] y, output z, output w);
      assign y = a;
      assign z = 1'b1;
      assign w = sel ? a[0] : 1'bx;
    endmodule"""
    r = equiv.check(S(ref, "ref.v"), S(cand), **FAST)
    # reference X is don't-care; reference X everywhere is ambiguous; candidate X is a mismatch
    assert verdicts(r) == {"y": "MATCH", "z": "AMBIGUOUS", "w": "MISMATCH"}
    assert 0 < r.outputs["y"].ref_x_samples < r.outputs["y"].samples
    assert "X/Z" in r.outputs["y"].message
    assert r.outputs["w"].first_failure.actual == "x"
    assert not r.ok and r.correct_outputs == {"y"}


# -- interface problems ------------------------------------------------------------------------

def test_interface_verdicts():
    ref = "module m(input [3:0] a, input b, output [3:0] y, output z); " \
          "assign y = a; assign z = b; endmodule"
    cands = {
        "missing_input": "module m(input [3:0] a, output [3:0] y, output z); "
                         "assign y = a; assign z = 0; endmodule",
        "extra_input": "module m(input [3:0] a, input b, input c, output [3:0] y, output z); "
                       "assign y = a; assign z = b; endmodule",
        "input_width": "module m(input [2:0] a, input b, output [3:0] y, output z); "
                       "assign y = a; assign z = b; endmodule",
        "inout": "module m(input [3:0] a, inout b, output [3:0] y, output z); "
                 "assign y = a; assign z = b; endmodule",
        "missing_output": "module m(input [3:0] a, input b, output [3:0] y); "
                          "assign y = a; endmodule",
        "output_width": "module m(input [3:0] a, input b, output [4:0] y, output z); "
                        "assign y = a; assign z = b; endmodule",
        "extra_output": "module m(input [3:0] a, input b, output [3:0] y, output z, output e); "
                        "assign y = a; assign z = b; assign e = 1; endmodule",
    }
    res = equiv.check_batch([(S(ref, "ref.v"), [S(t, k) for k, t in cands.items()])], **FAST)[0]
    got = {r.name: r for r in res}
    for k in ("missing_input", "extra_input", "input_width", "inout"):
        assert got[k].verdict == equiv.INTERFACE, k
    assert "input 'b' is missing" in got["missing_input"].message
    assert "input 'c' is not in the reference" in got["extra_input"].message
    assert "input 'a' is 3 bits, the reference's is 4" in got["input_width"].message
    assert verdicts(got["missing_output"]) == {"y": "MATCH", "z": "MISSING"}
    assert verdicts(got["output_width"]) == {"y": "WIDTH", "z": "MATCH"}
    assert got["output_width"].outputs["y"].candidate_width == 5
    assert verdicts(got["extra_output"]) == {"y": "MATCH", "z": "MATCH"}


# -- broken and hostile candidates never cost the others their verdicts ------------------------

GOOD = "module m(input [3:0] a, output [3:0] y); assign y = ~a; endmodule"
BAD = "module m(input [3:0] a, output [3:0] y); assign y = a; endmodule"


def test_compile_errors_from_pyslang_and_from_iverilog():
    syntax_error = "module m(input [3:0] a, output [3:0] y); assign y = ~a endmodule"
    # accepted by pyslang, but Icarus 11 does not support `break`
    icarus_only = ("module m(input [3:0] a, output reg [3:0] y); always @(*) begin y = ~a; "
                   "for (int i = 0; i < 4; i++) if (a[i]) break; end endmodule")
    res = equiv.check_batch([(S(GOOD, "ref.v"),
                              [S(GOOD, "good.v"), S(syntax_error, "syn.v"),
                               S(icarus_only, "cast.v"), S(BAD, "bad.v")])], **FAST)[0]
    assert [r.verdict for r in res] == ["OK", "COMPILE_ERROR", "COMPILE_ERROR", "OK"]
    assert res[1].message.startswith("syn.v:1:")
    assert "cast.v:1:" in res[2].message and "vs0c2_" not in res[2].message
    assert verdicts(res[0]) == {"y": "MATCH"} and verdicts(res[3]) == {"y": "MISMATCH"}


def test_finish_and_infinite_loops_are_isolated():
    finish = "module m(input [3:0] a, output [3:0] y); assign y = ~a; " \
             "initial #300 $finish; endmodule"
    stop = "module m(input [3:0] a, output [3:0] y); assign y = ~a; initial #300 $stop; endmodule"
    zero_loop = "module m(input [3:0] a, output [3:0] y); reg t = 0; always #0 t = ~t; " \
                "assign y = ~a; endmodule"
    while_loop = "module m(input [3:0] a, output reg [3:0] y); " \
                 "always @(*) begin y = ~a; while (1) begin end end endmodule"
    oscillator = "module m(input [3:0] a, output [3:0] y); reg t = 0, u = 0; " \
                 "always @(a or t) u = ~t; always @(u) t = u; assign y = ~a; endmodule"
    comb_loop = "module m(input [3:0] a, output [3:0] y); wire p, q; " \
                "assign p = a[0] ? ~q : 1'b0; assign q = p; assign y = ~a; endmodule"
    cands = [S(GOOD, "good.v"), S(finish, "finish.v"), S(zero_loop, "zero.v"), S(stop, "stop.v"),
             S(while_loop, "while.v"), S(oscillator, "osc.v"), S(BAD, "bad.v"),
             S(comb_loop, "comb.v")]
    res = equiv.check_batch([(S(GOOD, "ref.v"), cands)], timeout=4, **FAST)[0]
    # Icarus itself refuses `always #0` (it would loop at run time)
    assert [r.verdict for r in res] == ["OK", "REJECTED", "COMPILE_ERROR", "REJECTED", "TIMEOUT",
                                        "TIMEOUT", "OK", "TIMEOUT"]
    assert "infinite loop" in res[2].message
    assert "$finish" in res[1].message and "timed out" in res[4].message
    assert verdicts(res[0]) == {"y": "MATCH"} and verdicts(res[6]) == {"y": "MISMATCH"}


def test_file_tasks_and_huge_memories_are_rejected():
    fileio = "module m(input [3:0] a, output [3:0] y); integer f; " \
             "initial f = $fopen(\"/tmp/x\", \"w\"); assign y = ~a; endmodule"
    readmem = "module m(input [3:0] a, output [3:0] y); reg [3:0] r [0:15]; " \
              "initial $readmemh(\"/etc/passwd\", r); assign y = ~a; endmodule"
    system = "module m(input [3:0] a, output [3:0] y); initial $system(\"rm -rf /\"); " \
             "assign y = ~a; endmodule"
    huge = "module m(input [3:0] a, output [3:0] y); reg [63:0] mem [0:(1<<26)-1]; " \
           "assign y = ~a; endmodule"
    res = equiv.check_batch([(S(GOOD, "ref.v"), [S(fileio, "f.v"), S(readmem, "r.v"),
                                                 S(system, "s.v"), S(huge, "h.v")])], **FAST)[0]
    assert [r.verdict for r in res] == ["REJECTED"] * 4
    assert "$fopen (f.v:1)" in res[0].message and "--allow-file-io" in res[0].message
    assert "$readmemh" in res[1].message and "$system" in res[2].message
    assert "4294967296 bits" in res[3].message
    # under a raised limit the same candidate is simulated
    assert equiv.check(S(GOOD, "ref.v"), S(huge), max_memory_bits=1 << 33, **FAST).ok
    display = "module m(input [3:0] a, output [3:0] y); assign y = ~a; " \
              "integer f; initial begin f = $fopen(\"out.txt\", \"w\"); $fclose(f); end endmodule"
    assert equiv.check(S(GOOD, "ref.v"), S(display), allow_file_io=True, **FAST).ok


def test_same_submodule_names_in_reference_and_candidate_do_not_clash():
    ref = """module top(input [3:0] a, input [3:0] b, output [3:0] s, output [3:0] value);
      alu u(.a(a), .b(b), .s(s)); assign value = a;
    endmodule
    module alu(input [3:0] a, input [3:0] b, output [3:0] s); assign s = a + b; endmodule"""
    cand = ref.replace("assign s = a + b;", "assign s = a - b;")
    r = equiv.check(S(ref, "ref.v"), S(cand), **FAST)
    assert verdicts(r) == {"s": "MISMATCH", "value": "MATCH"}


# -- batching, order, determinism, engines -----------------------------------------------------

def _groups():
    g1 = (S(REF3, "ref3.v"), [S(REF3.replace("a | b", "a ^ b"), f"g1c{i}.v") if i % 2 else
                              S(REF3, f"g1c{i}.v") for i in range(5)])
    g2 = (S(GOOD, "refg.v"), [S(GOOD, "g2c0.v"), S(BAD, "g2c1.v"),
                              S("module m(; endmodule", "g2c2.v")])
    g3 = (S(counter("rst", "", "rst"), "refc.v"),
          [S(counter("rst", "", "rst", value="4'd1"), "g3c0.v"), S(counter("rst", "", "rst"),
                                                                 "g3c1.v")])
    return [g1, g2, g3]


def _summary(res):
    return [[(r.name, r.verdict, sorted(verdicts(r).items()),
              [(n, o.mismatches) for n, o in r.outputs.items()]) for r in row] for row in res]


def test_batch_packing_and_jobs_do_not_change_results_and_keep_input_order():
    one_by_one = [[equiv.check(ref, c, **FAST) for c in cands] for ref, cands in _groups()]
    packed = equiv.check_batch(_groups(), batch_size=3, jobs=2, **FAST)
    assert _summary(packed) == _summary(one_by_one)
    assert [[r.name for r in row] for row in packed] == [[c.name for c in cands]
                                                          for _r, cands in _groups()]
    assert packed[0][1].outputs["y_or"].verdict == "MISMATCH"
    assert packed[1][2].verdict == "COMPILE_ERROR"
    assert packed[2][0].outputs["q"].verdict == "MISMATCH"


def test_cocotb_and_vvp_engines_agree():
    a = equiv.check_batch(_groups(), engine="cocotb")
    b = equiv.check_batch(_groups(), engine="vvp")
    assert _summary(a) == _summary(b)


def test_seed_changes_vectors_not_verdicts():
    ref, cands = _groups()[0]
    r0 = equiv.check_batch([(ref, cands)], seed=0, **FAST)[0]
    r1 = equiv.check_batch([(ref, cands)], seed=1, **FAST)[0]
    assert [verdicts(r) for r in r0] == [verdicts(r) for r in r1]
    assert r0[1].outputs["y_or"].first_failure != r1[1].outputs["y_or"].first_failure
    again = equiv.check_batch([(ref, cands)], seed=0, **FAST)[0]
    assert r0[1].outputs["y_or"].first_failure == again[1].outputs["y_or"].first_failure


def test_bad_options_are_clear_errors():
    with pytest.raises(VerisliceError, match="--cycles must be at least 1"):
        equiv.check(S(GOOD, "ref.v"), S(GOOD), cycles=0)
    with pytest.raises(VerisliceError, match="--clock nope: no such input"):
        equiv.check(S(GOOD, "ref.v"), S(GOOD), clock="nope")
    with pytest.raises(TypeError, match="unknown equivalence option"):
        equiv.check(S(GOOD, "ref.v"), S(GOOD), cycels=10)
    with pytest.raises(VerisliceError, match=r"reference ref\.v: .*error"):
        equiv.check(S("module m(; endmodule", "ref.v"), S(GOOD))


def test_json_record():
    r = equiv.check(S(REF3, "ref.v"), S(REF3.replace("a | b", "a ^ b"), "c.v"), **FAST)
    j = r.to_json()
    assert j["file"] == "c.v" and j["verdict"] == "OK" and j["top"] == "top"
    o = j["outputs"]["y_or"]
    assert o["verdict"] == "MISMATCH" and o["mismatches"] > 0
    assert set(o["first_failure"]) == {"cycle", "inputs", "expected", "actual"}
    assert j["outputs"]["sum"]["first_failure"] is None


def test_a_candidate_flooding_the_output_is_stopped_alone():
    flood = ("module m(input [3:0] a, output [3:0] y); assign y = ~a; "
             "always #1 repeat (100000) $display(\"%0200d\", 0); endmodule")
    res = equiv.check_batch([(S(GOOD, "ref.v"), [S(GOOD, "g.v"), S(flood, "flood.v")])],
                            timeout=20, **FAST)[0]
    assert res[0].verdict == "OK" and res[0].ok
    assert res[1].verdict == "REJECTED" and "printed too much" in res[1].message
    # printing within reason is fine
    chatty = flood.replace("repeat (100000) ", "")
    assert equiv.check(S(GOOD, "ref.v"), S(chatty), **FAST).ok


def test_a_testbench_shipped_with_the_answer_is_ignored():
    answer = GOOD.replace("module m", "module TopModule") + """
    module tb;
      reg [3:0] a; wire [3:0] y;
      TopModule dut(.a(a), .y(y));
      initial begin $dumpfile("w.vcd"); $dumpvars; a = 0; #10 $display(y); $finish; end
    endmodule"""
    ref = GOOD.replace("module m", "module RefModule")
    r = equiv.check(S(ref, "ref.v"), S(answer, "answer.v"), **FAST)
    assert r.verdict == "OK" and r.top == "TopModule" and verdicts(r) == {"y": "MATCH"}
    # a file task inside the design itself is still rejected
    bad = answer.replace("assign y = ~a;", "assign y = ~a; initial $dumpfile(\"x.vcd\");")
    r = equiv.check(S(ref, "ref.v"), S(bad, "bad.v"), **FAST)
    assert r.verdict == "REJECTED" and "$dumpfile (bad.v:1)" in r.message
    # two candidate tops with the reference's ports: ambiguous, asks for --top-gen
    twice = answer + "\n" + GOOD.replace("module m", "module Other")
    r = equiv.check(S(ref, "ref.v"), S(twice, "twice.v"), **FAST)
    assert r.verdict == "INTERFACE" and "several top modules" in r.message


def test_ports_that_are_not_bit_vectors():
    with pytest.raises(VerisliceError, match=r"only bit-vector ports are supported \('a' is"):
        equiv.check(S("module m(input [3:0] a [0:1], output [3:0] y); assign y = a[0]; "
                      "endmodule", "ref.sv"), S(GOOD))
    real_out = "module m(input [3:0] a, output real y); assign y = 1.0; endmodule"
    extra_real = "module m(input [3:0] a, output [3:0] y, output real q); assign y = ~a; " \
                 "assign q = 0.5; endmodule"
    res = equiv.check_batch([(S(GOOD, "ref.v"), [S(real_out, "r.sv"), S(extra_real, "e.sv")])],
                            **FAST)[0]
    assert res[0].verdict == "INTERFACE" and "'y' is real" in res[0].message
    assert res[1].ok  # an extra output of any type is ignored


def test_macros_defined_by_one_design_never_reach_another():
    ref = "module m(input [3:0] a, output [3:0] y);\n`ifdef FLIP\n  assign y = a;\n`else\n" \
          "  assign y = ~a;\n`endif\nendmodule"
    # the define leaks into the files after it (Icarus 11 has no `undefineall)
    leaky = "`define FLIP oops (\nmodule m(input [3:0] a, output [3:0] y); assign y = ~a; " \
            "endmodule"
    res = equiv.check_batch([(S(GOOD, "ref0.v"), [S(leaky, "leaky.v")]),
                             (S(ref, "ref1.v"), [S(GOOD, "g.v")])],
                            reference_errors="report", **FAST)
    assert res[1][0].verdict == "OK" and res[1][0].ok


def test_finish_is_isolated_under_cocotb_too():
    finish = "module m(input [3:0] a, output [3:0] y); assign y = ~a; " \
             "initial #300 $finish; endmodule"
    res = equiv.check_batch([(S(GOOD, "ref.v"), [S(GOOD, "g.v"), S(finish, "f.v"),
                                                 S(BAD, "b.v")])], engine="cocotb")[0]
    assert [r.verdict for r in res] == ["OK", "REJECTED", "OK"]
    assert verdicts(res[2]) == {"y": "MISMATCH"}


def test_jobs_from_a_threaded_caller():
    import threading

    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)  # e.g. a cone worker thread
    t.start()
    try:
        res = equiv.check_batch(_groups(), batch_size=3, jobs=2, **FAST)
    finally:
        stop.set()
        t.join()
    assert _summary(res) == _summary(equiv.check_batch(_groups(), **FAST))


def test_interface_and_compile_errors_are_told_apart_by_type_not_wording():
    """A design with no module is COMPILE_ERROR; a missing or unusable top is INTERFACE. The
    verdict follows the error's class (verislice.InterfaceError), so a file or package named
    like 'top_port' cannot move a candidate from one verdict to the other."""
    import verislice

    sv_intf = ("interface bus_if; logic [3:0] d; modport mp(input d); endinterface\n"
               "module m(input [3:0] a, output [3:0] y, bus_if.mp bus); assign y = ~a; endmodule\n")
    res = equiv.check_batch([(S(GOOD, "ref.v"), [
        S("// the model wrote no module\n", "top_port.v"),
        S("package top_port; endpackage\n", "import_port.sv"),
        S(sv_intf, "intf.sv"),
    ])], **FAST)[0]
    assert [(r.verdict, r.message) for r in res[:2]] == [("COMPILE_ERROR", "no module found")] * 2
    assert res[2].verdict == "INTERFACE"
    assert res[2].message == "port 'bus': interface and multi-ports are not supported"
    r = equiv.check(S(GOOD, "ref.v"), S(GOOD, "gen.v"), top_gen="nope", **FAST)
    assert (r.verdict, r.message) == ("INTERFACE", "top module 'nope' is not defined (modules: m)")
    assert issubclass(verislice.SeveralTopModulesError, verislice.InterfaceError)
