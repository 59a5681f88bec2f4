"""Paired statistics of the miniature (salv_trainer.pipeline._stats) against values computed by hand.

McNemar's exact and chi-square p-values are worked out below from the binomial and chi-square
formulas; the bootstrap is checked on cases whose answer is known exactly (a constant difference,
no difference) and against the normal approximation on a large sample.
"""

from __future__ import annotations

import math
import random

import pytest

from salv_trainer.pipeline import binom_two_sided, mcnemar, paired_bootstrap, seed_problem_ci


def test_exact_binomial_p_value_by_hand():
    # P(X <= 1 | n=10, 1/2) = (1 + 10) / 1024, doubled
    assert binom_two_sided(1, 10) == pytest.approx(22 / 1024)
    assert binom_two_sided(9, 10) == pytest.approx(22 / 1024)  # symmetric
    assert binom_two_sided(5, 10) == 1.0  # capped
    assert binom_two_sided(0, 0) == 1.0
    # P(X <= 2 | n=12) = (1 + 12 + 66) / 4096
    assert binom_two_sided(2, 12) == pytest.approx(2 * 79 / 4096)


def test_mcnemar_by_hand():
    # 20 problems: 8 right only under a, 2 right only under b, 6 right under both, 4 under neither
    a = {f"p{i}": i < 14 for i in range(20)}
    b = {f"p{i}": 8 <= i < 16 for i in range(20)}
    r = mcnemar(a, b)
    assert (r["n"], r["a_only"], r["b_only"]) == (20, 8, 2)
    assert r["delta"] == pytest.approx(6 / 20)
    assert r["p"] == pytest.approx(2 * (1 + 10 + 45) / 1024)  # exact: P(X <= 2 | 10) doubled
    assert r["chi2"] == pytest.approx((6 - 1) ** 2 / 10)
    assert r["p_chi2"] == pytest.approx(math.erfc(math.sqrt(2.5 / 2)))  # chi2(1) survival at 2.5
    assert r["p_chi2"] == pytest.approx(0.113846, abs=1e-6)
    # only the keys both have count; no discordant pair: p = 1
    same = mcnemar({"x": True, "y": False}, {"x": True, "y": False, "z": True})
    assert (same["n"], same["p"], same["p_chi2"], same["delta"]) == (2, 1.0, 1.0, 0.0)


def test_paired_bootstrap_known_cases():
    a = {f"p{i}": 0.5 + 0.1 * (i % 3) for i in range(30)}
    b = {k: v - 0.25 for k, v in a.items()}
    r = paired_bootstrap(a, b, n_boot=500)
    assert r["mean"] == pytest.approx(0.25)
    assert r["ci95"] == pytest.approx([0.25, 0.25])  # a constant difference has no spread
    assert r["p"] == pytest.approx(1 / 500)  # every resample is above 0
    none = paired_bootstrap(a, a, n_boot=200)
    assert none["mean"] == 0 and none["p"] == 1.0
    # problems only one side scored are left out
    r = paired_bootstrap({**a, "extra": 9.0}, b, n_boot=100)
    assert r["n_problems"] == 30 and r["mean"] == pytest.approx(0.25)


def test_paired_bootstrap_matches_the_normal_approximation_on_a_large_sample():
    rng = random.Random(0)
    n = 400
    a = {str(i): float(rng.random() < 0.55) for i in range(n)}
    b = {str(i): float(rng.random() < 0.45) for i in range(n)}
    d = [a[k] - b[k] for k in a]
    mean = sum(d) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    r = paired_bootstrap(a, b, n_boot=4000, seed=1)
    assert r["mean"] == pytest.approx(mean)
    lo, hi = r["ci95"]
    assert lo == pytest.approx(mean - 1.96 * sd / math.sqrt(n), abs=0.012)
    assert hi == pytest.approx(mean + 1.96 * sd / math.sqrt(n), abs=0.012)
    # z = mean / se; the two-sided normal p-value is close to the bootstrap's
    z = mean / (sd / math.sqrt(n))
    assert r["p"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)), abs=0.02)
    assert r == paired_bootstrap(a, b, n_boot=4000, seed=1)  # deterministic


def test_two_level_bootstrap_widens_with_seed_to_seed_spread():
    rng = random.Random(2)
    problems = [str(i) for i in range(100)]
    base = {p: rng.random() for p in problems}
    # three runs whose means differ by a training effect shared by every problem
    runs = [{p: base[p] + shift for p in problems} for shift in (-0.1, 0.0, 0.1)]
    ref = [dict(base) for _ in runs]
    one = paired_bootstrap(runs[1], ref[1], n_boot=1000)
    three = paired_bootstrap(runs, ref, n_boot=1000)
    assert one["ci95"] == pytest.approx([0.0, 0.0], abs=1e-12)
    assert three["n_runs"] == 3 and three["mean"] == pytest.approx(0.0, abs=1e-12)
    assert three["ci95"][0] < -0.05 and three["ci95"][1] > 0.05  # the seeds' spread shows
    with pytest.raises(ValueError, match="paired runs needed: 3 against 1"):
        paired_bootstrap(runs, ref[:1])


def test_seed_problem_ci_of_one_model():
    runs = [{"a": 1.0, "b": 0.0}, {"a": 1.0, "b": 0.0}]
    r = seed_problem_ci(runs, n_boot=2000)
    assert r["mean"] == 0.5 and r["n_runs"] == 2 and r["n_problems"] == 2
    assert r["ci95"][0] == 0.0 and r["ci95"][1] == 1.0  # resampling 2 problems: all 0 or all 1 possible
    assert seed_problem_ci({}, n_boot=10)["mean"] is None


def test_mask_overlap_by_hand():
    from salv_trainer.pipeline import mask_overlap

    # chosen right on x, wrong on y; rejected the reverse; both masks are x's cone
    chosen, rejected = "hdr\nxx\nyW\nend\n", "hdr\nxW\nyy\nend\n"
    cone = [[0, 4], [4, 7], [10, 14]]
    pair = {"chosen": chosen, "rejected": rejected, "chosen_spans": cone, "rejected_spans": cone,
            "kind": "partial"}
    m = mask_overlap([pair])
    # non-blank characters: 10 per side; cone 8 per side, of which "xx" / "xW" (2) on differing lines
    assert m["pairs"] == 1
    assert m["cone_on_diff"] == pytest.approx(4 / 16)
    assert m["full_on_diff"] == pytest.approx(8 / 20)
    assert m["chosen_diff_outside_cone"] == pytest.approx(2 / 4)  # "yW": wrong code only full trains on
    assert m["cone_fraction"] == pytest.approx(16 / 20)
    assert mask_overlap([pair], kinds=("complete",))["pairs"] == 0
