"""`verislice equiv` command line: exit codes like diff, table for people, JSON for scripts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from verislice.cli import app

REPO = Path(__file__).resolve().parents[1]
REF = str(REPO / "examples/kbd/ref.v")
GEN = str(REPO / "examples/kbd/gen.v")
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, ["equiv", *args])


def test_table_shows_verdicts_and_first_failure_exit_1():
    r = run(REF, GEN, "--engine", "vvp")
    assert r.exit_code == 1, r.output
    assert "MISMATCH" in r.output and "MATCH" in r.output
    assert "scancode=" in r.output and "expected" in r.output and "actual" in r.output


def test_same_design_exit_0():
    r = run(REF, REF, "--engine", "vvp")
    assert r.exit_code == 0, r.output


def test_json_one_object_candidates_in_argument_order(tmp_path):
    broken = tmp_path / "broken.v"
    broken.write_text("module kbd_decoder(input [15:0] scancode, output a, output d);\n"
                      "assign a = scancode == 16'h1c\nendmodule\n")
    r = run(REF, GEN, str(broken), REF, "--json", "--cycles", "300", "--seed", "7")
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["reference"] == REF and doc["ok"] is False
    assert doc["options"]["cycles"] == 300 and doc["options"]["seed"] == 7
    files = [c["file"] for c in doc["candidates"]]
    assert files == [GEN, str(broken), REF]
    gen, bad, same = doc["candidates"]
    assert gen["verdict"] == "OK" and gen["outputs"]["a"]["verdict"] == "MISMATCH"
    ff = gen["outputs"]["a"]["first_failure"]
    assert set(ff) == {"cycle", "inputs", "expected", "actual"} and "scancode" in ff["inputs"]
    assert gen["outputs"]["d"] == {**gen["outputs"]["d"], "verdict": "MATCH", "mismatches": 0,
                                   "first_failure": None, "samples": 300}
    assert bad["verdict"] == "COMPILE_ERROR" and "broken.v:2:30: error: expected ';'" in bad["message"]
    assert bad["outputs"] == {}
    assert same["verdict"] == "OK"


def test_usage_and_reference_errors_exit_2(tmp_path):
    r = run(REF, str(tmp_path / "nope.v"))
    assert r.exit_code == 2 and "no such file" in r.output
    bad_ref = tmp_path / "ref.v"
    bad_ref.write_text("module m(input a, output y);\nassign y = a +;\nendmodule\n")
    r = run(str(bad_ref), GEN)
    assert r.exit_code == 2 and "ref.v:2:" in r.output and "error" in r.output
    two = tmp_path / "two.v"
    two.write_text("module t(input c1, input c2, input d, output reg q1, output reg q2);\n"
                   "always @(posedge c1) q1 <= d; always @(posedge c2) q2 <= d;\nendmodule\n")
    r = run(str(two), str(two))
    assert r.exit_code == 0  # several clocks run free (each its own period and phase)
    r = run(REF, GEN, "--engine", "xcelium")
    assert r.exit_code == 2 and "--engine must be one of" in r.output
    r = run(REF, GEN, "--method", "magic")
    assert r.exit_code == 2 and "--method must be" in r.output
    assert "Traceback" not in r.output


def test_clock_reset_and_top_options(tmp_path):
    ref = tmp_path / "ref.v"
    ref.write_text("module RefModule(input clk, input rst_n, input [3:0] d, output reg [3:0] q);\n"
                   "always @(posedge clk or negedge rst_n) if (!rst_n) q <= 0; else q <= d;\n"
                   "endmodule\n")
    gen = tmp_path / "gen.v"
    gen.write_text("module helper(input [3:0] x, output [3:0] y); assign y = x; endmodule\n"
                   "module TopModule(input clk, input rst_n, input [3:0] d, output reg [3:0] q);\n"
                   "always @(posedge clk or negedge rst_n) if (!rst_n) q <= 0; else q <= d;\n"
                   "endmodule\n")
    r = run(str(ref), str(gen), "--clock", "clk", "--reset", "rst_n", "--reset-active-low",
            "--reset-async", "--top-ref", "RefModule", "--top-gen", "TopModule", "--json",
            "--engine", "vvp")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["candidates"][0]["top"] == "TopModule"
    r = run(str(ref), str(gen), "--top-gen", "Nope", "--engine", "vvp", "--json")
    assert r.exit_code == 1
    assert "top module 'Nope' is not defined" in json.loads(r.output)["candidates"][0]["message"]


def test_help_has_examples():
    r = runner.invoke(app, ["equiv", "--help"])
    assert r.exit_code == 0
    for text in ("verislice equiv ref.v gen.v --json", "--reset-active-low", "--jobs",
                 "--allow-file-io", "Exit codes"):
        assert text in r.output


@pytest.mark.skipif(importlib.util.find_spec("pyosys") is None, reason="pyosys not installed")
def test_method_both_proves_what_simulation_matched():
    r = run(REF, GEN, "--method", "both", "--json", "--engine", "vvp")
    assert r.exit_code == 1, r.output
    outs = json.loads(r.output)["candidates"][0]["outputs"]
    assert outs["a"]["verdict"] == "MISMATCH" and outs["d"]["verdict"] == "PROVEN"
