"""`verislice cone` and `verislice graph` from the command line: outputs, exit codes, messages."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from verislice.cli import app

REPO = Path(__file__).resolve().parents[1]
KBD = str(REPO / "examples" / "kbd" / "gen.v")
SUB = str(REPO / "examples" / "submodule" / "gen.v")

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_cone_prints_the_module() -> None:
    r = run("cone", KBD, "--signal", "d")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("module kbd_decoder (")
    assert "16'h0023: d = 1'b1;" in r.stdout and "a = 1'b1" not in r.stdout
    assert r.stdout.rstrip().endswith("endmodule")
    assert "\x1b[" not in r.stdout  # plain when not a terminal


def test_cone_spans_format() -> None:
    r = run("cone", KBD, "-s", "d", "--format", "spans")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].startswith("# ") and "byte_start byte_end char_start char_end" in lines[0]
    spans = [tuple(map(int, ln.split())) for ln in lines[1:]]
    import verislice

    sl = verislice.cone(KBD, ["d"])
    assert [s[:2] for s in spans] == sl.spans and [s[2:] for s in spans] == sl.char_spans


@pytest.mark.parametrize("flag", [("--format", "json"), ("--json",)])
def test_cone_json(flag) -> None:
    r = run("cone", KBD, "-s", "d", "--ports", "used", *flag)
    assert r.exit_code == 0
    j = json.loads(r.stdout)
    assert j["requested"] == ["d"] and j["dropped_outputs"] == ["a"] and j["ports"] == "used"
    assert j["signals"] == ["d", "scancode"] and j["top"] == "kbd_decoder"
    assert "output reg         a" not in j["text"]
    assert set(j) >= {"spans", "char_spans", "file", "submodules", "warnings"}


def test_cone_several_signals_and_top(tmp_path: Path) -> None:
    r = run("cone", SUB, "-s", "cout", "-s", "sum", "--top", "adder2")
    assert r.exit_code == 0
    assert "full_adder fa0" in r.stdout and "assign parity" not in r.stdout
    r2 = run("cone", SUB, "-s", "cout,sum", "--top", "adder2")
    assert r2.exit_code == 0 and r2.stdout == r.stdout


def test_cone_several_files_include_and_define(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "w.vh").write_text("`define MASK 8'h0f\n")
    (tmp_path / "a.v").write_text("""`include "w.vh"
module top(input [`W-1:0] x, output [`W-1:0] y, output z);
  leaf u(.i(x), .o(y));
  assign z = ^(x & `MASK);
endmodule
""")
    (tmp_path / "b.v").write_text("module leaf(input [`W-1:0] i, output [`W-1:0] o);\n"
                                  "  assign o = ~i;\nendmodule\n")
    r = run("cone", str(tmp_path / "a.v"), str(tmp_path / "b.v"), "-I", str(tmp_path / "inc"),
            "-D", "W=8", "-s", "y", "--json")
    assert r.exit_code == 0, r.output
    j = json.loads(r.stdout)
    assert j["submodules"] == [] and j["external_modules"] == ["leaf"]
    assert "leaf u(.i(x), .o(y));" in j["text"] and "assign z" not in j["text"]
    r = run("cone", str(tmp_path / "a.v"), str(tmp_path / "b.v"), "-I", str(tmp_path / "inc"),
            "-D", "W=8", "-s", "z")
    assert r.exit_code == 0 and "assign z = ^(x & `MASK);" in r.stdout


def test_cone_output_file(tmp_path: Path) -> None:
    out = tmp_path / "d.v"
    r = run("cone", KBD, "-s", "d", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == ""
    assert out.read_text().startswith("module kbd_decoder")


def test_cone_unknown_signal_exit_2_with_suggestion() -> None:
    r = run("cone", KBD, "-s", "dd")
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.strip() == ("error: no signal 'dd' in module 'kbd_decoder'; did you mean 'd'? "
                                "(outputs: a, d)")


def test_cone_input_signal_exit_2() -> None:
    r = run("cone", KBD, "-s", "scancode")
    assert r.exit_code == 2 and "is an input of module 'kbd_decoder'" in r.stderr


def test_cone_parse_error_is_located(tmp_path: Path) -> None:
    bad = tmp_path / "bad.v"
    bad.write_text("module m(input a, output y);\n  assign y = a +;\nendmodule\n")
    r = run("cone", str(bad), "-s", "y")
    assert r.exit_code == 2
    assert "bad.v:2:17: error: expected expression" in r.stderr
    assert "Traceback" not in r.output


def test_cone_missing_file_and_bad_define() -> None:
    r = run("cone", "/nonexistent/x.v", "-s", "y")
    assert r.exit_code == 2 and "/nonexistent/x.v: cannot read" in r.stderr
    r = run("cone", KBD, "-s", "d", "-D", "=3")
    assert r.exit_code == 2 and "error: -D =3: expected NAME or NAME=VALUE" in r.stderr


def test_cone_help_has_examples() -> None:
    r = run("cone", "--help")
    assert r.exit_code == 0
    assert "verislice cone examples/kbd/gen.v --signal d" in r.stdout
    assert "--ports" in r.stdout and "--format" in r.stdout


def test_graph_tree() -> None:
    r = run("graph", KBD)
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == "module kbd_decoder"
    assert "a (output)" in r.stdout and "scancode[16] (input) (control)" in r.stdout


def test_graph_tree_of_one_signal() -> None:
    r = run("graph", SUB, "-s", "cout")
    assert r.exit_code == 0
    assert "fa1.cout" in r.stdout and "parity" not in r.stdout


def test_graph_dot() -> None:
    r = run("graph", SUB, "--format", "dot", "-s", "cout")
    assert r.exit_code == 0
    assert r.stdout.startswith('digraph "adder2" {') and r.stdout.rstrip().endswith("}")
    assert '"c1" -> "fa1.cin"' in r.stdout and "parity" not in r.stdout
    assert 'subgraph "cluster_fa1" {' in r.stdout and '"fa1.cin" [label="cin"];' in r.stdout


def test_graph_json() -> None:
    r = run("graph", KBD, "--json")
    assert r.exit_code == 0
    j = json.loads(r.stdout)
    assert j["directed"] is True and {n["id"] for n in j["nodes"]} == {"scancode", "a", "d"}
    assert {(e["source"], e["target"], e["kind"]) for e in j["links"]} == {
        ("scancode", "a", "control"), ("scancode", "d", "control")}


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed")
@pytest.mark.parametrize("suffix,magic", [("svg", b"<svg"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_graph_picture(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"cone.{suffix}"
    r = run("graph", SUB, "-s", "cout", "-o", str(out))
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert magic in data[:400]
    if suffix == "svg":
        assert b"fa1.cout" in data


def test_graph_picture_needs_a_file() -> None:
    r = run("graph", KBD, "--format", "png")
    assert r.exit_code == 2 and "give a file with -o" in r.stderr


def test_graph_unknown_signal() -> None:
    r = run("graph", KBD, "-s", "q")
    assert r.exit_code == 2 and "no signal 'q'" in r.stderr


def test_console_script_pipes_plain_text() -> None:
    exe = Path(sys.executable).parent / "verislice"
    if not exe.exists():
        pytest.skip("console script not installed")
    p = subprocess.run([str(exe), "cone", KBD, "-s", "d"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and p.stdout.startswith("module kbd_decoder") and p.stderr == ""
    p = subprocess.run([str(exe), "cone", KBD, "-s", "zz"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2 and p.stderr.startswith("error: no signal 'zz'")


def test_graph_tree_lists_each_signal_once_on_reconvergent_logic(tmp_path: Path) -> None:
    # 40 stages of two signals that each read both of the previous stage: 2**40 paths
    lines = ["module chain(input t0, u0, output y);"]
    for i in range(1, 41):
        lines.append(f"  wire t{i} = t{i-1} ^ u{i-1};")
        lines.append(f"  wire u{i} = t{i-1} & u{i-1};")
    lines += ["  assign y = t40 | u40;", "endmodule"]
    f = tmp_path / "chain.v"
    f.write_text("\n".join(lines) + "\n")
    r = run("graph", str(f))
    assert r.exit_code == 0
    assert len(r.stdout.splitlines()) < 300 and "(see above)" in r.stdout
    r = run("cone", str(f), "-s", "y", "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["signals"]) == 83


def test_cone_of_a_submodule_chosen_with_top() -> None:
    r = run("cone", SUB, "--top", "full_adder", "-s", "cout")
    assert r.exit_code == 0
    assert r.stdout.startswith("module full_adder (") and "adder2" not in r.stdout
    assert "assign cout" in r.stdout and "assign s " not in r.stdout
    r = run("cone", SUB, "--top", "nope", "-s", "cout")
    assert r.exit_code == 2
    assert r.stderr.strip() == "error: top module 'nope' is not defined (modules: full_adder, adder2)"


def test_graph_and_cone_of_a_very_long_chain(tmp_path: Path) -> None:
    n = 3000
    lines = ["module chain(input a, output y);", "  wire t0 = a;"]
    lines += [f"  wire t{i} = ~t{i - 1};" for i in range(1, n)]
    lines += [f"  assign y = t{n - 1};", "endmodule"]
    f = tmp_path / "chain.v"
    f.write_text("\n".join(lines) + "\n")
    r = run("graph", str(f))
    assert r.exit_code == 0 and "deeper levels elided: use --format dot or json" in r.stdout
    r = run("cone", str(f), "-s", "y", "--json")
    assert r.exit_code == 0 and len(json.loads(r.stdout)["signals"]) == n + 2
