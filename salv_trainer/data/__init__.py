"""The data stage of salv_trainer: prepare -> sample -> label -> pairs (Eq. 1) -> stats.

Every step reads and writes JSONL (one object per line, loadable with
``datasets.load_dataset("json", data_files=...)``); see ``docs/data.md`` for the formats::

    from salv_trainer import data
    data.prepare("raw.jsonl", "train.jsonl")                       # clean a corpus
    data.label("samples.jsonl", "labeled.jsonl", data.LabelConfig(jobs=2))
    data.make_pairs("labeled.jsonl", "pairs.jsonl", data.PairsConfig(mode="signal"))
    print(data.stats("pairs.jsonl"))
"""

from __future__ import annotations

from ._errors import DataError
from ._jsonl import JsonlWriter, done_ids, read_jsonl, read_rows
from .prepare import PrepareConfig, PrepareReport, prepare

__all__ = [
    "DataError",
    "JsonlWriter",
    "PrepareConfig",
    "PrepareReport",
    "done_ids",
    "prepare",
    "read_jsonl",
    "read_rows",
]
