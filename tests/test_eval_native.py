"""The loaders read the benchmarks' own repository layouts: fake clones are built in tmp dirs
(VerilogEval from bundle rows, which record the original paths; RTLLM from small designs written
in tests/_rtllm.py, since RTLLM is a held-out set), then loaded and simulated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _rtllm import ADDER_REF, rtllm_tree
from conftest import load_bundle
from salv_trainer.eval import EvalError, load_benchmark, score_responses

_rtllm_tree = rtllm_tree  # tests/test_eval_protocol.py imports the tree builder from here

FIELDS = ("prompt", "harness_prompt", "module_header", "testbench", "testbench_top", "top_module",
          "reference", "canonical_solution")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("tag", ["verilogeval-v2-spec", "verilogeval-v2-completion"])
def test_verilog_eval_v2_clone_gives_the_bundle_tasks_and_prompts(tmp_path, tag):
    rows = load_bundle(tag)[:6]
    for r in rows:
        # the bundle's `source.paths` are the files of the clone it was read from
        for rel in r["source"]["paths"]:
            kind = rel.rsplit("_", 1)[1]
            text = {"prompt.txt": r["prompt"], "ref.sv": r["reference"], "test.sv": r["testbench"],
                    "ifc.txt": r["module_header"]}[kind]
            _write(tmp_path / "verilog-eval" / rel, text)
    tasks = load_benchmark(tag, tmp_path / "verilog-eval")
    assert [t.task_id for t in tasks] == [r["task_id"] for r in rows]
    for t, r in zip(tasks, rows):
        for f in FIELDS:
            assert getattr(t, f) == r[f], (t.task_id, f)
    result = score_responses(tasks, {t.task_id: [t.canonical_solution] for t in tasks}, jobs=2)
    assert result.pass_at_k == {"1": 1.0}


@pytest.mark.parametrize(("tag", "which"), [("verilogeval-v1-human", "Human"),
                                            ("verilogeval-v1-machine", "Machine")])
def test_verilog_eval_v1_clone_gives_the_bundle_tasks(tmp_path, tag, which):
    rows = load_bundle(tag)[:5]
    assert rows[0]["source"]["paths"] == [f"data/VerilogEval_{which}.jsonl",
                                          f"descriptions/VerilogDescription_{which}.jsonl"]
    root = tmp_path / "verilog-eval"
    _write(root / "data" / f"VerilogEval_{which}.jsonl", "".join(
        json.dumps({"task_id": r["task_id"], "prompt": r["module_header"],
                    "canonical_solution": r["completion_only"], "test": r["testbench"]}) + "\n"
        for r in rows))
    _write(root / "descriptions" / f"VerilogDescription_{which}.jsonl", "".join(
        json.dumps({"task_id": r["task_id"], "detail_description": r["prompt"]}) + "\n" for r in rows))
    tasks = load_benchmark(tag, root)
    for t, r in zip(tasks, rows):
        for f in ("prompt", "module_header", "testbench", "top_module", "canonical_solution",
                  "completion_only"):
            assert getattr(t, f) == r[f], (t.task_id, f)
    result = score_responses(tasks, {t.task_id: [t.completion_only] for t in tasks}, jobs=2)
    assert result.pass_at_k == {"1": 1.0}


@pytest.mark.parametrize(("tag", "layout"), [("rtllm-v1.1", "v1.1"), ("rtllm-v2.0", "v2.0")])
def test_rtllm_clone_is_read_and_judged_by_its_pass_message(tmp_path, tag, layout):
    rtllm_tree(tmp_path / "RTLLM", layout)
    tasks = load_benchmark(tag, tmp_path / "RTLLM")
    by_id = {t.task_id: t for t in tasks}
    assert sorted(by_id) == ["adder_8bit", "counter_4bit"]
    adder = by_id["adder_8bit"]
    assert (adder.top_module, adder.testbench_top, adder.reference_module) == (
        "adder_8bit", "testbench", "verified_adder_8bit")
    assert set(adder.extra_files) == {"test_data.dat"}
    assert "module adder_8bit(" in adder.canonical_solution
    assert by_id["counter_4bit"].testbench_top == "tb_counter"
    wrong_adder = ADDER_REF.replace("verified_adder_8bit", "adder_8bit").replace("+ cin", "")
    responses = {
        "adder_8bit": [adder.canonical_solution, f"```verilog\n{wrong_adder}```",
                       "module adder_8bit(input [7:0] a, input [7:0] b, input cin, "
                       "output [7:0] sum, output cout);\nendmodule"],
        "counter_4bit": [by_id["counter_4bit"].canonical_solution, "no idea"],
    }
    result = score_responses(tasks, responses, ks=(1,), jobs=2)
    assert [s.verdict for s in result.tasks["adder_8bit"].samples] == ["pass", "mismatch", "mismatch"]
    assert [s.verdict for s in result.tasks["counter_4bit"].samples] == ["pass", "no_code"]
    assert result.pass_at_k["1"] == pytest.approx((1 / 3 + 1 / 2) / 2)


def test_rtllm_data_files_reach_the_simulation(tmp_path):
    rtllm_tree(tmp_path / "RTLLM", "v1.1")
    (tmp_path / "RTLLM" / "adder_8bit" / "test_data.dat").unlink()
    (task,) = load_benchmark("rtllm-v1.1", tmp_path / "RTLLM", task_ids=["adder_8bit"])
    result = score_responses([task], {"adder_8bit": [task.canonical_solution]})
    assert result.tasks["adder_8bit"].samples[0].verdict == "mismatch"   # no vectors without it


def test_bad_data_locations_are_clear_errors(tmp_path):
    with pytest.raises(EvalError, match=r"no such file or directory"):
        load_benchmark("verilogeval-v2-spec", tmp_path / "nope")
    with pytest.raises(EvalError, match=r"unknown benchmark 'verilogeval-v3' \(known: verilogeval-v2-spec"):
        load_benchmark("verilogeval-v3", tmp_path)
    with pytest.raises(EvalError, match=r"found no data for 'rtllm-v2.0'"):
        load_benchmark("rtllm-v2.0", tmp_path)
    (tmp_path / "dataset_spec-to-rtl").mkdir()
    _write(tmp_path / "dataset_spec-to-rtl" / "Prob001_zero_prompt.txt", "x")
    with pytest.raises(EvalError, match=r"Prob001_zero_ref.sv: missing \(task Prob001_zero\)"):
        load_benchmark("verilogeval-v2-spec", tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "a", "benchmark": "verilogeval-v2-spec"\n')
    with pytest.raises(EvalError, match=r"bad.jsonl:1:\d+: error: invalid JSON"):
        load_benchmark("verilogeval-v2-spec", bad)
