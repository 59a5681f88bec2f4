"""Attacks on the front end (pyslang, includes) by the Verilog it reads (docs/security.md).

A candidate (or a corpus row) may crash the parser, make it read without end, exhaust memory, or
read files it should not see and leak them through a verdict message. Each test asserts the
SECURE behaviour: a per-candidate verdict instead of a dead run, bounded time and memory, honest
neighbours keep their verdicts, CLI exit codes in {0, 1, 2} with no traceback, and the test's
secret token never in any output (stdout, stderr, JSON, labeled.jsonl, prepare's files).
"""

from __future__ import annotations

import json
import os
import secrets
from functools import partial
from pathlib import Path

import pytest

import _attack
from _attack import BAD, GOOD, REF, by_file, cand, dump, equiv_json, verdicts
from verislice import Source

# a memory or stack bomb must end in a verdict, not in a crashed front end
CRASHES = ("MemoryError", "bad_alloc", "Segmentation")
cli = partial(_attack.cli, forbid=CRASHES)
# the attacker between an honest right and an honest wrong candidate of its prompt, and a second
# prompt in the same batch
batch = partial(_attack.batch, limit=60.0)


def deep_chain(kib: int = 350) -> str:
    """``wire z = a | a | ... ;`` about ``kib`` KiB long (pyslang's tree walk recurses once per
    operator)."""
    n = kib * 1024 // 4
    return cand(f"  wire [7:0] z = {' | '.join(['a'] * n)};")


BOMB = """module leaf(input x); wire w = x; endmodule
module mid(input x); leaf l[0:9999](.x(x)); endmodule
module mid2(input x); mid m[0:9999](.x(x)); endmodule
module top(input [7:0] a, input [7:0] b, output [7:0] y);
  mid2 u[0:9999](.x(a[0]));
  assign y = a & b;
endmodule
"""


def equiv_cli(tmp_path: Path, files: dict[str, str], *extra: str, **kw):
    """``verislice equiv ref.v <cands> --json --engine vvp``: (code, {file: candidate}, raw,
    seconds)."""
    rc, doc, raw, secs = equiv_json(tmp_path, files, "--engine", "vvp", "--cycles", "200",
                                    *extra, forbid=CRASHES, **kw)
    return rc, by_file(doc), raw, secs


def assert_neighbours_cli(c: dict) -> None:
    assert c["good.v"]["verdict"] == "OK" and c["good.v"]["outputs"]["y"]["verdict"] == "MATCH"
    assert c["bad.v"]["verdict"] == "OK" and c["bad.v"]["outputs"]["y"]["verdict"] == "MISMATCH"


# == 6. front-end limits =======================================================================

def test_deep_expression_gives_a_per_candidate_verdict(tmp_path):
    rc, c, _raw, _s = equiv_cli(tmp_path, {"ref.v": REF, "good.v": GOOD, "deep.v": deep_chain(),
                                           "bad.v": BAD})
    assert rc == 1
    assert_neighbours_cli(c)
    assert c["deep.v"]["verdict"] in ("COMPILE_ERROR", "REJECTED"), c["deep.v"]
    assert c["deep.v"]["message"].strip()


@pytest.mark.parametrize("command", [["cone", "deep.v", "--signal", "y"], ["graph", "deep.v"]],
                         ids=["cone", "graph"])
def test_deep_expression_cone_and_graph_fail_with_one_line(tmp_path, command):
    (tmp_path / "deep.v").write_text(deep_chain())
    rc, _out, err, _s = cli(["verislice", *command], tmp_path)
    assert rc == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err[-2000:]


def _samples(path: Path, rows: list[tuple[str, list[str]]]) -> None:
    with path.open("w") as fh:
        for rid, responses in rows:
            fh.write(json.dumps({"id": rid, "reference": REF, "responses": [
                f"```verilog\n{r}```" for r in responses]}) + "\n")


def _label(tmp_path: Path) -> tuple[str, list[dict]]:
    rc, out, err, _s = cli(["salv-train", "label", "samples.jsonl", "--out", "labeled.jsonl",
                            "--engine", "vvp", "--cycles", "200", "--jobs", "1"], tmp_path,
                           timeout=90)
    assert rc == 0, err[-2000:]
    text = (tmp_path / "labeled.jsonl").read_text()
    return out + err + text, [json.loads(ln) for ln in text.splitlines()]


def test_deep_expression_label_writes_a_verdict_and_reruns(tmp_path):
    _samples(tmp_path / "samples.jsonl", [("p0", [GOOD, deep_chain(), BAD]), ("p1", [GOOD, BAD])])
    _raw, rows = _label(tmp_path)
    assert [r["id"] for r in rows] == ["p0", "p1"]
    labels = rows[0]["labels"]
    assert [lb["outputs"] for lb in labels[::2]] == [{"y": "MATCH"}, {"y": "MISMATCH"}]
    assert labels[1]["verdict"] in ("COMPILE_ERROR", "REJECTED") and labels[1]["message"]
    assert [lb["outputs"] for lb in rows[1]["labels"]] == [{"y": "MATCH"}, {"y": "MISMATCH"}]
    _raw, again = _label(tmp_path)  # the rerun neither dies nor duplicates
    assert again == rows


def test_include_dev_zero_is_rejected_quickly(tmp_path):
    atk = cand(pre='`include "/dev/zero"\n')
    _rc, c, _raw, secs = equiv_cli(tmp_path, {"ref.v": REF, "good.v": GOOD, "atk.v": atk,
                                              "bad.v": BAD}, timeout=30)
    assert c["atk.v"]["verdict"] == "REJECTED", c["atk.v"]
    assert_neighbours_cli(c)
    assert secs < 30


def test_include_dev_stdin_is_rejected_quickly(tmp_path):
    atk = cand(pre='`include "/dev/stdin"\n')
    r, w = os.pipe()  # a stdin that never ends: reading it would hang
    try:
        _rc, c, _raw, secs = equiv_cli(tmp_path, {"ref.v": REF, "good.v": GOOD, "atk.v": atk,
                                                  "bad.v": BAD}, timeout=30, stdin=r)
    finally:
        os.close(r)
        os.close(w)
    assert c["atk.v"]["verdict"] == "REJECTED", c["atk.v"]
    assert_neighbours_cli(c)
    assert secs < 30


def test_instance_array_bomb_is_bounded(tmp_path):
    _rc, c, _raw, _secs = equiv_cli(tmp_path, {"ref.v": REF, "good.v": GOOD, "bomb.v": BOMB,
                                               "bad.v": BAD}, timeout=90)
    assert c["bomb.v"]["verdict"] in ("REJECTED", "COMPILE_ERROR", "TIMEOUT"), c["bomb.v"]
    assert_neighbours_cli(c)


# == 7. reading files ==========================================================================

@pytest.fixture
def secret(tmp_path):
    """(path of a secret file under tmp_path, its token)."""
    token = secrets.token_hex(16)
    d = tmp_path / "private"
    d.mkdir()
    return d / "secret.vh", token


def test_include_of_a_secret_file_is_rejected_and_not_leaked(secret):
    path, token = secret
    # pyslang's "use of undeclared identifier 'secret_<token>'" would carry the content
    path.write_text(f"secret_{token}\n")
    atk = cand(f"  wire [7:0] q =\n`include \"{path}\"\n  ;")
    r, res = batch(Source(atk, "atk.v"))
    assert token not in dump(res)
    assert r.verdict == "REJECTED", (r.verdict, r.message)


def test_include_of_a_file_that_would_make_the_candidate_match_is_rejected(secret):
    path, token = secret
    # the verdict itself must not depend on what a file outside the sandbox holds
    path.write_text(f"assign y = a & b; // {token}\n")
    atk = cand(f"`include \"{path}\"", y=None)
    r, res = batch(Source(atk, "atk.v"))
    assert token not in dump(res)
    assert r.verdict == "REJECTED", (r.verdict, verdicts(r), r.message)


def test_include_etc_hostname_is_rejected():
    atk = cand('`include "/etc/hostname"')
    r, _res = batch(Source(atk, "atk.v"))
    assert r.verdict == "REJECTED", (r.verdict, r.message)


def test_include_dirs_work_and_dotdot_is_refused(tmp_path, secret):
    path, token = secret  # tmp_path/private/secret.vh
    inc = tmp_path / "private" / "inc"
    inc.mkdir()
    (inc / "defs.vh").write_text("`define OP &\n")
    path.write_text(f"`define OP &\n`define LEAK secret_{token}\n")
    honest = '`include "defs.vh"\n' + cand(y="a `OP b")
    escape = '`include "../secret.vh"\n' + cand("  wire [7:0] q = `LEAK;", y="a `OP b")
    rc, c, raw, _s = equiv_cli(tmp_path, {"ref.v": REF, "good.v": GOOD, "honest.v": honest,
                                          "escape.v": escape, "bad.v": BAD}, "-I", str(inc))
    assert token not in raw
    assert_neighbours_cli(c)
    assert c["honest.v"]["verdict"] == "OK" and c["honest.v"]["outputs"]["y"]["verdict"] == "MATCH"
    assert c["escape.v"]["verdict"] in ("REJECTED", "COMPILE_ERROR"), c["escape.v"]
    assert rc == 1


def test_label_does_not_leak_an_included_secret(tmp_path, secret):
    path, token = secret
    path.write_text(f"secret_{token}\n")
    leak = cand(f"  wire [7:0] q =\n`include \"{path}\"\n  ;")
    _samples(tmp_path / "samples.jsonl", [("p0", [GOOD, leak, BAD])])
    raw, rows = _label(tmp_path)
    assert token not in raw
    labels = rows[0]["labels"]
    assert [lb["outputs"] for lb in labels[::2]] == [{"y": "MATCH"}, {"y": "MISMATCH"}]
    assert labels[1]["verdict"] == "REJECTED", labels[1]


def test_prepare_survives_hostile_rows(tmp_path, secret):
    path, token = secret
    path.write_text(f"secret_{token}\n")
    rows = {
        "good": REF,
        "deep": deep_chain(),
        "leak": cand(f"  wire [7:0] q =\n`include \"{path}\"\n  ;"),
        "zero": cand(pre='`include "/dev/zero"\n'),
    }
    with (tmp_path / "raw.jsonl").open("w") as fh:
        for rid, code in rows.items():
            fh.write(json.dumps({"id": rid, "prompt": f"Design {rid}.", "code": code}) + "\n")
    rc, out, err, secs = cli(["salv-train", "prepare", "raw.jsonl", "--out", "train.jsonl",
                              "--rejects", "rejects.jsonl", "--jobs", "1"], tmp_path, timeout=60)
    assert rc == 0, err[-2000:]
    kept = [json.loads(ln)["id"] for ln in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert kept == ["good"]
    rejects = (tmp_path / "rejects.jsonl").read_text()
    assert {json.loads(ln)["id"] for ln in rejects.splitlines()} == {"deep", "leak", "zero"}
    assert token not in out + err + rejects + (tmp_path / "train.jsonl").read_text()
