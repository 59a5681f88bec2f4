"""`label` -> `pairs` end to end on real VerilogEval references, real Icarus simulations and real
cones: candidates are the canonical solutions and single-token mutants of them, so which outputs
are right is known in advance, and Eq. 1 can be computed here independently."""

from __future__ import annotations

import json
import re

import pytest
from conftest import load_bundle
from typer.testing import CliRunner

import verislice
from salv_trainer.cli import app
from salv_trainer.data import (
    LabelConfig,
    PairsConfig,
    correct_outputs,
    label,
    pairs_for_row,
    read_rows,
)
from verislice.mutate import mutants

# Designs whose outputs are each driven by one `assign` of independent logic: a mutant in the
# statement of output o changes o (observably) and nothing else.
TASKS = ["Prob087_gates", "Prob036_ringer", "Prob081_7458", "Prob072_thermostat", "Prob051_gates4"]


def statement(text: str, output: str) -> tuple[int, int]:
    """Character span of the `assign <output> = ...;` statement in ``text``."""
    m = re.search(rf"assign\s+{output}\s*=[^;]*;", text)
    assert m, (output, text)
    return m.start(), m.end()


def output_on_line(text: str, line: int) -> str:
    return re.search(r"assign\s+(\w+)", text.splitlines()[line - 1]).group(1)


def mutate_output(text: str, output: str) -> str | None:
    """``text`` with one mutation in the statement that drives ``output`` (None: no mutant)."""
    return next((m.text for m in mutants(text) if output_on_line(text, m.line) == output), None)


def fence(code: str) -> str:
    return "Here is the module:\n```verilog\n" + code.strip() + "\n```\nIt uses continuous assignments."


def build(row: dict) -> tuple[dict, list[set[str]]]:
    """A sample row with 8 responses, and the set of outputs each one gets right."""
    canon = row["canonical_solution"]
    outs = [p.name for p in verislice.load([verislice.Source(canon)]).outputs]
    wrong_all, unmutated = canon, set()
    for o in outs:  # every output that has a mutant gets one (`a^~b` has none)
        mutated = mutate_output(wrong_all, o)
        if mutated is None:
            unmutated.add(o)
        wrong_all = mutated or wrong_all
    first = statement(canon, outs[0])
    broken = canon[: first[1] - 1] + canon[first[1]:]  # the first statement loses its ';'
    responses = [
        fence(canon),                                                          # 0 fully right
        "[BEGIN]\n// equivalent, other text\n" + canon.strip() + "\n[DONE]",   # 1 fully right
        fence(mutate_output(canon, outs[0])),                                  # 2 partially right
        fence(mutate_output(canon, outs[-1])),                                 # 3 partially right
        fence(wrong_all),                                                      # 4 all outputs wrong
        fence(broken),                                                         # 5 does not parse
        "I am not sure how to do this.",                                       # 6 no code
        fence(canon),                                                          # 7 duplicate of 0
    ]
    every = set(outs)
    right = [every, every, every - {outs[0]}, every - {outs[-1]}, unmutated, set(), set(), every]
    sample = {"id": row["task_id"], "prompt": row["prompt"], "reference": row["reference"],
              "top_module": row["top_module"], "responses": responses}
    return sample, right


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    rows = {r["task_id"]: r for r in load_bundle("verilogeval-v2-spec")}
    built = [build(rows[t]) for t in TASKS]
    tmp = tmp_path_factory.mktemp("label")
    samples = tmp / "samples.jsonl"
    samples.write_text("".join(json.dumps(s) + "\n" for s, _ in built))
    out = tmp / "labeled.jsonl"
    report = label(samples, out, LabelConfig(jobs=2, prompts_per_call=3))
    return {"samples": samples, "out": out, "report": report, "rows": read_rows(out),
            "right": {s["id"]: r for s, r in built}}


def test_verdicts_match_the_known_mutations(labeled):
    for row in labeled["rows"]:
        right = labeled["right"][row["id"]]
        verdicts = [lab["verdict"] for lab in row["labels"]]
        assert verdicts == ["OK"] * 5 + ["COMPILE_ERROR", "NO_CODE", "OK"], row["id"]
        assert [set(correct_outputs(lab)) for lab in row["labels"]] == right, row["id"]
    report = labeled["report"].to_json()
    assert report["candidates"] == 40 and report["cone_errors"] == 0
    # 0, 1, 7 fully right; 2, 3 partially (and 4 in the gates task, out_xnor has no mutant);
    # 4 wrong; 5, 6 broken
    assert report["categories"] == {"fully right": 15, "partially right": 11, "wrong": 4, "broken": 10}


def test_cones_are_in_response_coordinates(labeled):
    for row in labeled["rows"]:
        for resp, lab in zip(row["responses"], row["labels"]):
            if lab["verdict"] != "OK":
                continue
            s0, e0 = lab["code_span"]
            assert resp[s0:].startswith("module TopModule") and resp[:e0].endswith("endmodule")
            for out, spans in lab["cones"].items():
                text = "".join(resp[s:e] for s, e in spans)
                assert all(s0 <= s < e <= e0 for s, e in spans)
                assert text.startswith("module TopModule") and text.rstrip().endswith("endmodule")
                st, en = statement(resp, out)
                assert any(s <= st and en <= e for s, e in spans), (row["id"], out)
                for other in lab["cones"]:
                    if other != out:
                        o_st, o_en = statement(resp, other)
                        assert not any(s < o_en and o_st < e for s, e in spans), (row["id"], out, other)


def eq1(right: list[set[str]]) -> dict[tuple[int, int], list[str]]:
    """Eq. 1 from the known right sets, duplicate response 7 left out."""
    idx = range(7)
    return {(a, b): sorted(right[a] - right[b]) for a in idx for b in idx
            if a != b and right[a] - right[b]}


def test_pairs_match_eq1_and_cover_the_contrast_statements(labeled):
    for row in labeled["rows"]:
        right = labeled["right"][row["id"]]
        pairs = pairs_for_row(row)
        got = {(p["chosen_index"], p["rejected_index"]): p["contrast_signals"] for p in pairs}
        assert got == eq1(right), row["id"]
        for p in pairs:
            a, b = p["chosen_index"], p["rejected_index"]
            assert p["kind"] == ("complete" if a in (0, 1) else "partial")
            c = set(p["contrast_signals"])
            assert c == right[a] - right[b]
            others = sorted(right[0] - c)  # every output of the design not in c
            for side, idx in (("chosen", a), ("rejected", b)):
                text, spans = p[side], p[f"{side}_spans"]
                assert all(0 <= s < e <= len(text) for s, e in spans)
                if idx == 6 or (side == "rejected" and idx == 5):  # no code / no parse: whole response
                    assert spans == [[0, len(text)]]
                    continue
                if b == 6 and a in (0, 1):
                    # a fully right A against no code at all: the paper's ordinary full-response
                    # pair; a partially right A keeps only its cones of c (docs/data.md)
                    assert spans == [[0, len(text)]]
                    continue
                for out in c:
                    st, en = statement(text, out)
                    assert any(s <= st and en <= e for s, e in spans), (row["id"], a, b, out)
                for out in others:
                    st, en = statement(text, out)
                    assert not any(s < en and st < e for s, e in spans), (row["id"], a, b, out)


def test_module_mode_pairs(labeled):
    for row in labeled["rows"]:
        pairs = pairs_for_row(row, PairsConfig(mode="module"))
        assert {(p["chosen_index"], p["rejected_index"]) for p in pairs} == {
            (a, b) for a in (0, 1) for b in (2, 3, 4, 5, 6)}


def test_resume_redoes_only_missing_rows(labeled, tmp_path):
    out = tmp_path / "labeled.jsonl"
    full = labeled["out"].read_text()
    lines = full.splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:100])  # last row cut off mid-write
    report = label(labeled["samples"], out, LabelConfig(jobs=1))
    assert (report.skipped, report.labeled, report.candidates) == (4, 1, 8)
    assert out.read_text() == full


def test_files_load_with_datasets(labeled, tmp_path):
    from datasets import load_dataset

    from salv_trainer.data import make_pairs

    pairs = tmp_path / "pairs.jsonl"
    make_pairs(labeled["out"], pairs)
    ds = load_dataset("json", data_files=str(labeled["out"]), split="train")
    assert ds.num_rows == 5 and len(ds[0]["labels"]) == 8
    ds = load_dataset("json", data_files=str(pairs), split="train")
    assert {"prompt", "chosen", "rejected", "chosen_spans", "rejected_spans", "contrast_signals",
            "kind"} <= set(ds.column_names)


def test_label_cli_keeps_going_past_a_broken_reference(tmp_path):
    ok = {"id": "buf", "prompt": "buffer", "reference": "module r(input a, output y); assign y = a; endmodule",
          "responses": ["```verilog\nmodule t(input a, output y); assign y = a; endmodule\n```",
                        "```verilog\nmodule t(input a, output y); assign y = ~a; endmodule\n```"]}
    bad = {"id": "badref", "prompt": "?", "reference": "module r(input a, output y); assign y = ; endmodule",
           "responses": ["```verilog\nmodule t(input a, output y); assign y = a; endmodule\n```"]}
    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps(bad) + "\n" + json.dumps(ok) + "\n")
    out = tmp_path / "l.jsonl"
    result = CliRunner().invoke(app, ["label", str(samples), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["categories"] == {"fully right": 1, "partially right": 0, "wrong": 1, "broken": 1}
    assert summary["verdicts"] == {"OK": 2, "REFERENCE_ERROR": 1}
    rows = {r["id"]: r for r in read_rows(out)}
    assert rows["badref"]["labels"][0]["message"].endswith("<reference>:1:41: error: expected expression")
    missing = tmp_path / "m.jsonl"
    missing.write_text(json.dumps({"id": "x", "responses": []}) + "\n")
    result = CliRunner().invoke(app, ["label", str(missing), "--out", str(out)])
    assert result.exit_code == 2 and "m.jsonl:1:1: error: missing field 'reference'" in result.stderr


def test_answer_with_a_testbench_gets_cones_of_the_checked_top():
    """Two top-level modules (the answer adds a testbench): cones follow the top that the
    equivalence check picked (named like the reference's), so the testbench is never in a span."""
    from salv_trainer.data import label_rows

    ref = "module top_module(input a, b, output y, output z); assign y = a & b; assign z = a | b; endmodule"
    code = ("module top_module(input a, b, output y, output z);\n  assign y = a & b;\n  assign z = a ^ b;\n"
            "endmodule\nmodule tb;\n  reg a, b; wire y, z;\n  initial begin a = 0; b = 1; end\nendmodule\n")
    resp = "```verilog\n" + code + "```"
    [row] = label_rows([{"id": "tb", "reference": ref, "responses": [resp]}])
    [lab] = row["labels"]
    assert lab["verdict"] == "OK" and lab["outputs"] == {"y": "MATCH", "z": "MISMATCH"}
    tb_start = resp.index("module tb")
    for out, spans in lab["cones"].items():
        assert all(e <= tb_start for _, e in spans)
        st, en = statement(resp, out)
        assert any(s <= st and en <= e for s, e in spans)


def test_reference_top_module_from_the_row():
    """A reference with a helper module and a second top: the row's top_module says which."""
    from salv_trainer.data import label_rows

    ref = ("module helper(input a, output y); assign y = ~a; endmodule\n"
           "module top_module(input a, b, output y, output z); assign y = a & b; assign z = a | b; endmodule\n")
    resp = "```verilog\nmodule top_module(input a, b, output y, output z);\n  assign y = a & b;\n  assign z = a | b;\nendmodule\n```"
    with_top, without = label_rows([
        {"id": "t", "reference": ref, "top_module": "top_module", "responses": [resp]},
        {"id": "n", "reference": ref, "responses": [resp]},
    ])
    assert with_top["labels"][0]["outputs"] == {"y": "MATCH", "z": "MATCH"}
    assert without["labels"][0]["verdict"] == "REFERENCE_ERROR"
    assert "several top modules (helper, top_module)" in without["labels"][0]["message"]
