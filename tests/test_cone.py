"""Cone slicing: statement-level cuts that keep original text, spans, ports, pinned errors.

Every slice here is compiled with ``iverilog -g2012`` (through the sandbox runner).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import verislice
from verislice import Source
from verislice._sandbox import run_limited, sandbox_dir

REPO = Path(__file__).resolve().parents[1]
KBD = REPO / "examples" / "kbd" / "gen.v"


def compiles(text: str, top: str | None = None) -> None:
    with sandbox_dir("verislice-test-") as d:
        (d / "s.v").write_text(text)
        argv = ["iverilog", "-g2012", "-o", "s.vvp"] + (["-s", top] if top else []) + ["s.v"]
        r = run_limited(argv, d, timeout=30)
        assert r.ok, f"iverilog failed:\n{r.stderr}\n--- slice ---\n{text}"


def check_spans(sl: verislice.Slice, original: str) -> None:
    """spans/char_spans are sorted, disjoint, cover header and endmodule, and are the text."""
    data = original.encode()
    assert sl.spans == sorted(sl.spans)
    for (s0, e0), (s1, e1) in zip(sl.spans, sl.spans[1:]):
        assert e0 < s1, "spans must not overlap or touch"
    assert all(0 <= s < e <= len(data) for s, e in sl.spans)
    kept = b"".join(data[s:e] for s, e in sl.spans).decode()
    # the text is the kept bytes plus `;` where an emptied branch needs one
    it = iter(kept)
    extra = []
    pos = 0
    for ch in sl.text:
        if pos < len(kept) and ch == kept[pos]:
            pos += 1
        else:
            extra.append(ch)
    del it
    assert pos == len(kept) and set(extra) <= {";", "\n"}, (extra, sl.text)
    for (bs, be), (cs, ce) in zip(sl.spans, sl.char_spans):
        assert original[cs:ce] == data[bs:be].decode()
    # header and endmodule are always inside the spans
    start = data.index(b"module " + sl.top.encode())
    header_end = data.index(b";", data.index(b")", start)) + 1
    end = data.index(b"endmodule", start) + len(b"endmodule")
    covered = lambda a, b: any(s <= a and b <= e for s, e in sl.spans)  # noqa: E731
    assert covered(start, header_end) or sl.ports == "used"
    assert any(s <= start < e for s, e in sl.spans)
    assert covered(end - len(b"endmodule"), end)


def cone(text: str, signals, **kw) -> verislice.Slice:
    sl = verislice.cone(Source(text, "t.v"), signals, **kw)
    check_spans(sl, text)
    compiles(sl.text)
    return sl


KBD_D = """module kbd_decoder (
    input  wire [15:0] scancode,
    output reg         a,
    output reg         d
);
    always @(*) begin
        d = 1'b0;
        case (scancode)
            16'h001b: ;   // wrong scan code for A
            16'h0023: d = 1'b1;
            default: begin
                d = 1'b0;
            end
        endcase
    end
endmodule
"""


def test_kbd_example_cone_of_d_is_pinned() -> None:
    sl = verislice.cone(KBD, ["d"])
    assert sl.text == KBD_D
    assert sl.requested == ["d"] and sl.signals == ["d", "scancode"]
    assert sl.dropped_outputs == ["a"] and sl.ports == "all" and sl.top == "kbd_decoder"
    check_spans(sl, KBD.read_text())
    compiles(sl.text)


def test_case_labels_of_removed_items_stay_so_priority_is_unchanged() -> None:
    sl = verislice.cone(KBD, ["d"])
    # 16'h001b must still select an (empty) item, or it would fall into `default`
    assert "16'h001b: ;" in sl.text and "a = 1'b1" not in sl.text


def test_shared_always_block_keeps_structure_and_drops_other_targets() -> None:
    text = (REPO / "examples/shared_always/gen.v").read_text()
    sl = cone(text, ["zero"])
    assert "{carry, result} = a + b;" in sl.text  # writes both: kept whole
    assert "carry  = (a < b)" not in sl.text and "carry = 1'b0;" not in sl.text
    assert "zero = (result == 8'd0);" in sl.text and "case (op)" in sl.text
    assert sl.dropped_outputs == ["carry"]


def test_emptied_branch_keeps_a_semicolon() -> None:
    sl = cone("""module m(input s, input x, output reg a, output reg d);
  always @* begin
    a = 0; d = 0;
    if (s) a = x; else d = x;
  end
endmodule
""", ["d"])
    assert "if (s) ; else d = x;" in sl.text


def test_branch_that_is_a_whole_block_becomes_a_semicolon() -> None:
    sl = cone("""module m(input s, input x, output reg a, output reg d);
  always @* begin
    if (s) begin
      a = x;
    end else begin
      a = 1'b0;
      d = x;
    end
  end
endmodule
""", ["d"])
    assert "if (s) ; else begin\n      d = x;\n    end" in sl.text


def test_sequential_cone_keeps_register_clock_and_reset() -> None:
    text = (REPO / "examples/seq/gen.v").read_text()
    sl = cone(text, ["count"])
    assert "reg prev;" in sl.text and "prev <= in;" in sl.text
    assert "assign rise = in & ~prev;" in sl.text and "count <= count + 8'd1;" in sl.text
    assert "assign fall" not in sl.text and "// falling edge" not in sl.text
    assert set(sl.signals) == {"count", "clk", "rst_n", "rise", "in", "prev"}
    sl = cone(text, ["fall"])
    assert "reg prev;" not in sl.text and "always" not in sl.text


def test_submodule_kept_whole_only_when_a_kept_instance_uses_it() -> None:
    text = (REPO / "examples/submodule/gen.v").read_text()
    sl = cone(text, ["cout"])
    assert sl.text.startswith("module full_adder") and "fa0" in sl.text and "fa1" in sl.text
    assert sl.submodules == ["full_adder"] and "assign parity" not in sl.text
    assert {"fa0.cout", "fa1.cin", "c1"} <= set(sl.signals)
    sl = cone(text, ["parity"])
    assert "full_adder" not in sl.text and sl.submodules == []


def test_multiple_signals() -> None:
    text = (REPO / "examples/seq/gen.v").read_text()
    sl = cone(text, ["rise", "fall"])
    assert sl.requested == ["rise", "fall"] and sl.dropped_outputs == ["count"]
    assert "assign rise" in sl.text and "assign fall" in sl.text and "count <=" not in sl.text


def test_declarators_are_filtered_one_by_one() -> None:
    sl = cone("""module m(input [3:0] a, output [3:0] y, output [3:0] z);
  wire [3:0] p, q, r;
  reg [3:0] u, v;
  assign p = a + 1;
  assign q = a - 1;
  assign r = p;
  assign y = r;
  assign z = q;
endmodule
""", ["y"])
    assert "wire [3:0] p, r;" in sl.text and "reg [3:0]" not in sl.text


def test_parameters_typedefs_functions_kept_only_when_used() -> None:
    sl = cone("""module m #(parameter W = 4) (input [W-1:0] a, output [W-1:0] y, output z);
  localparam K = 3, UNUSED = 7;
  localparam ZZ = 1;
  typedef enum logic [1:0] {IDLE, RUN} st_t;
  typedef logic [1:0] pair_t;
  function automatic [W-1:0] f(input [W-1:0] v); f = v ^ K; endfunction
  function automatic g(input v); g = ~v; endfunction
  st_t st;
  assign st = RUN;
  assign y = (st == RUN) ? f(a) : a;
  assign z = g(a[0]) ^ ZZ;
endmodule
""", ["y"])
    t = sl.text
    assert "localparam K = 3;" in t and "UNUSED" not in t and "ZZ" not in t
    assert "typedef enum" in t and "pair_t" not in t
    assert "function automatic [W-1:0] f" in t and "function automatic g" not in t


def test_for_loop_with_its_variable() -> None:
    sl = cone("""module m(input [7:0] a, output reg [7:0] y, output reg p);
  integer i;
  always @* begin
    p = 1'b0;
    for (i = 0; i < 8; i = i + 1) begin
      y[i] = a[7 - i];
      p = p ^ a[i];
    end
  end
endmodule
""", ["y"])
    assert "integer i;" in sl.text and "for (i = 0; i < 8; i = i + 1) begin" in sl.text
    assert "p = p ^ a[i];" not in sl.text and "p = 1'b0;" not in sl.text


def test_generate_block_kept_when_it_drives_the_cone() -> None:
    text = """module m #(parameter N = 4) (input [N-1:0] a, output [N-1:0] y, output z);
  genvar i;
  generate
    for (i = 0; i < N; i = i + 1) begin : g
      assign y[i] = a[N-1-i];
    end
  endgenerate
  assign z = ^a;
endmodule
"""
    sl = cone(text, ["y"])
    assert "genvar i;" in sl.text and "assign y[i] = a[N-1-i];" in sl.text and "assign z" not in sl.text
    sl = cone(text, ["z"])
    assert "generate" not in sl.text and "genvar" not in sl.text


def test_ports_used_reduces_the_header() -> None:
    sl = cone("""module m(input a, b, c, input [3:0] d, output y, output z);
  assign y = c & d[0];
  assign z = a | b;
endmodule
""", ["y"], ports="used")
    assert sl.text.startswith("module m(input c, input [3:0] d, output y);")
    assert sl.ports == "used" and sl.dropped_outputs == ["z"]


def test_ports_used_keeps_an_inherited_header() -> None:
    sl = cone("""module m(input a, b, output y, output z);
  assign y = b;
  assign z = a;
endmodule
""", ["y"], ports="used")
    assert sl.text.startswith("module m(input b, output y);")


def test_ports_used_with_non_ansi_ports() -> None:
    sl = cone("""module m(a, b, y, z);
  input a;
  input b;
  output y;
  output reg z;
  assign y = ~b;
  always @* z = a;
endmodule
""", ["y"], ports="used")
    assert sl.text.startswith("module m(b, y);") and "input a;" not in sl.text
    assert "output reg z;" not in sl.text


def test_ports_all_leaves_header_and_other_outputs_undriven() -> None:
    text = "module m(input a, output y, output z);\n  assign y = a;\n  assign z = ~a;\nendmodule\n"
    sl = cone(text, ["y"])
    assert sl.text == "module m(input a, output y, output z);\n  assign y = a;\nendmodule\n"
    assert sl.spans == [(0, 54), (71, len(text))]


def test_utf8_char_spans_differ_from_byte_spans() -> None:
    text = ("// café\nmodule m(input a, output y, output z);\n  // é\n  assign z = ~a; // ü\n"
            "  assign y = a;\nendmodule\n")
    sl = cone(text, ["y"])
    assert sl.spans != sl.char_spans
    assert "ü" not in sl.text and "// é" not in sl.text
    (b0, b1), (c0, c1) = sl.spans[-1], sl.char_spans[-1]
    assert text[c0:c1] == text.encode()[b0:b1].decode()


def test_macros_includes_and_defines(tmp_path: Path) -> None:
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "defs.vh").write_text("`define ADD(x, y) ((x) + (y))\n")
    top = tmp_path / "top.v"
    top.write_text("""`include "defs.vh"
module top(input [`W-1:0] a, b, output [`W-1:0] y, output [`W-1:0] z);
  assign y = `ADD(a, b);
  assign z = a ^ b;
endmodule
""")
    sl = verislice.cone(top, ["z"], include_dirs=[inc], defines={"W": "8"})
    assert "`include \"defs.vh\"" in sl.text and "ADD" not in sl.text.split("\n", 1)[1]
    sl = verislice.cone(top, ["y"], include_dirs=[inc], defines={"W": "8"})
    assert "assign y = `ADD(a, b);" in sl.text and "assign z" not in sl.text
    check_spans(sl, top.read_text())


def test_ifdef_inside_a_removed_item_goes_with_it() -> None:
    sl = cone("""module m(input clk, a, output reg q, output y);
  always @(posedge clk) `ifdef FOO q <= 1; `else q <= ~q; `endif
  assign y = a;
endmodule
""", ["y"])
    assert "`ifdef" not in sl.text and "`endif" not in sl.text


def test_blocks_the_slicer_cannot_cut_are_kept_whole() -> None:
    sl = cone("""module m(input [3:0] a, output reg [3:0] y, output reg z);
  integer i;
  always @* begin : L
    y = 0; z = 0;
    for (i = 0; i < 4; i = i + 1) begin if (a[i]) disable L; y = y + 1; end
  end
endmodule
""", ["y"])
    assert "z = 0;" in sl.text and "disable L;" in sl.text


def test_delays_in_initial_blocks_are_kept() -> None:
    sl = cone("""module m(input a, output reg y, output reg z);
  initial begin
    z = 0;
    #5 z = 1;
    y = a;
  end
endmodule
""", ["y"])
    assert "#5 ;" in sl.text and "y = a;" in sl.text and "z = " not in sl.text


def test_slice_reuses_a_prebuilt_graph() -> None:
    g = verislice.build_graph(KBD)
    assert verislice.cone(g, "d").text == KBD_D
    assert verislice.cone(g, ["a"]).dropped_outputs == ["d"]


def test_to_json_round_trips() -> None:
    import json

    sl = verislice.cone(KBD, ["d"], ports="used")
    j = json.loads(json.dumps(sl.to_json()))
    assert j["requested"] == ["d"] and j["ports"] == "used" and j["text"] == sl.text
    assert [tuple(s) for s in j["spans"]] == sl.spans


# --- errors (pinned messages) -------------------------------------------------------------------


def error_of(fn) -> str:
    with pytest.raises(verislice.VerisliceError) as e:
        fn()
    return e.value.message


def test_unknown_signal_suggests_the_closest_name() -> None:
    msg = error_of(lambda: verislice.cone(KBD, ["dd"]))
    assert msg == "no signal 'dd' in module 'kbd_decoder'; did you mean 'd'? (outputs: a, d)"
    msg = error_of(lambda: verislice.cone(KBD, ["xyz"]))
    assert msg == "no signal 'xyz' in module 'kbd_decoder' (outputs: a, d)"
    msg = error_of(lambda: verislice.cone(KBD, ["D"]))
    assert "did you mean 'd'?" in msg


def test_input_signal_is_refused() -> None:
    msg = error_of(lambda: verislice.cone(KBD, ["scancode"]))
    assert msg == ("signal 'scancode' is an input of module 'kbd_decoder': its cone is empty "
                   "(outputs: a, d)")


def test_no_signal_and_bad_ports_value() -> None:
    assert error_of(lambda: verislice.cone(KBD, [])) == "no signal given"
    assert error_of(lambda: verislice.cone(KBD, ["d"], ports="some")) == \
        "ports must be 'all' or 'used', not 'some'"


def test_unsupported_construct_is_an_error_not_a_wrong_slice() -> None:
    text = ("module s #(parameter P = 1) (output y); assign y = P; endmodule\n"
            "module m(output y, output z);\n  s u(.y(y));\n  defparam u.P = 0;\n"
            "  assign z = 1'b0;\nendmodule\n")
    msg = error_of(lambda: verislice.cone(Source(text, "t.v"), ["y"]))
    assert msg == "t.v:4:3: cannot slice a DefParam item of module 'm' (not supported)"


def test_half_an_ifdef_group_is_an_error() -> None:
    text = ("module m(input clk, a, output reg q, output y);\n"
            "  always @(posedge clk) `ifdef FOO q <= 1; `else q <= ~q;\n"
            "  assign y = a;\n`endif\nendmodule\n")
    msg = error_of(lambda: verislice.cone(Source(text, "t.v"), ["y"]))
    assert msg == ("t.v:1: cannot slice here: the code to remove is only part of an "
                   "`ifdef/`else/`endif group (not supported)")


def test_parse_errors_are_located() -> None:
    with pytest.raises(verislice.DiagnosticError) as e:
        verislice.cone(Source("module m(input a, output y);\n  assign y = a +;\nendmodule\n", "bad.v"), ["y"])
    assert e.value.message.startswith("bad.v:2:")
    assert ": error: " in e.value.message


def test_file_level_packages_typedefs_functions_kept_when_used() -> None:
    text = """package p;
  localparam int W = 4;
endpackage
typedef enum logic [1:0] {IDLE, RUN, DONE} st_t;
typedef logic [7:0] byte_t;
function automatic logic par(input logic [3:0] v); return ^v; endfunction
module m import p::*; (input logic clk, input logic [W-1:0] a, output st_t s, output logic y,
                       output logic z);
  always_ff @(posedge clk) s <= (a == 0) ? IDLE : RUN;
  assign y = par(a);
  assign z = a[0];
endmodule
"""
    sl = cone(text, ["z"])
    assert "package p;" in sl.text and "byte_t" not in sl.text and "function" not in sl.text
    sl = cone(text, ["y"])
    assert "function automatic logic par" in sl.text and "always_ff" not in sl.text


def test_parameter_used_only_by_a_removed_declaration_is_removed() -> None:
    sl = cone("""module m #(parameter W = 4) (input [3:0] a, output [3:0] y, output z);
  localparam D = 8;
  reg [D-1:0] unused_reg;
  assign y = a;
  assign z = ^a;
endmodule
""", ["y"])
    assert "localparam D" not in sl.text and "unused_reg" not in sl.text


def test_deeply_nested_else_if_chain() -> None:
    n = 900
    lines = ["module m(input [11:0] s, output reg [11:0] y, output z);", "  assign z = s[0];",
             "  always @* begin", "    if (s == 0) y = 0;"]
    lines += [f"    else if (s == {i}) y = {i};" for i in range(1, n)]
    lines += ["    else y = 1;", "  end", "endmodule"]
    text = "\n".join(lines) + "\n"
    sl = verislice.cone(Source(text, "t.v"), ["z"])
    assert "always" not in sl.text
    sl = verislice.cone(Source(text, "t.v"), ["y"])
    assert sl.text.count("else if") == n - 1 and "assign z" not in sl.text


def test_slicing_one_design_many_times_builds_its_graph_once() -> None:
    design = verislice.load([KBD])
    a = verislice.cone(design, ["a"])
    graph = design._verislice_graph
    d = verislice.cone(design, ["d"])
    assert design._verislice_graph is graph
    assert d.text == KBD_D and a.dropped_outputs == ["d"]
