"""Front end: parsing, top detection, ports, diagnostics and syntax-level renaming."""

from pathlib import Path

import pytest

from verislice import DiagnosticError, Source, VerisliceError, load
from verislice._frontend import module_names, rename_modules
from verislice._sandbox import run_limited, sandbox_dir

from conftest import load_bundle


def test_ports_widths_signedness_and_top_from_instance_graph():
    src = """module sub(input a, output b); assign b = ~a; endmodule
module top #(parameter W = 4)(input clk, input [W-1:0] x, output reg [W-1:0] y,
                             output signed [3:0] z);
  sub u(.a(x[0]), .b());
  always @(posedge clk) y <= x;
  assign z = 0;
endmodule
"""
    d = load([Source(src, "t.v")])
    assert d.top == "top"
    assert [(p.name, p.direction, p.width, p.signed) for p in d.ports] == [
        ("clk", "input", 1, False),
        ("x", "input", 4, False),
        ("y", "output", 4, False),
        ("z", "output", 4, True),
    ]
    assert [p.name for p in d.outputs] == ["y", "z"]
    assert d.modules == ["sub", "top"]


def test_syntax_error_is_file_line_col():
    with pytest.raises(DiagnosticError) as e:
        load([Source("module a(input x, output y);\n  assign y = x +;\nendmodule\n", "bad.v")])
    assert str(e.value).startswith("bad.v:2:")
    assert ": error: " in str(e.value)
    assert e.value.exit_code == 2


def test_diagnostics_name_the_file_as_the_user_gave_it(tmp_path, monkeypatch):
    (tmp_path / "bad.v").write_text("module a(input x, output y);\n  assign y = x +;\nendmodule\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DiagnosticError) as e:
        load([str(tmp_path / "bad.v")])
    assert str(e.value).startswith(f"{tmp_path / 'bad.v'}:2:17: error: expected expression")


def test_parser_limits_are_a_clear_error_not_a_traceback():
    deep = "module a(output y); assign y = " + "(" * 3000 + "1" + ")" * 3000 + "; endmodule"
    with pytest.raises(VerisliceError, match=r"^deep\.v: cannot parse: "):
        load([Source(deep, "deep.v")])


def test_undeclared_identifier_message_is_pinned():
    src = "module a(input x, output y);\n  always @(*) y = x & nope;\nendmodule\n"
    with pytest.raises(DiagnosticError) as e:
        load([Source(src, "u.v")])
    assert str(e.value) == "u.v:2:23: error: use of undeclared identifier 'nope'"


def test_several_tops_error_lists_them_and_top_option_picks_one():
    src = "module a(output y); assign y = 1; endmodule\nmodule b(output y); assign y = 0; endmodule\n"
    with pytest.raises(VerisliceError, match=r"several top modules \(a, b\): choose one with --top"):
        load([Source(src, "two.v")])
    assert load([Source(src, "two.v")], top="b").top == "b"
    with pytest.raises(VerisliceError, match=r"top module 'c' is not defined \(modules: a, b\)"):
        load([Source(src, "two.v")], top="c")


def test_undefined_submodule_is_a_black_box_warning():
    d = load([Source("module a(input x, output y);\n  foo u(.i(x), .o(y));\nendmodule\n", "bb.v")])
    assert any("unknown module 'foo'" in str(w) for w in d.warnings)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(VerisliceError, match=r"nope\.v: cannot read"):
        load([tmp_path / "nope.v"])


def test_multiple_files_include_dirs_and_defines(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "w.vh").write_text("localparam LW = `WIDTH;\n")
    (tmp_path / "leaf.v").write_text("module leaf(input [7:0] a, output [7:0] b); assign b = a; endmodule\n")
    (tmp_path / "top.v").write_text(
        "module top(input [`WIDTH-1:0] a, output [`WIDTH-1:0] b);\n"
        "  `include \"w.vh\"\n  leaf u(.a(a), .b(b));\nendmodule\n"
    )
    d = load([tmp_path / "leaf.v", tmp_path / "top.v"], include_dirs=[inc], defines={"WIDTH": "8"})
    assert d.top == "top" and d.ports[0].width == 8
    assert d.source_of_top()[1].name.endswith("top.v")


def test_include_next_to_the_source_file_needs_no_include_dir(tmp_path):
    (tmp_path / "defs.vh").write_text("localparam W = 6;\n")
    (tmp_path / "top.v").write_text(
        "module top(output [7:0] y);\n  `include \"defs.vh\"\n  assign y = W;\nendmodule\n"
    )
    d = load([tmp_path / "top.v"])
    assert d.top == "top"


def test_rename_is_syntax_level_not_substring():
    src = """module alu(input [3:0] value, output [3:0] alu_out);
  adder alu_adder(.x(value), .y(alu_out));
endmodule
module adder(input [3:0] x, output [3:0] y); assign y = x + 1; endmodule
"""
    out = rename_modules(src, "ref_")
    assert "module ref_alu(input [3:0] value, output [3:0] alu_out);" in out
    assert "ref_adder alu_adder(.x(value), .y(alu_out));" in out
    assert module_names(out) == ["ref_alu", "ref_adder"]
    load([Source(out, "renamed.v")])  # still elaborates


def test_every_verilogeval_reference_loads_with_its_top():
    n = 0
    for tag in ("verilogeval-v2-spec", "verilogeval-v1-human", "verilogeval-v1-machine"):
        for row in load_bundle(tag):
            d = load([Source(row["reference"], row["task_id"])], top=row["reference_module"])
            assert d.outputs, row["task_id"]
            n += 1
    assert n == 156 + 156 + 143


def test_sandbox_kills_process_group_on_timeout():
    with sandbox_dir() as d:
        r = run_limited(["sh", "-c", "sleep 30 & sleep 30"], d, timeout=0.5)
        assert r.timed_out and r.returncode is None and r.seconds < 5
        r = run_limited(["sh", "-c", "echo hi > f.txt; cat f.txt"], d, timeout=5)
        assert r.ok and r.stdout == "hi\n"
        assert (d / "f.txt").exists()
    assert not d.exists()
    # no stray sleepers left behind
    assert not [c for c in _cmdlines() if c == "sleep\x0030\x00"]


def _cmdlines() -> list[str]:
    out = []
    for p in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out.append(p.read_text())
        except OSError:
            pass
    return out


def test_sandbox_applies_memory_and_file_size_limits():
    with sandbox_dir() as d:
        r = run_limited(["sh", "-c", "ulimit -v; ulimit -f"], d, timeout=5, memory_mb=100, file_size_mb=2)
        assert r.ok and r.stdout.split() == ["102400", "4096"]  # KiB, 512-byte blocks
        missing = run_limited(["no-such-tool-xyz"], d, timeout=5)
        assert missing.returncode == 127 and "no-such-tool-xyz: command not found" in missing.stderr


def test_sandbox_file_size_limit():
    with sandbox_dir() as d:
        r = run_limited(["sh", "-c", "head -c 5000000 /dev/zero > big"], d, timeout=10, file_size_mb=1)
        assert not r.ok
        assert (d / "big").stat().st_size <= 1024 * 1024
