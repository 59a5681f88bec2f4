"""Orchestration of the miniature replication: every stage through the stages' own Python APIs.

Layout of ``output_dir`` (every path below is an artefact; a stage whose marker file exists is
skipped on a rerun, so an interrupted run resumes where it stopped)::

    config.yaml                      the resolved configuration (a rerun must match it)
    data/{train,validation,test}.jsonl, data/synth.json         synthetic task family
    seed<S>/init/ (+ salv_init.json)  tokenizer trained on the train split + tiny model from scratch
    seed<S>/sft/salv_run.json         SFT (full weights)
    seed<S>/samples.jsonl (+ .json)   k samples per train prompt from the SFT model
    seed<S>/labeled.jsonl (+ .json)   per-output verdicts and cone spans
    seed<S>/pairs_signal.jsonl, pairs_module.jsonl (+ .json)     Eq. 1 pairs / standard DPO pairs
    seed<S>/validation/{samples,labeled,pairs}.jsonl (+ .json)   with ``teacher`` or a sweep: the
                                      SFT model's samples of the validation prompts, labels, pairs
    seed<S>/sweep/<variant>/lr<LR>-beta<B>/  with a sweep: one DPO run per grid point, scored on
                                      the validation split; seed<S>/sweep/<variant>/choice.json
    seed<S>/dpo/<model>/salv_run.json (or skipped.json)          one LoRA adapter per variant,
                                      budget (``<variant>-epochs``) and DPO seed (``-d<D>``)
    seed<S>/eval/<model>/{samples,labeled}.jsonl, result.json    test-split scores (sampled)
    seed<S>/eval_greedy/<model>/...   with ``greedy``: one greedy answer per test problem
    seed<S>/teacher/<model>.json      with ``teacher``: teacher-forced metrics on validation pairs
    seed<S>/protocol/<model>/paper.{md,json}, runs/   with ``protocol: paper``: the paper's
                                      benchmark grid (docs/eval.md), resumed like the rest
    results.json, results.png         the comparison (rewritten at the end of every run)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ._config import SFT, PipelineConfig, Variant
from ._report import summarize, write_chart

SWEEP_CHOICE = "choice.json"

__all__ = ["SFT", "Reporter", "run_pipeline", "weights_digest"]


class Reporter:
    """Receives progress from the pipeline; the default one is silent.

    ``stage(name, detail)`` when a stage starts, ``skip(name, why)`` when its artefact exists,
    ``done(name, seconds, summary)`` when it ends, ``progress(name, done, total)`` in between.
    """

    def stage(self, name: str, detail: str = "") -> None: ...

    def skip(self, name: str, why: str) -> None: ...

    def done(self, name: str, seconds: float, summary: str = "") -> None: ...

    def progress(self, name: str, done: int, total: int) -> None: ...


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def weights_digest(model_dir: str | Path) -> str:
    """SHA-256 of the weight files of a model or adapter directory (which model was evaluated)."""
    d = Path(model_dir)
    files = sorted(d.glob("adapter_model.safetensors")) or sorted(d.glob("model*.safetensors"))
    if not files:
        raise ConfigError(f"{d}: no weights (*.safetensors) found")
    h = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


class _Run:
    def __init__(self, cfg: PipelineConfig, reporter: Reporter) -> None:
        self.cfg = cfg
        self.rep = reporter
        self.root = Path(cfg.output_dir).resolve()
        self.data = self.root / "data"
        self.timings: dict[str, float] = {}

    # -- helpers ---------------------------------------------------------------------------------
    def _step(self, key: str, marker: Path, fn: Callable[[], Any], detail: str = "",
              summary: Callable[[Any], str] = lambda _: "") -> Any:
        """Run ``fn`` unless ``marker`` exists; ``fn`` returns the marker's JSON content."""
        if marker.exists():
            self.rep.skip(key, f"{marker.relative_to(self.root)} exists")
            return _read_json(marker)
        self.rep.stage(key, detail)
        start = time.monotonic()
        out = fn()
        seconds = time.monotonic() - start
        if isinstance(out, dict):
            out = {**out, "seconds": round(seconds, 2)}
        _write_json(marker, out)
        self.timings[key] = seconds
        self.rep.done(key, seconds, summary(out))
        return out

    def _progress(self, key: str) -> Callable[[int, int], None]:
        return lambda done, total: self.rep.progress(key, done, total)

    def check_config(self) -> None:
        """A rerun in the same directory must use the same configuration (seeds may grow)."""
        import yaml

        path = self.root / "config.yaml"
        mine = self.cfg.to_dict()
        if path.exists():
            old = yaml.safe_load(path.read_text()) or {}
            # the protocol only adds an evaluation: it may be turned on for a finished run
            differ = sorted(k for k in mine if k not in ("seeds", "output_dir", "threads", "workers",
                                                          "protocol", "protocol_eval")
                            and _plain(old.get(k)) != _plain(mine[k]))
            if differ:
                raise ConfigError(
                    f"{self.root} holds a run with a different configuration (sections: "
                    f"{', '.join(differ)}); use another output_dir or delete it"
                )
        self.root.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(_plain(mine), sort_keys=False))

    # -- stages ----------------------------------------------------------------------------------
    def synth(self) -> dict:
        from ..synth import check_references, generate, write_splits

        def go():
            splits = generate(self.cfg.synth)
            bad = check_references([p for ps in splits.values() for p in ps])
            if bad:
                raise ConfigError(f"synthetic reference {bad[0].id} is broken: {bad[0].message}")
            write_splits(splits, self.data)
            return {"counts": {k: len(v) for k, v in splits.items()}}

        return self._step("synth", self.data / "synth.json", go,
                          f"{self.cfg.synth.train}/{self.cfg.synth.validation}/{self.cfg.synth.test} problems",
                          lambda o: "train/validation/test = " + "/".join(map(str, o["counts"].values())))

    def init_model(self, sd: Path, seed: int) -> Path:
        from ..data import read_rows
        from ..prompts import DEFAULT_SYSTEM, build_messages, format_response
        from ..tiny import make_tiny_model_dir

        out = sd / "init"

        def go():
            texts = [DEFAULT_SYSTEM]
            for row in read_rows(self.data / "train.jsonl"):
                msgs = build_messages(row["prompt"], module_header=row.get("module_header"))
                texts += [m["content"] for m in msgs if m["role"] != "system"]
                texts.append(format_response(row["reference"]))
            m = self.cfg.model
            make_tiny_model_dir(out, texts, vocab_size=m.vocab_size, hidden=m.hidden, layers=m.layers,
                                heads=m.heads, kv_heads=m.kv_heads, max_positions=m.max_positions, seed=seed)
            from transformers import AutoConfig

            c = AutoConfig.from_pretrained(out)
            return {"vocab_size": c.vocab_size, "hidden": c.hidden_size, "layers": c.num_hidden_layers}

        self._step(f"seed{seed}/init", out / "salv_init.json", go, "tokenizer + tiny model from scratch",
                   lambda o: f"vocab {o['vocab_size']}, hidden {o['hidden']}, {o['layers']} layers")
        return out

    def sft(self, sd: Path, seed: int, init: Path) -> Path:
        from ..training import train_sft

        out = sd / "sft"
        cfg = dataclasses.replace(self.cfg.sft, model=str(init), data=str(self.data / "train.jsonl"),
                                  output_dir=str(out), seed=seed, resume=_resume(out))
        self._step(f"seed{seed}/sft", out / "salv_run.json", lambda: train_sft(cfg).to_dict(),
                   f"{cfg.max_steps} steps" if cfg.max_steps > 0 else f"{cfg.num_train_epochs} epochs",
                   lambda o: f"{o['steps']} steps, loss {o['metrics'].get('train_loss', float('nan')):.3f}")
        return out

    def sample(self, sd: Path, seed: int, model: Path) -> Path:
        from ..data import sample

        out = sd / "samples.jsonl"
        cfg = dataclasses.replace(self.cfg.sample, model=str(model), seed=self.cfg.sample.seed + seed)
        key = f"seed{seed}/sample"
        self._step(key, sd / "samples.json",
                   lambda: sample(self.data / "train.jsonl", out, cfg, progress=self._progress(key)).to_json(),
                   f"k={cfg.k}, T={cfg.temperature}",
                   lambda o: f"{o['responses']} responses")
        return out

    def label(self, key: str, samples: Path, out: Path, *, cones: bool) -> dict:
        from ..data import label

        cfg = dataclasses.replace(self.cfg.label, cones=cones)
        return self._step(key, out.with_suffix(".json"),
                          lambda: label(samples, out, cfg, progress=self._progress(key)).to_json(),
                          "per-output verdicts" + (" + cones" if cones else ""),
                          lambda o: ", ".join(f"{k} {v}" for k, v in o["categories"].items()))

    def pairs(self, sd: Path, seed: int, labeled: Path, mode: str) -> Path:
        from ..data import make_pairs

        out = sd / f"pairs_{mode}.jsonl"
        cfg = dataclasses.replace(self.cfg.pairs, mode=mode)

        def go():
            return make_pairs(labeled, out, cfg).to_json()

        self._step(f"seed{seed}/pairs-{mode}", out.with_suffix(".json"), go, f"{mode} mode",
                   lambda o: f"{o.get('pairs')} pairs " + json.dumps(o.get("kinds", {})))
        return out

    def dpo(self, key: str, out: Path, seed: int, sft: Path, variant: Variant, pairs: Path,
            **overrides: Any) -> Path | None:
        """One DPO run of ``variant`` into ``out`` (``overrides``: DPORunConfig fields such as the
        sweep's learning rate and beta, or the epochs budget)."""
        from ..training import load_pairs, train_dpo

        # every run on one SFT model shares its reference log-probs (computed once per pair set and mask)
        cache = self.cfg.dpo.ref_log_probs_cache or str(sft.parent / "ref_logps")
        cfg = dataclasses.replace(self.cfg.dpo, model=str(sft), pairs=str(pairs), output_dir=str(out),
                                  mask=variant.mask, kinds=variant.kinds, seed=seed, resume=_resume(out),
                                  ref_log_probs_cache=cache, **overrides)
        skipped = out / "skipped.json"
        if skipped.exists():
            self.rep.skip(key, "no pairs to train on")
            return None
        rows, _ = load_pairs(str(pairs), kinds=cfg.kind_list)
        if not rows:
            _write_json(skipped, {"reason": f"no pairs of kind {variant.kinds} in {pairs.name}"})
            self.rep.skip(key, f"no pairs of kind {variant.kinds}")
            return None
        self._step(key, out / "salv_run.json",
                   lambda: train_dpo(cfg).to_dict(),
                   f"{variant.label}: mask {variant.mask}, kinds {variant.kinds}, {len(rows)} pairs",
                   lambda o: f"{o['steps']} steps on {o['rows']} pairs, "
                             f"mask fraction {o['data'].get('mask_fraction', 0):.2f}")
        return out

    def evaluate(self, sd: Path, seed: int, name: str, model: Path, *, greedy: bool = False,
                 split: str = "test", ed: Path | None = None, key: str | None = None) -> dict:
        """Sample ``model`` on ``split`` (``eval.k`` samples, or one greedy answer), label, score."""
        from ..data import sample
        from ._score import score_labeled

        ed = ed or sd / ("eval_greedy" if greedy else "eval") / name
        key = key or f"seed{seed}/eval{'_greedy' if greedy else ''}-{name}"
        cfg = dataclasses.replace(self.cfg.eval, model=str(model), seed=self.cfg.eval.seed + seed,
                                  limit=self.cfg.eval.limit if split == "test" else None)
        if greedy:
            cfg = dataclasses.replace(cfg, k=1, temperature=0.0)

        def go():
            ed.mkdir(parents=True, exist_ok=True)
            sample(self.data / f"{split}.jsonl", ed / "samples.jsonl", cfg, progress=self._progress(key))
            self.label(f"{key}/label", ed / "samples.jsonl", ed / "labeled.jsonl", cones=False)
            scores = score_labeled(ed / "labeled.jsonl", ks=tuple(k for k in (1, 5, 10) if k <= cfg.k))
            return {"model": name, "model_dir": str(model), "weights_sha256": weights_digest(model),
                    "sampling": cfg.sampling_json(), **scores}

        return self._step(key, ed / "result.json", go, f"{cfg.k} samples per {split} problem, T={cfg.temperature}",
                          lambda o: f"pass@1 {o['pass1']['mean']:.3f}, outputs {o['output_accuracy']:.3f}")

    def validation(self, sd: Path, seed: int, sft: Path) -> Path:
        """The SFT model's samples of the validation prompts, labeled with cones and paired in
        signal mode (both kinds): the held-out pairs of the teacher-forced metrics."""
        from ..data import make_pairs, sample

        vd = sd / "validation"
        key = f"seed{seed}/validation"
        cfg = dataclasses.replace(self.cfg.sample, model=str(sft), limit=None,
                                  seed=self.cfg.sample.seed + seed + 7919)
        self._step(f"{key}-sample", vd / "samples.json",
                   lambda: sample(self.data / "validation.jsonl", vd / "samples.jsonl", cfg,
                                  progress=self._progress(key)).to_json(),
                   f"k={cfg.k} per validation prompt", lambda o: f"{o['responses']} responses")
        self.label(f"{key}-label", vd / "samples.jsonl", vd / "labeled.jsonl", cones=True)
        pcfg = dataclasses.replace(self.cfg.pairs, mode="signal")
        self._step(f"{key}-pairs", vd / "pairs.json",
                   lambda: make_pairs(vd / "labeled.jsonl", vd / "pairs.jsonl", pcfg).to_json(),
                   "signal mode", lambda o: f"{o.get('pairs')} pairs " + json.dumps(o.get("kinds", {})))
        return vd

    def teacher(self, sd: Path, seed: int, name: str, model: Path, sft: Path, beta: float) -> dict:
        """Teacher-forced metrics of ``model`` against the SFT model on the validation pairs."""
        from ._teacher import load_scoring_model, pair_logps, signal_pairs, teacher_metrics

        vd = sd / "validation"
        pairs = signal_pairs(vd / "pairs.jsonl", vd / "labeled.jsonl")

        def records(path: Path) -> list[dict]:
            model_obj, tok = load_scoring_model(path)
            return pair_logps(model_obj, tok, pairs)

        ref_path = sd / "teacher" / f"{SFT}.json"
        ref = _read_json(ref_path) if ref_path.exists() else self._step(
            f"seed{seed}/teacher-sft", ref_path, lambda: {"records": records(sft)},
            f"{len(pairs)} validation pairs", lambda o: f"{len(o['records'])} pairs")
        if name == SFT:
            return {"pairs": len(pairs)}

        def go():
            rec = records(model)
            return {"metrics": teacher_metrics(rec, ref["records"], beta), "records": rec}

        out = self._step(f"seed{seed}/teacher-{name}", sd / "teacher" / f"{name}.json", go,
                         f"{len(pairs)} validation pairs",
                         lambda o: "reward accuracy {} margin {}".format(
                             *(_fmt_num(o["metrics"][k]) for k in ("reward_accuracy", "reward_margin"))))
        return out["metrics"]

    def sweep(self, sd: Path, seed: int, sft: Path, variant: Variant, pairs: Path) -> dict:
        """Train ``variant`` at every (learning rate, beta) of the sweep grid, score each on the
        validation split, and record the best in ``sweep/<variant>/choice.json``."""
        sw = self.cfg.sweep
        vdir = sd / "sweep" / variant.name
        marker = vdir / SWEEP_CHOICE
        if marker.exists():
            self.rep.skip(f"seed{seed}/sweep-{variant.name}", f"{marker.relative_to(self.root)} exists")
            return _read_json(marker)
        points = []
        for lr, beta in sw.grid:
            point = self.sweep_point(sd, seed, sft, variant, pairs, lr, beta)
            if point is None:
                return {"variant": variant.name, "skipped": True, "points": []}
            points.append(point)

        def rank(p: dict) -> tuple:
            return tuple(-1.0 if p.get(k) is None else p[k] for k in (sw.metric, "reward_accuracy"))

        best = max(points, key=rank)
        choice = {"variant": variant.name, "skipped": False, "metric": sw.metric, "points": points,
                  "learning_rate": best["learning_rate"], "beta": best["beta"]}
        _write_json(marker, choice)
        self.rep.done(f"seed{seed}/sweep-{variant.name}", 0.0,
                      f"lr {best['learning_rate']:g}, beta {best['beta']:g}")
        return choice

    def sweep_point(self, sd: Path, seed: int, sft: Path, variant: Variant, pairs: Path,
                    lr: float, beta: float) -> dict[str, Any] | None:
        """One grid point of the sweep: train ``variant`` at ``lr``/``beta`` (the first DPO seed)
        and score it on the validation split; None when the variant has no pairs."""
        sw = self.cfg.sweep
        tag = f"lr{lr:g}-beta{beta:g}"
        out = sd / "sweep" / variant.name / tag
        over: dict[str, Any] = {"learning_rate": lr, "beta": beta}
        if sw.max_steps:
            over["max_steps"] = sw.max_steps
        train_seed = (self.cfg.dpo_seeds or (seed,))[0]
        trained = self.dpo(f"seed{seed}/sweep-{variant.name}-{tag}", out / "dpo", train_seed, sft,
                           variant, pairs, **over)
        if trained is None:
            return None
        point: dict[str, Any] = {"learning_rate": lr, "beta": beta}
        if sw.metric == "outputs_greedy":
            res = self.evaluate(sd, seed, variant.name, trained, greedy=True, split="validation",
                                ed=out / "val_greedy", key=f"seed{seed}/sweep-{variant.name}-{tag}-val")
            point["outputs_greedy"] = res["output_accuracy"]
            point["pass1_greedy"] = res["pass1"]["mean"]
        if self.cfg.teacher or sw.metric == "reward_accuracy":
            m = self.teacher(sd, seed, f"sweep-{variant.name}-{tag}", trained, sft, beta)
            point.update(reward_accuracy=m["reward_accuracy"], reward_margin=m["reward_margin"])
        return point

    def protocol(self, sd: Path, seed: int, name: str, model: Path) -> dict:
        """The paper's benchmark protocol for one model (resumable by itself: its responses and
        verdicts are kept in its directory); returns its two tables."""
        from ..eval import run_protocol

        key = f"seed{seed}/protocol-{name}"
        cfg = dataclasses.replace(self.cfg.protocol_eval, model=str(model),
                                  output_dir=str(sd / "protocol" / name))
        self.rep.stage(key, "the paper's evaluation grid")
        start = time.monotonic()
        result = run_protocol(cfg, progress=lambda stage, done, total: self.rep.progress(key, done, total))
        self.rep.done(key, time.monotonic() - start, f"{cfg.output_dir}/paper.md")
        return result.tables()

    def dpo_plan(self, chosen: dict[str, dict], seed: int
                 ) -> list[tuple[str, int, Variant, str, dict[str, Any]]]:
        """Every DPO run of one SFT seed as ``(name, dpo_seed, variant, budget, overrides)``:
        variant x budget x DPO seed, with the sweep's learning rate and beta."""
        cfg = self.cfg
        plan = []
        for v, budget in cfg.runs():
            base = v.name.removesuffix("-epochs") if budget == "epochs" else v.name
            over: dict[str, Any] = {}
            if chosen.get(base) and not chosen[base]["skipped"]:
                over.update(learning_rate=chosen[base]["learning_rate"], beta=chosen[base]["beta"])
            if budget == "epochs":
                over.update(max_steps=-1, num_train_epochs=cfg.dpo_epochs)
            for d in cfg.dpo_seeds or (seed,):
                plan.append((f"{v.name}-d{d}" if cfg.dpo_seeds else v.name, d, v, budget, over))
        return plan

    def dpo_runs(self, sd: Path, seed: int, sft: Path, pair_files: dict[str, Path],
                 chosen: dict[str, dict]) -> tuple[dict[str, Path], dict[str, dict], dict[str, float]]:
        """Every DPO run of one SFT seed: variant x budget x DPO seed, with the sweep's lr/beta.
        Returns the models (SFT first) by key, each run's ``{variant, dpo_seed, budget}`` and beta."""
        cfg = self.cfg
        models: dict[str, Path] = {SFT: sft}
        runs: dict[str, dict[str, Any]] = {}
        betas: dict[str, float] = {SFT: cfg.dpo.beta}
        for name, d, v, budget, over in self.dpo_plan(chosen, seed):
            trained = self.dpo(f"seed{seed}/dpo-{name}", sd / "dpo" / name, d, sft, v,
                               pair_files[v.pairs], **over)
            if trained is not None:
                models[name] = trained
                runs[name] = {"variant": v.name, "dpo_seed": d, "budget": budget}
                betas[name] = over.get("beta", cfg.dpo.beta)
        return models, runs, betas

    def _parallel(self, jobs: list[tuple[Path, str, tuple, dict]]) -> None:
        """With ``workers`` > 1, run the ``(marker, method, args, kwargs)`` jobs whose marker does
        not exist yet in worker processes; the sequential code after it then finds their markers
        (see :mod:`._parallel`)."""
        todo = [(method, args, kwargs) for marker, method, args, kwargs in jobs if not marker.exists()]
        if self.cfg.workers > 1 and todo:
            from ._parallel import run_jobs

            run_jobs(self.cfg, todo, self.rep)

    # -- one seed --------------------------------------------------------------------------------
    def seed(self, seed: int) -> dict[str, Any]:
        sd = self.root / f"seed{seed}"
        init = self.init_model(sd, seed)
        sft = self.sft(sd, seed, init)
        samples = self.sample(sd, seed, sft)
        labeled = sd / "labeled.jsonl"
        label_report = self.label(f"seed{seed}/label", samples, labeled, cones=True)
        pair_files = {mode: self.pairs(sd, seed, labeled, mode) for mode in ("signal", "module")}
        cfg = self.cfg
        if cfg.teacher or cfg.sweep.grid:
            self.validation(sd, seed, sft)
        swept = [v for v in cfg.variants
                 if cfg.sweep.grid and (not cfg.sweep.variants or v.name in cfg.sweep.variants)]
        if cfg.teacher or cfg.sweep.metric == "reward_accuracy":
            self.teacher(sd, seed, SFT, sft, sft, cfg.dpo.beta)  # the reference every job reads
        self._parallel([(sd / "sweep" / v.name / SWEEP_CHOICE, "sweep_point",
                         (sd, seed, sft, v, pair_files[v.pairs], lr, beta), {})
                        # variants interleaved: the two workers start on different pair sets/masks,
                        # so neither recomputes the reference log-probs the other is computing
                        for lr, beta in cfg.sweep.grid for v in swept])
        chosen = {v.name: self.sweep(sd, seed, sft, v, pair_files[v.pairs]) for v in swept}
        self._parallel([(sd / "dpo" / name / "salv_run.json", "dpo",
                         (f"seed{seed}/dpo-{name}", sd / "dpo" / name, d, sft, v, pair_files[v.pairs]), over)
                        for name, d, v, _, over in self.dpo_plan(chosen, seed)
                        if not (sd / "dpo" / name / "skipped.json").exists()])
        models, runs, betas = self.dpo_runs(sd, seed, sft, pair_files, chosen)
        self._parallel([(sd / ("eval_greedy" if g else "eval") / name / "result.json", "evaluate",
                         (sd, seed, name, path), {"greedy": g})
                        for g in ((False, True) if cfg.greedy else (False,))
                        for name, path in models.items()]
                       + [(sd / "teacher" / f"{name}.json", "teacher", (sd, seed, name, path, sft, betas[name]), {})
                          for name, path in models.items() if cfg.teacher and name != SFT])
        results = {name: self.evaluate(sd, seed, name, path) for name, path in models.items()}
        greedy = ({name: self.evaluate(sd, seed, name, path, greedy=True) for name, path in models.items()}
                  if cfg.greedy else {})
        teacher = ({name: self.teacher(sd, seed, name, path, sft, betas[name])
                    for name, path in models.items() if name != SFT} if cfg.teacher else {})
        training = {}
        for name, path in models.items():
            run = _read_json(path / "salv_run.json")
            training[name] = {"steps": run["steps"], "rows": run["rows"], "data": run.get("data", {}),
                              "output_dir": run["output_dir"],
                              "learning_rate": run["config"].get("learning_rate"),
                              "beta": run["config"].get("beta"),
                              "batch": (run["config"].get("per_device_batch_size", 1)
                                        * run["config"].get("gradient_accumulation_steps", 1))}
        pairs = {mode: _read_json(p.with_suffix(".json")) for mode, p in pair_files.items()}
        pairs["signal"] = {**pairs["signal"], "mask_overlap": _overlap(pair_files["signal"])}
        trained_variants = {r["variant"] for r in runs.values()}
        out = {"results": results, "greedy": greedy, "teacher": teacher, "runs": runs,
               "training": training, "label": label_report, "pairs": pairs, "sweep": chosen,
               "skipped": [v.name for v, _ in cfg.runs() if v.name not in trained_variants]}
        if cfg.teacher or cfg.sweep.grid:
            out["validation_pairs"] = _read_json(sd / "validation" / "pairs.json")
        if self.cfg.protocol == "paper":
            out["protocol"] = {name: self.protocol(sd, seed, name, path) for name, path in models.items()}
        return out


def _overlap(path: Path) -> dict[str, Any]:
    """:func:`mask_overlap` of a pairs file, all pairs and partial ones."""
    from ..data import read_jsonl
    from ._overlap import mask_overlap

    rows = [row for _, row in read_jsonl(path)] if path.stat().st_size else []
    return {"all": mask_overlap(rows), "partial": mask_overlap(rows, kinds=("partial",))}


def _fmt_num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _resume(out: Path) -> str:
    """``latest`` when an interrupted training run left checkpoints in ``out`` (see ``save_steps``)."""
    return "latest" if any(out.glob("checkpoint-*/trainer_state.json")) else ""


def _plain(obj: Any) -> Any:
    """JSON-like view (tuples as lists) for comparing and writing configs."""
    return json.loads(json.dumps(obj, default=str))



def run_pipeline(cfg: PipelineConfig, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) every stage for every seed; write and return ``results.json``'s content."""
    cfg.validate()
    if cfg.threads:
        import torch

        torch.set_num_threads(cfg.threads)
    run = _Run(cfg, reporter or Reporter())
    run.check_config()
    start = time.monotonic()
    run.synth()
    per_seed = {str(s): run.seed(s) for s in cfg.seeds}
    results = summarize(cfg, per_seed)
    if cfg.protocol == "paper":
        results["protocol"] = {seed: res["protocol"] for seed, res in per_seed.items()}
    results["seconds_this_run"] = round(time.monotonic() - start, 1)
    _write_json(run.root / "results.json", results)
    write_chart(results, run.root / "results.png")
    return results
