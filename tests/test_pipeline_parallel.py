"""Pipeline stages run in worker processes (``workers`` > 1): what a worker writes, reports and
raises reaches the parent. The whole pipeline on two workers is tested in test_pipeline.py (ci.yaml
runs with ``workers: 2``), including equality with a stage redone in one process."""

from __future__ import annotations

import json

import pytest

from salv_trainer.config import ConfigError
from salv_trainer.data import DataError
from salv_trainer.pipeline import Reporter, load_pipeline_config
from salv_trainer.pipeline._parallel import run_jobs


class _Record(Reporter):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def stage(self, name: str, detail: str = "") -> None:
        self.events.append(("stage", name))

    def done(self, name: str, seconds: float, summary: str = "") -> None:
        self.events.append(("done", name))


def _cfg(tmp_path, workers=2):
    return load_pipeline_config(None, output_dir=str(tmp_path), workers=workers,
                                synth={"seed": 0, "train": 4, "validation": 1, "test": 2, "widths": [4]},
                                )


def test_a_stage_run_by_a_worker_writes_its_marker_and_is_reported_in_the_parent(tmp_path):
    cfg = _cfg(tmp_path)
    rec = _Record()
    run_jobs(cfg, [("synth", (), {})], rec)
    assert rec.events == [("stage", "synth"), ("done", "synth")]
    marker = json.loads((tmp_path / "data" / "synth.json").read_text())
    assert marker["counts"] == {"train": 4, "validation": 1, "test": 2}


def test_a_failing_stage_raises_its_own_error_in_the_parent(tmp_path):
    cfg = _cfg(tmp_path)
    with pytest.raises(DataError, match="train.jsonl: cannot read"):
        # init_model reads the train split, which no synth stage has written here
        run_jobs(cfg, [("init_model", (tmp_path / "seed0", 0), {})], _Record())
    assert not (tmp_path / "seed0" / "init" / "salv_init.json").exists()


def test_workers_must_be_positive(tmp_path):
    with pytest.raises(ConfigError, match="workers must be >= 1, got 0"):
        _cfg(tmp_path, workers=0)
