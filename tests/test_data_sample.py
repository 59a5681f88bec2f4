"""`sample` on a tiny Qwen2 model built from a config (no hub), resumable and reproducible."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from salv_trainer.cli import app
from salv_trainer.data import DataError, SampleConfig, read_rows, sample
from salv_trainer.tiny import make_tiny_model_dir

PROMPTS = [
    {"id": "and", "prompt": "Output the AND of a and b.", "reference": "module m(input a, b, output y); assign y = a & b; endmodule"},
    {"id": "or", "prompt": "Output the OR of a and b.", "module_header": "module top_module(input a, b, output y);", "reference": "module m(input a, b, output y); assign y = a | b; endmodule"},
    {"id": "chat", "messages": [{"role": "user", "content": "Invert a."}], "reference": "module m(input a, output y); assign y = ~a; endmodule"},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("tiny"))


@pytest.fixture()
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in PROMPTS))
    return path


def _cfg(tiny, **kw):
    return SampleConfig(model=str(tiny), k=3, temperature=1.0, max_new_tokens=12, seed=7, chunk_size=1, **kw)


def test_sample_writes_k_responses_and_resumes(tiny, prompts, tmp_path):
    out = tmp_path / "samples.jsonl"
    report = sample(prompts, out, _cfg(tiny))
    rows = read_rows(out)
    assert report.sampled == 3 and report.responses == 9
    assert [r["id"] for r in rows] == ["and", "or", "chat"]
    for row, src in zip(rows, PROMPTS):
        assert {k: row[k] for k in src} == src  # the prompt's fields are kept as they were
        assert len(row["responses"]) == 3 and all(isinstance(x, str) for x in row["responses"])
        assert row["sampling"] == {"model": str(tiny), "k": 3, "temperature": 1.0, "top_p": 0.95,
                                   "max_new_tokens": 12, "seed": 7, "backend": "transformers"}
    first = out.read_text()
    # An interrupted run: the last row is gone and a partial line is left. Rerun redoes only it,
    # with the same seed, so the file comes out the same.
    lines = first.splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + lines[2][:25])
    again = sample(prompts, out, _cfg(tiny))
    assert (again.skipped, again.sampled) == (2, 1)
    assert out.read_text() == first
    # Nothing left to do: the model is not even loaded.
    assert sample(prompts, out, SampleConfig(model="/nonexistent", k=3)).sampled == 0


def test_sample_errors_are_clear(tiny, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "reference": "module m; endmodule"}) + "\n")
    with pytest.raises(DataError, match="prompt 'x' has neither 'prompt' nor 'messages'"):
        sample(bad, tmp_path / "o.jsonl", _cfg(tiny))
    result = CliRunner().invoke(app, ["sample", "--model", str(tmp_path / "nomodel"), "--prompts",
                                      str(bad).replace("bad", "none"), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2 and "none.jsonl: cannot read" in result.stderr


def test_sample_cli(tiny, prompts, tmp_path):
    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(app, ["sample", "--model", str(tiny), "--prompts", str(prompts), "-k", "2",
                                      "--max-new-tokens", "8", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["responses"] == 6
    assert all(len(r["responses"]) == 2 for r in read_rows(out))
