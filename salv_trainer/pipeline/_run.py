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
    seed<S>/dpo/<variant>/salv_run.json (or skipped.json)        one LoRA adapter per variant
    seed<S>/eval/<model>/{samples,labeled}.jsonl, result.json    test-split scores
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
from ._config import PipelineConfig, Variant

__all__ = ["SFT", "Reporter", "run_pipeline", "weights_digest"]

SFT = "sft"


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
            differ = sorted(k for k in mine if k not in ("seeds", "output_dir", "threads",
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

    def dpo(self, sd: Path, seed: int, sft: Path, variant: Variant, pairs: Path) -> Path | None:
        from ..training import load_pairs, train_dpo

        out = sd / "dpo" / variant.name
        cfg = dataclasses.replace(self.cfg.dpo, model=str(sft), pairs=str(pairs), output_dir=str(out),
                                  mask=variant.mask, kinds=variant.kinds, seed=seed, resume=_resume(out))
        skipped = out / "skipped.json"
        if skipped.exists():
            self.rep.skip(f"seed{seed}/dpo-{variant.name}", "no pairs to train on")
            return None
        rows, _ = load_pairs(str(pairs), kinds=cfg.kind_list)
        if not rows:
            _write_json(skipped, {"reason": f"no pairs of kind {variant.kinds} in {pairs.name}"})
            self.rep.skip(f"seed{seed}/dpo-{variant.name}", f"no pairs of kind {variant.kinds}")
            return None
        self._step(f"seed{seed}/dpo-{variant.name}", out / "salv_run.json",
                   lambda: train_dpo(cfg).to_dict(),
                   f"{variant.label}: mask {variant.mask}, kinds {variant.kinds}, {len(rows)} pairs",
                   lambda o: f"{o['steps']} steps on {o['rows']} pairs, "
                             f"mask fraction {o['data'].get('mask_fraction', 0):.2f}")
        return out

    def evaluate(self, sd: Path, seed: int, name: str, model: Path) -> dict:
        from ..data import sample
        from ._score import score_labeled

        ed = sd / "eval" / name
        key = f"seed{seed}/eval-{name}"
        cfg = dataclasses.replace(self.cfg.eval, model=str(model), seed=self.cfg.eval.seed + seed)

        def go():
            ed.mkdir(parents=True, exist_ok=True)
            sample(self.data / "test.jsonl", ed / "samples.jsonl", cfg, progress=self._progress(key))
            self.label(f"{key}/label", ed / "samples.jsonl", ed / "labeled.jsonl", cones=False)
            scores = score_labeled(ed / "labeled.jsonl", ks=tuple(k for k in (1, 5, 10) if k <= cfg.k))
            return {"model": name, "model_dir": str(model), "weights_sha256": weights_digest(model),
                    "sampling": cfg.sampling_json(), **scores}

        return self._step(key, ed / "result.json", go, f"{cfg.k} samples per test problem, T={cfg.temperature}",
                          lambda o: f"pass@1 {o['pass1']['mean']:.3f}, outputs {o['output_accuracy']:.3f}")

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

    # -- one seed --------------------------------------------------------------------------------
    def seed(self, seed: int) -> dict[str, Any]:
        sd = self.root / f"seed{seed}"
        init = self.init_model(sd, seed)
        sft = self.sft(sd, seed, init)
        samples = self.sample(sd, seed, sft)
        labeled = sd / "labeled.jsonl"
        label_report = self.label(f"seed{seed}/label", samples, labeled, cones=True)
        pair_files = {mode: self.pairs(sd, seed, labeled, mode) for mode in ("signal", "module")}
        models: dict[str, Path] = {SFT: sft}
        for v in self.cfg.variants:
            trained = self.dpo(sd, seed, sft, v, pair_files[v.pairs])
            if trained is not None:
                models[v.name] = trained
        results = {name: self.evaluate(sd, seed, name, path) for name, path in models.items()}
        training = {}
        for name, path in models.items():
            run = _read_json(path / "salv_run.json")
            training[name] = {"steps": run["steps"], "rows": run["rows"], "data": run.get("data", {}),
                              "output_dir": run["output_dir"]}
        pairs = {mode: _read_json(p.with_suffix(".json")) for mode, p in pair_files.items()}
        out = {"results": results, "training": training, "label": label_report, "pairs": pairs,
               "skipped": [v.name for v in self.cfg.variants if v.name not in models]}
        if self.cfg.protocol == "paper":
            out["protocol"] = {name: self.protocol(sd, seed, name, path) for name, path in models.items()}
        return out


def _resume(out: Path) -> str:
    """``latest`` when an interrupted training run left checkpoints in ``out`` (see ``save_steps``)."""
    return "latest" if any(out.glob("checkpoint-*/trainer_state.json")) else ""


def _plain(obj: Any) -> Any:
    """JSON-like view (tuples as lists) for comparing and writing configs."""
    return json.loads(json.dumps(obj, default=str))



def run_pipeline(cfg: PipelineConfig, reporter: Reporter | None = None) -> dict[str, Any]:
    """Run (or resume) every stage for every seed; write and return ``results.json``'s content."""
    from ._report import summarize, write_chart

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
