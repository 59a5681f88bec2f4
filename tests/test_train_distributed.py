"""Multi-GPU training configs (issue 14): what a CPU can check of them.

* every shipped accelerate config (examples/configs/accelerate/) loads with accelerate's own parser,
  and the FSDP one turns, through accelerate's launcher, into the plugin the Trainer builds;
* every 7B recipe (examples/configs/7b/) loads with our loader, names a shipped accelerate config,
  keeps the paper's settings and gives the global batch of 64 on 8 GPUs;
* DeepSpeed ZeRO runs for real on 2 CPU ranks (gloo; DeepSpeed's CPU accelerator), with the 8 x
  40 GB recipes on tiny steps: signal-aware DPO under ZeRO-3 logs the mask statistics and the
  cone-masked log-probs computed here by hand, and SFT under ZeRO-3 saves whole weights that load
  as a model;
* FSDP cannot run without GPUs (accelerate enables it only there): the run is refused with one line
  instead of every rank training alone.

The DeepSpeed runs need ``pip install -e '.[deepspeed]'`` (``DS_BUILD_OPS=0``: no CUDA ops are built;
``make setup`` also builds DeepSpeed's shared-memory CPU op once, so the runs do not pay for it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

from salv_trainer._distributed import load_in_bf16
from salv_trainer.config import DPORunConfig, SFTRunConfig, load_config
from salv_trainer.tiny import make_tiny_model_dir

warnings.filterwarnings("ignore", category=FutureWarning)
REPO = Path(__file__).resolve().parents[1]
ACCELERATE = REPO / "examples" / "configs" / "accelerate"
RECIPES = REPO / "examples" / "configs" / "7b"
GPUS = 8  # the node every shipped config and recipe is written for

REF = "module top_module(input a, input b, output x, output y);\n  assign x = a & b;\n  assign y = a | b;\nendmodule"
GOOD = "```verilog\n" + REF + "\n```"
BAD = GOOD.replace("a | b", "a ^ b")


def _cone_of_y(text: str) -> list[list[int]]:
    s = text.index("  assign y")
    return [[s, text.index("\n", s) + 1]]


# ------------------------------------------------------------------------------- configs (fast)


@pytest.mark.parametrize(
    ("name", "kind", "extra"),
    [
        ("zero2.yaml", "DEEPSPEED", {"zero_stage": 2}),
        ("zero3.yaml", "DEEPSPEED", {"zero_stage": 3, "zero3_init_flag": True, "zero3_save_16bit_model": True}),
        ("fsdp.yaml", "FSDP", {"fsdp_version": 2, "fsdp_state_dict_type": "FULL_STATE_DICT"}),
        ("ddp.yaml", "MULTI_GPU", {}),
    ],
)
def test_accelerate_configs_load_with_accelerates_parser(name, kind, extra):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file

    cfg = load_config_from_file(str(ACCELERATE / name))
    assert isinstance(cfg, ClusterConfig)
    assert cfg.distributed_type.value == kind
    assert (cfg.num_processes, cfg.num_machines, cfg.mixed_precision, cfg.use_cpu) == (GPUS, 1, "bf16", False)
    section = cfg.deepspeed_config if kind == "DEEPSPEED" else cfg.fsdp_config
    for key, value in extra.items():
        assert section[key] == value, key
    if kind == "DEEPSPEED":  # batch, accumulation and clipping must come from the recipe, not the launcher
        assert not {"gradient_accumulation_steps", "gradient_clipping", "train_batch_size"} & set(section)


def test_fsdp_config_becomes_fsdp2_wrapping_each_decoder_layer(monkeypatch, tmp_path):
    """accelerate's launcher turns fsdp.yaml into the environment the Trainer's plugin reads."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import FullyShardedDataParallelPlugin
    from accelerate.utils.launch import prepare_multi_gpu_env
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(make_tiny_model_dir(tmp_path / "m", hidden=16, heads=2, kv_heads=1))
    args = launch_command_parser().parse_args(
        ["--config_file", str(ACCELERATE / "fsdp.yaml"), "-m", "salv_trainer.cli", "sft"]
    )
    args, _, _ = _validate_launch_command(args)
    env = prepare_multi_gpu_env(args)
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_VERSION"] == "2"
    for key, value in env.items():
        if key.startswith(("FSDP_", "ACCELERATE_")):
            monkeypatch.setenv(key, value)
    plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2 and plugin.reshard_after_forward is True
    assert plugin.state_dict_type.name == "FULL_STATE_DICT"  # the saved SFT model is whole weights
    plugin.set_auto_wrap_policy(model)
    assert plugin.transformer_cls_names_to_wrap == ["Qwen2DecoderLayer"]  # from the model's _no_split_modules
    # under FSDP2 accelerate upcasts trainable weights to fp32 itself: SFT may load bf16
    assert load_in_bf16(True, full_finetune=True, args=SimpleNamespace(deepspeed_plugin=None))


def test_master_weights_stay_fp32_wherever_a_full_finetune_runs(monkeypatch):
    for var in ("ACCELERATE_USE_FSDP", "FSDP_VERSION", "ACCELERATE_USE_DEEPSPEED"):
        monkeypatch.delenv(var, raising=False)
    plain, deepspeed = SimpleNamespace(deepspeed_plugin=None), SimpleNamespace(deepspeed_plugin=object())
    assert not load_in_bf16(True, full_finetune=True, args=plain)  # one GPU / DDP: fp32 weights + autocast
    assert load_in_bf16(True, full_finetune=True, args=deepspeed)  # ZeRO keeps fp32 master weights
    assert load_in_bf16(True, full_finetune=False, args=plain)  # LoRA: frozen base in bf16
    assert not load_in_bf16(False, full_finetune=False, args=deepspeed)
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    monkeypatch.setenv("FSDP_VERSION", "1")  # FSDP1 keeps the dtype it is given
    assert not load_in_bf16(True, full_finetune=True, args=plain)


def _recipe_launch(path: Path) -> str:
    m = re.search(r"--config_file (\S+)", path.read_text().splitlines()[0])
    assert m, f"{path.name}: the first line must be the accelerate launch command"
    assert f"--config {path.relative_to(REPO)}" in path.read_text().splitlines()[0]
    return m.group(1)


@pytest.mark.parametrize("name", ["sft-8x80gb.yaml", "sft-8x40gb.yaml", "dpo-8x80gb.yaml", "dpo-8x40gb.yaml"])
def test_7b_recipes_load_and_keep_the_papers_settings(name):
    from accelerate.commands.config.config_args import load_config_from_file

    path = RECIPES / name
    sft = name.startswith("sft")
    cfg = load_config(SFTRunConfig if sft else DPORunConfig, path)
    cfg.validate()
    launch = load_config_from_file(str(REPO / _recipe_launch(path)))
    assert launch.num_processes == GPUS
    assert cfg.per_device_batch_size * cfg.gradient_accumulation_steps * GPUS == 64
    assert cfg.bf16 and cfg.gradient_checkpointing and cfg.max_length == 2048
    if sft:  # full fine-tune, lr 1e-5, 2 epochs [paper], on a sharded launcher
        assert (cfg.learning_rate, cfg.num_train_epochs, cfg.max_steps) == (1e-5, 2.0, -1)
        assert launch.distributed_type.value in ("DEEPSPEED", "FSDP")
        assert launch.deepspeed_config.get("zero_stage") == (2 if "80gb" in name else 3)
    else:  # LoRA DPO, 7000 steps, batch 64: every other setting as in the 1-GPU example
        assert cfg.max_steps == 7000
        base = load_config(DPORunConfig, REPO / "examples" / "configs" / "dpo.yaml")
        same = ("mask", "kinds", "beta", "loss_type", "lora_r", "lora_alpha", "lora_dropout", "lora_target",
                "learning_rate", "lr_scheduler", "warmup_ratio", "model", "pairs")
        assert {k: getattr(cfg, k) for k in same} == {k: getattr(base, k) for k in same}


# -------------------------------------------------------------------- real runs on CPU ranks (slow)


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("dist")
    tiny = make_tiny_model_dir(d / "tiny", [GOOD, BAD, "Task: x is a AND b."], vocab_size=380, hidden=32, layers=1)
    pairs = [{"id": f"p{i}", "prompt": f"Task {i}: x is a AND b, y is a OR b.", "chosen": GOOD, "rejected": BAD,
              "contrast_signals": ["y"], "kind": "partial",
              "chosen_spans": _cone_of_y(GOOD), "rejected_spans": _cone_of_y(BAD)} for i in range(4)]
    (d / "pairs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in pairs))
    sft = [{"id": f"t{i}", "prompt": f"Task {i}: x is a AND b, y is a OR b.", "reference": REF} for i in range(4)]
    (d / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sft))
    return d, tiny


#: A recipe's settings on 2 steps of 1 row per rank, in fp32 (bf16 needs a GPU)
TINY_STEPS = ["--max-steps", "2", "--per-device-batch-size", "1", "--gradient-accumulation-steps", "1",
              "--logging-steps", "1", "--no-bf16"]


def _need_deepspeed() -> None:
    """DeepSpeed comes with the ``deepspeed`` extra (``make setup`` installs it): under CI it must be there."""
    if os.environ.get("CI") == "true":
        import deepspeed  # noqa: F401  (an ImportError fails the test)
    else:
        pytest.importorskip("deepspeed", reason="pip install -e '.[deepspeed]' (DS_BUILD_OPS=0)")


def _launch(config: str, nproc: int, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    if "zero" in config:
        _need_deepspeed()
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [str(accelerate), "launch", "--config_file", str(ACCELERATE / config), "--num_processes", str(nproc),
         "--mixed_precision", "no", "-m", "salv_trainer.cli", *args],
        capture_output=True, text=True, timeout=600, env=env, cwd=cwd,
    )


@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_a_gpu_recipe_on_a_machine_without_gpus_exits_2_with_one_line(work, tmp_path, stage):
    import torch
    from typer.testing import CliRunner

    from salv_trainer.cli import app

    if torch.cuda.is_available():
        pytest.skip("the refusal is for machines without GPUs")
    d, tiny = work
    data = ["--data", d / "train.jsonl"] if stage == "sft" else ["--pairs", d / "pairs.jsonl"]
    result = CliRunner().invoke(app, [str(a) for a in (stage, "--config", RECIPES / f"{stage}-8x40gb.yaml", "--model",
                                                       tiny, *data, "--output-dir", tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == "error: bf16 needs a GPU and none is visible: train with --no-bf16 (fp32) on CPUs"
    assert not (tmp_path / "out").exists()


def _cone_logps_by_hand(tiny: Path, pairs: Path, tmp_path: Path) -> tuple[float, dict]:
    """Mean over the pairs of the chosen response's log-prob summed over its cone tokens (Eq. 2's
    policy term at step 0), from the base model and the token masks, without TRL's loss."""
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig

    from salv_trainer.training import SignalAwareDPOTrainer, load_pairs, pairs_to_dataset

    tok = AutoTokenizer.from_pretrained(tiny)
    rows, _ = load_pairs(pairs)
    trainer = SignalAwareDPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny), processing_class=tok,
        args=DPOConfig(output_dir=str(tmp_path / "ref"), report_to=[], max_length=2048, bf16=False),
        train_dataset=pairs_to_dataset(rows, tok), peft_config=LoraConfig(r=8, lora_alpha=16, task_type="CAUSAL_LM"),
    )
    model = AutoModelForCausalLM.from_pretrained(tiny)
    sums = []
    for ex in trainer.train_dataset:
        ids = torch.tensor([ex["prompt_ids"] + ex["chosen_ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(model(ids).logits[0, :-1].float(), -1).gather(-1, ids[0, 1:, None])[:, 0]
        completion = logp[len(ex["prompt_ids"]) - 1:]
        sums.append(float((completion * torch.tensor(ex["chosen_token_mask"], dtype=completion.dtype)).sum()))
    return sum(sums) / len(sums), trainer.mask_stats["train"].to_dict()


@pytest.mark.slow
def test_signal_aware_dpo_under_zero3_on_two_ranks_trains_the_cone(work, tmp_path):
    d, tiny = work
    # the 8 x 40 GB recipe (gradient checkpointing, cutoff, LoRA, mask...) on tiny steps, fp32 on CPUs
    proc = _launch("zero3.yaml", 2, ["dpo", "--config", str(RECIPES / "dpo-8x40gb.yaml"), "--model", str(tiny),
                                     "--pairs", str(d / "pairs.jsonl"), "--output-dir", str(tmp_path / "dpo"),
                                     *TINY_STEPS, "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('"stage": "dpo"') == 1  # one summary, from rank 0
    run = json.loads((tmp_path / "dpo" / "salv_run.json").read_text())
    expected_logps, expected_stats = _cone_logps_by_hand(tiny, d / "pairs.jsonl", tmp_path)
    # the mask statistics are those of a single process...
    for key in ("rows_trained", "mask_tokens", "completion_tokens", "mask_fraction", "dropped_unaligned"):
        assert run["data"][key] == expected_stats[key], key
    assert 0 < expected_stats["mask_fraction"] < 0.5
    # ...and the collator's masks reached the loss on both ranks: 2 ranks x 1 pair x 2 steps = each pair
    # once, so the mean logged log-prob is the hand-computed cone sum (the adapter starts as a no-op)
    log = [json.loads(line) for line in (tmp_path / "dpo" / "train_log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "loss" in r]
    assert [r["step"] for r in steps] == [1, 2] and steps[-1]["epoch"] == 1.0
    fraction = expected_stats["mask_tokens"] / expected_stats["completion_tokens"]  # salv_run.json rounds it
    assert all(r["mask/fraction"] == pytest.approx(fraction) for r in steps)
    logged = sum(r["logps/chosen"] for r in steps) / len(steps)
    assert logged == pytest.approx(expected_logps, abs=2e-3)
    # ZeRO-3 really ran (one optimizer partition per rank) and the saved adapter is whole, not a shard
    ckpt = tmp_path / "dpo" / "checkpoint-2" / "global_step2"
    assert sorted(p.name for p in ckpt.glob("zero_pp_rank_*_optim_states.pt")) == [
        "zero_pp_rank_0_mp_rank_00_optim_states.pt", "zero_pp_rank_1_mp_rank_00_optim_states.pt"]
    from safetensors.torch import load_file

    adapter = load_file(str(tmp_path / "dpo" / "adapter_model.safetensors"))
    assert adapter and all(t.numel() > 0 for t in adapter.values())
    assert any(t.shape[0] == 8 for k, t in adapter.items() if "lora_A" in k)  # r = 8


@pytest.mark.slow
def test_sft_under_zero3_on_two_ranks_saves_whole_weights(work, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    d, tiny = work
    proc = _launch("zero3.yaml", 2, ["sft", "--config", str(RECIPES / "sft-8x40gb.yaml"), "--model", str(tiny),
                                     "--data", str(d / "train.jsonl"), "--output-dir", str(tmp_path / "sft"),
                                     *TINY_STEPS, "--learning-rate", "1e-3", "--warmup-ratio", "0", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count('"stage": "sft"') == 1
    before = AutoModelForCausalLM.from_pretrained(tiny).state_dict()
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "sft").state_dict()  # a valid --model for dpo
    assert after.keys() == before.keys()
    assert all(after[k].shape == before[k].shape for k in before)  # gathered, not rank 0's shard
    assert any(not torch.equal(after[k], before[k]) for k in before)  # and trained


@pytest.mark.slow
def test_fsdp_without_gpus_is_refused_not_run_rank_by_rank(work, tmp_path):
    d, tiny = work
    proc = _launch("fsdp.yaml", 2, ["dpo", "--model", str(tiny), "--pairs", str(d / "pairs.jsonl"), "--output-dir",
                                    str(tmp_path / "dpo"), "--max-steps", "1"], tmp_path)
    assert proc.returncode != 0
    assert "error: the accelerate config asks for FSDP, but accelerate enables FSDP only on GPUs" in proc.stderr
    assert not (tmp_path / "dpo" / "adapter_model.safetensors").exists()
