"""jgnn._sizes: the one rule for rounding counts up to a bounded set of sizes."""

import pytest

from jgnn._sizes import check_ladder, next_pow2, round_up, round_up_multiple


def test_next_pow2_and_multiples_against_brute_force():
    for n in range(0, 300):
        p = next_pow2(n)
        assert p >= max(n, 1) and (p & (p - 1)) == 0 and (p == 1 or p // 2 < n)
        assert round_up_multiple(n, 7) == min(m for m in range(0, 400, 7) if m >= n)


def test_round_up_policies():
    assert round_up(0, "pow2", "s") == 0
    assert round_up(5, "pow2", "s") == 8
    assert round_up(5, None, "s") == 5 and round_up(5, "exact", "s") == 5
    assert round_up(5, (2, 6, 9), "s") == 6
    with pytest.raises(ValueError, match=r"s \(2, 4\) has no size >= 5"):
        round_up(5, (2, 4), "s")
    with pytest.raises(ValueError, match="strictly increasing"):
        round_up(1, (4, 2), "s")
    with pytest.raises(ValueError, match="got 'log'"):
        round_up(1, "log", "s")
    assert check_ladder([1, 3], "s") == (1, 3)
