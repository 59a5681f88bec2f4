"""Nothing lost: the data commands never destroy or drop data, whatever the data holds.

Generated data is adversarial (the model being trained writes the responses), so:

1. an output that is the same file as an input (also through a hard link or a symlink) is refused
   with exit code 2 and one ``error:`` line naming both, the input left byte for byte;
2. a last line without its newline is judged alike by the reader (``done_ids``) and by the writer
   that resumes the file: a whole row counts as done and gets its newline, a torn one is redone;
3. a lone surrogate (the JSON escape ``\\ud800``, which ``json.loads`` accepts) goes through
   label -> pairs -> stats without a crash and comes out exactly as it went in;
4. SIGTERM, SIGHUP and Ctrl-C end a command as one clean interrupt: exit 130, no traceback, no
   simulator left running, no temporary directory left behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BENCH_DIR, REPO, load_bundle
from test_data_pairs import ROW
from typer.testing import CliRunner

from salv_trainer.cli import app
from salv_trainer.data import JsonlWriter, done_ids, read_jsonl, read_rows

runner = CliRunner()
BIN = Path(sys.executable).parent
V1M = "verilogeval-v1-machine"

BUF = "module r(input a, output y); assign y = a; endmodule"
RIGHT = "```verilog\nmodule t(input a, output y);\n  assign y = a;\nendmodule\n```"
WRONG = "```verilog\nmodule t(input a, output y);\n  assign y = ~a;\nendmodule\n```"
SAMPLES = [
    {"id": "buf1", "prompt": "Copy a to y.", "reference": BUF, "responses": [RIGHT, WRONG]},
    {"id": "buf2", "prompt": "Copy a to y.", "reference": BUF, "responses": [WRONG, RIGHT]},
]
PROMPTS = [{"id": "and", "prompt": "Output a AND b.", "reference": "module m(input a, b, output y); assign y = a & b; endmodule"},
           {"id": "or", "prompt": "Output a OR b.", "reference": "module m(input a, b, output y); assign y = a | b; endmodule"}]


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _refused(result, *paths: Path) -> None:
    """Exit 2 with one `error:` line that names every path, and never a traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for p in paths:
        assert str(p) in lines[0], (p, lines[0])
    assert "Traceback" not in result.output


# -- 1. an output is never an input ---------------------------------------------------------


def _link(kind: str, target: Path) -> Path:
    """``target`` itself, a hard link to it, a symlink to it, or a roundabout path to it."""
    if kind == "same":
        return target
    other = target.with_name("other-" + target.name)
    if kind == "hardlink":
        os.link(target, other)
    elif kind == "symlink":
        other.symlink_to(target)
    else:
        (target.parent / "sub").mkdir()
        return target.parent / "sub" / ".." / target.name
    return other


@pytest.mark.parametrize("kind", ["same", "hardlink", "symlink", "dotdot"])
def test_pairs_refuses_to_write_over_its_input(tmp_path, kind):
    labeled = _jsonl(tmp_path / "labeled.jsonl", [ROW])
    before = labeled.read_bytes()
    out = _link(kind, labeled)
    result = runner.invoke(app, ["pairs", str(labeled), "--out", str(out)])
    _refused(result, labeled, out)
    assert labeled.read_bytes() == before


@pytest.mark.parametrize("restart", [True, False])
def test_label_refuses_to_write_over_its_input(tmp_path, restart):
    samples = _jsonl(tmp_path / "samples.jsonl", SAMPLES)
    before = samples.read_bytes()
    result = runner.invoke(app, ["label", str(samples), "--out", str(samples), *(["--restart"] * restart)])
    _refused(result, samples)
    assert samples.read_bytes() == before


def test_sample_refuses_to_write_over_its_prompts(tmp_path):
    prompts = _jsonl(tmp_path / "prompts.jsonl", PROMPTS)
    before = prompts.read_bytes()
    out = _link("symlink", prompts)
    result = runner.invoke(app, ["sample", "--model", str(tmp_path / "no-model"), "--prompts", str(prompts),
                                 "--out", str(out), "--restart"])
    _refused(result, prompts, out)
    assert prompts.read_bytes() == before


@pytest.mark.parametrize("which", ["out", "rejects", "partial"])
def test_prepare_refuses_to_write_over_its_corpus(tmp_path, which):
    corpus = _jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "prompt": "p", "code": BUF}])
    before = corpus.read_bytes()
    args = {"out": ["--out", str(corpus)],
            "rejects": ["--out", str(tmp_path / "train.jsonl"), "--rejects", str(corpus)],
            # the output is written to OUT.partial first: that must not be the corpus either
            "partial": ["--out", str(tmp_path / "corpus")]}[which]
    if which == "partial":
        corpus = corpus.rename(tmp_path / "corpus.partial")
    result = runner.invoke(app, ["prepare", str(corpus), *args, "--no-icarus", "--jobs", "1"])
    _refused(result, corpus)
    assert corpus.read_bytes() == before and not (tmp_path / "train.jsonl").exists()


def test_prepare_refuses_one_file_for_two_outputs(tmp_path):
    corpus = _jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "prompt": "p", "code": BUF}])
    out = tmp_path / "train.jsonl"
    result = runner.invoke(app, ["prepare", str(corpus), "--out", str(out), "--rejects", str(out), "--no-icarus"])
    _refused(result, out)


@pytest.fixture(scope="module")
def bench():
    load_bundle(V1M)
    return str(BENCH_DIR)


@pytest.mark.parametrize("option", ["--json", "--cache"])
def test_eval_refuses_to_write_over_the_responses(bench, tmp_path, option):
    responses = _jsonl(tmp_path / "gens.jsonl", [{"id": "vector5", "responses": ["no code"]}])
    before = responses.read_bytes()
    result = runner.invoke(app, ["eval", "--responses", str(responses), "-b", V1M, "--data", bench,
                                 option, str(responses)])
    _refused(result, responses)
    assert responses.read_bytes() == before


def test_eval_refuses_results_over_a_bundle_file(bench, tmp_path):
    bundle = tmp_path / "bundle.jsonl"
    shutil.copy(Path(bench) / "verilogeval" / "verilogeval_v1_machine.jsonl", bundle)
    before = bundle.read_bytes()
    result = runner.invoke(app, ["eval", "--canonical", "-b", V1M, "--data", str(bundle), "--limit", "1",
                                 "--json", str(tmp_path / "r.json"), "--cache", str(bundle)])
    _refused(result, bundle)
    assert bundle.read_bytes() == before


@pytest.mark.parametrize("command", ["sft", "dpo", "merge"])
def test_training_output_dir_never_holds_its_inputs(tmp_path, command):
    out = tmp_path / "out"
    out.mkdir()
    data = _jsonl(out / "data.jsonl", [{"prompt": "p", "reference": BUF}])
    before = data.read_bytes()
    args = {"sft": ["sft", "--model", str(tmp_path / "m"), "--data", str(data), "--output-dir", str(out)],
            "dpo": ["dpo", "--model", str(out), "--pairs", str(tmp_path / "p.jsonl"), "--output-dir", str(out)],
            "merge": ["merge", str(out), "--output", str(out)]}[command]
    result = runner.invoke(app, args)
    _refused(result, out)
    assert data.read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["data.jsonl"]


def test_pipeline_refuses_a_config_it_would_overwrite(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    config = out / "config.yaml"
    shutil.copy(REPO / "examples" / "mini" / "ci.yaml", config)
    before = config.read_bytes()
    result = runner.invoke(app, ["pipeline", "--config", str(config), "--output-dir", str(out)])
    _refused(result, config)
    assert config.read_bytes() == before and sorted(p.name for p in out.iterdir()) == ["config.yaml"]


# -- 2. a last line without its newline: one rule for reader and writer ---------------------


@pytest.mark.parametrize(("tail", "whole"), [
    ('{"id": "c", "labels": []}', True),      # a whole row whose newline is missing
    ('{"id": "c", "labels": [', False),       # torn mid-row
    ('{"id": "c"}  ', True),                  # whole, trailing blanks
    ("123", False),                           # parses, but is no row
    ("   ", False),                           # blanks only
])
def test_reader_and_writer_agree_on_the_last_line(tmp_path, tail, whole):
    path = tmp_path / "out.jsonl"
    path.write_text('{"id": "a", "labels": []}\n{"id": "b", "labels": []}\n' + tail)
    done = done_ids(path)
    assert done == ({"a", "b", "c"} if whole else {"a", "b"})
    with JsonlWriter(path, resume=True) as writer:
        for key in ("c", "d"):
            if key not in done:
                writer.write({"id": key, "labels": []})
    ids = [row["id"] for _, row in read_jsonl(path)]  # strict: every line whole
    assert ids == ["a", "b", "c", "d"]
    assert path.read_text().endswith('{"id": "d", "labels": []}\n')


def _label(samples: Path, out: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["label", str(samples), "--out", str(out), "--engine", "vvp", "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_label_resume_neither_loses_nor_doubles_the_last_row(tmp_path):
    samples = _jsonl(tmp_path / "samples.jsonl", SAMPLES)
    out = tmp_path / "labeled.jsonl"
    assert _label(samples, out)["labeled"] == 2
    full = out.read_text()
    out.write_text(full[:-1])  # only the final newline is gone: the row is whole
    summary = _label(samples, out)
    assert (summary["already_done"], summary["labeled"]) == (2, 0)
    assert [r["id"] for r in read_rows(samples)] == [r["id"] for r in read_rows(out)]
    # a third sample row: the writer reopens the file, completes the last line, appends
    more = _jsonl(tmp_path / "more.jsonl", [*SAMPLES, {**SAMPLES[0], "id": "buf3"}])
    out.write_text(full[:-1])
    summary = _label(more, out)
    assert (summary["already_done"], summary["labeled"]) == (2, 1)
    assert out.read_text().startswith(full)
    assert [r["id"] for r in read_rows(out)] == ["buf1", "buf2", "buf3"]
    # torn mid-row: that row alone is redone
    out.write_text(full[: len(full) - 40])
    summary = _label(samples, out)
    assert (summary["already_done"], summary["labeled"]) == (1, 1)
    assert out.read_text() == full


def test_sample_resume_completes_a_last_row_without_newline(tmp_path):
    from salv_trainer.tiny import make_tiny_model_dir

    tiny = make_tiny_model_dir(tmp_path / "tiny")
    prompts = _jsonl(tmp_path / "prompts.jsonl", PROMPTS[:1])
    out = tmp_path / "samples.jsonl"
    args = ["sample", "--model", str(tiny), "--prompts", str(prompts), "--out", str(out), "-k", "2",
            "--max-new-tokens", "8", "--device", "cpu", "--json"]
    assert runner.invoke(app, args).exit_code == 0
    first = out.read_text()
    out.write_text(first[:-1])
    _jsonl(prompts, PROMPTS)  # one more prompt: the writer reopens the file
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (json.loads(result.stdout)["already_done"], json.loads(result.stdout)["sampled"]) == (1, 1)
    assert out.read_text().startswith(first)
    assert [r["id"] for r in read_rows(out)] == ["and", "or"]


def test_eval_cache_resume_keeps_a_last_entry_without_newline(bench, tmp_path):
    out = tmp_path / "r.json"
    cache = tmp_path / "r.cache.jsonl"
    args = ["eval", "--canonical", "-b", V1M, "--data", bench, "--json", str(out)]
    assert runner.invoke(app, [*args, "--limit", "2"]).exit_code == 0
    cache.write_text(cache.read_text()[:-1])
    result = runner.invoke(app, [*args, "--limit", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert (data["cached"], data["simulations"]) == (2, 1)
    assert len([row for _, row in read_jsonl(cache)]) == 3  # strict read: every line whole


def test_saved_responses_resume_follows_the_same_rule(tmp_path):
    from salv_trainer.eval._run_eval import read_responses, write_responses

    path = tmp_path / "gens.jsonl"
    write_responses(path, [{"id": "a", "responses": ["x"]}])
    path.write_text(path.read_text()[:-1])  # whole, newline missing
    assert read_responses(path, ours=True) == {"a": ["x"]}
    write_responses(path, [{"id": "b", "responses": ["y"]}], append=True)
    assert read_responses(path) == {"a": ["x"], "b": ["y"]}
    path.write_text(path.read_text() + '{"id": "c", "resp')  # torn
    assert read_responses(path, ours=True) == {"a": ["x"], "b": ["y"]}
    write_responses(path, [{"id": "c", "responses": ["z"]}], append=True)
    assert read_responses(path) == {"a": ["x"], "b": ["y"], "c": ["z"]}


# -- 3. lone surrogates ----------------------------------------------------------------------


SURROGATE_RIGHT = ("I \\ud800 think:\n```verilog\nmodule t(input a, output y); // \\udfff odd\n"
                   "  assign y = a;\nendmodule\n```\n\\ud800")


def test_lone_surrogate_survives_label_pairs_stats(tmp_path):
    # written as JSON text by hand: the escapes are in the file, as a model's output could put them
    samples = tmp_path / "samples.jsonl"
    samples.write_text('{"id": "s", "reference": ' + json.dumps(BUF) + ', "responses": ["'
                       + SURROGATE_RIGHT.replace("\n", "\\n") + '", ' + json.dumps(WRONG) + "]}\n")
    [row] = [r for _, r in read_jsonl(samples)]
    response = row["responses"][0]
    assert "\ud800" in response and "\udfff" in response
    labeled = tmp_path / "labeled.jsonl"
    summary = _label(samples, labeled)
    assert summary["categories"]["fully right"] == 1 and summary["categories"]["wrong"] == 1
    [lab_row] = read_rows(labeled)
    assert lab_row["responses"][0] == response  # exactly, surrogates included
    assert lab_row["labels"][0]["outputs"] == {"y": "MATCH"}  # simulated, not rejected
    s, e = lab_row["labels"][0]["cones"]["y"][0]
    assert response[s:].startswith("module t") and "\udfff" in response[s:e]
    assert "\\ud800" in labeled.read_text()
    pairs = tmp_path / "pairs.jsonl"
    result = runner.invoke(app, ["pairs", str(labeled), "--out", str(pairs)])
    assert result.exit_code == 0, result.output
    [pair] = read_rows(pairs, unique_ids=False)
    assert pair["chosen"] == response and pair["rejected"] == WRONG
    for args in (["stats", str(pairs)], ["stats", str(pairs), "--json"], ["stats", str(labeled)]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output


def test_stats_shows_lone_surrogates_from_the_data(tmp_path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"id": "x", "chosen": "a", "rejected": "b", "contrast_signals": ["s\\ud800"], '
                     '"chosen_spans": [], "rejected_spans": [], "kind": "complete\\udc00"}\n')
    result = runner.invoke(app, ["stats", str(pairs)])
    assert result.exit_code == 0, result.output
    assert "s\\ud800" in result.stdout and "complete\\udc00" in result.stdout
    result = runner.invoke(app, ["stats", str(pairs), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["top_contrast_signals"] == {"s\ud800": 1}


def test_prepare_keeps_a_reference_with_a_lone_surrogate(tmp_path):
    code = BUF.replace("assign", "/* \\ud800 */ assign")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"id": "a", "prompt": "copy", "code": "' + code + '"}\n')
    out = tmp_path / "train.jsonl"
    result = runner.invoke(app, ["prepare", str(corpus), "--out", str(out), "--jobs", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["kept"] == 1
    [row] = read_rows(out)
    assert row["reference"] == json.loads('"' + code + '"')


# -- 4. SIGTERM / SIGHUP / Ctrl-C ------------------------------------------------------------

# A zero-delay loop: simulation time never advances, so vvp runs until its time limit.
HANG = ("```verilog\nmodule t(input a, output y);\n  reg x;\n  initial begin x = 0; forever x = ~x; end\n"
        "  assign y = a;\nendmodule\n```")


def _marked(marker: str, exclude: int | None = None) -> list[str]:
    """Live processes (zombies aside) whose command line, working directory or environment
    mention ``marker`` (the TMPDIR given to the command: every sandbox lies below it)."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit() or int(d.name) == exclude:
            continue
        try:
            if (d / "stat").read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                continue
            cmdline = (d / "cmdline").read_bytes()
            texts = [cmdline, (d / "environ").read_bytes(), os.readlink(d / "cwd").encode()]
        except OSError:
            continue
        if any(marker.encode() in t for t in texts):
            argv = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{d.name}: {argv[:200]}")
    return found


def _wait_for(predicate, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _interrupt(argv: list[str], tmp_path: Path, how: str, started) -> tuple[subprocess.CompletedProcess, Path]:
    """Run ``argv`` with TMPDIR = a fresh directory, wait for ``started(tmpdir, pid)``, deliver
    ``how`` (SIGTERM/SIGHUP to the process, or SIGINT to its process group as a terminal's
    Ctrl-C), and return its outcome once it has exited."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        assert _wait_for(lambda: started(tmpdir, proc.pid) or proc.poll() is not None, 120)
        assert proc.poll() is None, proc.communicate()
        sent = time.monotonic()
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(getattr(signal, how))
        out, err = proc.communicate(timeout=30)
        assert time.monotonic() - sent < 10, "took too long to stop"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err), tmpdir


def _simulating(tmpdir: Path, pid: int) -> bool:
    return any("vvp" in p for p in _marked(str(tmpdir), exclude=pid))


def _clean(result: subprocess.CompletedProcess, tmpdir: Path) -> None:
    assert result.returncode == 130, result
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(("error: interrupted", "interrupted")), result.stderr
    # the simulators go with the command (killed by it, or by bubblewrap's --die-with-parent)
    assert _wait_for(lambda: not _marked(str(tmpdir)), 5), _marked(str(tmpdir))
    left = [p.name for p in tmpdir.iterdir() if p.name.startswith(("verislice-", "salv-"))]
    assert left == [], left


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "ctrl-c"])
def test_label_interrupted_mid_simulation_ends_cleanly(tmp_path, how):
    samples = _jsonl(tmp_path / "samples.jsonl", [{"id": "slow", "reference": BUF, "responses": [HANG, RIGHT]}])
    argv = [str(BIN / "salv-train"), "label", str(samples), "--out", str(tmp_path / "labeled.jsonl"),
            "--engine", "vvp", "--timeout", "120"]
    result, tmpdir = _interrupt(argv, tmp_path, how, _simulating)
    _clean(result, tmpdir)
    assert not (tmp_path / "labeled.jsonl").read_text()  # nothing half-labeled written


def test_verislice_equiv_sigterm_ends_cleanly(tmp_path):
    (tmp_path / "ref.v").write_text(BUF + "\n")
    (tmp_path / "slow.v").write_text(HANG.split("\n", 1)[1].rsplit("```", 1)[0])
    argv = [str(BIN / "verislice"), "equiv", "ref.v", "slow.v", "--engine", "vvp", "--timeout", "120"]
    result, tmpdir = _interrupt(argv, tmp_path, "SIGTERM", _simulating)
    _clean(result, tmpdir)


def test_prepare_pool_interrupted_by_ctrl_c_ends_cleanly(tmp_path):
    """Workers ignore the terminal's SIGINT and unwind on the pool's SIGTERM: no traceback from
    any of them, no Icarus temporary directory left, no output file."""
    rows = load_bundle("verilogeval-v2-spec")
    corpus = tmp_path / "corpus.jsonl"
    with corpus.open("w") as fh:  # thousands of distinct designs: the run takes a while
        for v in range(30):
            for i, r in enumerate(rows):
                code = r["canonical_solution"] + f"\nmodule extra_{v}_{i}(input a, output y); assign y = a; endmodule\n"
                fh.write(json.dumps({"id": f"{r['task_id']}-{v}", "prompt": "p", "code": code,
                                     "top_module": r["top_module"]}) + "\n")
    argv = [str(BIN / "salv-train"), "prepare", str(corpus), "--out", str(tmp_path / "train.jsonl"), "--jobs", "2"]

    def compiling(tmpdir: Path, pid: int) -> bool:
        return any(p.name.startswith("salv-icarus-") for p in tmpdir.iterdir())

    result, tmpdir = _interrupt(argv, tmp_path, "ctrl-c", compiling)
    _clean(result, tmpdir)
    assert not (tmp_path / "train.jsonl").exists() and not (tmp_path / "train.jsonl.partial").exists()
