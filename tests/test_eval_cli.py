"""`salv-train eval` end to end: exit codes, JSON for scripts, one summary line when piped, and a
run with a tiny local model that generates, extracts, simulates and scores."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoTokenizer
from typer.testing import CliRunner

from conftest import BENCH_DIR, load_bundle
from salv_trainer.cli import app
from salv_trainer.eval import load_benchmark
from salv_trainer.prompts import render_prompt
from salv_trainer.tiny import build_tiny_model, build_tiny_tokenizer, make_tiny_model_dir, save_tiny

runner = CliRunner()
V1M = "verilogeval-v1-machine"


@pytest.fixture(scope="module")
def bench():
    load_bundle(V1M)
    return str(BENCH_DIR)


def _eval(*args):
    return runner.invoke(app, ["eval", *args])


def test_canonical_check_json_and_piped_summary(bench, tmp_path):
    out = tmp_path / "r.json"
    res = _eval("--canonical", "-b", V1M, "--data", bench, "--limit", "4", "--json", str(out))
    assert res.exit_code == 0, res.output
    assert res.output == f"{V1M}: pass@1=1.0000 (4 tasks)\n"   # quiet when piped: one line
    data = json.loads(out.read_text())
    assert data["benchmark"] == V1M and data["pass_at_k"] == {"1": 1.0}
    assert data["simulator"].startswith("Icarus Verilog 11")
    assert all(t["verdicts"] == ["pass"] for t in data["tasks"].values()) and len(data["tasks"]) == 4
    assert (tmp_path / "r.cache.jsonl").exists()
    again = _eval("--canonical", "-b", V1M, "--data", bench, "--limit", "4", "--json", str(out))
    assert again.exit_code == 0 and json.loads(out.read_text())["cached"] == 4   # resumed


def test_json_to_stdout(bench):
    res = _eval("--canonical", "-b", V1M, "--data", bench, "--limit", "2", "--json", "-", "--no-cache")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["num_tasks"] == 2


@pytest.mark.parametrize(("args", "message"), [
    (["-b", V1M, "--canonical", "--responses", "x.jsonl"],
     "give exactly one of --model, --responses or --canonical"),
    (["-b", "verilogeval-v3", "--canonical"], "unknown benchmark 'verilogeval-v3'"),
    (["-b", V1M, "--canonical", "--data", "/nonexistent/bench"], "/nonexistent/bench: no such file"),
    (["-b", V1M, "--canonical", "--task", "no_such_task"], "unknown task id(s) for verilogeval-v1-machine: no_such_task"),
])
def test_bad_input_exits_2_with_a_message(bench, args, message):
    if "--data" not in args:
        args = [*args, "--data", bench]
    res = _eval(*args)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output


def test_bad_responses_file_points_at_the_line(bench, tmp_path):
    f = tmp_path / "gens.jsonl"
    f.write_text('{"id": "vector5", "responses": ["x"]}\n{"id": "zero", "responses": "x"}\n')
    res = _eval("--responses", str(f), "-b", V1M, "--data", bench)
    assert res.exit_code == 2
    assert f"error: {f}:2:1: error: 'responses' must be a list of strings" in res.output
    f.write_text('{"id": "vector5", "responses": ["x"]}\n')
    res = _eval("--responses", str(f), "-b", V1M, "--data", bench, "-k", "1,5")
    assert res.exit_code == 2 and "pass@5 needs at least 5 responses per task" in res.output


def test_an_incomplete_responses_file_is_refused_unless_allowed(bench, tmp_path):
    """Like human-eval and VerilogEval: a file that covers 1 of 143 tasks is no pass@1 of the
    benchmark (exit 2, the missing tasks listed, shortened); --allow-missing scores it and says
    how much was covered."""
    canon = {t.task_id: t.canonical_solution for t in load_benchmark(V1M, bench, limit=3)}
    f = tmp_path / "gens.jsonl"
    f.write_text(json.dumps({"id": "vector5", "responses": [canon.get("vector5", "x")]}) + "\n")
    res = _eval("--responses", str(f), "-b", V1M, "--data", bench)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "incomplete: 142 of 143 verilogeval-v1-machine tasks have no responses (" in res.output
    assert "... and 134 more" in res.output and "--allow-missing" in res.output
    res = _eval("--responses", str(f), "-b", V1M, "--data", bench, "--allow-missing",
                "--json", str(tmp_path / "r.json"))
    assert res.exit_code == 0, res.output
    assert "(1/143 tasks, 1 responses per task: incomplete)" in res.output
    cov = json.loads((tmp_path / "r.json").read_text())["coverage"]
    assert cov == {"tasks": 1, "of": 143, "samples_per_task": {"min": 1, "max": 1}, "complete": False}
    # fewer responses for one task than for another, or than -n: refused too
    ids = list(canon)
    f.write_text("".join(json.dumps({"id": t, "responses": [canon[t]] * (1 if t == ids[1] else 2)}) + "\n"
                         for t in ids))
    sel = [a for t in ids for a in ("--task", t)]
    res = _eval("--responses", str(f), "-b", V1M, "--data", bench, *sel, "--no-cache")
    assert res.exit_code == 2 and f"1 task(s) have fewer than 2 responses ({ids[1]}: 1)" in res.output
    f.write_text("".join(json.dumps({"id": t, "responses": [canon[t]] * 2}) + "\n" for t in ids))
    res = _eval("--responses", str(f), "-b", V1M, "--data", bench, *sel, "-n", "3", "--no-cache")
    assert res.exit_code == 2 and "3 task(s) have fewer than 3 responses" in res.output
    res = _eval("--responses", str(f), "-b", V1M, "--data", bench, *sel, "-n", "2", "--no-cache")
    assert res.exit_code == 0 and res.output == f"{V1M}: pass@1=1.0000 (3 tasks)\n"


def test_tiny_random_model_run_saves_and_rescores_its_responses(bench, tmp_path):
    model = make_tiny_model_dir(tmp_path / "tiny")
    tasks = ["vector5", "zero", "m2014_q4k"]
    sel = [a for t in tasks for a in ("--task", t)]
    gens, out = tmp_path / "gens.jsonl", tmp_path / "r.json"
    res = _eval("--model", str(model), "-b", V1M, "--data", bench, *sel, "-n", "2", "-k", "1,2",
                "--temperature", "0.8", "--max-new-tokens", "12", "--save-responses", str(gens),
                "--json", str(out))
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert (data["model"], data["n"], data["temperature"], data["max_new_tokens"]) == (
        str(model), 2, 0.8, 12)
    assert set(data["pass_at_k"]) == {"1", "2"} and list(data["tasks"]) == tasks
    assert all(t["n"] == 2 and len(t["verdicts"]) == 2 for t in data["tasks"].values())
    rows = [json.loads(x) for x in gens.read_text().splitlines()]
    assert [r["id"] for r in rows] == tasks and all(len(r["responses"]) == 2 for r in rows)
    # the saved generations score the same way when given back with --responses
    res2 = _eval("--responses", str(gens), "-b", V1M, "--data", bench, *sel, "-k", "1,2",
                 "--json", str(tmp_path / "r2.json"))
    assert res2.exit_code == 0, res2.output
    data2 = json.loads((tmp_path / "r2.json").read_text())
    assert {t: v["verdicts"] for t, v in data2["tasks"].items()} == {
        t: v["verdicts"] for t, v in data["tasks"].items()}


def _memorise(tasks, out_dir, steps=200):
    """A tiny model trained (plain PyTorch, a few seconds) to answer each task's v2 harness prompt
    with its reference in [BEGIN]/[DONE]: a model that *can* pass, so the whole path is proven."""
    tok = build_tiny_tokenizer([t.harness_prompt["user"] + t.canonical_solution for t in tasks] * 3,
                               vocab_size=600)
    model = build_tiny_model(tok, hidden=48, layers=1, heads=4, kv_heads=2, seed=0)
    # Train with the tokenizer as it loads from disk: next to a Qwen2 config.json, transformers 5
    # reloads it as a Qwen2Tokenizer whose pre-tokenizer splits text differently.
    save_tiny(model, tok, out_dir)
    tok = AutoTokenizer.from_pretrained(out_dir)
    seqs = []
    for t in tasks:
        p = tok(render_prompt(tok, t.messages()), add_special_tokens=False)["input_ids"]
        r = tok("[BEGIN]\n" + t.canonical_solution.strip() + "\n[DONE]" + tok.eos_token,
                add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + r])
        labels = ids.clone()
        labels[0, : len(p)] = -100
        seqs.append((ids, labels))
    torch.manual_seed(0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        total = 0.0
        for ids, labels in seqs:
            loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            total += loss.item()
        opt.step()
        opt.zero_grad()
        if total < 0.03:
            break
    model.eval()
    return save_tiny(model, tok, out_dir)


@pytest.mark.slow
def test_end_to_end_a_tiny_model_that_learned_two_tasks_passes_them(tmp_path):
    load_bundle("verilogeval-v2-spec")
    learned = ["Prob001_zero", "Prob005_notgate"]
    tasks = load_benchmark("verilogeval-v2-spec", BENCH_DIR, task_ids=learned)
    model = _memorise(tasks, tmp_path / "memorised")
    sel = [a for t in [*learned, "Prob002_m2014_q4i"] for a in ("--task", t)]
    out = tmp_path / "r.json"
    res = _eval("--model", str(model), "-b", "verilogeval-v2-spec", "--data", str(BENCH_DIR), *sel,
                "--max-new-tokens", "60", "--json", str(out))
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    for tid in learned:   # generated from the v2 harness prompt, extracted from [BEGIN]/[DONE]
        assert data["tasks"][tid]["verdicts"] == ["pass"], data["tasks"][tid]
    assert data["tasks"]["Prob002_m2014_q4i"]["n"] == 1
    assert data["pass_at_k"]["1"] >= 2 / 3
