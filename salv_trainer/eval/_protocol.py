"""The paper's evaluation protocol in one run: every benchmark, every temperature, one table.

QiMeng-SALV reports (Tables 1 and 2 of the paper):

* VerilogEval v1 (Machine, Human) and RTLLM (v1.1, v2.0): n=20 samples per task, top-p 0.95,
  pass@1/5/10, the best result over the temperatures 0.2, 0.5 and 0.8;
* VerilogEval v2 (spec-to-RTL, code completion): pass@1 greedy (T=0, n=1) and at T=0.8 with
  top-p 0.95 (n=20).

"Best of T" is taken per benchmark and per k (each pass@k cell is the best of its three runs; a
tie goes to the lower temperature), and the temperature that gave each cell is recorded.

Every run of the grid is an ordinary :func:`~salv_trainer.eval.run_eval` run with its own files
under ``output_dir/runs/`` (``<benchmark>_T<t>.responses.jsonl``, ``.json``, ``.cache.jsonl``), so
the protocol resumes like ``salv-train eval``: generated responses are kept and not generated
again, finished verdicts come from the cache. The model is loaded once, only when some run still
needs responses, and let go before the simulations start. A benchmark whose data is not there is
reported as missing (in the table and the JSON), never silently left out.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._vllm import VllmSettings
from ._errors import EvalError
from ._load import load_benchmark
from ._run_eval import (EvalConfig, evaluate_model, load_generator, read_responses, release_generator,
                     run_eval, saved_responses, write_json)
from ._runner import EvalResult
from ._tasks import Task

__all__ = ["PROTOCOLS", "ProtocolConfig", "ProtocolResult", "ProtocolRun", "paper_runs", "run_protocol"]

PROTOCOLS = ("paper",)

#: Table 1 of the report: sampled at every temperature, best of T per pass@k.
BEST_OF_T = ("verilogeval-v1-machine", "verilogeval-v1-human", "rtllm-v1.1", "rtllm-v2.0")
#: Table 2: greedy and T=0.8, pass@1.
V2 = ("verilogeval-v2-spec", "verilogeval-v2-completion")
V2_TEMPERATURES = (0.0, 0.8)
_TITLES = {"verilogeval-v1-machine": "VerilogEval v1 Machine",
           "verilogeval-v1-human": "VerilogEval v1 Human",
           "rtllm-v1.1": "RTLLM v1.1", "rtllm-v2.0": "RTLLM v2.0",
           "verilogeval-v2-spec": "VerilogEval v2 spec-to-RTL",
           "verilogeval-v2-completion": "VerilogEval v2 completion"}


@dataclass
class ProtocolConfig(VllmSettings):
    """One model through the paper's evaluation protocol (``salv-train eval --protocol paper``,
    or ``protocol: paper`` in the pipeline)."""

    model: str = ""
    """Local model directory (or PEFT adapter directory)."""
    output_dir: str = ""
    """Where the runs, ``paper.md`` and ``paper.json`` go; rerunning resumes there."""
    data: str | None = None
    """VerilogEval: a bundle (file or directory) or a clone of NVlabs/verilog-eval (default
    ``$SALV_BENCHMARKS``)."""
    rtllm_v1: str | None = None
    """A clone of RTLLM v1.1 (without it, RTLLM v1.1 is reported missing)."""
    rtllm_v2: str | None = None
    """A clone of RTLLM v2.0 (without it, RTLLM v2.0 is reported missing)."""
    n: int = 20
    """Samples per task of every sampled run (the greedy runs take one)."""
    k: tuple[int, ...] = (1, 5, 10)
    """pass@k of the best-of-T benchmarks (each <= n)."""
    temperatures: tuple[float, ...] = (0.2, 0.5, 0.8)
    top_p: float = 0.95
    max_new_tokens: int = 1024
    seed: int = 0
    batch_size: int = 8
    backend: str = "transformers"
    dtype: str | None = None
    """float32, bfloat16 or float16 (default: the checkpoint's; vllm: vLLM's choice)."""
    jobs: int = 2
    timeout: float | None = None
    fail_fast: bool = True
    limit: int | None = None
    """Only the first N tasks of every benchmark (quick runs and tests)."""

    def check(self) -> None:
        if not self.model:
            raise EvalError("--protocol needs --model (a local model directory)")
        if self.model != "-" and not Path(self.model).is_dir():
            raise EvalError(f"{self.model}: no such model directory")
        if not self.output_dir:
            raise EvalError("--protocol needs an output directory")
        if self.n < 1 or not self.k or min(self.k) < 1 or max(self.k) > self.n:
            raise EvalError(f"pass@{max(self.k, default=0)} needs at least that many samples per "
                            f"task (-n {self.n}); k must be positive")
        if not self.temperatures or min(self.temperatures) <= 0:
            raise EvalError("the best-of-T temperatures must be positive")


@dataclass(frozen=True)
class ProtocolRun:
    """One cell group of the grid: a benchmark sampled at one temperature."""

    benchmark: str
    temperature: float
    n: int
    k: tuple[int, ...]

    @property
    def stem(self) -> str:
        """File stem of the run's files under ``runs/`` (``verilogeval-v1-human_T0.2``)."""
        return f"{self.benchmark}_T{self.temperature:g}"


def paper_runs(cfg: ProtocolConfig) -> list[ProtocolRun]:
    """The grid, in the order of the paper's tables."""
    runs = [ProtocolRun(b, t, cfg.n, tuple(cfg.k)) for b in BEST_OF_T for t in cfg.temperatures]
    for b in V2:
        runs += [ProtocolRun(b, t, 1 if t == 0 else cfg.n, (1,)) for t in V2_TEMPERATURES]
    return runs


def _data_of(cfg: ProtocolConfig, benchmark: str) -> tuple[str | None, str | None]:
    """(``--data`` for the benchmark, or None with why it is missing)."""
    if benchmark == "rtllm-v1.1":
        return (cfg.rtllm_v1, None) if cfg.rtllm_v1 else (None, "no --rtllm-v1 given")
    if benchmark == "rtllm-v2.0":
        return (cfg.rtllm_v2, None) if cfg.rtllm_v2 else (None, "no --rtllm-v2 given")
    data = cfg.data or os.environ.get("SALV_BENCHMARKS")
    return (data, None) if data else (None, "no --data given and $SALV_BENCHMARKS unset")


def _run_config(cfg: ProtocolConfig, run: ProtocolRun, data: str) -> EvalConfig:
    base = Path(cfg.output_dir) / "runs" / run.stem
    return EvalConfig(
        benchmark=run.benchmark, data=data, model=cfg.model, n=run.n, k=run.k,
        temperature=run.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
        seed=cfg.seed, batch_size=cfg.batch_size, backend=cfg.backend, dtype=cfg.dtype, jobs=cfg.jobs,
        timeout=cfg.timeout, fail_fast=cfg.fail_fast, limit=cfg.limit,
        json_path=f"{base}.json", save_responses=f"{base}.responses.jsonl",
        **{f.name: getattr(cfg, f.name) for f in dataclasses.fields(VllmSettings)},
    )


# Settings that make the saved responses what they are: a rerun must not mix in others.
_PINNED = ("model", "n", "top_p", "max_new_tokens", "seed", "backend", "lora", "dtype")


def _pin_settings(cfg: ProtocolConfig) -> None:
    """Record the generation settings in ``output_dir/settings.json``; refuse a rerun with others
    (its saved responses would be scored as if they came from the new settings)."""
    path = Path(cfg.output_dir) / "settings.json"
    mine = {k: getattr(cfg, k) for k in _PINNED}
    mine["model"] = str(Path(cfg.model).resolve())  # the same model however the path is spelled
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvalError(f"{path}: unreadable ({exc}); use another --output-dir") from None
        differ = ", ".join(f"{k}: {old.get(k)!r} there, {mine[k]!r} now"
                           for k in _PINNED if old.get(k) != mine[k])
        if differ:
            raise EvalError(f"{cfg.output_dir} holds a protocol run with other settings ({differ}); "
                            f"use another --output-dir")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(mine, indent=1) + "\n", encoding="utf-8")


#: ``progress(stage, done, total)``; stages are ``generating <run>`` and ``simulating <run>``.
Progress = Callable[[str, int, int], None]


@dataclass
class ProtocolResult:
    """Every run's result, the missing benchmarks, and the paper-style tables built from them."""

    config: ProtocolConfig
    results: dict[ProtocolRun, EvalResult] = field(default_factory=dict)
    generated: dict[ProtocolRun, int] = field(default_factory=dict)  # tasks generated this time
    missing: dict[str, str] = field(default_factory=dict)            # benchmark -> why

    def best_of_t(self, benchmark: str) -> dict[str, dict[str, float]]:
        """Per k: ``{"value", "temperature"}`` of the best run (ties: the lower temperature)."""
        out: dict[str, dict[str, float]] = {}
        runs = sorted((r for r in self.results if r.benchmark == benchmark),
                      key=lambda r: r.temperature)
        for k in self.config.k:
            scored = [(self.results[r].pass_at_k[str(k)], r.temperature) for r in runs
                      if str(k) in self.results[r].pass_at_k]
            if scored:
                value, temp = max(scored, key=lambda vt: (vt[0], -vt[1]))
                out[str(k)] = {"value": value, "temperature": temp}
        return out

    def at_t(self, benchmark: str, temperature: float) -> float | None:
        """pass@1 of the benchmark's run at ``temperature`` (``None`` when it did not run)."""
        run = next((r for r in self.results
                    if r.benchmark == benchmark and r.temperature == temperature), None)
        return self.results[run].pass_at_k.get("1") if run else None

    def to_json(self) -> dict[str, Any]:
        cfg = self.config
        benchmarks: dict[str, Any] = {}
        for b in (*BEST_OF_T, *V2):
            if b in self.missing:
                benchmarks[b] = {"status": "missing", "reason": self.missing[b]}
                continue
            runs = {f"{r.temperature:g}": {
                        "n": r.n, "pass_at_k": res.pass_at_k, "num_tasks": len(res.tasks),
                        "coverage": res.coverage, "simulations": res.simulations,
                        "cached": res.cached, "generated_tasks": self.generated.get(r, 0),
                        "json": str(Path("runs") / f"{r.stem}.json")}
                    for r, res in self.results.items() if r.benchmark == b}
            entry: dict[str, Any] = {"status": "done", "runs": runs}
            if b in BEST_OF_T:
                entry["best_of_t"] = self.best_of_t(b)
            else:
                entry["pass_at_1"] = {f"{t:g}": self.at_t(b, t) for t in V2_TEMPERATURES}
            benchmarks[b] = entry
        return {"protocol": "paper", "model": cfg.model, "settings": dataclasses.asdict(cfg),
                "benchmarks": benchmarks, "tables": self.tables()}

    def tables(self) -> dict[str, Any]:
        """Table 1 (best-of-T pass@k) and Table 2 (v2 pass@1 at T=0 and 0.8), as header + row of
        values (fractions; ``None`` where missing) + the temperature behind each value."""
        ks = [str(k) for k in self.config.k]
        t1 = {"title": f"VerilogEval v1 and RTLLM: pass@k (%), n={self.config.n}, best of "
                       f"T in {{{', '.join(f'{t:g}' for t in self.config.temperatures)}}}",
              "groups": [_TITLES[b] for b in BEST_OF_T], "columns": [f"pass@{k}" for k in ks],
              "values": [], "temperatures": []}
        for b in BEST_OF_T:
            best = self.best_of_t(b) if b not in self.missing else {}
            t1["values"].append([best.get(k, {}).get("value") for k in ks])
            t1["temperatures"].append([best.get(k, {}).get("temperature") for k in ks])
        t2 = {"title": f"VerilogEval v2: pass@1 (%), T=0 (n=1) and T=0.8 (top-p {self.config.top_p:g}, "
                       f"n={self.config.n})",
              "groups": [_TITLES[b] for b in V2], "columns": [f"T={t:g}" for t in V2_TEMPERATURES],
              "values": [[None if b in self.missing else self.at_t(b, t) for t in V2_TEMPERATURES]
                         for b in V2]}
        return {"table1": t1, "table2": t2}

    def to_markdown(self) -> str:
        """Both tables laid out like the paper's (one row for the model, grouped columns), the
        temperature of each best-of-T cell, every run, and what is missing."""
        t = self.tables()
        name = Path(self.config.model).name or self.config.model
        lines = [f"# Paper protocol: {name}", ""]
        for key, label in (("table1", "Table 1"), ("table2", "Table 2")):
            tab = t[key]
            lines += [f"**{label}.** {tab['title']}", ""]
            heads = [f"{g} {c}" for g in tab["groups"] for c in tab["columns"]]
            lines.append("| Model | " + " | ".join(heads) + " |")
            lines.append("|---|" + "---:|" * len(heads))
            lines.append(f"| {name} | " + " | ".join(_pct(v) for row in tab["values"] for v in row) + " |")
            if "temperatures" in tab:
                lines.append("| best T | " + " | ".join("-" if v is None else f"{v:g}"
                                                        for row in tab["temperatures"] for v in row) + " |")
            lines.append("")
        lines += ["**Runs.**", "", "| benchmark | T | n | tasks | pass@k (%) |", "|---|---:|---:|---:|---|"]
        for r, res in self.results.items():
            pk = ", ".join(f"@{k} {_pct(v)}" for k, v in res.pass_at_k.items())
            lines.append(f"| {r.benchmark} | {r.temperature:g} | {r.n} | {len(res.tasks)} | {pk} |")
        if self.missing:
            lines += ["", "**Missing** (not run): " + "; ".join(f"{_TITLES[b]}: {why}"
                                                               for b, why in self.missing.items())]
        if self.config.limit is not None:
            lines += ["", f"Only the first {self.config.limit} tasks of every benchmark (--limit): "
                          "not the benchmarks' scores."]
        return "\n".join(lines) + "\n"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}"


def _stage(progress: Progress | None, name: str) -> Callable[[int, int], None] | None:
    return (lambda done, total: progress(name, done, total)) if progress else None


def run_protocol(cfg: ProtocolConfig, *, progress: Progress | None = None) -> ProtocolResult:
    """Run (or resume) the paper's grid for ``cfg.model``; write ``paper.md`` and ``paper.json``
    in ``cfg.output_dir``."""
    cfg.check()
    _pin_settings(cfg)
    result = ProtocolResult(cfg)
    plan: list[tuple[ProtocolRun, EvalConfig, list[Task]]] = []
    tasks_of: dict[str, list[Task]] = {}
    for run in paper_runs(cfg):
        if run.benchmark in result.missing:
            continue
        data, why = _data_of(cfg, run.benchmark)
        if run.benchmark not in tasks_of and why is None:
            try:
                tasks_of[run.benchmark] = load_benchmark(run.benchmark, data, limit=cfg.limit)
            except EvalError as exc:
                why = exc.message
        if why is not None:
            result.missing[run.benchmark] = why
            continue
        plan.append((run, _run_config(cfg, run, data or ""), tasks_of[run.benchmark]))
    _generate(plan, cfg, result, progress)
    for run, ecfg, tasks in plan:
        responses = read_responses(ecfg.save_responses, ours=True)
        ecfg.extra = {"protocol": "paper", "model": cfg.model, "temperature": run.temperature,
                      "top_p": cfg.top_p, "max_new_tokens": cfg.max_new_tokens, "seed": cfg.seed,
                      "backend": cfg.backend, "n": run.n}
        given = {t.task_id: responses[t.task_id][: run.n] for t in tasks}
        result.results[run] = run_eval(ecfg, tasks=tasks, responses=given,
                                       on_simulate=_stage(progress, f"simulating {run.stem}"))
    out = Path(cfg.output_dir)
    (out / "paper.md").write_text(result.to_markdown(), encoding="utf-8")
    write_json(out / "paper.json", result.to_json())
    return result


def _generate(plan: Sequence[tuple[ProtocolRun, EvalConfig, list[Task]]], cfg: ProtocolConfig,
              result: ProtocolResult, progress: Progress | None) -> None:
    """Generate what the saved responses lack, loading the model once (or not at all)."""
    todo = []
    for run, ecfg, tasks in plan:
        done = saved_responses(ecfg)
        missing = [t for t in tasks if t.task_id not in done]
        result.generated[run] = len(missing)
        if missing:
            todo.append((run, ecfg, tasks))
    if not todo:
        return
    model, tokenizer = load_generator(todo[0][1])  # one model (or vLLM engine) for every run
    try:
        for run, ecfg, tasks in todo:
            evaluate_model(tasks, model, tokenizer, ecfg,
                           progress=_stage(progress, f"generating {run.stem}"))
    finally:
        release_generator(model)
        del model, tokenizer



