"""Eq. 2 masks on real labeled rows: no statement of an output the chosen response gets wrong is
ever inside a chosen mask span, for every pair kind and mask rule `salv-train pairs` emits.

Rows: the paper's Figure 1 decoder (examples/kbd) with one candidate per verdict (all right, some
right, none right, compile error, interface error, timeout, rejected, no code, prose that says
"module"), and VerilogEval references whose outputs share always blocks, with single-token mutants.
`salv-train label` simulates and slices them; which statements drive a wrong output is found here
independently, from the chosen code's dependency graph (verislice.build_graph)."""

from __future__ import annotations

import json

import pytest
from conftest import REPO, load_bundle
from typer.testing import CliRunner

import verislice
from salv_trainer.cli import app
from salv_trainer.data import read_rows
from salv_trainer.data._verdicts import CORRECT_VERDICTS, category
from verislice.equiv import AMBIGUOUS
from verislice.mutate import mutants

runner = CliRunner()

# Outputs driven from one always block (a case per output, a concatenation, one output read by
# another): a chosen cone must cut statements out of shared code.
TASKS = ["Prob106_always_nolatches", "Prob134_2014_q3c", "Prob123_bugs_addsubz", "Prob132_always_if2"]
PROSE = "I am not able to write this module."


def fence(code: str) -> str:
    return "Here is the module:\n```verilog\n" + code.strip() + "\n```\n"


def kbd_rows() -> list[dict]:
    row = json.loads((REPO / "examples/kbd/samples.jsonl").read_text().splitlines()[0])
    gen, right = row["responses"][0], row["responses"][1]   # a wrong and d right; all right
    head = "module kbd_decoder (input wire [15:0] scancode, output wire a, output wire d);\n"
    assigns = "    assign a = (scancode == 16'h001c);\n    assign d = (scancode == 16'h0023);\n"
    row["responses"] += [
        fence(head.replace("scancode", "code", 1) + assigns.replace("scancode", "code") + "endmodule"),
        fence(head + "    initial $system(\"ls\");\n" + assigns + "endmodule"),         # rejected
        fence(head + assigns.replace("001c", "001d").replace("0023", "0032") + "endmodule"),  # none right
        PROSE,
        "Sorry.",
    ]
    hang = fence("module kbd_decoder (input wire [15:0] scancode, output reg a, output reg d);\n"
                 "    always @(*) begin\n        a = (scancode == 16'h001c);\n"
                 "        d = (scancode == 16'h0023);\n        while (1) ;\n    end\nendmodule")
    # the hanging candidate in a prompt of its own, so one slow batch holds up nothing else
    return [row, {**row, "id": "kbd_timeout", "responses": [right, gen, hang, PROSE]}]


def verilogeval_rows() -> list[dict]:
    rows = {r["task_id"]: r for r in load_bundle("verilogeval-v2-spec")}
    out = []
    for tid in TASKS:
        r = rows[tid]
        canon = r["canonical_solution"]
        muts = [m.text for m in mutants(canon, seed=0)][::3][:5]
        first = canon.index(";", canon.index(");")) + 1   # drop the first ';' after the header
        broken = canon[:first - 1] + canon[first:]
        out.append({"id": tid, "prompt": r["prompt"], "reference": r["reference"],
                    "top_module": r["top_module"],
                    "responses": [fence(canon), *map(fence, muts), fence(broken), PROSE]})
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("masks")
    samples, labeled, pairs = tmp / "samples.jsonl", tmp / "labeled.jsonl", tmp / "pairs.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in kbd_rows() + verilogeval_rows()))
    # --timeout: the hanging candidate's TIMEOUT comes sooner; 6 s leaves the reference room on a
    # loaded machine
    res = runner.invoke(app, ["label", str(samples), "--out", str(labeled), "--jobs", "2",
                              "--engine", "vvp", "--timeout", "6", "--json"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["pairs", str(labeled), "--out", str(pairs), "--json"])
    assert res.exit_code == 0, res.output
    module = tmp / "module_pairs.jsonl"
    assert runner.invoke(app, ["pairs", str(labeled), "--out", str(module), "--mode", "module"]).exit_code == 0
    return {"rows": {r["id"]: r for r in read_rows(labeled)}, "pairs": read_rows(pairs, unique_ids=False),
            "module_pairs": read_rows(module, unique_ids=False), "report": json.loads(res.stdout)}


def _char(text: str, byte: int) -> int:
    return len(text.encode("utf-8")[:byte].decode("utf-8", errors="ignore"))


def wrong_statements(response: str, label: dict, top: str) -> list[tuple[int, int, str]]:
    """Character spans (in the response) of every statement that drives only signals feeding the
    outputs this candidate gets wrong: never an output it gets right, nor anything those read."""
    outs = label["outputs"]
    wrong = [o for o, v in outs.items() if v not in CORRECT_VERDICTS and v != AMBIGUOUS]
    right = [o for o, v in outs.items() if v in CORRECT_VERDICTS]
    if not wrong:
        return []
    s0, e0 = label["code_span"]
    code = response[s0:e0]
    g = verislice.build_graph(verislice.load([verislice.Source(code, "<chosen>")], top=top))
    keep = g.cone(right) if right else set()
    shared = {(st.start, st.end) for sig in keep if sig in g for st in g.drivers(sig)}
    found = []
    for sig in g.cone([o for o in wrong if o in g]) - keep:
        if g.graph.nodes[sig]["kind"] == "input":
            continue
        for st in g.drivers(sig):
            if (st.start, st.end) not in shared:
                found.append((s0 + _char(code, st.start), s0 + _char(code, st.end), st.text))
    return found


def _overlaps(data: dict) -> tuple[int, list[tuple]]:
    """(wrong statements checked, [(pair, kind, rule, statement, masked characters)])."""
    checked, found = 0, []
    for p in data["pairs"] + data["module_pairs"]:
        row = data["rows"][p["id"]]
        label = row["labels"][p["chosen_index"]]
        top = "kbd_decoder" if p["id"].startswith("kbd") else row["top_module"]
        for start, end, text in wrong_statements(p["chosen"], label, top):
            checked += 1
            assert p["chosen"][start:end] == text
            masked = "".join(p["chosen"][max(s, start):min(e, end)] for s, e in p["chosen_spans"])
            if masked:
                found.append((p["pair_id"], p["kind"], p.get("mask_rule"), text, masked))
    return checked, found


def test_no_statement_of_a_wrong_output_is_inside_a_chosen_mask(data):
    """Not a character of a wrong output's statements, not even the ';' of a statement cut out of
    an if/case branch (the slice writes a new ';' there, outside the spans)."""
    checked, found = _overlaps(data)
    assert checked > 50   # the check really ran over many wrong statements
    assert found == []


def test_every_kind_and_rule_and_rejected_verdict_is_covered(data):
    rows, pairs = data["rows"], data["pairs"]
    seen = {(p["kind"], p["mask_rule"]) for p in pairs}
    assert seen == {("complete", "cone/cone"), ("complete", "cone/whole"), ("complete", "whole/whole"),
                    ("partial", "cone/cone"), ("partial", "cone/whole")}
    rejected = {rows[p["id"]]["labels"][p["rejected_index"]]["verdict"] for p in pairs}
    assert rejected == {"OK", "COMPILE_ERROR", "INTERFACE", "TIMEOUT", "REJECTED", "NO_CODE"}
    assert {category(rows[p["id"]]["labels"][p["rejected_index"]]) for p in pairs} == {
        "partially right", "wrong", "broken"}
    # the prose that says "module" is no code (not a compile error), in every row
    for row in rows.values():
        assert all(lab["verdict"] == "NO_CODE" for r, lab in zip(row["responses"], row["labels"])
                   if r in (PROSE, "Sorry."))
    # the case that used to train on a whole partially right chosen: a partial against no code
    partial_vs_none = [p for p in pairs if p["kind"] == "partial"
                       and rows[p["id"]]["labels"][p["rejected_index"]]["verdict"] == "NO_CODE"]
    assert partial_vs_none and all(p["mask_rule"] == "cone/whole" for p in partial_vs_none)
    assert data["report"]["dropped"] == 0


def test_masks_follow_the_rule_table(data):
    """docs/data.md: whole/whole only for a fully right chosen against no code; the rejected's
    whole response exactly where it was not simulated; otherwise the cones of c on both sides."""
    rows = data["rows"]
    for p in data["pairs"]:
        labels = rows[p["id"]]["labels"]
        a, b = labels[p["chosen_index"]], labels[p["rejected_index"]]
        c = p["contrast_signals"]
        if b["verdict"] == "NO_CODE" and p["kind"] == "complete":
            rule = "whole/whole"
        elif b["verdict"] != "OK":
            rule = "cone/whole"
        else:
            rule = "cone/cone"
        assert p["mask_rule"] == rule, p["pair_id"]
        whole_c, whole_r = [[0, len(p["chosen"])]], [[0, len(p["rejected"])]]
        cone = lambda lab: sorted({tuple(x) for s in c for x in lab["cones"][s]})  # noqa: E731
        if rule == "whole/whole":
            assert (p["chosen_spans"], p["rejected_spans"]) == (whole_c, whole_r)
            continue
        covered = [i for s, e in p["chosen_spans"] for i in range(s, e)]
        assert covered == sorted({i for s, e in cone(a) for i in range(s, e)})
        assert p["chosen_spans"] != whole_c or p["kind"] == "complete"
        if rule == "cone/whole":
            assert p["rejected_spans"] == whole_r
        else:
            assert [i for s, e in p["rejected_spans"] for i in range(s, e)] == sorted(
                {i for s, e in cone(b) for i in range(s, e)})


def test_stats_report_rule_and_coverage_per_kind(data, tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(p) + "\n" for p in data["pairs"]))
    res = runner.invoke(app, ["stats", str(pairs), "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert sum(s["mask_rules"].values()) == s["pairs"] == len(data["pairs"])
    assert s["chosen_coverage_by_rule"]["complete whole/whole"] == 1.0
    assert s["rejected_coverage_by_rule"]["partial cone/whole"] == 1.0
    assert 0 < s["chosen_coverage_by_rule"]["partial cone/whole"] < 1
