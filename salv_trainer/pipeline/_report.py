"""The comparison: per-seed results -> ``results.json``, a rich table and a PNG bar chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._config import SFT, PipelineConfig
from ._score import mean_ci, paired_delta
from ._stats import mcnemar, paired_bootstrap, seed_problem_ci

__all__ = ["compare", "comparison_rows", "model_rows", "render_markdown", "render_table", "summarize",
           "write_chart"]

RESULTS_VERSION = 2


def _run_id(seed: str, run: dict[str, Any] | None, cfg: PipelineConfig) -> str:
    """``S`` for one DPO run per SFT seed, ``S/dD`` with ``dpo_seeds``."""
    return f"{seed}/d{run['dpo_seed']}" if run is not None and cfg.dpo_seeds else seed


def _epochs(train: dict[str, Any]) -> float | None:
    rows = train.get("rows")
    return train["steps"] * train.get("batch", 1) / rows if rows else None


def summarize(cfg: PipelineConfig, per_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Aggregate the seeds' results into the ``results.json`` document (schema in docs/mini.md).

    A model's ``seeds`` hold one entry per training run (``S``, or ``S/dD`` with ``dpo_seeds``);
    intervals are over test problems with one run, over runs and problems (two-level bootstrap)
    with several; differences to the SFT model are paired with the SFT model of the same seed.
    """
    labels = {SFT: "SFT (no DPO)", **{v.name: v.label for v, _ in cfg.runs()}}
    budgets = {SFT: None, **{v.name: b for v, b in cfg.runs()}}
    models: dict[str, Any] = {}
    # per model: run id -> (seed, model key in that seed's results)
    keys: dict[str, dict[str, tuple[str, str]]] = {name: {} for name in labels}
    for seed, res in per_seed.items():
        keys[SFT][seed] = (seed, SFT)
        for key, run in res.get("runs", {}).items():
            keys[run["variant"]][_run_id(seed, run, cfg)] = (seed, key)
        for v, _ in cfg.runs():  # results written before dpo_seeds/runs existed
            if not res.get("runs") and v.name in res["results"]:
                keys[v.name][seed] = (seed, v.name)
    for name in labels:
        seeds: dict[str, Any] = {}
        for rid, (seed, key) in keys[name].items():
            res = per_seed[seed]
            r = res["results"][key]
            base = res["results"][SFT]
            train = res["training"][key]
            g = res.get("greedy", {}).get(key)
            seeds[rid] = {
                "pass_at_k": r["pass_at_k"],
                "pass1": r["pass1"]["mean"],
                "pass1_ci95": r["pass1"]["ci95"],
                "output_accuracy": r["output_accuracy"],
                "categories": r["categories"],
                "delta_pass1_vs_sft": None if name == SFT else paired_delta(r["per_problem"], base["per_problem"]),
                "delta_outputs_vs_sft": None if name == SFT else paired_delta(
                    r["per_problem_outputs"], base["per_problem_outputs"]),
                "pass1_greedy": None if g is None else g["pass1"]["mean"],
                "output_accuracy_greedy": None if g is None else g["output_accuracy"],
                "teacher": res.get("teacher", {}).get(key),
                "model_dir": r["model_dir"],
                "weights_sha256": r["weights_sha256"],
                "train_steps": train["steps"],
                "train_rows": train["rows"],
                "train_epochs": None if name == SFT else _epochs(train),
                "learning_rate": train.get("learning_rate"),
                "beta": None if name == SFT else train.get("beta"),
                "mask_fraction": train["data"].get("mask_fraction"),
                "samples": r["samples"],
                "problems": r["problems"],
            }
        if not seeds:
            models[name] = {"label": labels[name], "budget": budgets[name], "seeds": {}, "skipped": True}
            continue
        models[name] = _aggregate(name, seeds, keys[name], per_seed)
        models[name].update(label=labels[name], budget=budgets[name])
    data = {
        seed: {"label": res["label"], "pairs": res["pairs"], "skipped_variants": res["skipped"],
               "validation_pairs": res.get("validation_pairs"), "sweep": res.get("sweep") or {}}
        for seed, res in per_seed.items()
    }
    runs = max((len(m["seeds"]) for n, m in models.items() if n != SFT), default=1)
    return {
        "version": RESULTS_VERSION,
        "seeds": [int(s) for s in per_seed],
        "dpo_seeds": list(cfg.dpo_seeds),
        "ci_over": "runs and test problems" if runs > 1 else "test problems",
        "test_problems": min(cfg.synth.test, cfg.eval.limit or cfg.synth.test),  # the ones scored
        "eval_sampling": {"n": cfg.eval.k, "temperature": cfg.eval.temperature, "top_p": cfg.eval.top_p},
        "greedy": cfg.greedy,
        "dpo_steps": cfg.dpo.max_steps,
        "budgets": list(cfg.budgets),
        "models": models,
        "comparisons": compare(cfg, keys, per_seed),
        "data": data,
        "config": cfg.to_dict(),
    }


def _per_run(keys: dict[str, tuple[str, str]], per_seed: dict[str, Any], field: str,
             source: str = "results") -> dict[str, dict[str, float]]:
    """run id -> the model's per-problem scores ``field`` (``per_problem``, ...) of ``source``."""
    return {rid: per_seed[seed][source][key][field] for rid, (seed, key) in keys.items()
            if key in per_seed[seed].get(source, {})}


def _sft_of(keys: dict[str, tuple[str, str]], per_seed: dict[str, Any], field: str,
            source: str = "results") -> dict[str, dict[str, float]]:
    """run id -> the SFT model's scores of that run's seed (the reference it is paired with)."""
    return {rid: per_seed[seed][source][SFT][field] for rid, (seed, _) in keys.items()
            if SFT in per_seed[seed].get(source, {})}


def _aggregate(name: str, seeds: dict[str, Any], keys: dict[str, tuple[str, str]],
               per_seed: dict[str, Any]) -> dict[str, Any]:
    vals = list(seeds.values())
    out: dict[str, Any] = {"seeds": seeds, "skipped": False}
    probs = _per_run(keys, per_seed, "per_problem")
    outs = _per_run(keys, per_seed, "per_problem_outputs")
    # "outputs right" of a model is the mean over problems of each problem's share of outputs
    # right, the quantity its interval, the paired tests and the greedy column are computed on
    # (a run's own `output_accuracy` pools every output, so problems with more outputs weigh more:
    # kept as `output_accuracy_pooled`)
    if len(vals) == 1:  # one run: the interval is over test problems (normal)
        only = per_seed[keys[next(iter(seeds))][0]]["results"][keys[next(iter(seeds))][1]]
        out["pass1"] = {**mean_ci([vals[0]["pass1"]], (0.0, 1.0)), "ci95": vals[0]["pass1_ci95"]}
        out["output_accuracy"] = {**only["output_accuracy_ci"], "n": 1}
    else:  # several runs: two-level bootstrap over runs and problems
        out["pass1"] = {**seed_problem_ci(list(probs.values())), "n": len(vals)}
        out["output_accuracy"] = {**seed_problem_ci(list(outs.values())), "n": len(vals)}
    out["output_accuracy_pooled"] = sum(v["output_accuracy"] for v in vals) / len(vals)
    out["pass1_over_seeds"] = mean_ci([v["pass1"] for v in vals], (0.0, 1.0))
    greedy = _per_run(keys, per_seed, "per_problem", "greedy")
    if greedy:
        out["pass1_greedy"] = seed_problem_ci(list(greedy.values()))
        out["output_accuracy_greedy"] = seed_problem_ci(
            list(_per_run(keys, per_seed, "per_problem_outputs", "greedy").values()))
    teach = [v["teacher"] for v in vals if v.get("teacher")]
    if teach:
        shares = ("reward_accuracy", "cone_reward_accuracy", "signal_shift_positive")  # in [0, 1]
        out["teacher"] = {k: mean_ci([t[k] for t in teach if t.get(k) is not None],
                                     (0.0, 1.0) if k in shares else None)
                          for k in ("reward_accuracy", "reward_margin", "cone_reward_accuracy",
                                    "cone_reward_margin", "chosen_shift", "signal_shift",
                                    "signal_shift_positive")}
    if name != SFT:
        if len(vals) == 1:
            out["delta_pass1_vs_sft"] = vals[0]["delta_pass1_vs_sft"]
            out["delta_outputs_vs_sft"] = vals[0]["delta_outputs_vs_sft"]
        else:
            out["delta_pass1_vs_sft"] = paired_bootstrap(list(probs.values()),
                                                         list(_sft_of(keys, per_seed, "per_problem").values()))
            out["delta_outputs_vs_sft"] = paired_bootstrap(
                list(outs.values()), list(_sft_of(keys, per_seed, "per_problem_outputs").values()))
        out["steps"] = mean_ci([v["train_steps"] for v in vals])
        out["epochs"] = mean_ci([v["train_epochs"] for v in vals if v["train_epochs"] is not None])
    return out


def _pooled(runs: dict[str, dict[str, float]]) -> dict[str, bool]:
    """``run/problem`` -> right (a greedy score of 1), pooled over runs for McNemar."""
    return {f"{rid}|{k}": v >= 1.0 for rid, scores in runs.items() for k, v in scores.items()}


def _pair(a: dict[str, tuple[str, str]], b: dict[str, tuple[str, str]], per_seed: dict[str, Any],
          source: str, field: str) -> tuple[list, list, dict, dict]:
    """Scores of ``a`` and ``b`` on the runs both have (same SFT seed and DPO seed)."""
    ra, rb = _per_run(a, per_seed, field, source), _per_run(b, per_seed, field, source)
    common = sorted(set(ra) & set(rb))
    return [ra[r] for r in common], [rb[r] for r in common], {r: ra[r] for r in common}, \
        {r: rb[r] for r in common}


#: The paired bootstraps of a comparison: key -> (scores, per-problem field).
_BOOTSTRAPS = {"pass1_bootstrap": ("results", "per_problem"),
               "outputs_bootstrap": ("results", "per_problem_outputs"),
               "greedy_bootstrap": ("greedy", "per_problem"),
               "greedy_outputs_bootstrap": ("greedy", "per_problem_outputs")}


def compare(cfg: PipelineConfig, keys: dict[str, dict[str, tuple[str, str]]],
            per_seed: dict[str, Any]) -> list[dict[str, Any]]:
    """Paired tests of each variant against SFT and of the configured pairs of variants: paired
    bootstrap of sampled pass@1 and outputs right per problem (over runs and problems), and with
    ``greedy`` McNemar per problem and per output (pooled over runs)."""
    names = {v.name for v, _ in cfg.runs()}
    pairs: list[tuple[str, str]] = []
    for budget in cfg.budgets:
        suffix = "-epochs" if budget == "epochs" else ""
        pairs += [(a + suffix, b + suffix) for a, b in cfg.comparisons
                  if a + suffix in names and b + suffix in names]
    pairs += [(v.name, SFT) for v, _ in cfg.runs()]
    out = []
    for a, b in pairs:
        if not keys.get(a) or not keys.get(b):
            continue
        kb = keys[b] if b != SFT else {rid: (seed, SFT) for rid, (seed, _) in keys[a].items()}
        row: dict[str, Any] = {"a": a, "b": b}
        # the bootstrap resamples problems and runs, so a problem's greedy answers from several
        # DPO seeds count as one cluster; the pooled McNemar below treats them as independent
        for key, (source, field) in _BOOTSTRAPS.items():
            if source == "results" or cfg.greedy:
                xa, xb, _, _ = _pair(keys[a], kb, per_seed, source, field)
                row[key] = paired_bootstrap(xa, xb) if xa else None
        if cfg.greedy:
            _, _, ga, gb = _pair(keys[a], kb, per_seed, "greedy", "per_problem")
            row["greedy_mcnemar_problems"] = mcnemar(_pooled(ga), _pooled(gb)) if ga else None
            _, _, oa, ob = _pair(keys[a], kb, per_seed, "greedy", "per_output")
            row["greedy_mcnemar_outputs"] = mcnemar(_pooled(oa), _pooled(ob)) if oa else None
        if cfg.teacher and b != SFT:
            ta = [per_seed[s]["teacher"][k]["signal_shift"] for s, k in keys[a].values()
                  if per_seed[s]["teacher"].get(k)]
            tb = [per_seed[s]["teacher"][k]["signal_shift"] for s, k in kb.values()
                  if per_seed[s]["teacher"].get(k)]
            if ta and tb and None not in ta + tb and len(ta) == len(tb):
                row["signal_shift_delta"] = mean_ci([x - y for x, y in zip(ta, tb)])
        out.append(row)
    return out


def _fmt(stat: dict[str, Any] | None, pct: bool = True, signed: bool = False, digits: int = 1) -> str:
    """``m [lo, hi]``: a share in percent (``pct``), or in the stat's own unit (nats)."""
    if not stat or stat.get("mean") is None:
        return "-"
    scale = 100 if pct else 1
    form = ("+" if signed else "") + f".{digits}f"
    text = f"{stat['mean'] * scale:{form}}"
    if stat.get("ci95"):
        lo, hi = stat["ci95"]
        text += f" [{lo * scale:{form}}, {hi * scale:{form}}]"
    return text


def _num(stat: dict[str, Any] | None, digits: int = 2) -> str:
    if not stat or stat.get("mean") is None:
        return "-"
    return f"{stat['mean']:.{digits}f}"


def _p(row: dict[str, Any] | None) -> str:
    return "-" if not row or row.get("p") is None else f"{row['p']:.3f}"


def _title(results: dict[str, Any]) -> str:
    return (f"Miniature SALV replication: {results['test_problems']} held-out problems, "
            f"n={results['eval_sampling']['n']} samples at T={results['eval_sampling']['temperature']}, "
            f"seeds {results['seeds']}" + (f", DPO seeds {results['dpo_seeds']}" if results.get("dpo_seeds") else "")
            + f" (95% CI over {results['ci_over']})")


def model_rows(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The per-model table as text cells: ``(header, rows)``, one row per model (SFT first), the
    same for the terminal table and the Markdown one."""
    greedy = results.get("greedy")
    teacher = any(m.get("teacher") for m in results["models"].values())
    header = ["model", "pass@1 %", "Δ vs SFT"]
    header += ["greedy pass@1 %"] if greedy else []
    header += ["outputs right %", "Δ vs SFT"]
    header += ["greedy outputs %"] if greedy else []
    header += ["reward acc %", "margin", "signal shift"] if teacher else []
    header += ["steps", "epochs", "pairs", "mask", "fully/partly/wrong/broken %"]
    rows = []
    for name, m in results["models"].items():
        if m["skipped"]:
            rows.append([m["label"], "skipped: no pairs", *[""] * (len(header) - 2)])
            continue
        first = next(iter(m["seeds"].values()))
        cats = first["categories"]
        cells = [m["label"], _fmt(m["pass1"]), _fmt(m.get("delta_pass1_vs_sft"), signed=True)]
        cells += [_fmt(m.get("pass1_greedy"))] if greedy else []
        cells += [_fmt(m["output_accuracy"]), _fmt(m.get("delta_outputs_vs_sft"), signed=True)]
        cells += [_fmt(m.get("output_accuracy_greedy"))] if greedy else []
        if teacher:
            t = m.get("teacher") or {}
            cells += [_fmt(t.get("reward_accuracy")), _fmt(t.get("reward_margin"), pct=False, signed=True, digits=3),
                      _fmt(t.get("signal_shift"), pct=False, signed=True, digits=3)]
        cells += [
            "-" if name == SFT else _num(m.get("steps"), 0),
            "-" if name == SFT else _num(m.get("epochs"), 2),
            "-" if name == SFT else str(first["train_rows"]),
            "-" if first.get("mask_fraction") is None else f"{first['mask_fraction']:.2f}",
            "/".join(f"{100 * cats.get(c, 0):.0f}" for c in ("fully right", "partially right", "wrong", "broken")),
        ]
        rows.append(cells)
    return header, rows


def comparison_rows(results: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """The paired comparisons as text cells: ``(title, header, rows)``; no rows without any."""
    greedy = results.get("greedy")
    title = ("Paired comparisons (a - b): bootstrap over problems"
             + (" and runs" if results["ci_over"] != "test problems" else "")
             + (", McNemar on greedy answers (pooled over runs)" if greedy else ""))
    header = ["a", "b", "Δ pass@1 % [95% CI]", "p", "Δ outputs % [95% CI]", "p"]
    header += ["Δ greedy pass@1 % [95% CI]", "p", "Δ greedy outputs % [95% CI]", "p",
               "greedy problems a/b only", "p", "greedy outputs a/b only", "p"] if greedy else []
    header += ["Δ signal shift"] if any(r.get("signal_shift_delta") for r in results.get("comparisons") or []) else []
    labels = {n: m["label"] for n, m in results["models"].items()}
    rows = []
    for r in results.get("comparisons") or []:
        cells = [labels.get(r["a"], r["a"]), labels.get(r["b"], r["b"])]
        for key, (source, _) in _BOOTSTRAPS.items():
            if source == "results" or greedy:
                cells += [_fmt(r.get(key), signed=True), _p(r.get(key))]
        if greedy:
            for key in ("greedy_mcnemar_problems", "greedy_mcnemar_outputs"):
                mc = r.get(key)
                cells += ["-", "-"] if not mc else [f"{mc['a_only']}/{mc['b_only']} of {mc['n']}", f"{mc['p']:.3f}"]
        if "Δ signal shift" in header:
            cells += [_fmt(r.get("signal_shift_delta"), pct=False, signed=True, digits=4)]
        rows.append(cells)
    return title, header, rows


def render_table(results: dict[str, Any], console: Any) -> None:
    """One table comparing SFT and every DPO variant (percentages, 95 % intervals), then the
    paired comparisons."""
    from rich.markup import escape
    from rich.table import Table

    header, rows = model_rows(results)
    table = Table(title=_title(results))
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i == 0 else "right")
    for cells in rows:  # labels are text, not rich markup ("[equal epochs]" would vanish as a tag)
        table.add_row(*map(escape, cells))
    console.print(table)
    title, header, rows = comparison_rows(results)
    if not rows:
        return
    comp = Table(title=title)
    for col in header:
        comp.add_column(col)
    for cells in rows:
        comp.add_row(*map(escape, cells))
    console.print(comp)


def render_markdown(results: dict[str, Any]) -> str:
    """Both tables of :func:`render_table` as GitHub Markdown (for docs and reports)."""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    def table(header: list[str], rows: list[list[str]]) -> list[str]:
        return [line(header), "|" + "---|" * len(header), *map(line, rows)]

    lines = [f"**{_title(results)}**", "", *table(*model_rows(results))]
    title, header, rows = comparison_rows(results)
    if rows:
        lines += ["", f"**{title}**", "", *table(header, rows)]
    return "\n".join(lines) + "\n"


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
