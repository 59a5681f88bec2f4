"""`--shard I/N` (Slurm arrays, no Ray) and `salv-train merge-shards`: shards split the rows by id,
never overlap, and together give what one unsharded run gives; merging refuses (exit 1, ids named,
nothing written) shards with missing or doubled ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_bundle
from typer.testing import CliRunner

from salv_trainer._shard import Shard, parse_shard, shard_of
from salv_trainer.cli import app
from salv_trainer.data import LabelConfig, label
from verislice import VerisliceError
from verislice.mutate import mutants


def run(*args: str):
    return CliRunner().invoke(app, [*map(str, args)])


def test_the_split_is_by_id_stable_and_complete():
    ids = [f"Prob{i:03d}" for i in range(400)] + [7, "ünïcode", "\ud800"]
    for n in (1, 2, 3, 8):
        owners = [[i for i in range(n) if Shard(i, n).has(x)] for x in ids]
        assert all(len(o) == 1 for o in owners)  # every id in exactly one shard
    sizes = [sum(Shard(i, 4).has(x) for x in ids) for i in range(4)]
    assert min(sizes) > 60  # roughly even
    assert shard_of("7", 5) == shard_of(7, 5)
    assert parse_shard("3/8") == Shard(3, 8) and parse_shard(None) is None
    for bad in ("8/8", "-1/2", "1", "a/b", "1/0"):
        with pytest.raises(VerisliceError, match="--shard"):
            parse_shard(bad)


def test_pinned_shard_of_values():
    # sha256("a") starts 0xca978112ca1bbdca: the rule in docs/scale.md, as any other tool computes it
    assert shard_of("a", 1 << 16) == 0xca978112ca1bbdca % (1 << 16)


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> Path:
    rows = []
    for r in load_bundle("verilogeval-v2-spec"):
        ms = mutants(r["canonical_solution"], seed=2, limit=1)
        if ms and r["validation"]["iverilog_11.0"]["ref_pass"]:
            rows.append({"id": r["task_id"], "reference": r["reference"],
                         "responses": [r["canonical_solution"], ms[0].text, "no code"]})
        if len(rows) == 7:
            break
    path = tmp_path_factory.mktemp("shard") / "samples.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_label_shards_merge_to_the_unsharded_output(samples, tmp_path):
    whole = tmp_path / "whole.jsonl"
    label(samples, whole, LabelConfig(jobs=2, prompts_per_call=2))
    parts = []
    for i in range(3):
        part = tmp_path / f"labeled.{i}.jsonl"
        res = run("label", samples, "--out", part, "--shard", f"{i}/3", "--jobs", "2",
                  "--prompts-per-call", "2", "--json")
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["prompts"] == sum(1 for _ in part.open())
        parts.append(part)
    ids = [{json.loads(line)["id"] for line in p.open()} for p in parts]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    merged = tmp_path / "merged.jsonl"
    res = run("merge-shards", *reversed(parts), "--expect", samples, "--out", merged, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["ok"] and json.loads(res.stdout)["rows"] == 7
    assert merged.read_bytes() == whole.read_bytes()  # input order, same labels


def test_merge_refuses_missing_and_doubled_ids(samples, tmp_path):
    rows = [json.loads(line) for line in samples.open()]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows[:4]))
    b.write_text("".join(json.dumps(r) + "\n" for r in rows[3:6]))  # rows[3] twice, rows[6] lost
    out = tmp_path / "out.jsonl"
    res = run("merge-shards", a, b, "--expect", samples, "--out", out)
    assert res.exit_code == 1
    assert f"1 id(s) missing: '{rows[6]['id']}'" in res.stderr
    assert f"1 id(s) doubled: '{rows[3]['id']} (x2)'" in res.stderr
    assert not out.exists()
    # without --expect only doubles can be seen; a torn last line (a crashed shard) is not a row
    b.write_text(b.read_text() + '{"id": "torn", "respo')
    res = run("merge-shards", a, b, "--out", out, "--json")
    assert res.exit_code == 1 and json.loads(res.stdout)["doubled"] == {rows[3]["id"]: 2}
    res = run("merge-shards", a, "--out", a)
    assert res.exit_code == 2 and "same file" in res.stderr


def test_eval_shards_merge_to_the_unsharded_result(benchmarks_dir, tmp_path):
    common = ["eval", "--canonical", "--benchmark", "verilogeval-v2-spec", "--data", benchmarks_dir,
              "--limit", "8"]
    for i in range(2):
        res = run(*common, "--shard", f"{i}/2", "--json", tmp_path / f"r.{i}.json")
        assert res.exit_code == 0, res.output
    res = run(*common, "--json", tmp_path / "whole.json")
    assert res.exit_code == 0, res.output
    res = run("merge-shards", tmp_path / "r.1.json", tmp_path / "r.0.json", "--out", tmp_path / "all.json")
    assert res.exit_code == 0, res.output
    merged, whole = (json.loads((tmp_path / f).read_text()) for f in ("all.json", "whole.json"))
    for key in ("pass_at_k", "num_tasks", "coverage", "verdict_counts"):
        assert merged[key] == whole[key], key
    assert sorted(merged["tasks"]) == sorted(whole["tasks"])
    res = run("merge-shards", tmp_path / "r.0.json", "--out", tmp_path / "half.json")
    assert res.exit_code == 1 and "1 shard(s) missing: 1/2" in res.stderr
    assert not (tmp_path / "half.json").exists()


def test_sample_shards_merge_to_the_unsharded_output(tmp_path):
    from salv_trainer.tiny import make_tiny_model_dir

    model = make_tiny_model_dir(tmp_path / "tiny")
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Implement gate {i}."}) + "\n"
                               for i in range(5)))
    common = ["sample", "--model", model, "--prompts", prompts, "-k", "2", "-t", "0",
              "--max-new-tokens", "6"]
    assert run(*common, "--out", tmp_path / "whole.jsonl").exit_code == 0
    for i in range(2):
        res = run(*common, "--shard", f"{i}/2", "--out", tmp_path / f"s.{i}.jsonl")
        assert res.exit_code == 0, res.output
    res = run("merge-shards", tmp_path / "s.0.jsonl", tmp_path / "s.1.jsonl", "--expect", prompts,
              "--out", tmp_path / "merged.jsonl")
    assert res.exit_code == 0, res.output
    # greedy decoding: the same responses whichever chunk (and seed) a prompt fell in
    assert (tmp_path / "merged.jsonl").read_bytes() == (tmp_path / "whole.jsonl").read_bytes()


def test_a_shard_with_no_prompts_still_writes_its_file_for_the_merge(tmp_path):
    # a Slurm array of N tasks over fewer ids than N: some shards are empty; merge-shards must
    # still find every shard's file
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "only", "prompt": "Implement an AND gate."}) + "\n")
    empty = next(i for i in range(4) if shard_of("only", 4) != i)
    out = tmp_path / f"s.{empty}.jsonl"
    res = run("sample", "--model", tmp_path / "no-model", "--prompts", prompts, "-k", "1",
              "--shard", f"{empty}/4", "--out", out)
    assert res.exit_code == 0, res.output
    assert out.exists() and out.read_bytes() == b""
