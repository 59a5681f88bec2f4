"""Attacks on the equivalence checker by the Verilog it judges (docs/security.md).

Every verdict of ``verislice equiv`` / ``verislice.equiv.check_batch`` is a reward for the model
that wrote the candidate: a checker a candidate can fool is a reward the model learns to hack.
Each test here is one attack. It asserts the SECURE behaviour: nothing written outside the
sandbox, no forged MATCH/PROVEN, honest neighbours in the same batch (same prompt, and another
prompt packed into the same simulation) keep their verdicts, CLI exit codes in {0, 1, 2} with no
traceback, bounded time, and the test's secret token never in any output.

Payloads write only under a ``canary`` directory inside ``tmp_path``; each embeds a fresh
``secrets.token_hex`` token.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest

from _attack import BAD, BIN, CORRECT, GOOD, REF, batch, by_file, cand, dump, equiv_json, \
    not_correct, verdicts
from verislice import Source


@pytest.fixture
def canary(tmp_path):
    """(canary directory, secret token): payloads may only try to write in there."""
    d = tmp_path / "canary"
    d.mkdir()
    return d, secrets.token_hex(16)


def assert_untouched(d: Path) -> None:
    assert not any(d.iterdir()), f"the candidate wrote outside the sandbox: {list(d.iterdir())}"


def fopen_payload(d: Path, token: str, name: str = "x") -> str:
    return (f"  integer fd;\n  initial begin fd = $fopen(\"{d}/{name}\", \"w\"); "
            f"$fdisplay(fd, \"{token}\"); $fclose(fd); end\n")


# == 1. the screen and the simulator must see the same text ===================================

def test_ifdef_icarus_hides_file_write_from_the_screen(canary):
    d, token = canary
    atk = cand(f"`ifdef __ICARUS__\n{fopen_payload(d, token)}`endif")
    r, res = batch(Source(atk, "atk.v"))
    assert_untouched(d)
    # one text for every tool: either the branch is gone everywhere (the honest logic MATCHes)
    # or the screen saw the file task (REJECTED)
    assert r.verdict in ("OK", "REJECTED"), r.message
    if r.verdict == "OK":
        assert verdicts(r) == {"y": "MATCH"}
    assert token not in dump(res)


def _hidden_file_write_cli(tmp_path: Path, canary, macro: str, *extra: str) -> None:
    """A file write under `ifdef <macro>`, through ``verislice equiv <extra>``: nothing written,
    the neighbours keep their verdicts, the token never shows."""
    d, token = canary
    atk = cand(f"`ifdef {macro}\n{fopen_payload(d, token)}`endif")
    rc, doc, raw, _s = equiv_json(tmp_path, {"ref.v": REF, "good.v": GOOD, "atk.v": atk,
                                             "bad.v": BAD}, *extra)
    assert_untouched(d)
    c = by_file(doc)
    assert c["good.v"]["outputs"]["y"]["verdict"] == "MATCH"
    assert c["bad.v"]["outputs"]["y"]["verdict"] == "MISMATCH"
    assert c["atk.v"]["verdict"] in ("OK", "REJECTED")
    assert rc == 1 and token not in raw


def test_ifdef_icarus_hides_file_write_cocotb_engine_cli(tmp_path, canary):
    _hidden_file_write_cli(tmp_path, canary, "__ICARUS__", "--cycles", "200")


def test_ifdef_verislice_standalone_hides_file_write_vvp_cli(tmp_path, canary):
    _hidden_file_write_cli(tmp_path, canary, "VERISLICE_STANDALONE", "--engine", "vvp",
                           "--cycles", "200")


def _formal_and_sim(tmp_path: Path, atk: str) -> tuple[str, str]:
    """The attacker's verdict for y under --formal and under simulation (the candidate's verdict
    when it was not simulated/proved)."""
    pytest.importorskip("pyosys")
    out = []
    for extra in (["--formal"], ["--engine", "vvp", "--cycles", "200"]):
        _rc, doc, _raw, _s = equiv_json(tmp_path, {"ref.v": REF, "atk.v": atk}, *extra)
        c = doc["candidates"][0]
        out.append(c["outputs"]["y"]["verdict"] if c["verdict"] == "OK" else c["verdict"])
    return out[0], out[1]


FORMAL_VS_SIM = {
    # right code where Yosys defines the macro, wrong code where Icarus reads it
    "ifdef-SYNTHESIS": cand("`ifdef SYNTHESIS\n  assign y = a & b;\n`else\n  assign y = a | b;\n"
                            "`endif", y=None),
    "ifdef-YOSYS": cand("`ifdef YOSYS\n  assign y = a & b;\n`else\n  assign y = a | b;\n`endif",
                        y=None),
    # Yosys skips `synopsys translate_off` regions; Icarus and pyslang read them
    "translate_off": cand("  // synopsys translate_off\n  assign y = a | b;\n"
                          "  // synopsys translate_on"),
    # Icarus acts on the directive inside the escaped identifier (see escaped_ifdef below);
    # pyslang and Yosys see `w` undriven
    "escaped-ifdef": cand("  wire [7:0] w;\n  assign y = w;\n  task NOPE; endtask\n"
                          "  initial begin : \\q`ifdef NOPE (); $display(\" `endif end "
                          "assign w = a & b; //\"); end", y=None),
}


@pytest.mark.parametrize("atk", list(FORMAL_VS_SIM.values()), ids=list(FORMAL_VS_SIM))
def test_formal_and_simulation_see_the_same_text(tmp_path, atk):
    formal, sim = _formal_and_sim(tmp_path, atk)
    assert not (formal in CORRECT and sim == "MISMATCH"), (formal, sim)
    if "REJECTED" not in (formal, sim):
        assert (formal in CORRECT) == (sim in CORRECT), (formal, sim)


# == 2. scopes the screen does not look at ====================================================

def _assert_rejected_without_trace(atk: str, d: Path, token: str) -> None:
    r, res = batch(Source(atk, "atk.v"))
    assert_untouched(d)
    assert r.verdict == "REJECTED", (r.verdict, r.message)
    assert token not in dump(res)


def test_package_function_with_file_task_is_rejected(canary):
    d, token = canary
    atk = cand("  integer r;\n  initial r = evil_pkg::leak(1);",
               pre=("package evil_pkg;\n  function automatic integer leak(input integer v);\n"
                    f"    integer fd;\n    begin fd = $fopen(\"{d}/pkg\", \"w\"); "
                    f"$fdisplay(fd, \"{token}\"); $fclose(fd); leak = v; end\n"
                    "  endfunction\nendpackage\n"))
    _assert_rejected_without_trace(atk, d, token)


def test_unit_scope_function_with_file_task_is_rejected(canary):
    d, token = canary
    atk = cand("  integer r;\n  initial r = leak(1);",
               pre=("function automatic integer leak(input integer v);\n  integer fd;\n"
                    f"  begin fd = $fopen(\"{d}/unit\", \"w\"); $fdisplay(fd, \"{token}\"); "
                    "$fclose(fd); leak = v; end\nendfunction\n"))
    _assert_rejected_without_trace(atk, d, token)


# == 3. reaching into the testbench ============================================================

READS = {
    # the reference's output wire of group 0 in the generated testbench (module verislice_tb)
    "tb-wire": "verislice_tb.g0_r0",
    "root": "$root.verislice_tb.g0_r0",
    "upward-instance": "g0_ref.y",  # upward name resolution from inside g0_c1
    "tb-ref-port": "verislice_tb.g0_ref.y",
}


@pytest.mark.parametrize("hidden", [True, False], ids=["ifdef-icarus", "plain"])
@pytest.mark.parametrize("path", list(READS.values()), ids=list(READS))
def test_hierarchical_read_of_the_reference_is_not_match(path, hidden):
    body = f"assign y = {path};"
    if hidden:  # hidden from pyslang, seen by Icarus
        atk = cand(f"`ifdef __ICARUS__\n  {body}\n`else\n  assign y = 8'd0;\n`endif", y=None)
    else:
        atk = cand("", y=path)
    r, _res = batch(Source(atk, "atk.v"))
    assert not_correct(r), (r.verdict, verdicts(r))
    assert r.verdict in ("REJECTED", "COMPILE_ERROR", "OK"), r.message


WRITES = {
    # forced 0, the testbench never counts a mismatch: every candidate of the batch MATCHes
    "force-vs_hit": "initial force verislice_tb.vs_hit = 1'b0;",
    # the stimulus bus of every design of the batch held at 0
    "always-bus": "always #1 verislice_tb.bus = 0;",
    "force-bus": "initial force verislice_tb.bus = 0;",
    "force-done": "initial force verislice_tb.done = 1'b1;",
}


@pytest.mark.parametrize("stmt,engine",
                         [(v, "vvp") for v in WRITES.values()]
                         + [(WRITES["force-vs_hit"], "cocotb")],
                         ids=[f"{k}-vvp" for k in WRITES] + ["force-vs_hit-cocotb"])
def test_hierarchical_write_into_the_testbench_does_not_change_neighbours(stmt, engine):
    atk = cand(f"`ifdef __ICARUS__\n  {stmt}\n`endif", y="8'd0")
    r, _res = batch(Source(atk, "atk.v"), engine=engine)  # asserts both prompts' neighbours
    assert not_correct(r), (r.verdict, verdicts(r))


def test_hierarchical_write_without_ifdef_is_not_accepted():
    atk = cand("  initial force verislice_tb.vs_hit = 1'b0;", y="8'd0")
    r, _res = batch(Source(atk, "atk.v"))
    assert r.verdict in ("REJECTED", "COMPILE_ERROR"), (r.verdict, verdicts(r))


# Icarus's preprocessor acts on a backtick inside an escaped identifier (`\q`ifdef`) and does not
# honour string literals while it skips an inactive branch; pyslang sees one identifier and one
# string, and no directive at all. So the text below is, for pyslang (and the screen), a named
# block that calls a task and displays a string; for Icarus, `ifdef NOPE` skips up to the
# `endif` inside that string and the rest of the "string" is code.
def escaped_ifdef(hidden: str, visible: str = "") -> str:
    return cand(f"{visible}\n  task NOPE; endtask\n"
                f"  initial begin : \\q`ifdef NOPE (); $display(\" `endif end {hidden} //\"); end",
                y=None)


def test_escaped_identifier_directive_cannot_read_the_reference():
    atk = escaped_ifdef("assign w = verislice_tb.g0_r0;", "  wire [7:0] w;\n  assign y = w;")
    r, _res = batch(Source(atk, "atk.v"))
    assert not_correct(r), (r.verdict, verdicts(r))


def test_escaped_identifier_directive_cannot_force_the_testbench():
    atk = escaped_ifdef("initial force verislice_tb.vs_hit = 1'b0;", "  assign y = 8'd0;")
    r, _res = batch(Source(atk, "atk.v"))  # asserts both prompts' neighbours
    assert not_correct(r), (r.verdict, verdicts(r))


def test_escaped_identifier_directive_cannot_write_files(canary):
    d, token = canary
    path = f"{d}/esc".encode()
    atk = escaped_ifdef(
        "initial begin fd = $fopen(fn, md); $fdisplay(fd, tk); $fclose(fd); end",
        f"  assign y = a & b;\n  integer fd;\n"
        f"  reg [{8 * len(path) - 1}:0] fn = {8 * len(path)}'h{path.hex()};\n"
        f"  reg [7:0] md = 8'h77;\n"  # "w"
        f"  reg [{8 * len(token) - 1}:0] tk = {8 * len(token)}'h{token.encode().hex()};")
    r, res = batch(Source(atk, "atk.v"))
    assert_untouched(d)
    assert r.verdict in ("OK", "REJECTED"), r.message


# A module the candidate does not define is a black box for pyslang, and its name is not renamed;
# in the shared testbench it is whatever design of the batch has that (renamed) name.
INSTANCES = {
    "reference": "vs0r_top u(.a(a), .b(b), .y(y));",
    "neighbour": "vs0c0_top u(.a(a), .b(b), .y(y));",  # good.v, the first candidate of group 0
    "testbench": "verislice_tb t();\n  assign y = a | b;",
}


@pytest.mark.parametrize("inst", list(INSTANCES.values()), ids=list(INSTANCES))
def test_instance_of_another_design_of_the_batch_is_not_match(inst):
    r, _res = batch(Source(cand(f"  {inst}", y=None), "atk.v"))
    assert not_correct(r), (r.verdict, verdicts(r))
    assert r.verdict in ("REJECTED", "COMPILE_ERROR"), (r.verdict, r.message)


@pytest.mark.parametrize("module", ["vsr_top", "vsf_gold"])
def test_formal_instance_of_the_wrapped_reference_is_not_proven(tmp_path, module):
    pytest.importorskip("pyosys")
    atk = cand(f"  {module} u(.a(a), .b(b), .y(y));", y=None)
    rc, doc, _raw, _s = equiv_json(tmp_path, {"ref.v": REF, "atk.v": atk, "good.v": GOOD,
                                         "bad.v": BAD}, "--formal")
    c = by_file(doc)
    assert c["good.v"]["outputs"]["y"]["verdict"] == "PROVEN"
    assert c["bad.v"]["outputs"]["y"]["verdict"] == "MISMATCH"
    assert c["atk.v"]["verdict"] in ("REJECTED", "COMPILE_ERROR"), c["atk.v"]
    assert rc == 1


# == 4. blame by forgeable names, and what one file leaves for the next ========================

@pytest.mark.parametrize("victim", ["g0_c0.v", "g1_c0.v", "g0_ref.v"])
def test_line_directive_cannot_blame_a_neighbour(victim):
    # the syntax error only Icarus sees, reported under a neighbour's temporary file name
    atk = cand() + f"`ifdef __ICARUS__\n`line 3 \"{victim}\" 0\nthis is not verilog ;\n`endif\n"
    r, _res = batch(Source(atk, "atk.v"), position=1)
    assert r.verdict in ("COMPILE_ERROR", "REJECTED", "OK"), r.message


def test_line_directive_without_ifdef_cannot_blame_a_neighbour():
    # Icarus 11 lacks `let`: pyslang accepts the helper module, Icarus does not
    atk = cand() + ("`line 3 \"g0_c0.v\" 0\nmodule helper(input x); let f(v) = v; "
                    "wire w = f(x); endmodule\n")
    r, _res = batch(Source(atk, "atk.v"), position=1)
    assert r.verdict in ("COMPILE_ERROR", "REJECTED", "OK"), r.message


SV_GOOD = """module top(input logic [7:0] a, input logic [7:0] b, output logic [7:0] y);
  logic [7:0] t;
  assign t = a & b;
  assign y = t;
endmodule
"""


def test_unterminated_begin_keywords_does_not_break_a_later_candidate():
    atk = cand() + '`begin_keywords "1364-1995"\n'
    r, _res = batch(Source(atk, "atk.v"), position=0, good=SV_GOOD)
    assert r.verdict in ("OK", "COMPILE_ERROR", "REJECTED"), r.message


def test_same_package_name_in_two_candidates_keeps_both_verdicts():
    # global names other than modules (packages, $unit functions) must not clash between
    # candidates of one simulation: the first definition would win, or the second fails
    atk = cand("", y="defs::op(a, b)", pre=(
        "package defs;\n  function automatic [7:0] op(input [7:0] x, input [7:0] z); "
        "op = x | z; endfunction\nendpackage\n"))
    good = cand("", y="defs::op(a, b)", pre=(
        "package defs;\n  function automatic [7:0] op(input [7:0] x, input [7:0] z); "
        "op = x & z; endfunction\nendpackage\n"))
    r, _res = batch(Source(atk, "atk.v"), position=0, good=good)
    assert (r.verdict, verdicts(r)) == ("OK", {"y": "MISMATCH"}), r.message


def test_same_unit_scope_function_in_two_candidates_keeps_both_verdicts():
    fn = "function automatic [7:0] op(input [7:0] x, input [7:0] z); op = x {} z; endfunction\n"
    atk = cand("", y="op(a, b)", pre=fn.format("|"))
    good = cand("", y="op(a, b)", pre=fn.format("&"))
    r, _res = batch(Source(atk, "atk.v"), position=0, good=good)
    assert (r.verdict, verdicts(r)) == ("OK", {"y": "MISMATCH"}), r.message


# == 8. output floods, early ends ==============================================================

def test_output_flood_gets_a_per_candidate_verdict(canary):
    _d, token = canary
    atk = cand(f"  initial forever $display(\"{token} {'z' * 60}\");")
    start = time.monotonic()
    r, res = batch(Source(atk, "atk.v"), timeout=5, limit=120)
    assert r.verdict in ("REJECTED", "TIMEOUT"), (r.verdict, r.message)
    assert time.monotonic() - start < 120
    assert token not in dump(res)


def test_output_flood_with_simulated_time_gets_a_per_candidate_verdict(canary):
    _d, token = canary
    atk = cand(f"  always @(a) repeat (100000) $display(\"{token} {'z' * 60}\");")
    r, res = batch(Source(atk, "atk.v"), timeout=5, limit=120)
    assert r.verdict in ("REJECTED", "TIMEOUT"), (r.verdict, r.message)
    assert token not in dump(res)


@pytest.mark.parametrize("engine", ["vvp", "cocotb"])
def test_finish_at_time_zero_does_not_make_neighbours_match(engine):
    atk = cand("  initial $finish;")
    r, _res = batch(Source(atk, "atk.v"), engine=engine)
    assert r.verdict == "REJECTED", (r.verdict, r.message)


def test_finish_at_time_zero_cli_default_engine(tmp_path):
    atk = cand("  initial $finish;")
    rc, doc, _raw, _s = equiv_json(tmp_path, {"ref.v": REF, "atk.v": atk, "bad.v": BAD},
                               "--cycles", "200")
    c = by_file(doc)
    assert c["bad.v"]["outputs"]["y"]["verdict"] == "MISMATCH"
    assert c["atk.v"]["verdict"] == "REJECTED"
    assert rc == 1


# == 7 (formal part). reading files through Yosys =============================================

def test_readmemh_of_a_secret_file_under_formal_is_rejected(tmp_path):
    pytest.importorskip("pyosys")
    token = secrets.token_hex(8)
    secret = tmp_path / "secret.hex"
    secret.write_text("\n".join(token[i:i + 2] for i in range(0, 16, 2)) + "\n")
    atk = cand(f"  reg [7:0] mem [0:7];\n  initial $readmemh(\"{secret}\", mem);\n"
               "  assign y = mem[a[2:0]];", y=None)
    rc, doc, raw, _s = equiv_json(tmp_path, {"ref.v": REF, "atk.v": atk, "good.v": GOOD},
                              "--formal")
    assert token not in raw
    c = by_file(doc)
    assert c["good.v"]["outputs"]["y"]["verdict"] == "PROVEN"
    assert c["atk.v"]["verdict"] == "REJECTED", c["atk.v"]
    # the bytes of the secret must not come back as counterexample values either
    for i in range(0, 16, 2):
        assert f'"actual": "{int(token[i:i + 2], 16):08b}"' not in raw
    assert rc == 1


# == 7 (the run itself). an interrupted run leaves nothing behind ==============================

def _procs_naming(path: Path) -> list[int]:
    """Processes (other than this one) whose command line or working directory names ``path``."""
    me, found = os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink(entry / "cwd") if os.access(entry / "cwd", os.R_OK) else ""
        except OSError:
            continue
        if str(path) in cmd or cwd.startswith(str(path)):
            found.append(int(entry.name))
    return found


def _simulating(path: Path) -> bool:
    """A vvp simulation runs in ``path``."""
    for pid in _procs_naming(path):
        try:
            if b"vvp" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_kills_every_child_and_removes_temp_dirs(tmp_path, sig):
    tmp = tmp_path / "tmp"  # the run's TMPDIR: every temporary directory it makes is in here
    tmp.mkdir()
    for name, text in {"ref.v": REF, "good.v": GOOD,
                       "hang.v": cand("  initial forever begin end")}.items():
        (tmp_path / name).write_text(text)
    p = subprocess.Popen([str(BIN / "verislice"), "equiv", "ref.v", "good.v", "hang.v",
                          "--engine", "vvp", "--timeout", "60"], cwd=tmp_path,
                         env=dict(os.environ, TMPDIR=str(tmp)), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        # wait for the simulation itself (vvp, held by the hanging candidate for up to 60 s):
        # shorter-lived processes in tmp (the sandbox probe, the compiler) may come and go first
        deadline = time.monotonic() + 60  # front end and compile first; slow on a loaded machine
        while not _simulating(tmp) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _simulating(tmp), "the simulation never started"
        time.sleep(0.5)
        p.send_signal(sig)
        _out, err = p.communicate(timeout=20)
        assert p.returncode != 0
        assert "Traceback" not in err, err[-3000:]
        deadline = time.monotonic() + 5
        while _procs_naming(tmp) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _procs_naming(tmp), "children outlived the interrupted run"
        assert list(tmp.iterdir()) == [], "temporary directories left behind"
    finally:
        for pid in _procs_naming(tmp):  # never leave a spinning simulator on a shared machine
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if p.returncode is None:
            p.communicate()
