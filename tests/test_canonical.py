"""One text for every tool (verislice._canonical): preprocessing, renaming, the screen."""

from __future__ import annotations

import pytest

from verislice import Source, equiv, load
from verislice._canonical import Rejected, canonicalize, rename_globals, screen

FAST = dict(cycles=200, engine="vvp")


def test_the_canonical_text_has_no_directive_and_no_inactive_branch():
    src = Source("`define W 4\n`ifdef __ICARUS__\nmodule evil; endmodule\n`else\n"
                 "module m(input [`W-1:0] a, output [`W-1:0] y); assign y = a; endmodule\n"
                 "`endif\n", "m.v")
    [c] = canonicalize([src])
    assert "`" not in c.text and "evil" not in c.text
    assert "input [4-1:0] a" in c.text
    plain = Source("module m(input a, output y);\n  assign y = a; // synopsys translate_off\n"
                   "endmodule /* `W */\n", "p.v")
    [c] = canonicalize([plain])
    # comments (which Yosys reads as pragmas) become blanks: same offsets, same lines
    assert c.text == ("module m(input a, output y);\n  assign y = a;" + " " * 26 + "\n"
                      "endmodule" + " " * 9 + "\n")


def test_includes_of_a_candidate_are_limited_to_the_include_dirs(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "defs.vh").write_text("localparam W = 4;\n")
    (tmp_path / "outside.vh").write_text("localparam W = 5;\n")
    ok = Source('`include "defs.vh"\nmodule m(output [W-1:0] y); assign y = 0; endmodule\n', "c.v")
    [c] = canonicalize([ok], include_dirs=[str(inc)])
    assert "localparam W = 4;" in c.text
    for name in ["/etc/hostname", "/dev/zero", "../outside.vh", "missing.vh"]:
        bad = Source(f'`include "{name}"\nmodule m; endmodule\n', "c.v")
        with pytest.raises(Rejected) as exc:
            canonicalize([bad], include_dirs=[str(inc)])
        assert name in exc.value.message


def test_renaming_touches_every_global_name_and_nothing_else():
    text = ("package p; localparam int K = 1; endpackage\n"
            "function automatic integer f(input integer x); f = x + 1; endfunction\n"
            "module top(input [3:0] value, output [3:0] y); import p::*;\n"
            "  sub alu(.value(value), .y(y)); endmodule\n"
            "module sub(input [3:0] value, output [3:0] y); assign y = value + f(p::K); endmodule\n")
    out = rename_globals(text, "vs0c1_", keep={"value", "y"})
    assert "package vs0c1_p" in out and "import vs0c1_p::*" in out and "vs0c1_p::K" in out
    assert "module vs0c1_top" in out and "vs0c1_sub alu" in out and "vs0c1_f(" in out
    assert "input [3:0] value" in out and ".value(value)" in out  # ports and instances kept
    load([Source(out, "x.v")])  # still a valid design


def test_a_unit_scope_function_named_like_the_references_neither_clashes_nor_swaps():
    """Icarus shares $unit between files (with -u it even swaps same-named functions): both
    designs keep their own helper after renaming."""
    ref = ("function automatic [3:0] f(input [3:0] x); f = x + 4'd1; endfunction\n"
           "module top(input [3:0] a, output [3:0] y); assign y = f(a); endmodule\n")
    same = ref
    wrong = ref.replace("x + 4'd1", "x + 4'd2")
    res = equiv.check_batch([(Source(ref, "ref.v"), [Source(same, "same.v"),
                                                     Source(wrong, "wrong.v")])], **FAST)[0]
    assert [r.verdict for r in res] == ["OK", "OK"]
    assert res[0].outputs["y"].verdict == "MATCH" and res[1].outputs["y"].verdict == "MISMATCH"


def test_the_screen_sees_every_scope_of_the_text():
    for body in ["package p; function automatic int g(); int fd; fd = $fopen(\"x\", \"w\"); "
                 "return fd; endfunction endpackage\nmodule m(output y); assign y = 0; endmodule",
                 "function automatic integer g(input integer x); g = $fopen(\"x\"); endfunction\n"
                 "module m(output y); assign y = g(0)[0]; endmodule",
                 "module m(output y); assign y = 0; initial $system(\"id\"); endmodule"]:
        d = load([Source(body, "c.v")], top="m")
        why = screen(d)
        assert why and ("$fopen" in why or "$system" in why)


def test_hierarchical_references_out_of_the_tree_are_rejected_inside_are_fine():
    inside = ("module top(input a, output y); sub s(.a(a)); assign y = s.t; endmodule\n"
              "module sub(input a); wire t = ~a; endmodule\n")
    assert screen(load([Source(inside, "i.v")])) is None
    ref = "module top(input a, output y); assign y = ~a; endmodule\n"
    forged = "module top(input a, output y); assign y = verislice_tb.r0_y; endmodule\n"
    [r] = equiv.check_batch([(Source(ref, "ref.v"), [Source(forged, "f.v")])], **FAST)[0]
    assert r.verdict in ("COMPILE_ERROR", "REJECTED")


def test_a_candidate_in_several_files_may_instantiate_its_own_modules_across_them():
    ref = "module top(input [3:0] a, output [3:0] y); assign y = ~a; endmodule\n"
    top = "module top(input [3:0] a, output [3:0] y); inv u(.x(a), .z(y)); endmodule\n"
    sub = "module inv(input [3:0] x, output [3:0] z); assign z = ~x; endmodule\n"
    [r] = equiv.check_batch([(Source(ref, "ref.v"), [[Source(top, "top.v"),
                                                       Source(sub, "sub.v")]])], **FAST)[0]
    assert r.verdict == "OK" and r.outputs["y"].verdict == "MATCH", r.message
