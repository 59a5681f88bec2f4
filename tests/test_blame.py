"""The batched compile with blame (``verislice.untrusted.icarus_errors`` and ``blame_batch``), on
real Icarus runs: a design is blamed only when it fails alone, found by its ``file:line`` or by
halving, never because of a neighbour."""

from __future__ import annotations

import shutil

import pytest

from verislice.untrusted import Attempt, blame_batch, icarus_errors, run_limited, sandbox_dir

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")

GOOD = "module g(input a, output y);\n  assign y = a;\nendmodule\n"
# errors on line 3 and on line 2 (the same module name as the good ones: batches rename it)
BROKEN_3 = "module g(input a, output y);\n  wire w = a;\n  assign y = q;\nendmodule\n"
BROKEN_2 = "module h(input a, output [1:0] y);\n  assign y = a +;\nendmodule\n"
# one design, two modules: a delay with an explicit time unit and one without. Icarus warns
# with no file:line ("Found both default and explicit timescale based delays"): in a strict
# check that fails the design alone, and any batch it is in, naming no one
UNITS = "module u1(input a, output y);\n  timeunit 1ns; timeprecision 1ps;\n  assign #1 y = a;\nendmodule\n"
NO_UNITS = "module u2(input a, output y);\n  assign #1 y = a;\nendmodule\n"


def test_two_broken_designs_among_good_ones_are_blamed_with_their_lines():
    texts = [GOOD, BROKEN_3, GOOD, GOOD, BROKEN_2, GOOD]
    runs = icarus_errors(texts, names=[f"design{i}.v" for i in range(len(texts))])
    assert [i for i, r in enumerate(runs) if r is not None] == [1, 4]
    assert runs[1].stderr.startswith("design1.v:3: error: Unable to bind wire/reg/memory `q' in `g'")
    assert runs[4].stderr.startswith("design4.v:2: syntax error")


def test_blame_compiles_each_named_design_alone_and_the_rest_again():
    texts = [GOOD, BROKEN_3, GOOD, BROKEN_2, GOOD, GOOD]
    batches: list[list[int]] = []
    alone: list[int] = []
    with sandbox_dir() as d:
        for i, text in enumerate(texts):
            (d / f"m{i}.v").write_text(text.replace("module g(", f"module g{i}("))

        def compile(batch: list[int]) -> Attempt[int]:
            batches.append(batch)
            r = run_limited(["iverilog", "-t", "null", *(f"m{i}.v" for i in batch)], d, timeout=30)
            return Attempt(r.ok, frozenset(i for i in batch if f"m{i}.v:" in r.stderr))

        def compile_alone(i: int) -> str | None:
            alone.append(i)
            r = run_limited(["iverilog", "-t", "null", f"m{i}.v"], d, timeout=30)
            return None if r.ok else r.stderr

        found = blame_batch(range(len(texts)), compile, compile_alone)
    assert sorted(found.errors) == [1, 3] and found.left == [0, 2, 4, 5] and not found.stuck
    # the syntax error stops Icarus before elaboration: design 1 is named by the second run;
    # never a halved batch, each broken design compiled alone once
    assert batches == [[0, 1, 2, 3, 4, 5], [0, 1, 2, 4, 5], [0, 2, 4, 5]] and alone == [3, 1]


def test_a_design_whose_error_names_no_file_is_found_by_halving():
    texts = [GOOD, GOOD, UNITS + NO_UNITS, GOOD, GOOD]
    runs = icarus_errors(texts, strict=True)
    assert [i for i, r in enumerate(runs) if r is not None] == [2]
    assert "Found both default and explicit timescale based delays" in runs[2].stderr


def test_a_design_that_only_fails_next_to_another_is_not_blamed():
    # each compiles alone; together, strict, Icarus warns naming no file
    assert icarus_errors([GOOD, UNITS, GOOD, NO_UNITS], strict=True) == [None] * 4
    # a user-defined primitive is not renamed in a batch: the second definition fails there,
    # and its file is named, but it compiles alone
    udp = ("primitive inv(output o, input a);\n  table 0 : 1; 1 : 0; endtable\nendprimitive\n"
           "module {m}(input a, output y);\n  inv(y, a);\nendmodule\n")
    assert icarus_errors([udp.format(m="p1"), GOOD, udp.format(m="p2")]) == [None] * 3


def test_a_design_with_a_directive_is_compiled_alone_and_names_are_plain_files():
    define = "`define W 2\nmodule d(input [`W-1:0] a, output y);\n  assign y = a[1] & q;\nendmodule\n"
    runs = icarus_errors([GOOD, define, GOOD])
    assert runs[0] is None and runs[2] is None
    assert runs[1].stderr.startswith("d1.v:3: error: Unable to bind wire/reg/memory `q'")
    with pytest.raises(ValueError):
        icarus_errors([GOOD], names=["../escape.v"])
