"""Red-team attacks on the judges of untrusted Verilog (docs/security.md), beyond those of
tests/test_security_equiv.py, tests/test_security_frontend.py and tests/test_eval_security.py.

Every verdict of ``verislice equiv`` / ``check_batch`` / ``salv-train label`` / ``salv-train eval``
is a reward for the model that wrote the candidate. Each test is one attack a policy model could
find; it asserts the SECURE behaviour: no forged MATCH/PROVEN/pass, honest neighbours (a right and
a wrong candidate of the same prompt, and of another prompt packed into the same simulation) keep
their verdicts, bounded time, CLI exit codes in {0, 1, 2} without a traceback.

Attack classes:

* port aliasing: Icarus collapses an input port connected to a whole variable of the testbench
  into that variable, so ``force`` on the candidate's OWN input port (legal, local, nothing for
  the screen to see) forces the testbench's clock / stimulus bus / the benchmark testbench's
  stimulus: the reference sees the same forced value, and every neighbour too;
* one text, two meanings: Icarus evaluates expressions with unsized constants losslessly (no
  32-bit wrap, ``-gno-strict-expr-width`` is its default), pyslang and the standard wrap. A
  ``generate if`` on such a condition is elaborated by Icarus on the branch pyslang never
  elaborated, so the hierarchical names and instances in it were never screened;
* front-end amplification (a tiny macro bomb);
* regression guards for attacks that are stopped today.
"""

from __future__ import annotations

import json
import time
from functools import partial

import pytest

import _attack
from _attack import BAD, CORRECT, FAST, GOOD, REF, SEQ_BAD, SEQ_REF, SEQ_WRONG_COUNT, by_file, \
    cand, cli, not_correct, show, verdicts
from _rtllm import ADDER_TB, adder, adder_task
from verislice import Source, equiv

# the attacker between an honest right and an honest wrong candidate of its prompt, and the
# sequential prompt's right, wrong-`fall` and wrong-`count` candidates in the same batch
batch = partial(_attack.batch, limit=60.0, wrong_count=True)


def seq_batch(attacker: str, **kw):
    """The sequential prompt alone: right, attacker, wrong-count, wrong-fall."""
    opts = dict(FAST)
    opts.update(kw)
    res = equiv.check_batch([(Source(SEQ_REF, "seq_ref.v"), [
        Source(SEQ_REF, "seq_good.v"), Source(attacker, "atk.v"),
        Source(SEQ_WRONG_COUNT, "seq_wrong_count.v"), Source(SEQ_BAD, "seq_bad.v")])], **opts)
    return res[0]


# == 1. force on the candidate's OWN input port =================================================
#
# The testbench connects every clock input straight to `clk_pos` (a variable of verislice_tb).
# Icarus collapses the port: `force clk` inside the candidate forces verislice_tb.clk_pos, the
# clock of the reference and of every sequential design of the simulation. A candidate whose
# sequential logic is wrong then matches (nothing ever clocks), and so does its wrong neighbour.

FORCE_CLOCK = {
    "force-0": ("", "initial force clk = 1'b0;"),
    "force-x": ("", "initial force clk = 1'bx;"),
    # the same through a port of a submodule of its own (no statement on `clk` in the top)
    "submodule": ("module hold(input c);\n  initial force c = 1'b0;\nendmodule\n",
                  "hold h(.c(clk));"),
}


@pytest.mark.parametrize("engine", ["vvp", "cocotb"])
@pytest.mark.parametrize("variant", list(FORCE_CLOCK), ids=list(FORCE_CLOCK))
def test_force_on_own_clock_input_does_not_freeze_the_shared_clock(variant, engine):
    pre, stmt = FORCE_CLOCK[variant]
    atk = pre + SEQ_WRONG_COUNT.replace("reg prev;", f"reg prev;\n    {stmt}")
    good, a, wrong, bad = seq_batch(atk, engine=engine)
    assert verdicts(good) == {"rise": "MATCH", "fall": "MATCH", "count": "MATCH"}, good.message
    assert verdicts(wrong)["count"] == "MISMATCH", \
        "an honest wrong neighbour now MATCHes: the attacker froze the testbench clock"
    assert verdicts(bad)["fall"] == "MISMATCH", bad.message
    assert a.verdict != "OK" or verdicts(a)["count"] != "MATCH", \
        f"forged MATCH for a counter that counts by two: {verdicts(a)}"


def test_force_on_own_clock_input_cli_default_engine(tmp_path):
    # the same attack through `verislice equiv` (cocotb engine, the default)
    atk = SEQ_WRONG_COUNT.replace("reg prev;", "reg prev;\n    initial force clk = 1'b0;")
    for name, text in {"ref.v": SEQ_REF, "atk.v": atk, "wrong.v": SEQ_WRONG_COUNT}.items():
        (tmp_path / name).write_text(text)
    rc, out, err, _s = cli(["verislice", "equiv", "ref.v", "atk.v", "wrong.v", "--json",
                            "--cycles", "200"], tmp_path, timeout=90)
    c = by_file(json.loads(out))
    assert c["wrong.v"]["outputs"]["count"]["verdict"] == "MISMATCH", c["wrong.v"]
    assert c["atk.v"]["verdict"] != "OK" or c["atk.v"]["outputs"]["count"]["verdict"] != "MATCH"
    assert rc == 1


# A combinational prompt whose inputs fill the whole stimulus bus: `.a(bus[7:0])` of an 8-bit
# `bus` is the whole variable, collapsed like the clock: forcing `a` forces the bus.
INV_REF = "module inv(input [7:0] a, output [7:0] y);\n  assign y = ~a;\nendmodule\n"
INV_GOOD = "module inv(input [7:0] a, output [7:0] y);\n  assign y = 8'hff ^ a;\nendmodule\n"
INV_WRONG = "module inv(input [7:0] a, output [7:0] y);\n  assign y = 8'hff;\nendmodule\n"


def test_force_on_own_data_input_does_not_force_the_stimulus_bus():
    atk = INV_WRONG.replace("assign", "initial force a = 8'h00;\n  assign")
    res = equiv.check_batch([(Source(INV_REF, "ref.v"), [
        Source(INV_GOOD, "good.v"), Source(atk, "atk.v"), Source(INV_WRONG, "wrong.v")])], **FAST)
    good, a, wrong = res[0]
    assert verdicts(good) == {"y": "MATCH"}, show(res)
    assert verdicts(wrong) == {"y": "MISMATCH"}, f"the wrong neighbour now MATCHes: {show(res)}"
    assert not_correct(a), f"forged MATCH for a constant output: {show(res)}"


def test_force_on_own_data_input_alone_is_not_match():
    # no neighbour needed: the reference reads the forced bus too
    atk = INV_WRONG.replace("assign", "initial force a = 8'h00;\n  assign")
    [[a]] = equiv.check_batch([(Source(INV_REF, "ref.v"), [Source(atk, "atk.v")])], **FAST)
    assert not_correct(a), (a.verdict, verdicts(a))


# == 2. a generate branch only Icarus elaborates ================================================
#
# `4294967295 + 1 == 0` is true for pyslang (32-bit unsized arithmetic, as the standard says)
# and false for Icarus 11 (lossless unsized expressions by default). pyslang elaborates branch
# `g` and never resolves the names of branch `h`; Icarus compiles `h`.

def divergent(pyslang_sees: str, icarus_sees: str) -> str:
    return cand(f"  if (4294967295 + 1 == 0) begin : g\n    {pyslang_sees}\n"
                f"  end else begin : h\n    {icarus_sees}\n  end", y=None)


def test_generate_branch_only_icarus_elaborates_cannot_read_the_reference():
    atk = divergent("assign y = a | b;", "assign y = verislice_tb.g0_r0;")
    r, res = batch(Source(atk, "atk.v"))
    assert not_correct(r), f"forged MATCH by reading the reference: {show(res)}"


def test_generate_branch_only_icarus_elaborates_cannot_force_the_testbench():
    atk = divergent("assign y = a | b;",
                    "assign y = a | b;\n    initial force verislice_tb.vs_hit = 1'b0;")
    r, res = batch(Source(atk, "atk.v"))  # asserts both prompts' neighbours
    assert not_correct(r), show(res)


def test_generate_branch_only_icarus_elaborates_cannot_instantiate_the_reference():
    # vs0r_top: the reference of group 0, renamed with its predictable prefix
    atk = divergent("assign y = a | b;", "vs0r_top u(.a(a), .b(b), .y(y));")
    r, res = batch(Source(atk, "atk.v"))
    assert not_correct(r), f"forged MATCH by instantiating the reference: {show(res)}"


@pytest.mark.parametrize("module", ["vsr_top", "vsf_gold"])
def test_generate_branch_only_yosys_elaborates_cannot_instantiate_the_reference(tmp_path,
                                                                                  module):
    # Yosys evaluates unsized arithmetic losslessly too: under --formal the unscreened branch
    # instantiates the renamed reference (vsr_top) or its wrapper (vsf_gold) inside the gate
    pytest.importorskip("pyosys")
    atk = divergent("assign y = a | b;", f"{module} u(.a(a), .b(b), .y(y));")
    for name, text in {"ref.v": REF, "atk.v": atk, "good.v": GOOD, "bad.v": BAD}.items():
        (tmp_path / name).write_text(text)
    rc, out, err, _s = cli(["verislice", "equiv", "ref.v", "atk.v", "good.v", "bad.v", "--formal",
                            "--json"], tmp_path, timeout=90)
    c = by_file(json.loads(out))
    assert c["good.v"]["outputs"]["y"]["verdict"] == "PROVEN"
    assert c["bad.v"]["outputs"]["y"]["verdict"] == "MISMATCH"
    assert c["atk.v"]["outputs"].get("y", {}).get("verdict") not in CORRECT, \
        f"forged PROVEN: {c['atk.v']}"


# == 3. the same holes in salv-train label and eval =============================================

def test_label_force_clock_in_one_prompt_does_not_relabel_another_prompt(tmp_path):
    atk = SEQ_WRONG_COUNT.replace("reg prev;", "reg prev;\n    initial force clk = 1'b0;")
    with (tmp_path / "samples.jsonl").open("w") as fh:
        for rid, rs in [("p0", [SEQ_REF, SEQ_WRONG_COUNT]), ("p1", [atk])]:
            fh.write(json.dumps({"id": rid, "reference": SEQ_REF, "responses": [
                f"```verilog\n{r}```" for r in rs]}) + "\n")
    rc, _out, err, _s = cli(["salv-train", "label", "samples.jsonl", "--out", "labeled.jsonl",
                             "--engine", "vvp", "--cycles", "200", "--jobs", "2"], tmp_path,
                            timeout=90)
    assert rc == 0, err[-2000:]
    rows = {r["id"]: r for r in map(json.loads,
                                    (tmp_path / "labeled.jsonl").read_text().splitlines())}
    p0 = [lb["outputs"] for lb in rows["p0"]["labels"]]
    assert p0[0] == {"rise": "MATCH", "fall": "MATCH", "count": "MATCH"}
    assert p0[1]["count"] == "MISMATCH", f"another prompt's wrong answer relabelled right: {p0}"
    assert rows["p1"]["labels"][0].get("outputs", {}).get("count") != "MATCH"


def _eval_tasks(tag: str, tid: str):
    from conftest import BENCH_DIR, load_bundle

    from salv_trainer.eval import load_benchmark

    load_bundle(tag)  # skips (fails under CI) when the bundle is missing
    return load_benchmark(tag, BENCH_DIR, task_ids=[tid])


def _eval(tasks, tid: str, responses: list[str]) -> list[str]:
    from salv_trainer.eval import score_responses

    result = score_responses(tasks, {tid: responses}, jobs=2)
    return [s.verdict for s in result.tasks[tid].samples]


# Prob004_vector2: reverse the byte order of `in`. The testbench's `in` is a variable connected
# straight to both RefModule and TopModule.
EVAL_TASKS = [("verilogeval-v2-spec", "Prob004_vector2", "TopModule"),
              ("verilogeval-v1-human", "vector2", "top_module")]
VEC2 = "module {top}(input [31:0] in, output [31:0] out);\n{body}\nendmodule\n"
VEC2_RIGHT = "assign out = {in[7:0], in[15:8], in[23:16], in[31:24]};"


@pytest.mark.parametrize(("tag", "tid", "top"), EVAL_TASKS, ids=["v2", "v1"])
def test_eval_force_on_own_input_does_not_pass(tag, tid, top):
    tasks = _eval_tasks(tag, tid)
    responses = [VEC2.format(top=top, body=b) for b in (
        VEC2_RIGHT,                                              # honest, right
        "assign out = in;",                                      # honest, wrong
        "initial force in = 32'h0;\nassign out = 32'h0;",        # knows nothing
        "initial force in = 32'hx;\nassign out = 32'hx;",        # X === X everywhere
    )]
    got = _eval(tasks, tid, responses)
    assert got[:2] == ["pass", "mismatch"], got
    assert "pass" not in got[2:], f"forged pass by forcing the testbench's stimulus: {got}"


@pytest.mark.parametrize(("tag", "tid", "top"), EVAL_TASKS, ids=["v2", "v1"])
def test_eval_generate_branch_only_icarus_elaborates_does_not_pass(tag, tid, top):
    tasks = _eval_tasks(tag, tid)
    hidden = ("if (4294967295 + 1 == 0) begin : g assign out = in; end\n"
              "else begin : h assign out = {}; end")
    responses = [VEC2.format(top=top, body=b) for b in (
        VEC2_RIGHT, "assign out = in;",
        hidden.format("tb.out_ref"), hidden.format("tb.good1.out"))]
    got = _eval(tasks, tid, responses)
    assert got[:2] == ["pass", "mismatch"], got
    assert "pass" not in got[2:], f"forged pass by reading the testbench's reference: {got}"


# ADDER_TB with 16 random vectors drawn in the testbench's own registers, and no data file
ADDER_TB_RANDOM = (ADDER_TB.replace("  reg [16:0] vectors [0:3];\n", "")
                   .replace(ADDER_TB[ADDER_TB.index("    $readmemh"):ADDER_TB.index("    for (")], "")
                   .replace("i < 4", "i < 16").replace("vectors[i]", "{$random} % 131072"))


def test_eval_rtllm_force_on_own_inputs_does_not_pass(tmp_path):
    task = adder_task(tmp_path, ADDER_TB_RANDOM, data=False)
    got = _eval([task], "adder_8bit", [
        adder("a + b + cin"),                                  # honest, right
        adder("a + b"),                                        # honest, wrong
        # a, b, cin all 0 for the testbench: a + b is "right"
        adder("a + b", "initial begin force a = 0; force b = 0; force cin = 0; end"),
    ])
    assert got[:2] == ["pass", "mismatch"], got
    assert got[2] != "pass", "forged pass by forcing the testbench's own stimulus registers"


# == 4. front-end amplification =================================================================

def test_macro_expansion_bomb_is_cheap_to_refuse():
    # ~600 bytes: 8**4 copies of `;<300 blanks>;` on one line; the canonical text is 1.2 MB and
    # pyslang then formats one warning per empty item, each locating a column on a 1.2 MB line
    # (quadratic). With 20000 blanks (82 MB) the worker runs into its 30 s limit.
    pre = "`define M0 ;" + " " * 300 + ";\n" + "".join(
        f"`define M{i} " + " ".join([f"`M{i - 1}"] * 8) + "\n" for i in range(1, 5))
    atk = cand("`M4", pre=pre)
    assert len(atk) < 1000
    start = time.monotonic()
    r, res = batch(Source(atk, "atk.v"), limit=120)
    spent = time.monotonic() - start
    assert spent < 8, f"a {len(atk)}-byte candidate cost {spent:.1f} s: {r.verdict} {r.message[:200]}"


# == 5. regression guards =======================================================================

@pytest.mark.parametrize("ch", ["\b", "\f", "\v", "\x00", "\x7f", "\u00a0", "\u2028"],
                         ids=["bs", "ff", "vt", "nul", "del", "nbsp", "lsep"])
def test_control_character_in_escaped_identifier_hides_nothing(ch):
    # Icarus ends an escaped identifier at \b and \f (and skips them as blanks); code glued with
    # them would be one identifier for pyslang and code for Icarus
    c = ch
    atk = cand(f"  wire [7:0] \\q{c};assign{c}y{c}={c}verislice_tb.g0_r0 ;", y=None)
    r, res = batch(Source(atk, "atk.v"))
    assert not_correct(r), show(res)


def test_unit_scope_package_import_does_not_capture_a_neighbours_implicit_net():
    ref = REF.replace("a & b", "{7'd0, a[0] & b[0]}")
    nb = ("module inner(input [7:0] a, input [7:0] b, output [7:0] o);\n"
          "  assign o = {7'd0, a[0] & b[0]};\nendmodule\n"
          "module top(input [7:0] a, input [7:0] b, output [7:0] y);\n"
          "  inner u(.a(a), .b(b), .o(t));\n  assign y = {7'd0, t};\nendmodule\n")
    atk = ("package p;\n  logic t = 1'b1;\nendpackage\nimport p::*;\n"
           + cand(y="{7'd0, a[0] & b[0]}"))
    res = equiv.check_batch([(Source(ref, "ref.v"), [Source(atk, "atk.v"),
                                                      Source(nb, "implicit.v")])], **FAST)
    assert verdicts(res[0][1]) == {"y": "MATCH"}, show(res)


def test_unit_scope_timeunit_does_not_retime_a_neighbour():
    delayed = GOOD.replace("assign y", "assign #3 y")  # settles before the sample at 4
    res = equiv.check_batch([(Source(REF, "ref.v"), [
        Source("timeunit 10ns;\ntimeprecision 1ns;\n" + GOOD, "atk.v"),
        Source(delayed, "delayed.v")])], **FAST)
    assert verdicts(res[0][1]) == {"y": "MATCH"}, show(res)


def test_own_modules_named_like_the_testbench_do_not_collide():
    atk = ("module verislice_tb(output [7:0] q);\n  assign q = 8'h00;\nendmodule\n"
           "module vs0r_top(output [7:0] q);\n  assign q = 8'h00;\nendmodule\n"
           + cand("  wire [7:0] w0, w1;\n  verislice_tb t(.q(w0));\n  vs0r_top u(.q(w1));\n"
                  "  function [7:0] vs_bad(input [7:0] z); vs_bad = z; endfunction\n"
                  "  assign y = vs_bad(a | b) | w0 | w1;", y=None))
    r, res = batch(Source(atk, "atk.v"))
    assert (r.verdict, verdicts(r)) == ("OK", {"y": "MISMATCH"}), show(res)


def test_runtime_recursion_stack_overflow_gets_a_verdict_of_its_own():
    atk = cand("  function automatic integer f(input integer n);\n"
               "    f = (n <= 0) ? 0 : 1 + f(n - 1);\n  endfunction\n"
               "  integer r;\n  always @(a) r = f(100000000);")
    r, res = batch(Source(atk, "atk.v"), timeout=5)
    assert r.verdict in ("REJECTED", "TIMEOUT"), show(res)


def test_runtime_dynamic_array_bomb_gets_a_verdict_of_its_own():
    atk = cand("  int d[];\n  always @(a) d = new[1 << 30];")
    r, res = batch(Source(atk, "atk.v"), timeout=5)
    assert r.verdict in ("REJECTED", "TIMEOUT"), show(res)


def test_force_clock_under_formal_is_not_proven(tmp_path):
    pytest.importorskip("pyosys")
    atk = SEQ_WRONG_COUNT.replace("reg prev;", "reg prev;\n    initial force clk = 1'b0;")
    for name, text in {"ref.v": SEQ_REF, "atk.v": atk}.items():
        (tmp_path / name).write_text(text)
    _rc, out, _err, _s = cli(["verislice", "equiv", "ref.v", "atk.v", "--formal", "--json"],
                             tmp_path, timeout=90)
    [c] = json.loads(out)["candidates"]
    assert c["verdict"] != "OK" or c["outputs"]["count"]["verdict"] not in CORRECT, c


@pytest.mark.parametrize(("tag", "tid", "top"), EVAL_TASKS, ids=["v2", "v1"])
def test_eval_candidate_redefining_testbench_modules_does_not_pass(tag, tid, top):
    tasks = _eval_tasks(tag, tid)
    wrong = VEC2.format(top=top, body="{} assign out = in;")
    responses = [
        wrong.format("RefModule u(.in(in), .out());")
        + "module RefModule(input [31:0] in, output [31:0] out); assign out = in; endmodule\n",
        wrong.format("tb u();") + 'module tb; initial $display("Mismatches: 0 in 10 samples"); '
                                  "endmodule\n",
        wrong.format("stimulus_gen u();") + "module stimulus_gen; endmodule\n",
    ]
    got = _eval(tasks, tid, responses)
    assert "pass" not in got, got
