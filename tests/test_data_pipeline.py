"""sample -> label -> pairs end to end on a tiny model (built from a config, no hub).

The tiny model is fine-tuned (with the project's own SFT stage) on two answers to the *same*
prompt that differ in one output, so its samples mix fully right, partially right and broken
modules: exactly the material signal-aware pairs are made of.
"""

from __future__ import annotations

import json

import pytest

from salv_trainer.data import (
    LabelConfig,
    PairsConfig,
    SampleConfig,
    correct_outputs,
    label,
    make_pairs,
    read_rows,
    sample,
    stats,
)
from salv_trainer.tiny import make_tiny_model_dir

PROMPT = "Drive ringer when ring is set and vibrate_mode is not; drive motor when both are set."
RIGHT = ("module TopModule(input ring, input vibrate_mode, output ringer, output motor);\n"
         "  assign ringer = ring & ~vibrate_mode;\n  assign motor = ring & vibrate_mode;\nendmodule")
WRONG_MOTOR = RIGHT.replace("motor = ring & vibrate_mode", "motor = ring | vibrate_mode")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sft_model(tmp_path_factory):
    from salv_trainer.training import SFTRunConfig, train_sft

    tmp = tmp_path_factory.mktemp("pipeline")
    base = make_tiny_model_dir(tmp / "tiny", texts=[RIGHT, WRONG_MOTOR, PROMPT], vocab_size=300)
    data = tmp / "sft.jsonl"
    data.write_text("".join(json.dumps({"id": i, "prompt": PROMPT, "reference": ref}) + "\n"
                            for i, ref in enumerate([RIGHT, WRONG_MOTOR])))
    train_sft(SFTRunConfig(model=str(base), output_dir=str(tmp / "sft"), data=str(data),
                           learning_rate=3e-3, max_steps=80, per_device_batch_size=2,
                           warmup_ratio=0.0, lr_scheduler="constant", logging_steps=25,
                           save_steps=1000))
    return tmp / "sft"


def test_sample_label_pairs(sft_model, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "ringer", "prompt": PROMPT, "reference": RIGHT}) + "\n")
    samples, labeled, pairs = tmp_path / "samples.jsonl", tmp_path / "labeled.jsonl", tmp_path / "pairs.jsonl"
    sample(prompts, samples, SampleConfig(model=str(sft_model), k=6, temperature=1.0, max_new_tokens=72, seed=0))
    [srow] = read_rows(samples)
    assert len(srow["responses"]) == 6

    report = label(samples, labeled, LabelConfig())
    [row] = read_rows(labeled)
    assert report.candidates == 6 and len(row["labels"]) == 6
    sets = [correct_outputs(lab) for lab in row["labels"]]
    assert frozenset({"ringer", "motor"}) in sets, "the fine-tuned model never wrote the right module"
    for resp, lab in zip(row["responses"], row["labels"]):
        for spans in lab["cones"].values():
            assert all(0 <= s < e <= len(resp) for s, e in spans)

    made = make_pairs(labeled, pairs, PairsConfig())
    got = read_rows(pairs, unique_ids=False)
    # Eq. 1 over the distinct responses, from the labels
    first = {}
    for i, r in enumerate(row["responses"]):
        first.setdefault(r, i)
    idx = sorted(first.values())
    expected = {(a, b): sorted(sets[a] - sets[b]) for a in idx for b in idx if a != b and sets[a] - sets[b]}
    assert {(p["chosen_index"], p["rejected_index"]): p["contrast_signals"] for p in got} == expected
    assert made.pairs == len(expected) > 0
    for p in got:
        assert p["prompt"] == PROMPT
        for side in ("chosen", "rejected"):
            assert all(0 <= s < e <= len(p[side]) for s, e in p[f"{side}_spans"])
        if p["contrast_signals"] == ["motor"] and p["rejected_spans"] != [[0, len(p["rejected"])]]:
            # the contrast is motor alone: ringer's statement is outside both cones
            for side in ("chosen", "rejected"):
                text = p[side]
                st = text.index("assign ringer")
                assert not any(s <= st < e for s, e in p[f"{side}_spans"])
    assert stats(pairs)["pairs"] == made.pairs
