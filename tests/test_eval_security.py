"""Responses are untrusted: the model being trained writes them, and a pass it can forge is a reward
it learns to hack. Real Icarus runs on real VerilogEval tasks (and a small hand-made RTLLM-style
tree, since RTLLM is a held-out set): a pass comes only from the testbench's own nonce'd result line,
a print flood stays bounded, and screened constructs are refused before anything is compiled."""

from __future__ import annotations

import re
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import pytest

from _rtllm import ADDER_TB, adder, adder_task
from conftest import BENCH_DIR, VERILOGEVAL_FILES, load_bundle
from salv_trainer.eval import VERDICTS, load_benchmark, score_responses
from salv_trainer.eval import _harness
from salv_trainer.eval._harness import result_literal_offsets


def _tasks(tag: str, ids: list[str]):
    load_bundle(tag)  # fails under CI / skips elsewhere when the bundle is missing
    return load_benchmark(tag, BENCH_DIR, task_ids=ids)


def _verdicts(tasks, responses, **kw) -> dict[str, list[str]]:
    result = score_responses(tasks, responses, jobs=2, **kw)
    return {tid: [s.verdict for s in tr.samples] for tid, tr in result.tasks.items()}


# -- the result literal the nonce goes into ------------------------------------------------------


@pytest.mark.parametrize("tag", list(VERILOGEVAL_FILES))
def test_every_verilogeval_testbench_has_exactly_one_rewritable_result_line(tag):
    rows = load_bundle(tag)  # fails under CI / skips elsewhere when the bundle is missing
    tasks = load_benchmark(tag, BENCH_DIR)
    assert len(tasks) == len(rows)
    nonce = "@0123456789abcdef@"
    missing = []
    for t in tasks:
        offsets = result_literal_offsets(t.testbench, t.rule)
        if len(offsets) != 1:
            missing.append((t.task_id, len(offsets)))
            continue
        text = _harness._insert(t.testbench, offsets, nonce)
        # only the format string changed, and it now prints the nonce in front
        assert text.replace(nonce, "") == t.testbench
        assert f'$display("{nonce}Mismatches: %1d in %1d samples"' in text, t.task_id
    assert not missing, f"testbenches without exactly one result literal: {missing}"


def test_only_result_formats_of_display_calls_are_rewritten():
    tb = """module tb;
  // $display("Mismatches: 0 in 1 samples");   a comment
  /* $display("Your Design Passed"); */
  initial begin
    $write("Mismatches: %1d in %1d samples", 0, 1);          // no newline: never a result line
    $fdisplay(f, "=========== Your Design Passed ===========");  // a file: never holds the nonce
    $display ( "Mismatches: %1d in %1d samples", e, n);
    $display("=========== Your Design Passed ===========");
  end
endmodule
"""
    v2 = result_literal_offsets(tb, "verilogeval-v2")
    assert [tb[o:o + 11] for o in v2] == ["Mismatches:"]
    rtllm = result_literal_offsets(tb, "rtllm")
    assert len(rtllm) == 1 and tb[rtllm[0] - 10:rtllm[0]] == '$display("'


# -- forged result lines ---------------------------------------------------------------------------

ZERO = "module TopModule(output zero); assign zero = {}; {} endmodule"
FORGE = '$display("Mismatches: 0 in 20 samples");'


@pytest.mark.parametrize(("tag", "tid", "module"), [
    ("verilogeval-v2-spec", "Prob001_zero", "TopModule"),
    ("verilogeval-v2-completion", "Prob001_zero", "TopModule"),
    ("verilogeval-v1-human", "zero", "top_module"),
])
def test_a_forged_mismatches_line_does_not_pass(tag, tid, module):
    tasks = _tasks(tag, [tid])
    z = ZERO.replace("TopModule", module)
    responses = {tid: [
        z.format("1'b0", ""),                               # honest, right
        z.format("1'b1", ""),                               # honest, wrong
        z.format("1'b1", f"initial {FORGE}"),               # wrong, prints the pass line at time 0
        z.format("1'b1", f"final {FORGE}"),                 # ... or at the very end
        z.format("1'b1", f"final begin {FORGE} {FORGE} end"),
        z.format("1'b1", 'initial $write("Mismatches: 0 in 20 samples\\n");'),
    ]}
    assert _verdicts(tasks, responses)[tid] == ["pass"] + ["mismatch"] * 5
    result = score_responses(tasks, {tid: responses[tid][2:3]})
    message = result.tasks[tid].samples[0].message
    assert "Mismatches: 0" not in message  # the message is the testbench's, not the forgery


PASS_LINE = '$display("=========== Your Design Passed ===========");'


def test_a_forged_rtllm_pass_line_does_not_pass(tmp_path):
    task = adder_task(tmp_path)
    responses = {"adder_8bit": [
        task.canonical_solution,                        # honest, right (reads test_data.dat)
        adder("a + b"),                                 # honest, wrong
        adder("a + b", f"initial {PASS_LINE}"),
        adder("a + b", f"final {PASS_LINE}"),
        adder("a + b", f"initial #1000 {PASS_LINE}"),   # after the testbench's own verdict
    ]}
    assert _verdicts([task], responses)["adder_8bit"] == ["pass"] + ["mismatch"] * 4


def test_a_testbench_without_a_rewritable_result_line_can_never_pass(tmp_path):
    # the pass text printed with $write (no newline) is not a result line: no nonce, no pass
    task = adder_task(tmp_path, ADDER_TB.replace(
        '$display("=========== Your Design Passed ===========");',
        '$write("=========== Your Design Passed ===========\\n");'))
    assert result_literal_offsets(task.testbench, "rtllm") == ()
    assert _verdicts([task], {"adder_8bit": [task.canonical_solution]}) == {"adder_8bit": ["mismatch"]}


@contextmanager
def _kept_sandboxes(monkeypatch, tmp_path: Path, nonce: str):
    """Run with a known nonce and keep every sandbox directory under ``tmp_path / "boxes"``."""
    boxes = tmp_path / "boxes"
    boxes.mkdir()
    monkeypatch.setattr(_harness, "_new_nonce", lambda: nonce)
    real = _harness.sandbox_dir

    @contextmanager
    def keep(prefix="x", keep=False):
        with real(prefix, keep=True) as d:
            yield d
        d.rename(boxes / d.name)

    monkeypatch.setattr(_harness, "sandbox_dir", keep)
    yield boxes


def test_the_nonce_is_only_in_the_testbench_and_its_own_output(monkeypatch, tmp_path):
    nonce = "@feedfacefeedfacefeedfacefeedface@"
    v2 = _tasks("verilogeval-v2-spec", ["Prob001_zero"])
    task = adder_task(tmp_path)
    with _kept_sandboxes(monkeypatch, tmp_path, nonce) as boxes:
        assert _verdicts(v2, {"Prob001_zero": [ZERO.format("0", "")]}) == {"Prob001_zero": ["pass"]}
        assert _verdicts([task], {"adder_8bit": [task.canonical_solution]}) == {"adder_8bit": ["pass"]}
        holding = sorted(p.name for p in boxes.rglob("*") if p.is_file()
                         and nonce.encode() in p.read_bytes())
    # the testbenches, what Icarus compiled them to, and the simulators' logs (written as the
    # testbench prints its result, at the end)
    assert holding == [".sim.out", ".sim.out", "sim", "sim.vvp", "test.sv", "testbench.v"]


# -- floods ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["verilogeval-v2-spec", "rtllm"])
def test_a_print_flood_is_cut_off_and_never_held_in_memory(which, tmp_path):
    flood = 'initial forever $display("flood flood flood flood flood flood flood flood");'
    if which == "rtllm":
        tasks = [adder_task(tmp_path)]
        # right answer + flood: the testbench would print its pass line, were it ever reached
        responses = {"adder_8bit": [adder("a + b + cin", flood)]}
    else:
        tasks = _tasks(which, ["Prob001_zero"])
        responses = {"Prob001_zero": [ZERO.format("0", flood)]}
    timeout = 20.0
    tracemalloc.start()
    try:
        result = score_responses(tasks, responses, jobs=1, timeout=timeout)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    (sample,) = next(iter(result.tasks.values())).samples
    assert sample.verdict in ("sim_error", "timeout"), sample  # timeout: a machine too loaded
    assert sample.seconds < 2 * timeout + 5
    assert peak < 16 * 1024 * 1024, f"parent held {peak / 2**20:.1f} MiB"
    if sample.verdict == "sim_error":
        assert "MiB limit" in sample.message


# -- screening (verislice.untrusted) -----------------------------------------------------------------


def test_rejected_is_a_verdict_and_counts_as_a_failure():
    assert "rejected" in VERDICTS


def test_a_hierarchical_reference_to_the_testbenchs_reference_is_rejected():
    tasks = _tasks("verilogeval-v2-spec", ["Prob031_dff"])
    head = "module TopModule(input clk, input d, output reg q);\n"
    peek = [
        # the reference's output (RefModule good1 in tb), by every kind of name
        head + "  always @* q = tb.good1.q;\nendmodule",
        head + "  always @* q = good1.q;\nendmodule",             # upward name resolution
        head + "  always @* q = $root.tb.q_ref;\nendmodule",
        # the testbench's error count
        head + "  always @(posedge clk) q <= d;\n  initial force tb.stats1.errors = 0;\nendmodule",
    ]
    result = score_responses(tasks, {"Prob031_dff": peek}, jobs=2)
    samples = result.tasks["Prob031_dff"].samples
    # never compiled with the testbench, let alone simulated
    for s in samples:
        assert s.verdict == "rejected" and s.code == "" and s.seconds == 0.0, samples
        assert re.search(r"\b(tb|good1)\b|\$root", s.message), s
    assert result.tasks["Prob031_dff"].c == 0 and result.pass_at_k == {"1": 0.0}


def _canary_response(canary: Path) -> str:
    return ("module TopModule(output zero);\n  integer f;\n  assign zero = 1'b0;\n"
            f'  initial begin f = $fopen("{canary}", "w"); $fwrite(f, "pwned"); $fclose(f); end\n'
            "endmodule\n")


def test_file_tasks_are_rejected_before_anything_runs(tmp_path):
    canary = tmp_path / "canary.txt"
    tasks = _tasks("verilogeval-v2-spec", ["Prob001_zero"])
    result = score_responses(tasks, {"Prob001_zero": [
        _canary_response(canary),
        'module TopModule(output zero); assign zero = 0; initial $system("touch x"); endmodule',
    ]})
    samples = result.tasks["Prob001_zero"].samples
    assert [s.verdict for s in samples] == ["rejected", "rejected"], samples
    assert all(re.search(r"\$(fopen|system)", s.message) for s in samples), samples
    assert not canary.exists()


def test_screening_verdicts_become_eval_verdicts(monkeypatch):
    """The real screen's verdicts become eval verdicts, in one batched screening call for every
    candidate of the run (the call is observed, not replaced)."""
    calls = []
    real = _harness.screen_designs

    def spy(designs, **kw):
        calls.append((len(designs), kw.get("top")))
        return real(designs, **kw)

    monkeypatch.setattr(_harness, "screen_designs", spy)
    tasks = _tasks("verilogeval-v2-spec", ["Prob001_zero"])
    peek = "module TopModule(output zero);\n  assign zero = tb.zero_ref;\nendmodule\n"
    broken = "module TopModule(output zero);\n  assign zero = ;\nendmodule\n"
    result = score_responses(tasks, {"Prob001_zero": [
        peek, broken, ZERO.format("0", ""), ZERO.format("1", ""), "no code at all"]})
    samples = result.tasks["Prob001_zero"].samples
    assert [s.verdict for s in samples] == ["rejected", "compile_error", "pass", "mismatch",
                                            "no_code"], samples
    assert "hierarchical reference" in samples[0].message
    assert samples[1].message.startswith("candidate.sv:2:")
    assert calls == [(4, "TopModule")]  # one batched call for every candidate of the run
