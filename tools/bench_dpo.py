"""Step time of signal-aware DPO against stock TRL DPO: same tiny model, same batch, same run.

    .venv/bin/python tools/bench_dpo.py [--seq-len 512] [--batch 2] [--steps 20] [--hidden 64]

A step here is what the training loop does per batch: collate, forward (policy + reference with the
adapter disabled), backward, optimizer step. The variants run interleaved (ABCABC...) so machine
noise hits them alike. Both wall-clock and CPU time (this process, all threads) are measured; on a
shared machine CPU time is the stable figure, so comparisons use its median. One torch thread by
default, for the same reason.

* ``stock``: trl.DPOTrainer with its own collator (the baseline);
* ``full``: SignalAwareDPOTrainer with --mask full: identical batches, so the difference is the
  pure cost of the hooks (goal: <= 3 %);
* ``cone``: --mask cone with cones covering about half of each response (the method itself; TRL's
  fused LM head skips masked positions, so it can be faster than the baseline).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")


def make_rows(tok, seq_len: int, n: int) -> list[dict]:
    """Pairs whose prompt + response is about ``seq_len`` tokens; cones cover half the response."""
    line = "  assign w{i} = (a{i} & b{i}) | (c{i} ^ d{i});\n"
    rows = []
    for r in range(n):
        body, i = "", 0
        while len(tok(body, add_special_tokens=False).input_ids) < seq_len - 80:
            body += line.format(i=i + r)
            i += 1
        chosen = "```verilog\nmodule top(input a, output y);\n" + body + "endmodule\n```"
        rejected = chosen.replace("|", "&", 3)
        half = lambda t: [[0, len(t) // 2]]  # noqa: E731
        rows.append(dict(id=f"b{r}", prompt=f"Write module {r}.", chosen=chosen, rejected=rejected,
                         chosen_spans=half(chosen), rejected_spans=half(rejected), kind="partial"))
    return rows


def build(model_dir: Path, rows, *, variant: str, seq_len: int, batch: int, out: Path):
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from salv_trainer._trainer_setup import checkpointing_kwarg
    from salv_trainer.training import SignalAwareDPOTrainer, pairs_to_dataset

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    args = DPOConfig(output_dir=str(out / variant), per_device_train_batch_size=batch, max_length=seq_len + 64,
                     learning_rate=5e-6, report_to=[], bf16=False, **checkpointing_kwarg(False),
                     disable_tqdm=True, dataloader_pin_memory=False)
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    kw = dict(model=model, args=args, train_dataset=pairs_to_dataset(rows, tok), processing_class=tok,
              peft_config=lora)
    trainer = DPOTrainer(**kw) if variant == "stock" else SignalAwareDPOTrainer(mask_mode=variant, **kw)
    trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop, which we drive by hand
    cols = [c for c in ("prompt_ids", "chosen_ids", "rejected_ids", "chosen_token_mask", "rejected_token_mask")
            if c in trainer.train_dataset.column_names]
    examples = [{c: trainer.train_dataset[i][c] for c in cols} for i in range(batch)]
    trainer.model.train()
    return trainer, examples


def step(trainer, examples) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one training step."""
    t, c = time.perf_counter(), time.process_time()
    inputs = trainer._prepare_inputs(trainer.data_collator(examples))
    trainer.training_step(trainer.model, inputs)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad()
    return time.perf_counter() - t, time.process_time() - c


def collate_only(trainer, examples, reps: int = 300) -> float:
    """CPU seconds of one collator call (the only place the hooks add work per step)."""
    t = time.process_time()
    for _ in range(reps):
        trainer.data_collator(examples)
    return (time.process_time() - t) / reps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    a = ap.parse_args(argv)

    import torch

    from salv_trainer.tiny import DEFAULT_CORPUS, build_tiny_tokenizer, make_tiny_model_dir

    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = make_tiny_model_dir(tmp / "tiny", list(DEFAULT_CORPUS), hidden=a.hidden, layers=a.layers,
                                        heads=4, kv_heads=2)
        rows = make_rows(build_tiny_tokenizer(list(DEFAULT_CORPUS)), a.seq_len, a.batch)
        variants = ("stock", "full", "cone")
        built = {v: build(model_dir, rows, variant=v, seq_len=a.seq_len, batch=a.batch, out=tmp) for v in variants}
        n_tokens = len(built["stock"][1][0]["prompt_ids"]) + len(built["stock"][1][0]["chosen_ids"])
        wall: dict[str, list[float]] = {v: [] for v in variants}
        cpu: dict[str, list[float]] = {v: [] for v in variants}
        for i in range(a.warmup + a.steps):
            for v in variants:
                w, c = step(*built[v])
                if i >= a.warmup:
                    wall[v].append(w)
                    cpu[v].append(c)
        collate = {v: collate_only(*built[v]) for v in variants}

    med = {v: statistics.median(ts) for v, ts in cpu.items()}
    wmed = {v: statistics.median(ts) for v, ts in wall.items()}
    print(f"device: {'cuda' if torch.cuda.is_available() else 'cpu'}, torch threads {torch.get_num_threads()}, "
          f"model hidden {a.hidden} x {a.layers} layers, batch {a.batch} pairs, ~{n_tokens} tokens/sequence, "
          f"{a.steps} timed steps per variant (interleaved, medians)")
    print(f"{'variant':<8} {'cpu ms':>9} {'vs stock':>9} {'wall ms':>9} {'steps/s':>8} {'collate cpu ms':>15}")
    for v in variants:
        rel = (med[v] / med["stock"] - 1) * 100
        print(f"{v:<8} {med[v] * 1e3:>9.1f} {rel:>+8.1f}% {wmed[v] * 1e3:>9.1f} {1 / wmed[v]:>8.2f} "
              f"{collate[v] * 1e3:>15.3f}")
    overhead = (med["full"] / med["stock"] - 1) * 100
    hook = (collate["full"] - collate["stock"]) / med["stock"] * 100
    print(f"hook overhead (full vs stock, same batches, CPU time): {overhead:+.1f}% (goal <= 3%); "
          f"extra collate time alone: {hook:+.2f}% of a step")
    print(f"signal-aware DPO (cone) at seq len {a.seq_len}, batch {a.batch}: {1 / wmed['cone']:.2f} steps/s wall, "
          f"{1 / med['cone']:.2f} steps per CPU-second")
    return 0


if __name__ == "__main__":
    sys.exit(main())
