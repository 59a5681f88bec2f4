"""The miniature replication end to end: the shortened CI config (examples/mini/ci.yaml) runs every
stage for real (synthetic problems, tokenizer + tiny model from scratch, SFT, sampling, Icarus
labels, pairs, validation pairs, a learning-rate sweep, two DPO variants x two DPO seeds x equal
steps and equal epochs, sampled and greedy evaluation, teacher-forced metrics, paired tests), then
the artefacts are checked for existence and consistency: pairs are made of real samples, DPO
adapters sit on the SFT checkpoint with the stated budgets and the sweep's choice, the scored
models are the trained ones, and every number in results.json is recomputed from the files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from salv_trainer.config import ConfigError
from salv_trainer.data import correct_outputs, read_rows
from salv_trainer.pipeline import (
    SFT,
    Reporter,
    load_pipeline_config,
    mcnemar,
    run_pipeline,
    score_rows,
    teacher_metrics,
    weights_digest,
)

pytestmark = pytest.mark.slow  # a few minutes: one real pipeline run shared by every test here

REPO = Path(__file__).resolve().parents[1]
CI_CONFIG = REPO / "examples" / "mini" / "ci.yaml"


class _Record(Reporter):
    def __init__(self) -> None:
        self.ran: list[str] = []
        self.skipped: list[str] = []

    def stage(self, name: str, detail: str = "") -> None:
        self.ran.append(name)

    def skip(self, name: str, why: str) -> None:
        self.skipped.append(name)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mini")
    cfg = load_pipeline_config(CI_CONFIG, output_dir=str(out))
    results = run_pipeline(cfg)
    return cfg, out, results


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _trained(cfg) -> dict[str, tuple[str, object, str, int]]:
    """Model key -> (run id, variant, budget, DPO seed) of every DPO run of seed 0."""
    out = {}
    for v, budget in cfg.runs():
        for d in cfg.dpo_seeds:
            out[f"{v.name}-d{d}"] = (f"0/d{d}", v, budget, d)
    return out


def test_every_artefact_exists_and_loads(run):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg, out, results = run
    for split, n in (("train", cfg.synth.train), ("validation", cfg.synth.validation), ("test", cfg.synth.test)):
        assert len(_jsonl(out / "data" / f"{split}.jsonl")) == n
    sd = out / "seed0"
    for name in ("init", "sft"):
        AutoTokenizer.from_pretrained(sd / name)
        AutoModelForCausalLM.from_pretrained(sd / name)
    for name in ("samples", "labeled", "pairs_signal", "pairs_module"):
        path = sd / f"{name}.jsonl"
        assert (sd / f"{name}.json").is_file()
        if path.stat().st_size:
            load_dataset("json", data_files=str(path), split="train")
    # The CI model is trained long enough that its samples make pairs: every variant trains.
    assert all(not m["skipped"] for m in results["models"].values()), results["data"]
    assert set(results["models"]) == {SFT, *(v.name for v, _ in cfg.runs())}
    for key in _trained(cfg):
        assert (sd / "dpo" / key / "adapter_config.json").is_file()
    tested = cfg.eval.limit  # eval.limit: the first N test problems
    assert tested and tested < cfg.synth.test
    for name in [SFT, *_trained(cfg)]:
        result = json.loads((sd / "eval" / name / "result.json").read_text())
        assert result["problems"] == tested
        assert result["samples"] == tested * cfg.eval.k
        greedy = json.loads((sd / "eval_greedy" / name / "result.json").read_text())
        assert greedy["samples"] == tested and greedy["sampling"]["temperature"] == 0
        assert (sd / "teacher" / f"{name}.json").is_file()
    # ...but the sweep scores every validation problem
    swept = sorted((sd / "sweep").glob("*/lr*/val_greedy/result.json"))
    assert len(swept) == len(cfg.sweep.grid)
    for val in swept:
        assert json.loads(val.read_text())["problems"] == cfg.synth.validation
    for name in ("samples", "labeled", "pairs"):
        assert (sd / "validation" / f"{name}.json").is_file()
    assert len(_jsonl(sd / "validation" / "samples.jsonl")) == cfg.synth.validation
    assert (sd / "sweep" / "salv" / "choice.json").is_file() and not (sd / "sweep" / "dpo_partial").exists()
    assert json.loads((out / "results.json").read_text())["models"].keys() == results["models"].keys()
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_pairs_are_made_of_real_samples_and_follow_eq1(run):
    cfg, out, _ = run
    sd = out / "seed0"
    labeled = {str(r["id"]): r for r in read_rows(sd / "labeled.jsonl")}
    pairs = _jsonl(sd / "pairs_signal.jsonl") + _jsonl(sd / "pairs_module.jsonl")
    assert pairs
    for p in pairs:
        row = labeled[str(p["id"])]
        assert p["chosen"] == row["responses"][p["chosen_index"]]
        assert p["rejected"] == row["responses"][p["rejected_index"]]
        right_w = correct_outputs(row["labels"][p["chosen_index"]])
        right_l = correct_outputs(row["labels"][p["rejected_index"]])
        assert set(p["contrast_signals"]) == right_w - right_l  # Eq. 1
        for key, text in (("chosen_spans", p["chosen"]), ("rejected_spans", p["rejected"])):
            assert p[key] and all(0 <= s < e <= len(text) for s, e in p[key])


def test_dpo_runs_start_from_the_sft_model_with_their_budget_seed_and_swept_lr(run):
    cfg, out, results = run
    sd = out / "seed0"
    sft = str((sd / "sft").resolve())
    choice = json.loads((sd / "sweep" / "salv" / "choice.json").read_text())
    assert [(p["learning_rate"], p["beta"]) for p in choice["points"]] == cfg.sweep.grid
    best = max(choice["points"], key=lambda p: (p["outputs_greedy"], p["reward_accuracy"]))
    assert (choice["learning_rate"], choice["beta"]) == (best["learning_rate"], best["beta"])
    assert results["data"]["0"]["sweep"]["salv"] == choice
    for key, (rid, v, budget, d) in _trained(cfg).items():
        record = json.loads((sd / "dpo" / key / "salv_run.json").read_text())
        c = record["config"]
        assert c["model"] == sft and c["seed"] == d
        assert c["mask"] == v.mask and c["kinds"] == v.kinds
        batch = c["per_device_batch_size"] * c["gradient_accumulation_steps"]
        if budget == "steps":  # equal steps
            assert record["steps"] == cfg.dpo.max_steps
        else:  # equal epochs: as many steps as the variant's own pairs need
            assert record["steps"] == math.ceil(cfg.dpo_epochs * math.ceil(record["rows"] / batch))
        swept = v.name.removesuffix("-epochs") == "salv"
        assert c["learning_rate"] == (choice["learning_rate"] if swept else cfg.dpo.learning_rate)
        adapter = json.loads((sd / "dpo" / key / "adapter_config.json").read_text())
        assert adapter["base_model_name_or_path"] == sft
        seed_entry = results["models"][v.name]["seeds"][rid]
        assert seed_entry["train_steps"] == record["steps"]
        assert seed_entry["train_epochs"] == pytest.approx(record["steps"] * batch / record["rows"])
    masks = {n: results["models"][n]["seeds"]["0/d0"]["mask_fraction"] for n in ("dpo_partial", "salv")}
    assert masks["dpo_partial"] == pytest.approx(1.0) and 0 < masks["salv"] < 1
    rows = {n: results["models"][n]["seeds"]["0/d0"]["train_rows"] for n in ("dpo_partial", "salv")}
    assert rows["salv"] == rows["dpo_partial"]  # same pairs, other mask


def test_the_evaluated_models_are_the_trained_ones(run):
    cfg, out, results = run
    sd = out / "seed0"
    dirs = {SFT: ("0", SFT, sd / "sft")}
    dirs.update({key: (rid, v.name, sd / "dpo" / key) for key, (rid, v, _, _) in _trained(cfg).items()})
    for key, (rid, name, model_dir) in dirs.items():
        entry = results["models"][name]["seeds"][rid]
        assert entry["model_dir"] == str(model_dir.resolve())
        assert entry["weights_sha256"] == weights_digest(model_dir)
        for kind in ("eval", "eval_greedy"):
            for row in _jsonl(sd / kind / key / "samples.jsonl"):
                assert row["sampling"]["model"] == str(model_dir.resolve())
    # the two DPO seeds of a variant are two different models
    for name in ("dpo_partial", "salv", "salv-epochs"):
        seeds = results["models"][name]["seeds"]
        assert seeds["0/d0"]["weights_sha256"] != seeds["0/d1"]["weights_sha256"]


def test_scores_in_results_match_the_labeled_test_samples(run):
    cfg, out, results = run
    keys = {SFT: ("0", SFT), **{k: (rid, v.name) for k, (rid, v, _, _) in _trained(cfg).items()}}
    for key, (rid, name) in keys.items():
        entry = results["models"][name]["seeds"][rid]
        rows = read_rows(out / "seed0" / "eval" / key / "labeled.jsonl")
        assert len(rows) == cfg.eval.limit
        again = score_rows(rows, ks=(1,))
        assert entry["pass1"] == pytest.approx(again["pass1"]["mean"])
        assert entry["output_accuracy"] == pytest.approx(again["output_accuracy"])
        greedy = score_rows(read_rows(out / "seed0" / "eval_greedy" / key / "labeled.jsonl"), ks=(1,))
        assert entry["pass1_greedy"] == pytest.approx(greedy["pass1"]["mean"])
        assert entry["output_accuracy_greedy"] == pytest.approx(greedy["output_accuracy"])
    for name, m in results["models"].items():  # the mean over runs is the mean of the runs
        assert m["pass1"]["mean"] == pytest.approx(sum(e["pass1"] for e in m["seeds"].values()) / len(m["seeds"]))


def test_teacher_metrics_are_recomputed_from_their_records(run):
    cfg, out, results = run
    sd = out / "seed0"
    ref = json.loads((sd / "teacher" / "sft.json").read_text())["records"]
    pairs = _jsonl(sd / "validation" / "pairs.jsonl")
    assert len(ref) == len(pairs) > 0
    for key, (rid, v, _, _) in _trained(cfg).items():
        saved = json.loads((sd / "teacher" / f"{key}.json").read_text())
        beta = json.loads((sd / "dpo" / key / "salv_run.json").read_text())["config"]["beta"]
        assert saved["metrics"] == pytest.approx(teacher_metrics(saved["records"], ref, beta))
        assert results["models"][v.name]["seeds"][rid]["teacher"] == saved["metrics"]
        assert 0 <= saved["metrics"]["reward_accuracy"] <= 1
    assert results["models"]["salv"]["teacher"]["reward_accuracy"]["n"] == len(cfg.dpo_seeds)


def test_paired_comparisons_follow_from_the_greedy_answers(run):
    cfg, out, results = run
    sd = out / "seed0"
    rows = {(r["a"], r["b"]): r for r in results["comparisons"]}
    assert set(rows) == {("salv", "dpo_partial"), ("salv-epochs", "dpo_partial-epochs"), ("salv", SFT),
                         ("dpo_partial", SFT), ("salv-epochs", SFT), ("dpo_partial-epochs", SFT)}
    # ("salv", "dpo_complete") is configured but dpo_complete is not a variant of this config

    def right(key):
        res = json.loads((sd / "eval_greedy" / key / "result.json").read_text())
        return {p: v >= 1 for p, v in res["per_output"].items()}

    pooled_a, pooled_b = {}, {}
    for d in cfg.dpo_seeds:
        pooled_a.update({f"{d}|{k}": v for k, v in right(f"salv-d{d}").items()})
        pooled_b.update({f"{d}|{k}": v for k, v in right(f"dpo_partial-d{d}").items()})
    want = mcnemar(pooled_a, pooled_b)
    got = rows[("salv", "dpo_partial")]["greedy_mcnemar_outputs"]
    assert (got["a_only"], got["b_only"], got["p"]) == (want["a_only"], want["b_only"], want["p"])
    greedy = rows[("salv", "dpo_partial")]["greedy_bootstrap"]  # clusters a problem's runs
    assert greedy["n_runs"] == len(cfg.dpo_seeds) and greedy["n_problems"] == cfg.eval.limit
    assert greedy["mean"] == pytest.approx(results["models"]["salv"]["pass1_greedy"]["mean"]
                                           - results["models"]["dpo_partial"]["pass1_greedy"]["mean"])
    boot = rows[("salv", "dpo_partial")]["pass1_bootstrap"]
    assert boot["n_runs"] == len(cfg.dpo_seeds) and boot["n_problems"] == cfg.eval.limit
    delta = results["models"]["salv"]["pass1"]["mean"] - results["models"]["dpo_partial"]["pass1"]["mean"]
    assert boot["mean"] == pytest.approx(delta)
    overlap = results["data"]["0"]["pairs"]["signal"]["mask_overlap"]["all"]
    assert overlap["pairs"] == results["data"]["0"]["pairs"]["signal"]["pairs"]
    assert 0 <= overlap["cone_on_diff"] <= 1


def test_a_rerun_skips_every_stage_and_gives_the_same_results(run):
    cfg, out, results = run
    rec = _Record()
    again = run_pipeline(cfg, rec)
    assert rec.ran == []
    assert "synth" in rec.skipped and "seed0/sft" in rec.skipped and "seed0/eval-salv-d0" in rec.skipped
    assert again["models"] == results["models"] and again["comparisons"] == results["comparisons"]


def test_a_rerun_with_another_config_in_the_same_directory_is_refused(run):
    cfg, out, _ = run
    import dataclasses

    other = dataclasses.replace(cfg, synth=dataclasses.replace(cfg.synth, seed=99))
    with pytest.raises(ConfigError, match=r"different configuration \(sections: synth\)"):
        run_pipeline(other)


def test_cli_report_json_and_errors(run, tmp_path):
    from typer.testing import CliRunner

    from salv_trainer.cli import app

    cfg, out, results = run
    cli = CliRunner()
    res = cli.invoke(app, ["pipeline", "--config", str(CI_CONFIG), "--output-dir", str(out), "--report", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["models"].keys() == results["models"].keys()
    res = cli.invoke(app, ["pipeline", "--config", str(CI_CONFIG), "--output-dir", str(out), "--report"])
    assert res.exit_code == 0 and "SALV:" in res.stdout and "Paired" in res.stdout  # both tables
    copy = tmp_path / "copied run"  # a finished run moved elsewhere: the report names where it is now
    copy.mkdir()
    (copy / "results.json").write_bytes((out / "results.json").read_bytes())
    res = cli.invoke(app, ["pipeline", "--config", str(CI_CONFIG), "--output-dir", str(copy), "--report"])
    assert res.exit_code == 0 and f"results: {copy.resolve() / 'results.json'}" in res.stderr
    assert results["test_problems"] == cfg.eval.limit  # the scored ones, not the whole split
    res = cli.invoke(app, ["pipeline", "--config", str(CI_CONFIG), "--output-dir", str(out), "--report", "--markdown"])
    assert res.exit_code == 0, res.output
    tables = [block.splitlines() for block in res.stdout.split("\n\n") if block.startswith("|")]
    assert len(tables) == 2  # models, then paired comparisons
    models, comparisons = tables
    assert len(models) == 2 + len(results["models"]) and len(comparisons) == 2 + len(results["comparisons"])
    for table in tables:  # every row has the header's cells (a label's "|" would break it: escaped)
        width = table[0].replace("\\|", "").count("|")
        assert all(row.replace("\\|", "").count("|") == width for row in table)
    assert any(row.startswith("| SALV: + partial pairs, cone mask [equal epochs] |") for row in models)
    from rich.console import Console

    from salv_trainer.pipeline import render_table

    wide = Console(width=400, record=True)
    render_table(results, wide)
    text = wide.export_text()
    assert "SALV: + partial pairs, cone mask [equal epochs]" in text and "Paired comparisons" in text
    bad = tmp_path / "bad.yaml"
    bad.write_text("sft: {max_step: 3}\n")
    res = cli.invoke(app, ["pipeline", "--config", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}: sft: unknown key 'max_step'" in res.stderr


def test_stages_run_in_worker_processes_give_what_one_process_gives(run):
    """ci.yaml runs its sweep points, DPO runs and evaluations on two worker processes; redoing
    one DPO run, its evaluations and teacher metrics in this process (workers: 1) must give the
    same adapter bit for bit and the same scores."""
    import dataclasses
    import shutil

    cfg, out, results = run
    assert cfg.workers == 2
    sd = out / "seed0"
    name = "salv-d1"
    before = {p: json.loads((sd / p).read_text())
              for p in (f"eval/{name}/result.json", f"eval_greedy/{name}/result.json", f"teacher/{name}.json")}
    digest = weights_digest(sd / "dpo" / name)
    for path in (sd / "dpo" / name, sd / "eval" / name, sd / "eval_greedy" / name):
        shutil.rmtree(path)
    (sd / "teacher" / f"{name}.json").unlink()
    rec = _Record()
    run_pipeline(dataclasses.replace(cfg, workers=1), rec)
    assert sorted(rec.ran) == sorted([f"seed0/dpo-{name}", f"seed0/eval-{name}", f"seed0/eval-{name}/label",
                                      f"seed0/eval_greedy-{name}", f"seed0/eval_greedy-{name}/label",
                                      f"seed0/teacher-{name}"])
    assert weights_digest(sd / "dpo" / name) == digest
    for p, old in before.items():
        new = json.loads((sd / p).read_text())
        for d in (old, new):
            d.pop("seconds", None)
        assert new == old, p
