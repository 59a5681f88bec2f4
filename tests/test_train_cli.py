"""`salv-train sft | dpo | merge` and the run configs: SFT -> DPO on a tiny local model, YAML +
flag precedence, pinned error messages and exit codes, the shipped example configs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from dataclasses import fields
from pathlib import Path

import pytest
from typer.testing import CliRunner

from salv_trainer.cli import app
from salv_trainer.config import ConfigError, DPORunConfig, SFTRunConfig, load_config
from salv_trainer.tiny import make_tiny_model_dir

warnings.filterwarnings("ignore", category=FutureWarning)
REPO = Path(__file__).resolve().parents[1]
REF = "module top_module(input a, input b, output out);\n  assign out = a & b;\nendmodule"
GOOD = "```verilog\n" + REF + "\n```"
BAD = GOOD.replace("a & b", "a | b")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny"), [GOOD, BAD], vocab_size=360, hidden=32, layers=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    sft = [{"id": f"t{i}", "prompt": f"Build an AND gate ({i}).",
            "module_header": "module top_module(input a, input b, output out);", "reference": REF}
           for i in range(4)]
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sft))
    pairs = [{"id": f"p{i}", "prompt": f"Build an AND gate ({i}).", "chosen": GOOD, "rejected": BAD,
              "contrast_signals": ["out"], "kind": "complete",
              "chosen_spans": [[0, len(GOOD)]], "rejected_spans": [[0, len(BAD)]]} for i in range(4)]
    (d / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    return d


def invoke(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_sft_output_is_a_valid_dpo_input(tiny, data, tmp_path, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "")  # the CLI sets it when piped; undone after the test
    code, out, err = invoke("sft", "--model", tiny, "--data", data / "train.jsonl", "--output-dir",
                            tmp_path / "sft", "--max-steps", 6, "--learning-rate", 3e-3, "--logging-steps", 1,
                            "--per-device-batch-size", 2, "--json")
    assert code == 0, err
    sft = json.loads(out)
    assert sft["stage"] == "sft" and sft["steps"] == 6 and sft["rows"] == 4
    log = [json.loads(line) for line in (tmp_path / "sft" / "train_log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses[-1] < losses[0]

    code, out, err = invoke("dpo", "--model", tmp_path / "sft", "--pairs", data / "pairs.jsonl",
                            "--output-dir", tmp_path / "dpo", "--max-steps", 2, "--json",
                            "--ref-log-probs-cache", tmp_path / "ref")
    assert code == 0, err
    dpo = json.loads(out)
    assert dpo["stage"] == "dpo" and dpo["steps"] == 2 and dpo["data"]["rows_trained"] == 4
    assert dpo["data"]["ref_log_probs"] == "precomputed" and list((tmp_path / "ref").glob("*.pt"))
    assert "reference log probs" not in err  # TRL's tqdm bar: off when piped, like the others
    assert (tmp_path / "dpo" / "adapter_config.json").is_file()
    assert json.loads((tmp_path / "dpo" / "adapter_config.json").read_text())["r"] == 8

    code, out, err = invoke("merge", tmp_path / "dpo", "--output", tmp_path / "merged", "--json")
    assert code == 0, err
    assert (tmp_path / "merged" / "config.json").is_file() and not (tmp_path / "merged" / "adapter_config.json").exists()


def test_yaml_config_then_flags_override(tmp_path):
    cfg_file = tmp_path / "dpo.yaml"
    cfg_file.write_text("model: m\npairs: p.jsonl\noutput_dir: out\nbeta: 0.5\nkinds: [complete]\nlora-r: 4\n")
    cfg = load_config(DPORunConfig, cfg_file, beta=0.2, mask=None)
    assert (cfg.beta, cfg.kinds, cfg.lora_r, cfg.mask) == (0.2, "complete", 4, "cone")
    # paper defaults
    d = DPORunConfig()
    assert (d.beta, d.loss_type, d.lora_r, d.lora_alpha, d.lora_dropout, d.lora_target) == (
        0.1, "sigmoid", 8, 16, 0.0, "all-linear")
    assert (d.learning_rate, d.lr_scheduler, d.warmup_ratio, d.max_length, d.mask) == (5e-6, "cosine", 0.1, 2048, "cone")
    s = SFTRunConfig()
    assert (s.learning_rate, s.num_train_epochs) == (1e-5, 2.0)


@pytest.mark.parametrize("name", ["sft.yaml", "dpo.yaml"])
def test_shipped_example_configs_load(name):
    cls = SFTRunConfig if name == "sft.yaml" else DPORunConfig
    cfg = load_config(cls, REPO / "examples" / "configs" / name)
    cfg.validate()
    assert cfg.max_length == 2048


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("model: m\nbogus: 1\n", "unknown key 'bogus' for DPORunConfig"),
        ("beta: high\n", "beta: expected float, got 'high'"),
        ("lora_r: 2.5\n", "lora_r: expected int, got 2.5"),
        ("- a\n- b\n", "a config file must be a mapping"),
        ("model: [\n", "invalid YAML"),
    ],
)
def test_bad_config_files_are_named(tmp_path, yaml_text, message):
    f = tmp_path / "c.yaml"
    f.write_text(yaml_text)
    with pytest.raises(ConfigError) as err:
        load_config(DPORunConfig, f)
    assert message in str(err.value) and str(f) in str(err.value)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--pairs", "P", "--output-dir", "o"], "error: model is required"),
        (["--model", "m", "--pairs", "P", "--output-dir", "o", "--mask", "cones"],
         "error: mask must be one of cone, full, inverse, got 'cones'"),
        (["--model", "m", "--pairs", "P", "--output-dir", "o", "--kinds", "complete,wrong"],
         "error: kinds must list complete and/or partial"),
        (["--model", "./no/such/model", "--pairs", "P", "--output-dir", "o"],
         "error: cannot load model './no/such/model': no such directory"),
        (["--config", "missing.yaml"], "error: missing.yaml: cannot read config file"),
    ],
)
def test_dpo_cli_errors_exit_2_with_a_message(args, message, tmp_path, data):
    args = [str(data / "pairs.jsonl") if a == "P" else a for a in args]
    code, out, err = invoke("dpo", *args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_dpo_cli_bad_pairs_file_is_located(tiny, data, tmp_path):
    bad = tmp_path / "bad.jsonl"
    row = json.loads((data / "pairs.jsonl").read_text().splitlines()[0])
    bad.write_text(json.dumps(row) + "\n" + json.dumps({**row, "rejected_spans": [[5, 2]]}) + "\n")
    code, _, err = invoke("dpo", "--model", tiny, "--pairs", bad, "--output-dir", tmp_path / "o")
    assert code == 2
    assert f"error: {bad}:2:1: rejected_spans: span 0 = [5, 2] lies outside the text" in err
    code, _, err = invoke("dpo", "--model", tiny, "--pairs", data / "pairs.jsonl", "--output-dir",
                          tmp_path / "o", "--kinds", "partial")
    assert code == 2 and "no pairs of kind partial to train on (4 rows read, 4 of other kinds)" in err


def test_merge_refuses_a_directory_without_adapter(tiny, tmp_path):
    code, _, err = invoke("merge", tiny, "--output", tmp_path / "m")
    assert code == 2 and "not a PEFT adapter directory (no adapter_config.json)" in err


def test_every_config_field_is_a_flag():
    for command, cls in (("dpo", DPORunConfig), ("sft", SFTRunConfig)):
        code, out, _ = invoke(command, "--help")
        assert code == 0
        text = " ".join(out.split())
        for f in fields(cls):
            assert "--" + f.name.replace("_", "-")[:14] in text, f.name
        assert "Examples" in text


@pytest.mark.slow
def test_dpo_runs_under_accelerate_launch(tiny, data, tmp_path):
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(
        [str(accelerate), "launch", "--cpu", "--num_processes", "1", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "salv_trainer.cli", "dpo",
         "--model", str(tiny), "--pairs", str(data / "pairs.jsonl"), "--output-dir", str(tmp_path / "acc"),
         "--max-steps", "1", "--json"],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout[proc.stdout.index("{"):])["steps"] == 1
    assert (tmp_path / "acc" / "adapter_model.safetensors").is_file()


@pytest.mark.slow
def test_dpo_runs_data_parallel_on_two_processes(tiny, data, tmp_path):
    """Two DDP ranks (gloo on CPU, as accelerate does on several GPUs): one summary, one log."""
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "ACCELERATE_USE_CPU": "true", "TOKENIZERS_PARALLELISM": "false"}

    def ddp(out, *ref):
        return subprocess.run(
            [str(torchrun), "--nproc_per_node", "2", "-m", "salv_trainer.cli", "dpo", "--model", str(tiny),
             "--pairs", str(data / "pairs.jsonl"), "--output-dir", str(tmp_path / out), "--max-steps", "2",
             "--per-device-batch-size", "1", "--logging-steps", "1", "--json",
             *(ref or ("--ref-log-probs-cache", str(tmp_path / "ref")))],
            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
        )

    proc = ddp("ddp")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('"stage": "dpo"') == 1  # only rank 0 reports
    assert json.loads(proc.stdout)["data"]["ref_log_probs"] == "precomputed"
    again = ddp("ddp-again")  # rank 0 finds the stored reference and tells rank 1: no rank computes alone
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout)["data"]["ref_log_probs"] == "cache"
    plain = ddp("ddp-precompute", "--precompute-ref-log-probs")  # no cache: each rank gets every value
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert json.loads(plain.stdout)["data"]["ref_log_probs"] == "precomputed"
    log = [json.loads(line) for line in (tmp_path / "ddp" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2]  # only rank 0 logs
    assert [r["epoch"] for r in steps] == [0.5, 1.0]  # 2 ranks x 1 pair per step, 4 pairs in all
    assert (tmp_path / "ddp" / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "p"}', "train.jsonl:1:1: missing key(s) reference"),
        ('{"prompt": "p", "reference": "  "}', "train.jsonl:1:1: reference must be non-empty Verilog text"),
        ('{"prompt": 3, "reference": "module m; endmodule"}', "train.jsonl:1:1: prompt must be text or a list"),
        ('{"prompt": "p", "reference": "m"', "train.jsonl:1:"),
    ],
)
def test_sft_cli_bad_data_is_located(tiny, tmp_path, line, message):
    (tmp_path / "train.jsonl").write_text(line + "\n")
    code, out, err = invoke("sft", "--model", tiny, "--data", tmp_path / "train.jsonl", "--output-dir", tmp_path / "o")
    assert code == 2 and message in err and "Traceback" not in err + out


def test_trl_is_the_pinned_release():
    import trl

    from salv_trainer._dpo import TRL_VERSION

    assert trl.__version__ == TRL_VERSION  # the hooks use DPOTrainer internals of this release
