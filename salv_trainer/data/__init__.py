"""The data stage of salv_trainer: prepare -> sample -> label -> pairs (Eq. 1) -> stats.

Every step reads and writes JSONL (one object per line, loadable with
``datasets.load_dataset("json", data_files=...)``); ``docs/data.md`` describes the formats::

    from salv_trainer import data
    data.prepare("raw.jsonl", "train.jsonl")                                  # clean a corpus
    data.sample("train.jsonl", "samples.jsonl", data.SampleConfig(model="out/sft", k=5))
    data.label("samples.jsonl", "labeled.jsonl", data.LabelConfig(jobs=2))    # verdicts + cones
    data.make_pairs("labeled.jsonl", "pairs.jsonl", data.PairsConfig())       # Eq. 1 pairs
    data.stats("pairs.jsonl")                                                 # counts, coverage

The steps that take long (``sample``, ``label``) append finished rows as they go and skip the ids
already in their output when rerun. Bad *input files* raise :class:`DataError` (``file:line:col``
messages); bad *candidates* never raise: they get a verdict.
"""

from __future__ import annotations

from ._errors import DataError
from ._jsonl import JsonlWriter, done_ids, read_jsonl, read_rows
from ._verdicts import CATEGORIES, CORRECT_VERDICTS, NO_CODE, category, correct_outputs, is_fully_correct
from .label import LabelConfig, LabelReport, cone_spans, label, label_rows
from .merge import MergeReport, merge_shards
from .pairs import KINDS, PairsConfig, PairsReport, make_pairs, merge_spans, pairs_for_row
from .prepare import DROP_REASONS, PrepareConfig, PrepareReport, prepare
from .sample import SampleConfig, SampleReport, sample
from .stats import stats

__all__ = [
    "CATEGORIES",
    "CORRECT_VERDICTS",
    "DROP_REASONS",
    "DataError",
    "JsonlWriter",
    "KINDS",
    "LabelConfig",
    "LabelReport",
    "MergeReport",
    "NO_CODE",
    "PairsConfig",
    "PairsReport",
    "PrepareConfig",
    "PrepareReport",
    "SampleConfig",
    "SampleReport",
    "category",
    "cone_spans",
    "correct_outputs",
    "done_ids",
    "is_fully_correct",
    "label",
    "label_rows",
    "make_pairs",
    "merge_shards",
    "merge_spans",
    "pairs_for_row",
    "prepare",
    "read_jsonl",
    "read_rows",
    "sample",
    "stats",
]
