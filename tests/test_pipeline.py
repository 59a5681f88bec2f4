"""The miniature replication end to end: the shortened CI config (examples/mini/ci.yaml) runs every
stage for real (synthetic problems, tokenizer + tiny model from scratch, SFT, sampling, Icarus
labels, pairs, four DPO variants, evaluation), then the artefacts are checked for existence and
consistency: pairs are made of real samples, DPO adapters sit on the SFT checkpoint with the same
step budget, and the scored models are the trained ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from salv_trainer.config import ConfigError
from salv_trainer.data import correct_outputs, read_rows
from salv_trainer.pipeline import (
    SFT,
    Reporter,
    load_pipeline_config,
    run_pipeline,
    score_rows,
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
    for v in cfg.variants:
        assert (sd / "dpo" / v.name / "adapter_config.json").is_file()
    for name in [SFT, *(v.name for v in cfg.variants)]:
        result = json.loads((sd / "eval" / name / "result.json").read_text())
        assert result["problems"] == cfg.synth.test
        assert result["samples"] == cfg.synth.test * cfg.eval.k
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


def test_dpo_variants_start_from_the_sft_model_with_one_step_budget(run):
    cfg, out, results = run
    sd = out / "seed0"
    sft = str((sd / "sft").resolve())
    for v in cfg.variants:
        record = json.loads((sd / "dpo" / v.name / "salv_run.json").read_text())
        assert record["config"]["model"] == sft
        assert record["config"]["mask"] == v.mask and record["config"]["kinds"] == v.kinds
        assert record["steps"] == cfg.dpo.max_steps
        adapter = json.loads((sd / "dpo" / v.name / "adapter_config.json").read_text())
        assert adapter["base_model_name_or_path"] == sft
    masks = {v.name: results["models"][v.name]["seeds"]["0"]["mask_fraction"] for v in cfg.variants}
    assert masks["dpo_partial"] == pytest.approx(1.0) and masks["dpo_complete"] == pytest.approx(1.0)
    assert 0 < masks["salv"] < 1 and 0 < masks["salv_inverse"] < 1
    # inverse drops the pairs whose cone is the whole response (nothing left outside it)
    rows = {v.name: results["models"][v.name]["seeds"]["0"]["train_rows"] for v in cfg.variants}
    assert rows["salv_inverse"] <= rows["salv"] == rows["dpo_partial"]


def test_the_evaluated_models_are_the_trained_ones(run):
    cfg, out, results = run
    sd = out / "seed0"
    dirs = {SFT: sd / "sft", **{v.name: sd / "dpo" / v.name for v in cfg.variants}}
    for name, model_dir in dirs.items():
        seed0 = results["models"][name]["seeds"]["0"]
        assert seed0["model_dir"] == str(model_dir.resolve())
        assert seed0["weights_sha256"] == weights_digest(model_dir)
        for row in _jsonl(sd / "eval" / name / "samples.jsonl"):
            assert row["sampling"]["model"] == str(model_dir.resolve())
    digests = {results["models"][n]["seeds"]["0"]["weights_sha256"] for n in dirs}
    assert len(digests) == len(dirs)  # five different models


def test_scores_in_results_match_the_labeled_test_samples(run):
    cfg, out, results = run
    for name, m in results["models"].items():
        rows = read_rows(out / "seed0" / "eval" / name / "labeled.jsonl")
        assert len(rows) == cfg.synth.test
        again = score_rows(rows, ks=(1,))
        assert m["seeds"]["0"]["pass1"] == pytest.approx(again["pass1"]["mean"])
        assert m["seeds"]["0"]["output_accuracy"] == pytest.approx(again["output_accuracy"])


def test_a_rerun_skips_every_stage_and_gives_the_same_results(run):
    cfg, out, results = run
    rec = _Record()
    again = run_pipeline(cfg, rec)
    assert rec.ran == []
    assert "synth" in rec.skipped and "seed0/sft" in rec.skipped and "seed0/eval-salv" in rec.skipped
    assert again["models"] == results["models"]


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
    assert res.exit_code == 0 and "SALV: + partial pairs, cone mask" in res.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("sft: {max_step: 3}\n")
    res = cli.invoke(app, ["pipeline", "--config", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}: sft: unknown key 'max_step'" in res.stderr
