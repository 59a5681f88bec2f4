"""The comparison: per-seed results -> ``results.json``, a rich table and a PNG bar chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._config import PipelineConfig
from ._run import SFT
from ._score import mean_ci, paired_delta

__all__ = ["render_table", "summarize", "write_chart"]

RESULTS_VERSION = 1


def summarize(cfg: PipelineConfig, per_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Aggregate the seeds' results into the ``results.json`` document (schema in docs/mini.md)."""
    labels = {SFT: "SFT (no DPO)", **{v.name: v.label for v in cfg.variants}}
    models: dict[str, Any] = {}
    for name in [SFT, *[v.name for v in cfg.variants]]:
        seeds: dict[str, Any] = {}
        for seed, res in per_seed.items():
            r = res["results"].get(name)
            if r is None:
                continue
            base = res["results"][SFT]
            train = res["training"][name]
            seeds[seed] = {
                "pass_at_k": r["pass_at_k"],
                "pass1": r["pass1"]["mean"],
                "pass1_ci95": r["pass1"]["ci95"],
                "output_accuracy": r["output_accuracy"],
                "categories": r["categories"],
                "delta_pass1_vs_sft": None if name == SFT else paired_delta(r["per_problem"], base["per_problem"]),
                "delta_outputs_vs_sft": None if name == SFT else paired_delta(
                    r["per_problem_outputs"], base["per_problem_outputs"]),
                "model_dir": r["model_dir"],
                "weights_sha256": r["weights_sha256"],
                "train_steps": train["steps"],
                "train_rows": train["rows"],
                "mask_fraction": train["data"].get("mask_fraction"),
                "samples": r["samples"],
                "problems": r["problems"],
            }
        if not seeds:
            models[name] = {"label": labels[name], "seeds": {}, "skipped": True}
            continue
        vals = list(seeds.values())
        models[name] = {
            "label": labels[name],
            "seeds": seeds,
            "skipped": False,
            "pass1": mean_ci([v["pass1"] for v in vals], (0.0, 1.0)),
            "output_accuracy": mean_ci([v["output_accuracy"] for v in vals], (0.0, 1.0)),
        }
        if len(vals) == 1:  # one seed: the interval is over test problems
            models[name]["pass1"]["ci95"] = vals[0]["pass1_ci95"]
            only = per_seed[next(iter(seeds))]["results"][name]
            models[name]["output_accuracy"]["ci95"] = only["output_accuracy_ci"]["ci95"]
        if name != SFT:
            deltas = [v["delta_pass1_vs_sft"]["mean"] for v in vals]
            models[name]["delta_pass1_vs_sft"] = (
                mean_ci(deltas) if len(vals) > 1 else vals[0]["delta_pass1_vs_sft"])
            deltas = [v["delta_outputs_vs_sft"]["mean"] for v in vals]
            models[name]["delta_outputs_vs_sft"] = (
                mean_ci(deltas) if len(vals) > 1 else vals[0]["delta_outputs_vs_sft"])
    data = {
        seed: {"label": res["label"], "pairs": res["pairs"], "skipped_variants": res["skipped"]}
        for seed, res in per_seed.items()
    }
    return {
        "version": RESULTS_VERSION,
        "seeds": [int(s) for s in per_seed],
        "ci_over": "seeds" if len(per_seed) > 1 else "test problems",
        "test_problems": cfg.synth.test,
        "eval_sampling": {"n": cfg.eval.k, "temperature": cfg.eval.temperature, "top_p": cfg.eval.top_p},
        "dpo_steps": cfg.dpo.max_steps,
        "models": models,
        "data": data,
        "config": cfg.to_dict(),
    }


def _fmt(stat: dict[str, Any] | None, pct: bool = True, signed: bool = False) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    scale = 100 if pct else 1
    sign = "+" if signed else ""
    text = f"{stat['mean'] * scale:{sign}.1f}"
    if stat.get("ci95"):
        lo, hi = stat["ci95"]
        text += f" [{lo * scale:{sign}.1f}, {hi * scale:{sign}.1f}]"
    return text


def render_table(results: dict[str, Any], console: Any) -> None:
    """One table comparing SFT and every DPO variant (percentages, 95 % intervals)."""
    from rich.table import Table

    table = Table(
        title=f"Miniature SALV replication: {results['test_problems']} held-out problems, "
              f"n={results['eval_sampling']['n']} samples at T={results['eval_sampling']['temperature']}, "
              f"seeds {results['seeds']} (95% CI over {results['ci_over']})",
    )
    for col, just in [("model", "left"), ("pass@1 %", "right"), ("Δ vs SFT", "right"),
                      ("outputs right %", "right"), ("Δ vs SFT", "right"), ("pairs", "right"),
                      ("mask", "right"), ("fully/partly/wrong/broken %", "right")]:
        table.add_column(col, justify=just)
    for name, m in results["models"].items():
        if m["skipped"]:
            table.add_row(m["label"], "skipped: no pairs", "", "", "", "", "", "")
            continue
        first = next(iter(m["seeds"].values()))
        cats = first["categories"]
        table.add_row(
            m["label"],
            _fmt(m["pass1"]),
            _fmt(m.get("delta_pass1_vs_sft"), signed=True),
            _fmt(m["output_accuracy"]),
            _fmt(m.get("delta_outputs_vs_sft"), signed=True),
            "-" if name == SFT else str(first["train_rows"]),
            "-" if first.get("mask_fraction") is None else f"{first['mask_fraction']:.2f}",
            "/".join(f"{100 * cats.get(c, 0):.0f}" for c in
                     ("fully right", "partially right", "wrong", "broken")),
        )
    console.print(table)


def write_chart(results: dict[str, Any], path: str | Path) -> Path:
    """Grouped bar chart (pass@1 and per-output accuracy per model, 95 % error bars) as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [(n, m) for n, m in results["models"].items() if not m["skipped"]]
    labels = [m["label"] for _, m in models]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(models) + 2), 4.2), dpi=120)
    width = 0.38
    for j, (key, title) in enumerate([("pass1", "pass@1"), ("output_accuracy", "outputs right")]):
        means = [100 * (m[key]["mean"] or 0) for _, m in models]
        err_lo, err_hi = [], []
        for (_, m), mean in zip(models, means):
            ci = m[key].get("ci95")
            err_lo.append(mean - 100 * ci[0] if ci else 0)
            err_hi.append(100 * ci[1] - mean if ci else 0)
        xs = [i + (j - 0.5) * width for i in range(len(models))]
        bars = ax.bar(xs, means, width, yerr=[err_lo, err_hi], capsize=3, label=title)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(range(len(models)), labels, rotation=15, ha="right", fontsize=8)
    ax.set_ylabel("% of test samples / outputs")
    ax.set_ylim(0, 105)
    ax.set_title(f"{results['test_problems']} held-out problems, seeds {results['seeds']} "
                 f"(95% CI over {results['ci_over']})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out)
    plt.close(fig)
    return out
