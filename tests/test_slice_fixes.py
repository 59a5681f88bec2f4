"""Issue 15, slicer half: each fix pinned on a small design, checked with the real tools.

(1) ``endmodule // c`` then ``module``: the slice keeps a line break; (2) an ANSI port redeclared
in the body is one signal; (3) an ``always @*`` block whose cut-down version would read nothing is
kept whole with what triggers it; inactive `` `ifdef`` branches leave slices; generate constructs
are cut item by item; slice sizes in JSON; ``graph --depth``, the picture-size message and the
tree's ``(cycle)`` for self-dependence.
"""

from __future__ import annotations

import dataclasses
import json
import random
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

import verislice
from verislice.cli import app

import _slice_sim as sim

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def write(tmp_path: Path, text: str, name: str = "d.v") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def iverilog_ok(tmp_path: Path, text: str) -> None:
    f = tmp_path / "slice.v"
    f.write_text(text)
    r = subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "a.out"), str(f)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + text


def simulate(tmp_path: Path, text: str, top: str, bad: dict[str, str] | None = None):
    """Checks of every output of ``text`` (Icarus, the harness of the soundness test);
    ``bad`` replaces the slice text of some signals (to see the harness catch it)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    f = tmp_path / "orig.v"
    f.write_text(text)
    case = sim.Case(f"fix/{top}", "fix", [f], top)
    p = sim.prepare(case, internal=5, rng=random.Random(1))
    for c in p.checks:
        if bad and c.signal in bad:
            c._slice = dataclasses.replace(c._slice, text=bad[c.signal])
    sim.run_batch([p], tmp_path / "sim")
    return {c.signal: c for c in p.checks}


# --- (1) endmodule followed by a comment ------------------------------------------------------

TWO_MODULES = """module sub(input a, output b);
  assign b = ~a;
endmodule   // sub
module top(input a, input c, output y, output z);
  wire t;
  sub u(.a(a), .b(t));
  assign y = t;
  assign z = c;
endmodule
"""


def test_endmodule_with_a_comment_keeps_the_next_module_on_its_own_line(tmp_path) -> None:
    sl = verislice.cone(verislice.Source(TWO_MODULES, "t.v"), ["y"])
    assert "endmodule   // sub\nmodule top(" in sl.text
    iverilog_ok(tmp_path, sl.text)
    verislice.load([verislice.Source(sl.text, "slice.v")])  # verislice reads it back


def test_endmodule_with_a_block_comment_on_one_line(tmp_path) -> None:
    text = ("module sub(input a, output b); assign b = a; endmodule /* x */ module top(input a, "
            "output y, output z); sub u(a, y); assign z = a; endmodule\n")
    sl = verislice.cone(verislice.Source(text, "t.v"), ["y"])
    assert "endmodule\nmodule top" in sl.text
    iverilog_ok(tmp_path, sl.text)


# --- (2) an ANSI port redeclared in the body ----------------------------------------------------

REDECLARED = """module top(input clk, input [3:0] a, output [3:0] c, output d);
  reg [3:0] c;
  always @(posedge clk) c <= a;
  assign d = a[0];
endmodule
"""


def test_port_redeclared_in_the_body_is_one_signal(tmp_path) -> None:
    g = verislice.build_graph(verislice.Source(REDECLARED, "r.v"))
    assert not [n for n in g.graph.nodes if "@" in n]
    assert sorted(g.graph.predecessors("c")) == ["a", "clk"]
    r = run("cone", write(tmp_path, REDECLARED), "-s", "c")
    assert r.exit_code == 0, r.output
    assert "always @(posedge clk) c <= a;" in r.stdout and "reg [3:0] c;" in r.stdout
    checks = simulate(tmp_path, REDECLARED, "top")
    assert {s: c.status for s, c in checks.items()} == {"c": "ok", "d": "ok"}


# --- (3) slices that would change behaviour -------------------------------------------------------

UNTRIGGERED = """module top(input a, input [3:0] b, output reg [3:0] y, output reg z,
           output reg [3:0] w, output reg [3:0] v);
  integer i;
  always @* begin
    y = 4'd5;
    z = a;
    for (i = 0; i < 4; i = i + 1) w[i] = 1'b1;
  end
  always @* begin
    v = 4'd0;
    if (b[0]) v = b;
  end
endmodule
"""


def test_always_star_left_with_nothing_to_read_is_kept_whole(tmp_path) -> None:
    for s in ("y", "w"):
        sl = verislice.cone(verislice.Source(UNTRIGGERED, "u.v"), [s])
        assert "z = a;" in sl.text and "y = 4'd5;" in sl.text and "w[i] = 1'b1;" in sl.text
        assert "a" in sl.signals
    # a block that reads something of its own is still cut statement by statement
    sl = verislice.cone(verislice.Source(UNTRIGGERED, "u.v"), ["z"])
    assert "z = a;" in sl.text and "y = 4'd5;" not in sl.text
    sl = verislice.cone(verislice.Source(UNTRIGGERED, "u.v"), ["v"])
    assert "v = 4'd0;" in sl.text and "z = a;" not in sl.text
    g = verislice.build_graph(verislice.Source(UNTRIGGERED, "u.v"))
    assert g.graph.edges["a", "y"]["kind"] == "control"  # y takes its value when a triggers


def test_untriggered_slices_match_the_original_in_icarus_and_the_naive_cut_does_not(
        tmp_path) -> None:
    checks = simulate(tmp_path, UNTRIGGERED, "top")
    assert {c.status for c in checks.values()} == {"ok"}, [
        (s, c.status, c.detail) for s, c in checks.items()]
    # the harness sees the bug of issue 15: the block cut down to `y = 4'd5;` never runs
    naive = UNTRIGGERED.replace("    z = a;\n", "").replace(
        "    for (i = 0; i < 4; i = i + 1) w[i] = 1'b1;\n", "")
    bad = simulate(tmp_path / "naive", UNTRIGGERED, "top", bad={"y": naive})
    assert bad["y"].status == "mismatch" and "slice=x" in bad["y"].detail


# --- inactive preprocessor branches ------------------------------------------------------------

IFDEFS = """`define UNUSED 1
module m(input a, input b, output y, output z
`ifdef FORMAL
  , output f
`endif
);
`ifdef FORMAL
  // many lines of properties
  assign f = a;
`endif
`ifdef WIDE
  assign y = a | b;
`else
  assign y = a & b;   // the default
`endif
  assign z = b;
`ifndef FORMAL
  wire t = a;
`endif
endmodule
"""


def test_inactive_ifdef_branches_leave_the_slice(tmp_path) -> None:
    f = write(tmp_path, IFDEFS)
    sl = verislice.cone(f, ["y"])
    assert "`ifdef" not in sl.text and "`else" not in sl.text and "`endif" not in sl.text
    assert "properties" not in sl.text and "a | b" not in sl.text and "output f" not in sl.text
    assert "assign y = a & b;   // the default" in sl.text and "`define UNUSED 1" in sl.text
    iverilog_ok(tmp_path, sl.text)
    data = Path(f).read_bytes()
    assert b"".join(data[s:e] for s, e in sl.spans).decode() == sl.text  # spans are the text


def test_define_makes_a_branch_active(tmp_path) -> None:
    f = write(tmp_path, IFDEFS)
    sl = verislice.cone(f, ["y"], defines={"WIDE": None})
    assert "assign y = a | b;" in sl.text and "a & b" not in sl.text
    sl = verislice.cone(f, ["y", "f"], defines={"FORMAL": None})
    assert "`ifdef FORMAL\n  , output f\n`endif" in sl.text and "assign f = a;" in sl.text
    r = run("cone", f, "-s", "y", "-D", "FORMAL")
    assert r.exit_code == 0 and "`ifdef FORMAL\n  , output f" in r.stdout
    assert "assign f" not in r.stdout  # f is outside y's cone: its (now empty) group goes


# --- generate blocks at statement level -----------------------------------------------------------

GEN = """module m #(parameter N = 4, parameter MODE = 1) (input clk, input [N-1:0] a,
    input [N-1:0] b, output [N-1:0] y, output [N-1:0] z, output reg [N-1:0] q, output w);
  genvar i;
  generate
    for (i = 0; i < N; i = i + 1) begin : g
      wire t = a[i] ^ b[i];
      assign y[i] = t;
      assign z[i] = a[i] & b[i];
      always @(posedge clk) begin
        q[i] <= t;
      end
    end
    if (MODE == 1) begin : m1
      assign w = a[0];
    end else if (MODE == 2) begin : m2
      assign w = b[0];
    end else begin : m3
      assign w = 1'b0;
    end
  endgenerate
endmodule
"""


def test_generate_constructs_are_cut_item_by_item(tmp_path) -> None:
    src = verislice.Source(GEN, "g.v")
    z = verislice.cone(src, ["z"]).text
    assert "assign z[i] = a[i] & b[i];" in z and "assign y[i]" not in z and "q[i]" not in z
    assert "wire t" not in z and "MODE == 1" not in z
    q = verislice.cone(src, ["q"]).text
    assert "wire t = a[i] ^ b[i];" in q and "q[i] <= t;" in q and "assign y" not in q
    w = verislice.cone(src, ["w"]).text
    assert "if (MODE == 1) begin : m1" in w and "MODE == 2" not in w and "for (i" not in w
    for s in ("y", "z", "q", "w"):
        iverilog_ok(tmp_path, verislice.cone(src, [s]).text)
    checks = simulate(tmp_path, GEN, "m")
    assert {c.status for c in checks.values()} == {"ok"}, [
        (s, c.status, c.detail) for s, c in checks.items()]


# --- sizes in JSON ------------------------------------------------------------------------------


def test_cone_json_reports_bytes_and_lines_kept(tmp_path) -> None:
    f = write(tmp_path, IFDEFS)
    r = run("cone", f, "-s", "y", "--json")
    assert r.exit_code == 0, r.output
    size = json.loads(r.stdout)["size"]
    data = Path(f).read_bytes()
    assert size["file_bytes"] == len(data)
    assert size["file_lines"] == sum(1 for x in data.splitlines() if x.strip())
    sl = verislice.cone(f, ["y"])
    assert size["bytes"] == sum(e - s for s, e in sl.spans) < size["file_bytes"]
    assert size["lines"] == sum(1 for x in sl.text.splitlines() if x.strip()) < size["file_lines"]


# --- graph ---------------------------------------------------------------------------------------

COUNTER = """module c(input clk, input [3:0] a, output reg [3:0] q);
  always @(posedge clk) q <= q + a;
endmodule
"""


def test_tree_marks_self_dependence_as_a_cycle(tmp_path) -> None:
    r = run("graph", write(tmp_path, COUNTER))
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert any("q[4] (output)" in x and "(cycle)" in x for x in lines[2:]), r.stdout
    assert any("a[4] (input)" in x for x in lines) and any("clk (input)" in x for x in lines)


CHAIN = "module ch(input a, output y);\n  wire s1 = a;\n  wire s2 = s1;\n  wire s3 = s2;\n" \
        "  assign y = s3;\nendmodule\n"


def test_graph_depth_limits_every_format(tmp_path) -> None:
    f = write(tmp_path, CHAIN)
    r = run("graph", f, "--depth", "2", "--format", "json")
    assert r.exit_code == 0, r.output
    assert sorted(n["id"] for n in json.loads(r.stdout)["nodes"]) == ["s2", "s3", "y"]
    r = run("graph", f, "--depth", "1", "-s", "s2", "--format", "dot")
    assert '"s1"' in r.stdout and '"a"' not in r.stdout and '"y"' not in r.stdout
    r = run("graph", f, "--depth", "2")
    assert "s2" in r.stdout and "s1 " not in r.stdout and "elided" in r.stdout
    assert run("graph", f, "--depth", "0").exit_code == 2


def test_graph_too_large_to_draw_is_a_clear_error(tmp_path) -> None:
    n = 30  # 30 outputs x 30 inputs: 900 edges
    ins = ", ".join(f"input i{k}" for k in range(n))
    outs = ", ".join(f"output o{k}" for k in range(n))
    body = "".join(f"  assign o{k} = ^{{{', '.join(f'i{j}' for j in range(n))}}};\n"
                   for k in range(n))
    f = write(tmp_path, f"module big({ins}, {outs});\n{body}endmodule\n")
    r = run("graph", f, "-o", str(tmp_path / "g.svg"))
    assert r.exit_code == 2
    msg = r.stderr.strip().splitlines()[-1]
    assert msg.startswith("error: the graph has 60 signals and 900 edges, too many to draw")
    assert "--depth" in msg and "--format tree, dot or json" in msg
    assert not (tmp_path / "g.svg").exists()
    r = run("graph", f, "-s", "o3", "-o", str(tmp_path / "g.svg"))  # one cone draws fine
    assert r.exit_code == 0, r.output
    assert (tmp_path / "g.svg").read_text().lstrip().startswith("<?xml")


def test_a_dot_run_past_its_time_limit_gives_the_same_advice(tmp_path) -> None:
    from verislice import _render

    g = verislice.build_graph(verislice.Source(CHAIN, "c.v"))
    with pytest.raises(verislice.VerisliceError) as exc:
        _render.render_image(_render.to_dot(g), tmp_path / "g.svg", timeout=0.001)
    assert exc.value.message.startswith("Graphviz dot did not finish the picture in 0.001 s: ")
    assert "--depth N" in exc.value.message
