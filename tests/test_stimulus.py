"""The stimulus of verislice.equiv: what it is made of, and the differences its default finds.

Three designs of the shapes random vectors miss, each with a wrong candidate that the stimulus
before issue 12 (1000 cycles, five sequences, no placed constants) called MATCH on seed 0:

* a gshare-style predictor (a 256-entry table of 3-bit saturating counters indexed by
  history ^ pc) whose candidate decrements a saturated counter when it should not: the outputs
  differ only after one entry is trained taken five times or more, then not-taken exactly
  three times, and is then predicted before it is trained again. Measured on seeds 0-9: the
  default catches it on all 10, the old stimulus on 4 (not on 0), the old one at 2000 cycles
  on 9;
* a decoder whose candidate is wrong for one 16-bit value, a case label over ``{hi, lo}``: only
  the two bytes together select it;
* a timer that reaches its terminal count after 1500 enabled cycles without reset.
"""

from __future__ import annotations

import pytest

from verislice import Source, equiv, load
from verislice.equiv import EquivOptions
from verislice.equiv._detect import detect_timing, hints_of
from verislice.equiv._options import (CYCLES_CEILING, CYCLES_FLOOR, auto_cycles, long_run)
from verislice.equiv._stimulus import InputSpec, make_stimulus, sequence_lengths

FAST = {"engine": "vvp"}


def S(text: str, name: str = "cand.v") -> Source:
    return Source(text, name)


PRED = """module pred (
    input        clk,
    input        areset,
    input        predict_valid,
    input  [7:0] predict_pc,
    output       predict_taken,
    output [7:0] predict_history,
    input        train_valid,
    input        train_taken,
    input        train_mispredicted,
    input  [7:0] train_history,
    input  [7:0] train_pc
);
    reg [2:0] pht [0:255];
    reg [7:0] hist;
    wire [7:0] pidx = hist ^ predict_pc;
    wire [7:0] tidx = train_history ^ train_pc;
    integer i;
    always @(posedge clk or posedge areset) begin
        if (areset) begin
            for (i = 0; i < 256; i = i + 1) pht[i] <= 3'd3;
            hist <= 8'd0;
        end else begin
            if (predict_valid) hist <= {hist[6:0], predict_taken};
            if (train_valid) begin
                if (pht[tidx] < 3'd7 && train_taken) pht[tidx] <= pht[tidx] + 3'd1;
                else if (pht[tidx] > 3'd0 && !train_taken) pht[tidx] <= pht[tidx] - 3'd1;
                if (train_mispredicted) hist <= {train_history[6:0], train_taken};
            end
        end
    end
    assign predict_taken = predict_valid ? pht[pidx][2] : 1'b0;
    assign predict_history = hist;
endmodule
"""
# the Prob153_gshare mutant's shape: `||` for `&&` decrements a saturated counter on "taken"
PRED_BAD = PRED.replace("pht[tidx] > 3'd0 && !train_taken", "pht[tidx] > 3'd0 || !train_taken")

KEY = """module keymatch (
    input      [7:0] hi,
    input      [7:0] lo,
    output reg [3:0] code,
    output reg       hit
);
    always @(*) begin
        hit = 1'b1;
        case ({hi, lo})
            16'hbeef: code = 4'd9;
            16'h1234: code = 4'd3;
            16'h0f0f: code = 4'd5;
            default: begin code = 4'd0; hit = 1'b0; end
        endcase
    end
endmodule
"""
KEY_BAD = KEY.replace("16'hbeef: code = 4'd9", "16'hbeef: code = 4'd8")

TIMER = """module tmr (
    input  clk,
    input  rst,
    input  ena,
    output done
);
    reg [10:0] cnt;
    always @(posedge clk) begin
        if (rst) cnt <= 11'd0;
        else if (ena && cnt != 11'd1500) cnt <= cnt + 11'd1;
    end
    assign done = cnt == 11'd1500;
endmodule
"""
# counts one cycle further: `done` falls again after 1501 enabled cycles
TIMER_BAD = TIMER.replace("ena && cnt != 11'd1500", "ena && cnt != 11'd1501")

AUTO = EquivOptions().cycles is None
needs_auto = pytest.mark.skipif(
    not AUTO, reason="the default cycle budget is not automatic yet (EquivOptions.cycles must "
                     "default to None, which verislice.equiv._api resolves per reference)")


def timing_of(text: str):
    return detect_timing(load([S(text, "ref.v")]), EquivOptions())


# -- what the stimulus is made of ----------------------------------------------------------------

def test_state_bits_and_counters_from_the_ast():
    t = timing_of(PRED)
    # the table and the history register; the loop variable is no state
    assert t.sequential and t.state_bits == t.hidden_bits == 256 * 3 + 8
    assert t.counter_bits == 3  # pht[i] <= pht[i] + 1: one element
    assert t.durations == (7,)  # pht[tidx] < 3'd7
    t = timing_of(TIMER)
    assert (t.state_bits, t.hidden_bits, t.counter_bits) == (11, 11, 11)
    assert t.controls == ("ena",) and t.reset == "rst"  # `if (ena && ...)`: an enable
    t = timing_of(KEY)
    assert not t.sequential and t.state_bits == 0
    # registers of a submodule count; a shift register is state but no counter; registers
    # that are outputs are state the outputs show
    sub = """module sr(input clk, input d, output q); reg [15:0] s;
      always @(posedge clk) s <= {s[14:0], d}; assign q = s[15]; endmodule
    module top(input clk, input d, output q, output reg [7:0] r);
      sr u(.clk(clk), .d(d), .q(q)); always @(posedge clk) r <= {r[6:0], q}; endmodule"""
    t = detect_timing(load([S(sub, "ref.v")], top="top"), EquivOptions())
    assert (t.state_bits, t.hidden_bits, t.counter_bits) == (24, 16, 0)
    # the digits of a BCD counter add up (a chain of counters runs as long as one of 16 bits)
    bcd = """module bcd(input clk, input reset, output reg [15:0] q);
      wire [3:0] en = {q[11:0] == 12'h999, q[7:0] == 8'h99, q[3:0] == 4'h9, 1'b1};
      always @(posedge clk)
        for (int i = 0; i < 4; i++)
          if (reset || (q[i*4 +: 4] == 9 && en[i])) q[i*4 +: 4] <= 0;
          else if (en[i]) q[i*4 +: 4] <= q[i*4 +: 4] + 1;
    endmodule"""
    t = timing_of(bcd)
    assert (t.state_bits, t.hidden_bits, t.counter_bits) == (16, 0, 16)
    clock = """module clk3(input clk, input reset, output reg [7:0] ss, mm);
      always @(posedge clk)
        if (reset) begin ss <= 0; mm <= 0; end
        else begin
          if (ss[3:0] == 9) ss[3:0] <= 0; else ss[3:0] <= ss[3:0] + 1;
          if (ss[3:0] == 9) begin
            if (ss[7:4] == 5) ss[7:4] <= 0; else ss[7:4] <= ss[7:4] + 1;
          end
          if (ss == 8'h59) mm <= mm + 1;
        end
    endmodule"""
    assert timing_of(clock).counter_bits == 4 + 4 + 8


def test_automatic_cycle_budget():
    assert auto_cycles(False, 0, 0) == CYCLES_FLOOR == 1000
    assert auto_cycles(True, 1, 0) == auto_cycles(True, 32, 0) == 1000
    assert auto_cycles(True, 64, 0) == 2000  # 1000 more per doubling beyond 32 hidden bits
    assert auto_cycles(True, 128, 0) == 3000
    assert auto_cycles(True, 10**6, 0) == CYCLES_CEILING == 4000
    # counters: both quiet sequences run through their range (2**w cycles, an eighth more)
    assert long_run(8) == 256 + 32 + 32
    assert auto_cycles(True, 8, 8) == 1500  # 1000 + 2 * (320 - 222), rounded up
    assert long_run(10) == 1024 + 128 + 32
    assert auto_cycles(True, 10, 10) == 3000
    assert auto_cycles(True, 11, 11) == auto_cycles(True, 11, 30) == CYCLES_CEILING
    t = timing_of(TIMER)
    assert EquivOptions(cycles=None).cycles_for(t) == 4000
    assert EquivOptions(cycles=1234).cycles_for(t) == 1234  # an explicit value wins
    assert EquivOptions(cycles=None).cycles_for(timing_of(KEY)) == 1000
    # 776 hidden bits: 1000 * (1 + log2(776 / 32)) = 5600, over the ceiling
    assert EquivOptions(cycles=None).cycles_for(timing_of(PRED)) == 4000


def test_quiet_sequences_last_as_long_as_the_widest_counter_needs():
    styles = ("uniform", "quiet", "constants", "quiet-inverse", "mixed", "repeat")
    lengths = sequence_lengths(3000, styles, 10)
    assert sum(lengths) == 3000 and min(lengths) > 0
    assert lengths[1] == lengths[3] == long_run(10)
    assert sum(lengths) - 2 * long_run(10) >= 1000 * 5 // 9  # the others keep their shares
    # a budget given by hand: the other sequences keep half their shares of the first 1000
    assert sequence_lengths(1000, styles, 0) == [111, 222, 111, 222, 111, 223]
    lengths = sequence_lengths(1000, styles, 11)
    assert sum(lengths) == 1000 and lengths[1] == lengths[3] == (1000 - 277) // 2
    assert sequence_lengths(1000, styles, 8)[1] == long_run(8) == 256 + 32 + 32
    # at the ceiling the quiet sequences take what the others leave: 1861 of 2336 cycles
    lengths = sequence_lengths(4000, styles, 11)
    assert lengths[1] == lengths[3] == (4000 - 277) // 2
    assert sequence_lengths(7, styles, 0) == [1, 1, 1, 1, 1, 2]


def test_placed_constants():
    text = """module m #(parameter [15:0] KEY = 16'hbeef) (input [7:0] hi, lo, input [31:0] bus,
        input [15:0] x, output a, b, c, d);
      localparam [15:0] SUM = 16'hc0de + 16'h0101;
      assign a = {hi, lo} == KEY;
      assign b = bus[23:8] == 16'ha5c3;
      assign c = (x + 16'd3) == SUM;
      assign d = x > 16'd1000;
    endmodule"""
    hints = set(hints_of(load([S(text, "ref.v")])))
    assert (("lo", 0, 8, 0xEF), ("hi", 0, 8, 0xBE)) in hints
    assert (("bus", 8, 16, 0xA5C3),) in hints
    assert (("x", 0, 16, 0xC1DF - 3),) in hints
    assert {(("x", 0, 16, v),) for v in (999, 1000, 1001)} <= hints  # `>`: both sides of it


def test_same_seed_same_vectors_other_seed_other_vectors():
    t = timing_of(PRED)
    specs = [InputSpec(p.name, p.width) for p in load([S(PRED, "ref.v")]).inputs]

    def stim(seed, samples=None):
        return make_stimulus(specs, t, {0, 1, 7, 15}, samples=samples, seed=seed, sequences=6,
                             key="k")

    a, b, c = stim(3), stim(3), stim(4)
    assert a.columns == b.columns and a.starts == b.starts
    assert a.columns != c.columns
    assert a.samples == auto_cycles(True, t.hidden_bits, t.counter_bits) == 4000
    assert a.styles == ("uniform", "quiet", "constants", "quiet-inverse", "mixed", "repeat")
    assert "clk" not in a.columns and all(len(col) == a.samples for col in a.columns.values())
    # each sequence starts with the reset asserted, then releases it
    for s in a.starts:
        assert a.columns["areset"][s] == 1
    assert sum(a.columns["areset"]) < a.samples // 20  # resets are rare
    # enables and valids are mostly active, except in the quiet sequence (off after its burst)
    bounds = [*a.starts, a.samples]
    on = {style: (sum(a.columns["train_valid"][lo:hi]), hi - lo)
          for lo, hi, style in zip(bounds, bounds[1:], a.styles)}
    assert on["quiet"][0] < 0.01 * on["quiet"][1]
    assert on["quiet-inverse"][0] > 0.99 * on["quiet-inverse"][1]
    rest = [on[st] for st in ("uniform", "constants", "mixed", "repeat")]
    assert sum(n for n, _ in rest) > 0.55 * sum(m for _, m in rest)
    # explicit sample counts are kept
    assert stim(3, 777).samples == 777


def test_wide_constant_is_placed_into_the_stimulus():
    t = timing_of(KEY)
    assert (("lo", 0, 8, 0xEF), ("hi", 0, 8, 0xBE)) in t.hints
    st = make_stimulus([InputSpec("hi", 8), InputSpec("lo", 8)], t, {0xBEEF}, samples=1000,
                       seed=0, sequences=5, key="k")
    pairs = list(zip(st.columns["hi"], st.columns["lo"]))
    assert pairs.count((0xBE, 0xEF)) >= 5


# -- the differences the default finds -------------------------------------------------------------

@needs_auto
def test_deep_history_difference_is_caught_by_the_default():
    r = equiv.check(S(PRED, "ref.v"), S(PRED_BAD), **FAST)
    assert r.verdict == equiv.OK
    assert r.outputs["predict_taken"].verdict == equiv.MISMATCH
    assert r.outputs["predict_history"].verdict == equiv.MISMATCH
    assert r.outputs["predict_taken"].samples == 2 * 4000


@needs_auto
@pytest.mark.parametrize("seed", [1, 2])
def test_deep_history_difference_is_caught_on_other_seeds(seed):
    r = equiv.check(S(PRED, "ref.v"), S(PRED_BAD), seed=seed, **FAST)
    assert r.outputs["predict_taken"].verdict == equiv.MISMATCH


def test_exact_wide_constant_is_caught_by_the_default():
    r = equiv.check(S(KEY, "ref.v"), S(KEY_BAD), **FAST)
    assert r.outputs["code"].verdict == equiv.MISMATCH
    assert r.outputs["hit"].verdict == equiv.MATCH
    ff = r.outputs["code"].first_failure
    assert (ff.inputs["hi"], ff.inputs["lo"]) == ("10111110", "11101111")
    assert r.outputs["code"].samples == 1000  # combinational: no more vectors than before


@needs_auto
def test_long_run_timer_is_caught_by_the_default():
    r = equiv.check(S(TIMER, "ref.v"), S(TIMER_BAD), **FAST)
    assert r.outputs["done"].verdict == equiv.MISMATCH
    assert r.outputs["done"].first_failure.cycle > 1500
    assert r.outputs["done"].samples == 2 * 4000


def test_long_run_timer_needs_the_budget():
    # 1000 cycles cannot hold 1501 enabled ones: what catches the timer is the budget
    r = equiv.check(S(TIMER, "ref.v"), S(TIMER_BAD), cycles=1000, **FAST)
    assert r.outputs["done"].verdict == equiv.MATCH


@needs_auto
def test_the_right_candidates_still_match_under_the_default():
    res = equiv.check_batch([(S(PRED, "ref.v"), [S(PRED)]), (S(KEY, "ref.v"), [S(KEY)]),
                             (S(TIMER, "ref.v"), [S(TIMER)])], **FAST)
    for (r,) in res:
        assert r.verdict == equiv.OK and all(o.verdict == equiv.MATCH
                                             for o in r.outputs.values()), r
