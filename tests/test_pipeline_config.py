"""Pipeline configuration and scoring, without training anything (fast)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from salv_trainer.config import ConfigError
from salv_trainer.pipeline import load_pipeline_config, mean_ci, paired_delta, score_rows

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "mini"


@pytest.mark.parametrize("name", ["config.yaml", "shared.yaml", "large.yaml", "ci.yaml"])
def test_shipped_configs_load_and_validate(name):
    cfg = load_pipeline_config(EXAMPLES / name)
    masks = {"ci.yaml": ["full", "cone"], "large.yaml": ["full", "full", "cone", "inverse"]}.get(
        name, ["full", "full", "cone"])  # the powered design: the three rows the question needs
    assert [v.mask for v in cfg.variants] == masks
    assert cfg.sample.k >= 2 and cfg.dpo.max_steps > 0
    # the powered design (issue 17): every feature on, in CI at toy size
    assert len(cfg.dpo_seeds) >= (2 if name == "ci.yaml" else 3)
    assert cfg.budgets == ("steps", "epochs") and cfg.greedy and cfg.teacher and cfg.sweep.grid
    if name != "ci.yaml":
        assert 300 <= min(cfg.synth.test, cfg.eval.limit or cfg.synth.test) <= 500
        assert cfg.eval.temperature == 0.8
    if name in ("config.yaml", "shared.yaml"):  # the same design on both task families
        assert cfg.synth.family == ("shared" if name == "shared.yaml" else "independent")
        other = load_pipeline_config(EXAMPLES / ("config.yaml" if name == "shared.yaml" else "shared.yaml"))
        assert dataclasses.replace(other.synth, family=cfg.synth.family) == cfg.synth
        assert dataclasses.replace(other, synth=cfg.synth, output_dir=cfg.output_dir) == cfg


def test_runs_expand_budgets_and_new_keys_are_checked(tmp_path):
    cfg = load_pipeline_config(None, budgets=["steps", "epochs"], dpo_seeds=[3, 4])
    names = [v.name for v, _ in cfg.runs()]
    assert names[:4] == ["dpo_complete", "dpo_partial", "salv", "salv_inverse"]
    assert names[4:] == ["dpo_complete-epochs", "dpo_partial-epochs", "salv-epochs", "salv_inverse-epochs"]
    assert cfg.runs()[6][0].label.endswith("[equal epochs]") and cfg.dpo_seeds == (3, 4)
    for text, message in [
        ("budgets: [days]\n", "budgets must be distinct values of steps, epochs, got ['days']"),
        ("dpo_seeds: [1, 1]\n", "dpo_seeds must be distinct integers, got [1, 1]"),
        ("sweep: {learning_rates: [0.1]}\n", "sweep: give both learning_rates and betas"),
        ("sweep: {learning_rates: [0.1], betas: [0.1], variants: [nope]}\n", "sweep.variants: unknown nope"),
        ("sweep: {metric: loss}\n", "sweep: metric: expected one of outputs_greedy, reward_accuracy"),
        ("teacher: true\nsynth: {validation: 0}\n", "teacher needs validation problems"),
        ("comparisons: [[salv]]\n", "comparisons must be pairs of variant names"),
    ]:
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_pipeline_config(path)
        assert message in str(info.value), (text, str(info.value))


def test_sections_take_their_stage_config_fields(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "seeds: [1, 2]\n"
        "synth: {train: 10, test: 3, widths: [4]}\n"
        "sft: {max_steps: 7, learning-rate: 0.01}\n"
        "label: {jobs: 2, equiv: {cycles: 300}}\n"
        "variants: [{name: only, label: Only, pairs: signal, kinds: [complete, partial], mask: cone}]\n"
    )
    cfg = load_pipeline_config(path, output_dir=str(tmp_path / "out"))
    assert cfg.seeds == (1, 2) and cfg.synth.widths == (4,) and cfg.synth.validation == 50
    assert cfg.sft.max_steps == 7 and cfg.sft.learning_rate == 0.01
    assert cfg.sft.per_device_batch_size == 8  # the pipeline's default, not SFTRunConfig's
    assert cfg.label.jobs == 2 and cfg.label.equiv.cycles == 300
    assert cfg.variants[0].kinds == "complete,partial"
    assert cfg.output_dir == str(tmp_path / "out")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sft: {max_step: 3}\n", "sft: unknown key 'max_step' (known: bf16,"),
        ("dpo: {mask: cone}\n", "dpo: unknown key 'mask' (set by the pipeline)"),
        ("sft: {max_steps: many}\n", "sft: max_steps: expected int, got 'many'"),
        ("seeds: [0, 0]\n", "seeds must be a non-empty list of distinct integers, got [0, 0]"),
        ("sample: {k: 1}\n", "sample.k must be at least 2"),
        ("variants: [{name: sft}]\n", "variant name 'sft' is taken by the SFT model"),
        ("variants: [{name: x, mask: half}]\n", "mask must be one of cone, full, inverse, got 'half'"),
        ("synth: {min_outputs: 5}\n", "need 1 <= min_outputs <= max_outputs, got 5..4"),
        ("[1, 2]\n", "a config file must be a mapping"),
        ("sft: {max_steps: 3\n", "invalid YAML"),
    ],
)
def test_config_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_pipeline_config(path)
    assert message in str(info.value)


def _label(verdict: str, outputs: dict[str, str]) -> dict:
    return {"verdict": verdict, "outputs": outputs}


def test_scores_count_whole_samples_and_single_outputs():
    outs = [{"name": "y0"}, {"name": "y1"}]
    rows = [
        {"id": "p1", "outputs": outs, "labels": [
            _label("OK", {"y0": "MATCH", "y1": "MATCH"}),       # fully right
            _label("OK", {"y0": "MATCH", "y1": "MISMATCH"}),    # partially right
        ]},
        {"id": "p2", "outputs": outs, "labels": [
            _label("COMPILE_ERROR", {}),                        # broken: both outputs wrong
            _label("OK", {"y0": "MISMATCH", "y1": "MISMATCH"}),  # wrong
        ]},
    ]
    s = score_rows(rows, ks=(1, 2))
    assert s["pass_at_k"] == {"1": pytest.approx(0.25), "2": pytest.approx(0.5)}
    assert s["pass1"]["mean"] == pytest.approx(0.25)
    assert s["output_accuracy"] == pytest.approx(3 / 8)
    assert s["per_problem"] == {"p1": 0.5, "p2": 0.0}
    assert s["categories"] == {"fully right": 0.25, "partially right": 0.25, "wrong": 0.25, "broken": 0.25}


def test_intervals():
    assert mean_ci([0.5]) == {"mean": 0.5, "ci95": None, "n": 1}
    ci = mean_ci([0.0, 1.0])  # t(0.975, 1) = 12.706, sd = 0.7071, se = 0.5
    assert ci["mean"] == 0.5 and ci["ci95"] == pytest.approx([0.5 - 6.353, 0.5 + 6.353])
    d = paired_delta({"a": 1.0, "b": 0.5, "c": 0.0}, {"a": 0.5, "b": 0.5})
    assert d["n"] == 2 and d["mean"] == pytest.approx(0.25)


def test_intervals_of_proportions_are_clipped():
    ci = mean_ci([0.0] * 5 + [1.0], (0.0, 1.0))  # unclipped: 1/6 -+ 2.571 * 0.1667
    assert ci["ci95"] == [0.0, pytest.approx(1 / 6 + 2.571 * (0.4082 / 6 ** 0.5), abs=1e-3)]


def test_report_of_a_damaged_results_file_is_an_error_not_a_traceback(tmp_path):
    from typer.testing import CliRunner

    from salv_trainer.cli import app

    out = tmp_path / "run"
    out.mkdir()
    damaged = out / "results.json"
    damaged.write_text('{"models": \n')  # a run killed while writing it, or an edit gone wrong
    res = CliRunner().invoke(app, ["pipeline", "--config", str(EXAMPLES / "ci.yaml"),
                                   "--output-dir", str(out), "--report", "--markdown"])
    assert res.exit_code == 2
    assert f"{damaged}:2:1: not a results file (Expecting value); rerun the pipeline" in res.stderr
    assert "Traceback" not in res.output
    assert damaged.read_text() == '{"models": \n'  # left as it was
