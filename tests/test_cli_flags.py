"""salv-train's options are derived from the config dataclasses (issue 16): a field's name, default
and help make its option, so the CLI and the Python API cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass, fields

import typer
import typer.main
from typer.testing import CliRunner

from salv_trainer.cli import app
from salv_trainer.cli._flags import Flags
from salv_trainer.config import setting
from salv_trainer.data import LabelConfig, PairsConfig, SampleConfig
from salv_trainer.eval import EvalConfig


def _params(command: str) -> dict:
    cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {p.name: p for p in cmd.params}


def test_sample_options_have_their_fields_defaults_and_help() -> None:
    params = _params("sample")
    # --model is required on the command line; --shard is the option sample and label share
    shared = [f for f in fields(SampleConfig) if f.name in params and f.name not in ("model", "shard")]
    assert len(shared) >= 15
    for f in shared:
        assert params[f.name].default == f.default, f.name
        assert params[f.name].help.startswith(f.metadata["help"].split("[")[0].strip()), f.name
    assert params["temperature"].opts == ["--temperature", "-t"]
    assert params["k"].opts == ["-k"]
    assert params["tensor_parallel_size"].opts == ["--tensor-parallel-size", "--tp"]


def test_eval_and_sample_share_the_engine_options() -> None:
    sample, evaluate = _params("sample"), _params("eval")
    for name in ("lora", "tensor_parallel_size", "gpu_memory_utilization", "max_model_len",
                 "enable_prefix_caching", "enforce_eager", "top_p", "max_new_tokens", "batch_size"):
        assert sample[name].opts == evaluate[name].opts, name
        assert sample[name].default == evaluate[name].default == EvalConfig.__dataclass_fields__[name].default


def test_label_and_pairs_defaults_are_their_configs() -> None:
    label, pairs = _params("label"), _params("pairs")
    assert label["jobs"].default == LabelConfig.jobs and label["jobs"].opts == ["--jobs", "-j"]
    assert label["prompts_per_call"].default == LabelConfig.prompts_per_call
    assert label["cones"].opts == ["--no-cones"] and label["cones"].default is False
    assert pairs["kinds"].default == ",".join(PairsConfig.kinds)
    assert pairs["seed"].default == PairsConfig.seed


@dataclass
class _Toy:
    size: int = setting(3, "How many.", short="-s")
    colour: str | None = setting(None, "Which colour.")
    cones: bool = setting(True, "Leave the cones out.", flag="--no-cones")
    fast: bool = setting(True, "Go fast.")


def test_a_command_gets_its_fields_by_name_and_no_switches_turned_back() -> None:
    toy = typer.Typer()
    flags = Flags().fields(_Toy, "size", "colour", "cones", "fast")
    seen: list[_Toy] = []

    @flags.command(toy, "go")
    def go(**settings: object) -> None:
        seen.append(_Toy(**Flags.of(_Toy, settings)))  # type: ignore[arg-type]

    @toy.command("other")
    def other() -> None:  # a second command, so that typer keeps "go" as a sub-command
        pass

    runner = CliRunner()
    assert runner.invoke(toy, ["go"]).exit_code == 0
    assert runner.invoke(toy, ["go", "-s", "5", "--colour", "red", "--no-cones", "--no-fast"]).exit_code == 0
    assert seen == [_Toy(), _Toy(size=5, colour="red", cones=False, fast=False)]
    help_text = runner.invoke(toy, ["go", "--help"]).output
    assert "--no-cones" in help_text and "Leave the cones out." in help_text and "--fast" in help_text
