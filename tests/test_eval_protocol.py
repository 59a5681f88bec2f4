"""`salv-train eval --protocol paper`: the paper's grid for one model, end to end on a tiny model
built offline, restricted with --limit: table layout, best-of-T per k, missing benchmarks reported,
and a second run that generates and simulates nothing."""

from __future__ import annotations

import json

import pytest
from _rtllm import rtllm_tree
from conftest import BENCH_DIR, load_bundle
from typer.testing import CliRunner

from salv_trainer.cli import app
from salv_trainer.eval import load_benchmark
from salv_trainer.eval._protocol import ProtocolConfig, paper_runs
from salv_trainer.tiny import make_tiny_model_dir

runner = CliRunner()
V1M = "verilogeval-v1-machine"


def test_the_grid_is_the_papers():
    runs = paper_runs(ProtocolConfig(model="m", output_dir="o"))
    grid = {(r.benchmark, r.temperature): (r.n, r.k) for r in runs}
    for b in (V1M, "verilogeval-v1-human", "rtllm-v1.1", "rtllm-v2.0"):
        assert {t: grid[b, t] for t in (0.2, 0.5, 0.8)} == {t: (20, (1, 5, 10)) for t in (0.2, 0.5, 0.8)}
    for b in ("verilogeval-v2-spec", "verilogeval-v2-completion"):
        assert (grid[b, 0.0], grid[b, 0.8]) == ((1, (1,)), (20, (1,)))
    assert len(runs) == 16


@pytest.fixture(scope="module")
def protocol_run(tmp_path_factory):
    """One protocol run with 2 tasks per benchmark and n=2; v1-machine's responses at T=0.2 and
    T=0.5 are placed in its response files beforehand (the run resumes them, so it generates only
    the other runs), which makes the best-of-T choice known."""
    load_bundle(V1M)
    tmp = tmp_path_factory.mktemp("protocol")
    model = make_tiny_model_dir(tmp / "tiny")
    rtllm_tree(tmp / "RTLLM", "v1.1")
    out = tmp / "protocol" / "tiny"   # where the pipeline puts a seed's protocol run of model "tiny"
    tasks = load_benchmark(V1M, BENCH_DIR, limit=2)
    planted = {0.2: lambda t: [t.canonical_solution, "no idea"],      # pass@1 0.5, pass@2 1.0
               0.5: lambda t: [t.canonical_solution] * 2}             # pass@1 1.0, pass@2 1.0
    (out / "runs").mkdir(parents=True)
    for temp, resp in planted.items():
        (out / "runs" / f"{V1M}_T{temp:g}.responses.jsonl").write_text(
            "".join(json.dumps({"id": t.task_id, "responses": resp(t)}) + "\n" for t in tasks))
    args = ["eval", "--protocol", "paper", "--model", str(model), "--data", str(BENCH_DIR),
            "--rtllm-v1", str(tmp / "RTLLM"), "--output-dir", str(out), "--limit", "2", "-n", "2",
            "-k", "1,2", "--max-new-tokens", "12", "--batch-size", "4"]
    first = runner.invoke(app, args)
    files = {p.name: p.read_bytes() for p in (out / "runs").glob("*.responses.jsonl")}
    doc1 = json.loads((out / "paper.json").read_text())
    second = runner.invoke(app, args)
    return {"out": out, "first": first, "second": second, "files": files, "doc1": doc1,
            "doc": json.loads((out / "paper.json").read_text()), "md": (out / "paper.md").read_text(),
            "args": args, "tmp": tmp, "model": model}


def test_one_command_writes_both_tables(protocol_run):
    res = protocol_run["first"]
    assert res.exit_code == 0, res.output
    md = protocol_run["md"]
    assert res.output.startswith(md)   # the report on stdout is the Markdown file
    t1 = ("| Model | " + " | ".join(f"{g} pass@{k}" for g in (
        "VerilogEval v1 Machine", "VerilogEval v1 Human", "RTLLM v1.1", "RTLLM v2.0") for k in (1, 2)) + " |")
    t2 = ("| Model | VerilogEval v2 spec-to-RTL T=0 | VerilogEval v2 spec-to-RTL T=0.8 | "
          "VerilogEval v2 completion T=0 | VerilogEval v2 completion T=0.8 |")
    lines = md.splitlines()
    i1, i2 = lines.index(t1), lines.index(t2)
    assert lines[i1 - 2].startswith(
        "**Table 1.** VerilogEval v1 and RTLLM: pass@k (%), n=2, best of T in {0.2, 0.5, 0.8}")
    assert lines[i2 - 2].startswith("**Table 2.** VerilogEval v2: pass@1 (%), T=0 (n=1) and T=0.8")
    row1 = lines[i1 + 2].split(" | ")
    assert row1[0] == "| tiny" and len(row1) == 9
    assert row1[1:3] == ["100.0", "100.0"]            # v1-machine pass@1, pass@2: best of T
    assert row1[7:9] == ["-", "- |"]                  # RTLLM v2.0 not given: missing, not zero
    assert lines[i1 + 3].startswith("| best T | 0.5 | 0.2 |")
    assert "RTLLM v2.0: no --rtllm-v2 given" in md and "Only the first 2 tasks" in md
    assert len(lines[i2 + 2].split(" | ")) == 5


def test_json_holds_every_run_and_the_best_of_t_per_k(protocol_run):
    doc = protocol_run["doc"]
    b = doc["benchmarks"]
    assert b["rtllm-v2.0"] == {"status": "missing", "reason": "no --rtllm-v2 given"}
    assert b["rtllm-v1.1"]["status"] == "done" and set(b["rtllm-v1.1"]["runs"]) == {"0.2", "0.5", "0.8"}
    v1m = b[V1M]
    assert v1m["runs"]["0.2"]["pass_at_k"] == {"1": 0.5, "2": 1.0}
    assert v1m["runs"]["0.5"]["pass_at_k"] == {"1": 1.0, "2": 1.0}
    # per k, the best temperature; a tie goes to the lower one
    assert v1m["best_of_t"] == {"1": {"value": 1.0, "temperature": 0.5},
                                "2": {"value": 1.0, "temperature": 0.2}}
    for tag in ("verilogeval-v2-spec", "verilogeval-v2-completion"):
        runs = b[tag]["runs"]
        assert (runs["0"]["n"], runs["0.8"]["n"]) == (1, 2) and set(b[tag]["pass_at_1"]) == {"0", "0.8"}
        assert all(r["num_tasks"] == 2 and r["coverage"]["complete"] for r in runs.values())
    t1 = doc["tables"]["table1"]
    assert t1["values"][0] == [1.0, 1.0] and t1["temperatures"][0] == [0.5, 0.2]
    assert t1["values"][3] == [None, None]
    first = protocol_run["doc1"]["benchmarks"]
    assert first[V1M]["runs"]["0.2"]["generated_tasks"] == 0          # planted: resumed
    assert first["verilogeval-v1-human"]["runs"]["0.8"]["generated_tasks"] == 2
    run = json.loads((protocol_run["out"] / "runs" / f"{V1M}_T0.5.json").read_text())
    assert (run["temperature"], run["top_p"], run["n"], run["protocol"]) == (0.5, 0.95, 2, "paper")


def test_a_second_run_generates_and_simulates_nothing(protocol_run):
    res = protocol_run["second"]
    assert res.exit_code == 0, res.output
    runs = [r for b in protocol_run["doc"]["benchmarks"].values() for r in b.get("runs", {}).values()]
    assert len(runs) == 13   # the 16 runs of the grid less RTLLM v2.0's 3 (missing)
    assert all(r["generated_tasks"] == 0 and r["simulations"] == 0 for r in runs)
    out = protocol_run["out"]
    assert {p.name: p.read_bytes() for p in (out / "runs").glob("*.responses.jsonl")} == protocol_run["files"]
    assert protocol_run["doc"]["tables"] == protocol_run["doc1"]["tables"]


def test_other_generation_settings_in_the_same_directory_are_refused(protocol_run):
    args = list(protocol_run["args"])
    args[args.index("--max-new-tokens") + 1] = "20"
    res = runner.invoke(app, args)
    assert res.exit_code == 2
    assert "holds a protocol run with other settings (max_new_tokens: 12 there, 20 now)" in res.output


@pytest.mark.parametrize(("extra", "message"), [
    (["-b", V1M], "--protocol runs its own grid of benchmarks and temperatures: drop --benchmark"),
    (["--temperature", "0.2"], "drop --temperature"),
    (["--protocol", "tables"], "unknown protocol 'tables' (known: paper)"),
])
def test_protocol_misuse_exits_2(tmp_path, extra, message):
    res = runner.invoke(app, ["eval", "--protocol", "paper", "--model", str(tmp_path), *extra])
    assert res.exit_code == 2 and message in res.output


def test_the_pipeline_runs_the_protocol_per_model(protocol_run):
    """`protocol: paper` in the pipeline: the same run, in seed<S>/protocol/<model>/ (here it
    resumes the CLI's run, so nothing is generated again)."""
    from salv_trainer.pipeline import Reporter, load_pipeline_config
    from salv_trainer.pipeline._run import _Run

    tmp = protocol_run["tmp"]
    cfg = load_pipeline_config(None, output_dir=str(tmp / "pipe"), protocol="paper", protocol_eval={
        "data": str(BENCH_DIR), "rtllm_v1": str(tmp / "RTLLM"), "limit": 2, "n": 2, "k": [1, 2],
        "max_new_tokens": 12, "batch_size": 4})
    tables = _Run(cfg, Reporter()).protocol(tmp, 0, "tiny", protocol_run["model"])
    assert tables == protocol_run["doc"]["tables"]


def test_pipeline_config_takes_the_protocol(tmp_path):
    from salv_trainer.config import ConfigError
    from salv_trainer.pipeline import load_pipeline_config

    f = tmp_path / "c.yaml"
    f.write_text("protocol: paper\nprotocol_eval:\n  data: /bench\n  limit: 3\n  n: 4\n  k: [1, 2]\n")
    cfg = load_pipeline_config(f)
    assert cfg.protocol == "paper" and (cfg.protocol_eval.limit, cfg.protocol_eval.n) == (3, 4)
    f.write_text("protocol: tables\n")
    with pytest.raises(ConfigError, match="protocol: expected one of none, paper"):
        load_pipeline_config(f)
    f.write_text("protocol_eval:\n  model: x\n")
    with pytest.raises(ConfigError, match="set by the pipeline"):
        load_pipeline_config(f)
