"""Designs and helpers shared by the attack tests (tests/test_security_*.py, docs/security.md).

An attack test puts one hostile candidate among honest neighbours, a right and a wrong candidate of
its own prompt and of a second (sequential) prompt packed into the same simulation, and asserts
that the neighbours keep their verdicts; console scripts run in their own session under a memory
limit and a timeout, and must exit with 0, 1 or 2 without a traceback.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verislice import Source, equiv

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

REF = """module top(input [7:0] a, input [7:0] b, output [7:0] y);
  assign y = a & b;
endmodule
"""
GOOD = """module top(input [7:0] a, input [7:0] b, output [7:0] y);
  assign y = b & a;
endmodule
"""
BAD = """module top(input [7:0] a, input [7:0] b, output [7:0] y);
  assign y = a | b;
endmodule
"""
# a second prompt, packed into the same simulations: an edge detector with a rising-edge counter
# (async active-low reset); gen.v gets `fall` wrong (combinationally)
SEQ_REF = (REPO / "examples/seq/ref.v").read_text()
SEQ_BAD = (REPO / "examples/seq/gen.v").read_text()
# honest and wrong only in its sequential behaviour: counts by two
SEQ_WRONG_COUNT = SEQ_REF.replace("count + 8'd1", "count + 8'd2")

FAST = {"engine": "vvp", "cycles": 200}
CORRECT = {"MATCH", "PROVEN", "BOUNDED"}

# the second prompt's honest neighbours: (file name, text, expected verdicts)
SEQ_NEIGHBOURS = [
    ("seq_good.v", SEQ_REF, {"rise": "MATCH", "fall": "MATCH", "count": "MATCH"}),
    ("seq_bad.v", SEQ_BAD, {"rise": "MATCH", "fall": "MISMATCH", "count": "MATCH"}),
]
SEQ_WRONG_COUNT_NEIGHBOUR = (
    "seq_wrong_count.v", SEQ_WRONG_COUNT, {"rise": "MATCH", "fall": "MATCH", "count": "MISMATCH"})


def cand(extra: str = "", y: str | None = "a & b", pre: str = "") -> str:
    """The reference's interface with ``assign y = <y>`` (none when ``y`` is None) and ``extra``
    inside the module, ``pre`` before it."""
    assign = "" if y is None else f"  assign y = {y};\n"
    return (f"{pre}module top(input [7:0] a, input [7:0] b, output [7:0] y);\n"
            f"{assign}{extra}\nendmodule\n")


def verdicts(r) -> dict[str, str]:
    return {n: o.verdict for n, o in r.outputs.items()}


def not_correct(r) -> bool:
    return not any(o.verdict in CORRECT for o in r.outputs.values())


def dump(results) -> str:
    return json.dumps([[r.to_json() for r in row] for row in results])


def show(res) -> str:
    return "; ".join(f"{r.name}: {r.verdict} {verdicts(r)} {r.message[:120]}"
                     for row in res for r in row)


def batch(attacker: Source, *, position: int = 1, good: str = GOOD, limit: float = 90.0,
          wrong_count: bool = False, **kw) -> tuple:
    """``check_batch`` with the attacker among honest neighbours of its own prompt (an honest
    right and an honest wrong candidate) and of a second, sequential prompt in the same batch
    (right, wrong `fall`, and with ``wrong_count`` also wrong `count`); ``kw`` overrides FAST.
    Asserts the run took under ``limit`` seconds and every neighbour kept its verdict. Returns
    (the attacker's result, all results)."""
    g0 = [Source(good, "good.v"), Source(BAD, "bad.v")]
    g0.insert(position, attacker)
    seq = SEQ_NEIGHBOURS + ([SEQ_WRONG_COUNT_NEIGHBOUR] if wrong_count else [])
    g1 = [Source(text, name) for name, text, _want in seq]
    opts = dict(FAST)
    opts.update(kw)
    start = time.monotonic()
    res = equiv.check_batch([(Source(REF, "ref.v"), g0), (Source(SEQ_REF, "seq_ref.v"), g1)],
                            **opts)
    assert time.monotonic() - start < limit
    rest = [r for i, r in enumerate(res[0]) if i != position]
    assert_neighbours(rest + res[1], [{"y": "MATCH"}, {"y": "MISMATCH"}]
                      + [want for _name, _text, want in seq], res)
    return res[0][position], res


def assert_neighbours(neighbours: list, wants: list[dict[str, str]], res) -> None:
    """Each honest neighbour is OK with exactly its expected verdicts."""
    assert len(neighbours) == len(wants)
    for r, want in zip(neighbours, wants):
        assert (r.verdict, verdicts(r)) == ("OK", want), \
            f"a neighbour's verdict changed: {r.name}: {r.message} ({show(res)})"


def cli(args: list[str], cwd: Path, *, timeout: float = 60, mem_gib: int = 4,
        stdin=subprocess.DEVNULL, forbid: tuple[str, ...] = ()):
    """Run a console script in its own session under a soft address-space limit (a memory bomb
    must not take the machine down); kill its whole process group on timeout (then fail).
    Asserts exit code in {0, 1, 2}, no traceback and none of ``forbid`` on stderr; returns
    (code, stdout, stderr, seconds)."""
    def limit():
        _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (mem_gib << 30, hard))

    start = time.monotonic()
    p = subprocess.Popen([str(BIN / args[0]), *args[1:]], cwd=cwd, stdin=stdin,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=limit)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"{' '.join(args[:2])} did not finish in {timeout} s")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # nothing it started may outlive it
        except ProcessLookupError:
            pass
    assert p.returncode in (0, 1, 2), (p.returncode, err[-2000:])
    assert "Traceback" not in err, err[-3000:]
    for word in forbid:
        assert word not in err, err[-2000:]
    return p.returncode, out, err, time.monotonic() - start


def equiv_json(tmp_path: Path, files: dict[str, str], *extra: str, **kw):
    """Write ``files`` into ``tmp_path`` and run ``verislice equiv ref.v <the others> --json
    <extra>`` there (``kw`` goes to :func:`cli`); asserts exit code 0 or 1. Returns (exit code,
    parsed JSON, stdout + stderr, seconds)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    names = [n for n in files if n != "ref.v"]
    rc, out, err, secs = cli(["verislice", "equiv", "ref.v", *names, "--json", *extra], tmp_path,
                             **kw)
    assert rc in (0, 1), err[-2000:]
    return rc, json.loads(out), out + err, secs


def by_file(doc: dict) -> dict[str, dict]:
    return {c["file"]: c for c in doc["candidates"]}
