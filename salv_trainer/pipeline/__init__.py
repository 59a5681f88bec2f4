"""The miniature end-to-end replication of QiMeng-SALV on a CPU, as one resumable pipeline.

Synthetic spec-to-Verilog problems (:mod:`salv_trainer.synth`) -> tokenizer and tiny LM from
scratch (:mod:`salv_trainer.tiny`) -> SFT -> k samples per train prompt -> per-output labels ->
pairs in signal and module mode (:mod:`salv_trainer.data`) -> the DPO variants of the paper's
Table 3 from the same SFT checkpoint and step budget (:mod:`salv_trainer.training`) -> every model
sampled and scored on the held-out test split -> ``results.json``, ``results.png`` and a table::

    from salv_trainer.pipeline import load_pipeline_config, run_pipeline
    cfg = load_pipeline_config("examples/mini/config.yaml", output_dir="runs/mini")
    results = run_pipeline(cfg)
    results["models"]["salv"]["pass1"]        # {"mean": ..., "ci95": [lo, hi], "n": ...}

Every stage calls the stage's own Python API; this package only wires paths and seeds. A stage
whose artefact exists is skipped, so rerunning the same command resumes an interrupted run.

The powered design (issue 17) adds: DPO seeds per variant on one SFT model (``dpo_seeds``),
equal-steps and equal-epochs budgets, a learning-rate/beta sweep on the validation split,
greedy scores per problem and per output, teacher-forced metrics on validation pairs
(:func:`pair_logps`, :func:`teacher_metrics`), paired tests (:func:`paired_bootstrap`,
:func:`mcnemar`) and the mask/diff overlap of the pairs (:func:`mask_overlap`).
"""

from ._config import DEFAULT_VARIANTS, SFT, PipelineConfig, TinyModelConfig, Variant, load_pipeline_config
from ._report import render_markdown, render_table, summarize, write_chart
from ._run import Reporter, run_pipeline, weights_digest
from ._score import mean_ci, paired_delta, score_labeled, score_rows
from ._overlap import mask_overlap
from ._teacher import load_scoring_model, pair_logps, signal_pairs, teacher_metrics
from ._stats import binom_two_sided, mcnemar, paired_bootstrap, seed_problem_ci

__all__ = [
    "DEFAULT_VARIANTS",
    "SFT",
    "PipelineConfig",
    "Reporter",
    "TinyModelConfig",
    "binom_two_sided",
    "Variant",
    "load_pipeline_config",
    "load_scoring_model",
    "mask_overlap",
    "mcnemar",
    "mean_ci",
    "pair_logps",
    "paired_bootstrap",
    "paired_delta",
    "render_markdown",
    "render_table",
    "run_pipeline",
    "score_labeled",
    "score_rows",
    "seed_problem_ci",
    "signal_pairs",
    "summarize",
    "teacher_metrics",
    "weights_digest",
    "write_chart",
]
