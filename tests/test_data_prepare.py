"""`prepare`: corpus cleaning with real pyslang parses and real Icarus compiles."""

from __future__ import annotations

import json

from conftest import load_bundle

from salv_trainer.data import PrepareConfig, prepare, read_rows
from salv_trainer.data._icarus import compile_errors

AND = "module and2(input a, input b, output y);\n  assign y = a & b; // and\nendmodule\n"


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _corpus():
    return [
        {"id": "ok", "description": "AND gate", "code": AND},
        # the same design with other comments and spacing: a duplicate
        {"id": "dup", "description": "AND again", "code": "module and2(input a, input b, output y);  /* c */\nassign y = a & b;\nendmodule"},
        {"id": "syntax", "description": "bad", "code": "module m(input a, output y);\n  assign y = a +;\nendmodule\n"},
        {"id": "noout", "description": "no outputs", "code": "module m(input a);\nendmodule\n"},
        {"id": "twotops", "description": "two tops", "code": "module p(output y); assign y = 0; endmodule\nmodule q(output y); assign y = 1; endmodule\n"},
        # pyslang accepts it (an unknown module is a black box), Icarus does not
        {"id": "unknown", "description": "missing submodule", "code": "module m(input a, output y);\n  sub u(.a(a), .y(y));\nendmodule\n"},
        {"id": "noprompt", "code": AND.replace("and2", "and3")},
        {"id": "nocode", "description": "text only", "code": "I cannot write that."},
        {"id": "fenced", "instruction": "OR gate", "output": "Here:\n```verilog\nmodule or2(input a, b, output y);\n  assign y = a | b;\nendmodule\n```\n"},
        {"id": "directive", "description": "uses a macro", "code": "`define W 4\nmodule w(input [`W-1:0] a, output [`W-1:0] y);\n  assign y = ~a;\nendmodule\n"},
    ]


def test_prepare_keeps_valid_unique_designs_and_counts_drops(tmp_path):
    src = _write(tmp_path / "raw.jsonl", _corpus())
    out = tmp_path / "train.jsonl"
    rejects = tmp_path / "rejects.jsonl"
    report = prepare(src, out, PrepareConfig(jobs=1), rejects=rejects)
    kept = {r["id"]: r for r in read_rows(out)}
    assert sorted(kept) == ["directive", "fenced", "ok"]
    assert report.total == 10 and report.kept == 3
    assert dict(report.dropped) == {"duplicate": 1, "parse-error": 1, "no-output": 1, "top": 1,
                                    "icarus-error": 1, "no-prompt": 1, "no-code": 1}
    ok = kept["ok"]
    assert ok["prompt"] == "AND gate" and ok["reference"] == AND and ok["top_module"] == "and2"
    assert ok["ports"] == [
        {"name": "a", "direction": "input", "width": 1, "signed": False},
        {"name": "b", "direction": "input", "width": 1, "signed": False},
        {"name": "y", "direction": "output", "width": 1, "signed": False},
    ]
    # code inside a fenced response is cut out of it
    assert kept["fenced"]["reference"].startswith("module or2") and kept["fenced"]["prompt"] == "OR gate"
    assert kept["directive"]["ports"][0]["width"] == 4
    why = {r["id"]: r for r in read_rows(rejects)}
    assert why["dup"]["message"] == "same code as ok"
    assert why["syntax"]["message"].startswith("<reference>:2:")
    assert "several top modules (p, q)" in why["twotops"]["message"]
    assert "Unknown module type: sub" in why["unknown"]["message"]
    assert why["noout"]["message"] == "module 'm' has no output port"


def test_parallel_run_gives_the_same_file(tmp_path):
    rows = [{"id": f"{r['task_id']}", "prompt": r["prompt"], "reference": r["reference"]}
            for r in load_bundle("verilogeval-v1-human")[:40]]
    src = _write(tmp_path / "raw.jsonl", rows + _corpus())
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    r1 = prepare(src, one, PrepareConfig(jobs=1, chunk_size=8))
    r2 = prepare(src, two, PrepareConfig(jobs=2, chunk_size=8))
    assert one.read_text() == two.read_text()
    # review2015_fancytimer uses a cast Icarus 11 cannot compile (the bundle README says so too)
    assert r1.kept == r2.kept == 42 and r1.dropped == r2.dropped
    assert "review2015_fancytimer" not in one.read_text()


def test_batched_compile_isolates_the_broken_design():
    good = "module g(input a, output y); assign y = a; endmodule\n"
    bad = "module g(input a, output y); assign y = q; endmodule\n"  # same module name, too
    errs = compile_errors([good, bad, good, good])
    assert errs[0] is None and errs[2] is None and errs[3] is None
    assert errs[1] == "line 1: error: Unable to bind wire/reg/memory `q' in `g'; line 1: error: Unable to elaborate r-value: q"
