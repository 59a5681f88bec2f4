"""A small hand-made RTLLM clone (RTLLM is a held-out set: its designs never enter the tests), for
the eval tests (tests/test_eval_native.py, tests/test_eval_security.py, tests/test_security_redteam.py).
"""

from __future__ import annotations

from pathlib import Path

from salv_trainer.eval import load_benchmark

ADDER_REF = """module verified_adder_8bit(input [7:0] a, input [7:0] b, input cin,
                          output [7:0] sum, output cout);
  assign {cout, sum} = a + b + cin;
endmodule
"""

ADDER_TB = """`timescale 1ns/1ps
module testbench;
  reg [7:0] a, b;
  reg cin;
  wire [7:0] sum;
  wire cout;
  reg [16:0] vectors [0:3];
  integer i, errors = 0;
  adder_8bit uut (.a(a), .b(b), .cin(cin), .sum(sum), .cout(cout));
  initial begin
    $readmemh("test_data.dat", vectors);   // a data file that must sit next to the simulation
    if (^vectors[0] === 1'bx) errors = errors + 100;
    for (i = 0; i < 4; i = i + 1) begin
      {a, b, cin} = vectors[i];
      #10;
      if ({cout, sum} !== a + b + cin) errors = errors + 1;
    end
    if (errors == 0) $display("=========== Your Design Passed ===========");
    else $display("=========== Test completed with %d failures ===========", errors);
    $finish;
  end
endmodule
"""
ADDER_DATA = "00000\n1fe01\n00101\n1ffff\n"  # the vectors ADDER_TB reads

COUNTER_REF = """module counter_4bit(input clk, input rst_n, output reg [3:0] q);
  always @(posedge clk or negedge rst_n)
    if (!rst_n) q <= 4'd0; else q <= q + 4'd1;
endmodule
"""

COUNTER_TB = """module tb_counter;
  reg clk = 0, rst_n = 0;
  wire [3:0] q;
  counter_4bit dut (.clk(clk), .rst_n(rst_n), .q(q));
  always #5 clk = ~clk;
  initial begin
    #12 rst_n = 1;
    repeat (21) @(negedge clk);   // 21 rising edges after reset: 21 mod 16
    if (q == 4'd5) $display("===========Your Design Passed===========");
    else $display("===========Error: q = %d===========", q);
    $finish;
  end
endmodule
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def write_adder(d: Path, testbench: str = ADDER_TB, *, data: bool = True) -> None:
    """The task directory ``d`` of RTLLM's adder_8bit: description, ``testbench``, reference and
    (with ``data``) the vectors file ADDER_TB reads."""
    _write(d / "design_description.txt", "Implement an 8-bit adder with carry in and out.\n")
    _write(d / "testbench.v", testbench)
    _write(d / "verified_adder_8bit.v", ADDER_REF)
    if data:
        _write(d / "test_data.dat", ADDER_DATA)


def rtllm_tree(root: Path, layout: str) -> None:
    """A clone under ``root`` with two tasks, adder_8bit (with a makefile, which is not a data file)
    and counter_4bit, in RTLLM's ``v1.1`` (flat) or ``v2.0`` (by category) layout."""
    adder = root / ("Arithmetic/Adder/adder_8bit" if layout == "v2.0" else "adder_8bit")
    counter = root / ("Control/Counter/counter_4bit" if layout == "v2.0" else "counter_4bit")
    write_adder(adder)
    _write(adder / "makefile", "vcs:\n\tvcs -sverilog adder_8bit.v testbench.v\n")
    _write(counter / "design_description.txt", "A 4-bit counter with asynchronous reset.\n")
    _write(counter / "testbench.v", COUNTER_TB)
    _write(counter / "verified_counter_4bit.v", COUNTER_REF)


def adder_task(root: Path, testbench: str = ADDER_TB, *, data: bool = True):
    """The adder_8bit task of a one-task v1.1 clone written under ``root / "RTLLM"``."""
    write_adder(root / "RTLLM" / "adder_8bit", testbench, data=data)
    (task,) = load_benchmark("rtllm-v1.1", root / "RTLLM")
    return task


def adder(body: str, extra: str = "") -> str:
    """A candidate adder_8bit: ``{cout, sum} = <body>``, with ``extra`` in the module."""
    return ("module adder_8bit(input [7:0] a, input [7:0] b, input cin, output [7:0] sum, "
            f"output cout);\n  assign {{cout, sum}} = {body};\n  {extra}\nendmodule\n")
