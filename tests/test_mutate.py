"""verislice.mutate: single-token mutants that keep the interface and still elaborate."""

from verislice import Source, load
from verislice.mutate import mutants

from conftest import load_bundle

KBD = """module kbd(input [15:0] code, output reg a, output reg d);
  always @(*) begin
    a = 1'b0; d = 1'b0;
    case (code)
      16'h001c: a = 1'b1;
      16'h0023: d = 1'b1;
    endcase
  end
endmodule
"""


def test_operator_swaps_and_interface_untouched():
    src = "module m(input [3:0] a, b, output y, output z);\n  assign y = a & b;\n  assign z = ~a[0];\nendmodule\n"
    ms = mutants(src)
    assert {(m.kind, m.original, m.replacement) for m in ms} == {
        ("operator", "&", "|"),
        ("operator", "&", "^"),
        ("drop-unary", "~", ""),
    }
    for m in ms:
        assert m.text.splitlines()[0] == src.splitlines()[0]  # header untouched
        assert src[m.char_offset:].startswith(m.original)


def test_literal_mutants_of_case_labels_and_offsets():
    ms = mutants(KBD)
    labels = [m for m in ms if m.original == "001c"]
    assert len(labels) == 1 and labels[0].replacement == "001d" and labels[0].line == 5
    assert "16'h001d: a" in labels[0].text


def test_nonblocking_assignment_is_not_an_operator():
    src = "module m(input clk, d, output reg q);\n  always @(posedge clk) q <= d;\nendmodule\n"
    ms = mutants(src)
    assert [(m.original, m.replacement) for m in ms] == [("posedge", "negedge")]


def test_limit_is_reproducible_subset():
    all_ = mutants(KBD)
    a = mutants(KBD, limit=2, seed=3)
    b = mutants(KBD, limit=2, seed=3)
    assert a == b and len(a) == 2 and all(m in all_ for m in a)


def test_every_mutant_of_verilogeval_still_elaborates():
    count = 0
    for row in load_bundle("verilogeval-v2-spec"):
        for m in mutants(row["canonical_solution"]):
            load([Source(m.text, row["task_id"])], top=row["top_module"])
            count += 1
    assert count > 500
