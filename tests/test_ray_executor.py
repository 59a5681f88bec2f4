"""`--executor ray` on a real local Ray cluster (one per module, 2 CPUs): `label` writes the same
bytes as `--jobs 2` in this process, a Ray worker killed mid-run costs nothing (its task is run
again; no row lost or doubled), and `eval` scoring and `sample` replicas give what this process
gives. Candidates are VerilogEval references, their mutants, and a hostile one (the sandbox holds
in Ray workers as here)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from conftest import load_bundle, ref_passes_on_icarus11
from typer.testing import CliRunner

from salv_trainer.cli import app
from salv_trainer.data import LabelConfig, SampleConfig, label, read_rows, sample
from verislice.mutate import mutants

try:
    import ray
except ImportError:  # the extra is optional on a developer machine, never in CI
    if os.environ.get("CI"):
        pytest.fail("ray is not installed (pip install -e '.[ray]'): CI must run these tests",
                    pytrace=False)
    pytest.skip("ray is not installed (pip install -e '.[ray]')", allow_module_level=True)

from salv_trainer._executor import RayExecutor  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """One local cluster for the module; the commands find it running and leave it so."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="warning")
    yield
    ray.shutdown()


def fence(code: str) -> str:
    return "```verilog\n" + code.strip() + "\n```"


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    """6 prompts x 4 responses: the solution, two mutants, and one that writes a host file."""
    tmp = tmp_path_factory.mktemp("ray")
    pwned = tmp / "pwned"
    rows = []
    for r in load_bundle("verilogeval-v2-spec"):
        ms = mutants(r["canonical_solution"], seed=1, limit=2) if ref_passes_on_icarus11(r) else []
        if len(ms) < 2:
            continue
        hostile = r["canonical_solution"].replace(
            "endmodule", f'initial begin : w integer f; f = $fopen("{pwned}", "w"); '
                         '$fdisplay(f, "x"); end\nendmodule', 1)
        rows.append({"id": r["task_id"], "reference": r["reference"], "top_module": r["top_module"],
                     "responses": [fence(r["canonical_solution"]), fence(ms[0].text),
                                   fence(ms[1].text), fence(hostile)]})
        if len(rows) == 6:
            break
    path = tmp / "samples.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def local_labels(samples) -> bytes:
    out = samples.parent / "local.jsonl"
    label(samples, out, LabelConfig(jobs=2, prompts_per_call=1))
    assert not (samples.parent / "pwned").exists()
    return out.read_bytes()


def test_ray_labels_equal_local_labels_byte_for_byte(cluster, samples, local_labels, tmp_path):
    out = tmp_path / "ray.jsonl"
    res = CliRunner().invoke(app, ["label", str(samples), "--out", str(out), "--executor", "ray",
                                   "--prompts-per-call", "1", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["candidates"] == 24
    assert out.read_bytes() == local_labels
    assert not (samples.parent / "pwned").exists()  # the sandbox holds in Ray workers too
    verdicts = [lab["verdict"] for row in read_rows(out) for lab in row["labels"]]
    assert verdicts.count("OK") >= 18  # the solutions and mutants were really simulated


def _ray_tasks_of_this_process(title: str = "ray::salv_task") -> list[int]:
    """Pids of the Ray workers (descendants of this test process) running one of our tasks (Ray
    titles a worker with what it runs)."""
    me, found = os.getpid(), []
    parents: dict[int, int] = {}
    titles: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            titles[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode()
            parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    for pid in titles:
        p = pid
        while p > 1 and p != me:
            p = parents.get(p, 1)
        if p == me and titles[pid] == title:
            found.append(pid)
    return found


def test_a_killed_worker_loses_and_doubles_nothing(cluster, samples, local_labels, tmp_path):
    out = tmp_path / "killed.jsonl"
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with RayExecutor() as ex:
                label(samples, out, LabelConfig(jobs=1, prompts_per_call=1), executor=ex)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and worker.is_alive() and time.monotonic() < deadline:
        pids = _ray_tasks_of_this_process()
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)  # a worker lost mid-task (OOM killer, node failure)
        time.sleep(0.05)
    worker.join(300)
    assert killed is not None, "no Ray task was seen running"
    assert not errors, errors
    ids = [row["id"] for row in read_rows(out, unique_ids=False)]
    assert len(ids) == len(set(ids)) == 6
    assert out.read_bytes() == local_labels  # in input order, every label as without the kill


def test_ray_eval_scoring_equals_local(cluster, benchmarks_dir, tmp_path):
    from salv_trainer.eval import EvalConfig, load_benchmark, run_eval

    tasks = load_benchmark("verilogeval-v2-spec", str(benchmarks_dir), limit=6)
    # per task: the solution, a mutant of it (mostly wrong), and no code at all
    given = {t.task_id: [t.canonical_solution,
                         next((m.text for m in mutants(t.canonical_solution, seed=1, limit=1)),
                              t.canonical_solution), "I cannot do this."]
             for t in tasks}
    results = {}
    for executor in ("local", "ray"):
        cfg = EvalConfig(benchmark="verilogeval-v2-spec", data=str(benchmarks_dir), limit=6,
                         n=3, executor=executor, use_cache=False)
        results[executor] = run_eval(cfg, tasks=tasks, responses=given).to_json()
    for key in ("pass_at_k", "verdict_counts", "num_tasks"):
        assert results["ray"][key] == results["local"][key]
    assert {t: r["verdicts"] for t, r in results["ray"]["tasks"].items()} == \
        {t: r["verdicts"] for t, r in results["local"]["tasks"].items()}
    assert results["ray"]["executor"] == "ray"


def test_ray_sample_replica_equals_local_after_losing_it(cluster, tmp_path):
    """One replica actor (the tiny model on CPU), killed mid-run: Ray restarts it (the engine is
    loaded again) and retries its calls; the samples are those of this process, greedy."""
    from salv_trainer.tiny import make_tiny_model_dir

    model = make_tiny_model_dir(tmp_path / "tiny")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Implement gate number {i}."}) + "\n"
                               for i in range(6)))
    cfg = SampleConfig(model=str(model), k=2, temperature=0.0, max_new_tokens=16, chunk_size=1)
    sample(prompts, tmp_path / "local.jsonl", cfg)
    reports = []

    def run() -> None:
        with RayExecutor() as ex:
            reports.append(sample(prompts, tmp_path / "ray.jsonl", cfg, executor=ex))

    worker = threading.Thread(target=run)
    worker.start()
    killed = None
    while killed is None and worker.is_alive():
        pids = _ray_tasks_of_this_process("ray::_Replica.run")
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    worker.join(300)
    assert killed is not None, "the replica was never seen sampling"
    assert reports and reports[0].sampled == 6 and reports[0].responses == 12
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()


def test_ray_errors_are_one_line(cluster, samples, tmp_path):
    # a task larger than any node would wait for ever: refused at once
    res = CliRunner().invoke(app, ["label", str(samples), "--out", str(tmp_path / "o.jsonl"),
                                   "--executor", "ray", "--jobs", "4"])
    assert res.exit_code == 2 and "a task needs 4 CPU(s) (--jobs) and the Ray cluster has 2" in res.stderr
    with RayExecutor() as ex, pytest.raises(Exception, match="needs 1 GPU"):
        list(ex.map_with(dict, lambda s, x: x, [1], gpus=1))
    # a vLLM replica holds the GPUs its engine is split over: none here, refused before any load
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"id": "a", "prompt": "An AND gate."}\n')
    cfg = SampleConfig(model=str(tmp_path), backend="vllm", tensor_parallel_size=2)
    with RayExecutor() as ex, pytest.raises(Exception, match="a replica needs 2 GPU"):
        sample(prompts, tmp_path / "s.jsonl", cfg, executor=ex)
