"""Signal dependency graph: one test per construct of the coverage list (real pyslang parses)."""

from __future__ import annotations

import pytest

import verislice
from verislice import Source


def graph(text: str, **kw) -> verislice.SignalGraph:
    return verislice.build_graph(Source(text, "t.v"), **kw)


def edges(g) -> set[tuple[str, str, str]]:
    return {(u, v, a["kind"]) for u, v, a in g.graph.edges(data=True)}


def preds(g, n: str) -> set[str]:
    return set(g.graph.predecessors(n))


def test_continuous_assign_and_net_initializer_are_data_edges() -> None:
    g = graph("""module m(input a, b, c, output y, output z);
      wire t = a & b;
      assign y = t | c;
      assign z = ~a;
    endmodule""")
    assert {("a", "t", "data"), ("b", "t", "data"), ("t", "y", "data"), ("c", "y", "data"),
            ("a", "z", "data")} == edges(g)
    st = g.graph.edges["t", "y"]["statements"][0]
    assert st.kind == "assign" and st.line == 3 and st.text == "y = t | c"
    assert g.drivers("t")[0].kind == "declaration"


def test_node_attributes() -> None:
    g = graph("""module m(input [7:0] a, output reg [3:0] q, inout w);
      reg [7:0] mem [0:15];
      wire n;
      always @* q = mem[a[3:0]][3:0];
    endmodule""")
    nodes = g.graph.nodes
    assert nodes["a"]["kind"] == "input" and nodes["a"]["width"] == 8
    assert nodes["q"]["kind"] == "output" and nodes["q"]["width"] == 4
    assert nodes["w"]["kind"] == "inout"
    assert nodes["mem"]["kind"] == "memory" and nodes["mem"]["width"] == 8
    assert nodes["n"]["kind"] == "net" and nodes["n"]["line"] == 3
    assert g.outputs == ["q", "w"] and g.inputs == ["a"]


@pytest.mark.parametrize("head", ["always @*", "always @(*)", "always_comb", "always @(a or b or s)"])
def test_combinational_always_if_else_selector_is_control(head: str) -> None:
    g = graph(f"""module m(input a, b, s, output reg y);
      {head} begin
        if (s) y = a; else y = b;
      end
    endmodule""")
    e = edges(g)
    assert ("s", "y", "control") in e and ("a", "y", "data") in e and ("b", "y", "data") in e


def test_always_latch() -> None:
    g = graph("""module m(input en, d, output logic q);
      always_latch if (en) q <= d;
    endmodule""")
    assert edges(g) == {("en", "q", "control"), ("d", "q", "data")}


@pytest.mark.parametrize("kw", ["case", "casez", "casex"])
def test_case_selector_and_item_labels_are_control(kw: str) -> None:
    g = graph(f"""module m(input [1:0] sel, input [1:0] k, input a, b, c, output reg y);
      always @* begin
        {kw} (sel)
          k: y = a;
          2'b01: y = b;
          default: y = c;
        endcase
      end
    endmodule""")
    e = edges(g)
    assert ("sel", "y", "control") in e and ("k", "y", "control") in e
    assert {("a", "y", "data"), ("b", "y", "data"), ("c", "y", "data")} <= e


def test_clock_and_async_reset_of_edge_triggered_block_are_control() -> None:
    g = graph("""module m(input clk, rst_n, d, output reg q);
      always @(posedge clk or negedge rst_n)
        if (!rst_n) q <= 1'b0; else q <= d;
    endmodule""")
    assert edges(g) == {("clk", "q", "control"), ("rst_n", "q", "control"), ("d", "q", "data")}


def test_always_ff_sync_reset() -> None:
    g = graph("""module m(input clk, reset, input [3:0] d, output logic [3:0] q);
      always_ff @(posedge clk) q <= reset ? 4'd0 : d;
    endmodule""")
    # the ternary's condition reads `reset` as data (it is part of the expression)
    assert edges(g) == {("clk", "q", "control"), ("reset", "q", "data"), ("d", "q", "data")}


def test_ternary_reads_all_three_operands() -> None:
    g = graph("module m(input s, a, b, output y); assign y = s ? a : b; endmodule")
    assert preds(g, "y") == {"s", "a", "b"}


def test_concatenation_on_the_left_drives_every_part() -> None:
    g = graph("""module m(input [3:0] a, b, output [3:0] s, output c);
      assign {c, s} = a + b;
    endmodule""")
    assert preds(g, "s") == {"a", "b"} and preds(g, "c") == {"a", "b"}


def test_index_expressions_on_both_sides_are_dependencies() -> None:
    g = graph("""module m(input [7:0] v, input [2:0] i, j, input d, output reg [7:0] y, output z);
      assign z = v[i];
      always @* begin y = 8'd0; y[j] = d; end
    endmodule""")
    assert preds(g, "z") == {"v", "i"}
    assert preds(g, "y") == {"j", "d"}


def test_part_select_with_variable_base() -> None:
    g = graph("""module m(input [15:0] v, input [1:0] k, output [3:0] y);
      assign y = v[k*4 +: 4];
    endmodule""")
    assert preds(g, "y") == {"v", "k"}


def test_memory_written_and_read_with_an_index() -> None:
    g = graph("""module m(input clk, we, input [1:0] wa, ra, input [7:0] wd, output [7:0] rd);
      reg [7:0] mem [0:3];
      always @(posedge clk) if (we) mem[wa] <= wd;
      assign rd = mem[ra];
    endmodule""")
    assert preds(g, "mem") == {"clk", "we", "wa", "wd"}
    assert g.graph.edges["wa", "mem"]["kind"] == "data"
    assert preds(g, "rd") == {"mem", "ra"}


def test_for_loop_variable_and_bound() -> None:
    g = graph("""module m(input [7:0] a, input [3:0] n, output reg [7:0] y);
      integer i;
      always @* begin
        y = 8'd0;
        for (i = 0; i < n; i = i + 1) y[i] = a[7 - i];
      end
    endmodule""")
    assert "i" in preds(g, "y") and "a" in preds(g, "y")
    assert g.graph.edges["n", "y"]["kind"] == "control"
    assert g.graph.edges["n", "i"]["kind"] == "control"


def test_function_arguments_and_body_reads() -> None:
    g = graph("""module m(input [3:0] a, b, k, output [3:0] y);
      function [3:0] f(input [3:0] v);
        reg [3:0] t;
        begin t = v ^ k; f = t; end
      endfunction
      assign y = f(a) & b;
    endmodule""")
    assert preds(g, "y") == {"a", "b", "k"}
    assert "t" not in g.graph and "f" not in g.graph  # function locals are not signals


def test_task_output_argument_is_written() -> None:
    g = graph("""module m(input [3:0] a, output reg [3:0] y);
      task inc(input [3:0] v, output [3:0] o); o = v + 1; endtask
      always @* inc(a, y);
    endmodule""")
    assert "a" in preds(g, "y")  # (the output actual also counts as read: conservative)
    assert g.drivers("y")[0].text == "inc(a, y);"


def test_generate_for_if_case_blocks() -> None:
    g = graph("""module m #(parameter N = 2, parameter MODE = 1) (input [N-1:0] a, b, output [N-1:0] y, output z, output w);
      genvar i;
      generate for (i = 0; i < N; i = i + 1) begin : g
        wire t = a[i] ^ b[i];
        assign y[i] = t;
      end endgenerate
      generate if (MODE == 1) begin : on assign z = a[0]; end
      else begin : off assign z = b[0]; end endgenerate
      generate case (MODE) 1: begin : c1 assign w = b[1]; end default: begin : c0 assign w = a[1]; end endcase
      endgenerate
    endmodule""")
    assert {"g[0].t", "g[1].t"} <= set(g.graph)
    assert preds(g, "y") == {"g[0].t", "g[1].t"}
    assert preds(g, "g[1].t") == {"a", "b"}
    assert preds(g, "z") == {"a"}  # only the instantiated branch
    assert preds(g, "w") == {"b"}
    assert "N" not in g.graph and "i" not in g.graph  # parameters and genvars are constants


def test_submodule_instance_is_recursed_into() -> None:
    g = graph("""module inv(input x, output y); assign y = ~x; endmodule
      module top(input a, b, output p, output q);
        inv u0(.x(a), .y(p));
        inv u1(b, q);
      endmodule""")
    assert g.top == "top"
    assert preds(g, "p") == {"u0.y"} and preds(g, "u0.y") == {"u0.x"} and preds(g, "u0.x") == {"a"}
    assert g.cone(["q"]) == {"q", "u1.y", "u1.x", "b"}
    assert g.graph.nodes["u0.y"]["scope"] == "u0"
    assert g.signals == ["a", "b", "p", "q"]


def test_unknown_module_is_a_black_box_with_a_warning() -> None:
    g = graph("""module top(input a, b, output y);
      mystery u (.i0(a), .i1(b), .o(y));
    endmodule""")
    assert preds(g, "y") == {"a", "b"}
    assert g.warnings and "module 'mystery' is not defined" in g.warnings[0]
    assert "black box" in g.warnings[0]


def test_gate_primitives() -> None:
    g = graph("""module m(input a, b, c, output y, output z);
      wire t;
      and g1(t, a, b);
      xor (y, t, c);
      not (z, a);
    endmodule""")
    assert preds(g, "t") == {"a", "b"} and preds(g, "y") == {"t", "c"} and preds(g, "z") == {"a"}


def test_initial_block_drives_its_targets() -> None:
    g = graph("""module m(input a, output reg q, output reg r);
      initial begin q = 1'b0; r = a; end
    endmodule""")
    assert preds(g, "r") == {"a"}
    assert g.drivers("q")[0].kind == "assign"


def test_sequential_feedback_loop() -> None:
    g = graph("""module m(input clk, output reg [3:0] c);
      always @(posedge clk) c <= c + 1;
    endmodule""")
    assert ("c", "c", "data") in edges(g)
    assert g.cone(["c"]) == {"c", "clk"}


def test_block_local_variable_and_named_block() -> None:
    g = graph("""module m(input [3:0] a, output reg [3:0] y);
      always @* begin : blk
        reg [3:0] t;
        t = a + 1;
        y = t;
      end
    endmodule""")
    assert preds(g, "y") == {"blk.t"} and preds(g, "blk.t") == {"a"}


def test_cone_is_backward_reachability_over_both_edge_kinds() -> None:
    g = graph("""module m(input a, b, s, output y, output z);
      wire t; assign t = s ? a : 1'b0;
      assign y = t;
      assign z = b;
    endmodule""")
    assert g.cone(["y"]) == {"y", "t", "s", "a"}
    assert g.cone(["y", "z"]) == {"y", "t", "s", "a", "z", "b"}


def test_json_is_node_link_with_statements() -> None:
    import json

    g = graph("module m(input a, output y); assign y = ~a; endmodule")
    j = json.loads(json.dumps(g.to_json()))
    assert j["graph"] == {"top": "m", "inputs": ["a"], "outputs": ["y"]}
    assert {n["id"] for n in j["nodes"]} == {"a", "y"}
    (link,) = j["links"]
    assert link["source"] == "a" and link["target"] == "y" and link["kind"] == "data"
    assert link["statements"][0]["line"] == 1 and link["statements"][0]["text"] == "y = ~a"
    import networkx as nx

    h = nx.node_link_graph(j, edges="links")  # loads back into networkx
    assert list(h.edges) == [("a", "y")] and h.nodes["y"]["kind"] == "output"


def test_interface_ports_are_refused_clearly() -> None:
    with pytest.raises(verislice.VerisliceError) as e:
        graph("""interface bus; logic v; endinterface
        module m(bus b, output y); assign y = b.v; endmodule""", top="m")
    assert "not supported" in e.value.message
