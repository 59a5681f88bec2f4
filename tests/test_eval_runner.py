"""Scoring runs: every response gets a verdict (never a lost batch), identical candidates are
simulated once, and a run resumes from its cache. Real Icarus simulations on VerilogEval tasks."""

from __future__ import annotations

import json

import pytest

from conftest import BENCH_DIR, load_bundle
from salv_trainer.eval import SampleResult, VerdictCache, load_benchmark, score_responses
from salv_trainer.eval._harness import sv_iv_analyze


@pytest.fixture(scope="module")
def v2():
    load_bundle("verilogeval-v2-spec")
    return load_benchmark("verilogeval-v2-spec", BENCH_DIR, task_ids=["Prob001_zero", "Prob031_dff"])


ZERO = "module TopModule(output zero); assign zero = {}; endmodule"
DFF = "module TopModule(input clk, input d, output reg q); {} endmodule"


def test_each_bad_response_gets_its_own_verdict(v2):
    responses = {
        "Prob001_zero": [
            ZERO.format("1'b0"),
            ZERO.format(""),                                              # syntax error
            "module top(output zero); assign zero = 0; endmodule",        # wrong module name
            "module TopModule(output zero); reg r = 0; initial while (1) r = ~r;"
            " assign zero = 0; endmodule",                                # never ends
            "Sorry, I can only describe it in words.",                    # no code
            None,                                                         # not even a string
        ],
        "Prob031_dff": [
            DFF.format("always @(posedge clk) q <= ~d;"),                 # wrong logic
            DFF.format("always_comb q = 1;"),                             # no-sensitivity warning
            "```verilog\n" + DFF.format("always @(posedge clk) q <= d;") + "\n```",
        ],
    }
    result = score_responses(v2, responses, ks=(1,), jobs=2, timeout=2)
    zero = result.tasks["Prob001_zero"].samples
    # code pyslang's screen refuses never reaches Icarus: its message, no harness letter
    assert [(s.verdict, s.code) for s in zero] == [
        ("pass", "."), ("compile_error", ""), ("compile_error", ""), ("timeout", "T"),
        ("no_code", ""), ("no_code", "")]
    assert zero[1].message == "candidate.sv:1:46: error: expected expression"
    assert "'TopModule' is not defined" in zero[2].message
    dff = result.tasks["Prob031_dff"].samples
    assert [(s.verdict, s.code) for s in dff] == [("mismatch", "R"), ("warning", "n"), ("pass", ".")]
    assert dff[0].mismatches > 0 and "Output 'q' has" in dff[0].message
    assert (result.tasks["Prob001_zero"].c, result.tasks["Prob031_dff"].c) == (1, 1)
    assert result.pass_at_k["1"] == pytest.approx((1 / 6 + 1 / 3) / 2)


def test_identical_candidates_are_simulated_once_and_a_rerun_resumes_from_the_cache(v2, tmp_path):
    good, bad = ZERO.format("0"), ZERO.format("1")
    responses = {"Prob001_zero": [good] * 5 + [bad] * 3, "Prob031_dff": ["```\n" + good + "\n```"]}
    cache = tmp_path / "run.cache.jsonl"
    first = score_responses(v2, responses, ks=(1, 5), jobs=2, cache=cache)
    assert first.simulations == 3 and first.cached == 0     # good, bad, and good-for-the-dff task
    assert len(cache.read_text().splitlines()) == 3
    assert first.tasks["Prob001_zero"].c == 5
    assert first.tasks["Prob031_dff"].samples[0].verdict == "compile_error"  # ports do not match
    # an interrupted write leaves a torn line: ignored, nothing else lost
    with cache.open("a") as fh:
        fh.write('{"key": "abc", "result": {"verd')
    second = score_responses(v2, responses, ks=(1, 5), jobs=2, cache=cache)
    assert second.simulations == 0 and second.cached == 9
    assert second.to_json()["tasks"] == first.to_json()["tasks"] | {}  # same verdicts
    assert [s.verdict for s in second.tasks["Prob001_zero"].samples] == ["pass"] * 5 + ["mismatch"] * 3


def test_the_fence_with_the_top_module_wins_over_a_later_testbench(v2):
    response = ("Here is the design:\n```verilog\n" + ZERO.format("1'b0") + "\n```\n"
                "and a testbench:\n```verilog\nmodule tb;\n  TopModule dut(.zero());\nendmodule\n```\n")
    result = score_responses(v2, {"Prob001_zero": [response]})
    assert result.tasks["Prob001_zero"].samples[0].verdict == "pass"


def test_an_interrupted_run_keeps_its_finished_verdicts(v2, tmp_path):
    # eight distinct candidates (the comment sits inside the module), four of them right
    responses = {"Prob001_zero": [f"module TopModule(output zero); // {i}\n  assign zero = {i % 2};\n"
                                  "endmodule" for i in range(8)]}
    cache = tmp_path / "c.jsonl"

    def stop_after_two(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_responses(v2, responses, jobs=1, cache=cache, progress=stop_after_two)
    assert len(cache.read_text().splitlines()) == 2
    resumed = score_responses(v2, responses, jobs=2, cache=cache)
    assert (resumed.cached, resumed.simulations) == (2, 6)
    assert resumed.tasks["Prob001_zero"].c == 4


def test_missing_and_unknown_task_ids_are_reported(v2):
    result = score_responses(v2, {"Prob001_zero": [ZERO.format("0")], "Prob999_nope": ["x"]})
    assert result.missing == ["Prob031_dff"] and result.unknown == ["Prob999_nope"]
    assert result.coverage == {"tasks": 1, "of": 2, "samples_per_task": {"min": 1, "max": 1},
                               "complete": False}
    assert result.to_json()["coverage"] == result.coverage
    assert list(result.tasks) == ["Prob001_zero"] and result.pass_at_k == {"1": 1.0}


def test_json_output_schema(v2):
    result = score_responses(v2, {"Prob001_zero": [ZERO.format("0"), ZERO.format("1")],
                                  "Prob031_dff": ["", ""]}, ks=(1, 2),
                             settings={"temperature": 0.8, "n": 2})
    out = json.loads(json.dumps(result.to_json()))
    assert out["benchmark"] == "verilogeval-v2-spec" and out["temperature"] == 0.8
    assert out["pass_at_k"] == {"1": 0.25, "2": 0.5}
    assert out["tasks"]["Prob001_zero"]["n"] == 2 and out["tasks"]["Prob001_zero"]["c"] == 1
    assert out["tasks"]["Prob001_zero"]["verdicts"] == ["pass", "mismatch"]
    assert out["tasks"]["Prob031_dff"]["verdicts"] == ["no_code", "no_code"]
    assert out["verdict_counts"] == {"no_code": 2, "pass": 1, "mismatch": 1}
    assert out["unpassable_on_icarus11"] == []


def test_a_response_that_ends_the_simulation_itself_is_rejected(v2):
    """The benchmark's rule passes `Mismatches: 0 in 0 samples` (or a count cut short right
    before the first mismatch): a response that calls $finish could forge a pass with the
    testbench's own, real result line, so it is rejected before it runs."""
    for sneaky in ["module TopModule(output zero); initial $finish; assign zero = 1; endmodule",
                   "module TopModule(output zero); initial #30 $stop; assign zero = 1; endmodule"]:
        result = score_responses(v2, {"Prob001_zero": [sneaky]})
        s = result.tasks["Prob001_zero"].samples[0]
        assert s.verdict == "rejected" and "may not end the simulation" in s.message


def test_sv_iv_analyze_letters():
    assert sv_iv_analyze("Mismatches: 0 in 20 samples\n", "") == (".", 0)
    assert sv_iv_analyze("Hint: x\nMismatches: 3 in 20 samples\n", "") == ("R", 3)
    assert sv_iv_analyze("Mismatches: 3 in 20 samples\n", "always @(posedge reset)") == ("r", 3)
    assert sv_iv_analyze("a.sv:3: syntax error\nMismatches: 0 in 20 samples\n", "")[0] == "S"
    assert sv_iv_analyze("TIMEOUT\nMismatches: 0 in 20 samples\n", "")[0] == "T"
    assert sv_iv_analyze("x.sv:1: error: Unable to bind wire/reg/memory `clk'\n", "")[0] == "c"
    assert sv_iv_analyze("x.sv:1: error: Unable to bind wire/reg/memory `y'\n", "")[0] == "p"
    assert sv_iv_analyze("Mismatches: 0 in 20 samples (no error)\n", "")[0] == "C"


def test_cache_file_round_trip(tmp_path):
    c = VerdictCache(tmp_path / "c.jsonl")
    c.put("k1", SampleResult("mismatch", "R", 4, 0.1, "Hint"))
    c.close()
    again = VerdictCache(tmp_path / "c.jsonl")
    assert again.get("k1") == SampleResult("mismatch", "R", 4, 0.1, "Hint") and len(again) == 1
