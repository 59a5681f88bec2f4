"""The statement tree is the typed contract between the graph and the slicer (issue 16): the
graph is built from its records, and the slicer reads them and the graph's public surface only."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import verislice
from verislice import Source

REPO = Path(__file__).resolve().parents[1]

GEN = """module g #(parameter N = 2) (input clk, input [N-1:0] a, output reg [N-1:0] q, output y);
  genvar i;
  for (i = 0; i < N; i = i + 1) begin : gl
    always @(posedge clk) begin
      if (a[i]) q[i] <= 1'b1;
      else q[i] <= 1'b0;
    end
  end
  assign y = ^a;
endmodule
"""


def test_the_slicer_reads_no_private_attribute_of_the_graph() -> None:
    tree = ast.parse((REPO / "verislice" / "_cone.py").read_text())
    private = sorted({f"{node.value.id}.{node.attr}" for node in ast.walk(tree)
                      if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                      and node.value.id in ("graph", "g") and node.attr.startswith("_")})
    private += sorted({f"self.g.{node.attr}" for node in ast.walk(tree)
                       if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                       and node.value.attr == "g" and node.attr.startswith("_")})
    assert private == []


def test_the_graph_is_built_from_the_records() -> None:
    g = verislice.build_graph(Source(GEN, "g.v"))
    st = g.statements
    assert [s.name for s in st.signals] == list(g.graph.nodes)
    for s in st.signals:
        a = g.graph.nodes[s.name]
        assert (a["kind"], a["width"], a["line"], a["scope"]) == (s.kind, s.width, s.line, s.scope)
    edges = {(u, t) for d in st.dependencies for t in d.targets for u in d.data + d.control}
    assert edges == set(g.graph.edges)
    for rec in (*st.signals, *st.dependencies, *st.units):
        assert dataclasses.is_dataclass(rec) and rec.__dataclass_params__.frozen
        with pytest.raises(dataclasses.FrozenInstanceError):
            rec.kind = "x"  # type: ignore[misc]


def test_a_generate_loop_gives_one_unit_per_iteration_with_the_same_tree() -> None:
    g = verislice.build_graph(Source(GEN, "g.v"))
    always = [u for u in g.statements.units if u.kind == "always"]
    assert len(always) == 2 and len({(u.start, u.end) for u in always}) == 1
    assert always[0].tree is not None and always[0].tree.same_shape(always[1].tree)
    assert always[0].targets == {"q"} and always[0].tree.needed({"q"})
    assert not always[0].tree.needed({"y"})
    sl = verislice.cone(g, ["y"])
    assert "always" not in sl.text and "assign y = ^a;" in sl.text
