"""The unbiased pass@k estimator against values computed by hand."""

from __future__ import annotations

import pytest

from salv_trainer.eval import mean_pass_at_k, pass_at_k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (20, 0, 1, 0.0),            # c = 0: never
        (20, 0, 10, 0.0),
        (20, 20, 1, 1.0),           # c = n: always
        (20, 20, 20, 1.0),
        (5, 1, 5, 1.0),             # n = k: the one correct sample is always drawn
        (5, 0, 5, 0.0),
        (20, 5, 1, 5 / 20),         # k = 1 is the fraction correct
        (10, 3, 2, 1 - (7 * 6) / (10 * 9)),     # 1 - C(7,2)/C(10,2) = 1 - 21/45
        (10, 3, 5, 1 - 21 / 252),               # C(7,5)=21, C(10,5)=252
        (20, 1, 10, 0.5),           # one correct in 20, draw half: 1 - C(19,10)/C(20,10) = 10/20
        (4, 2, 3, 1.0),             # n - c < k: any 3 of 4 include a correct one
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_impossible_arguments(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_over_tasks_and_k_larger_than_n_left_out():
    counts = [(4, 0), (4, 4), (4, 1)]
    got = mean_pass_at_k(counts, [1, 2, 5])
    assert set(got) == {"1", "2"}       # pass@5 needs n >= 5 on every task
    assert got["1"] == pytest.approx((0 + 1 + 0.25) / 3)
    assert got["2"] == pytest.approx((0 + 1 + 0.5) / 3)   # 1 - C(3,2)/C(4,2) = 1 - 3/6
    assert mean_pass_at_k([], [1]) == {}
