import pytest

from simulations import queueing


def test_erlang_b_and_c_match_reference_values():
    assert queueing.erlang_b(10, 9) == pytest.approx(0.167963, abs=1e-6)
    assert queueing.erlang_c(10, 9) == pytest.approx(0.668732, abs=1e-6)
    assert queueing.mmc_wait_mean(9, 1, 10) == pytest.approx(0.668732, abs=1e-6)
    assert queueing.erlang_c(3, 2) == pytest.approx(0.444444, abs=1e-6)


def test_unstable_mmc_waits_forever():
    assert queueing.erlang_c(10, 10) == 1.0
    assert queueing.mmc_wait_mean(10, 1, 10) == float("inf")


def test_mmck_matches_reference_values_and_reduces_to_erlang_b():
    result = queueing.mmck(9, 1, 10, 15)
    assert result.p_block == pytest.approx(0.061259, abs=1e-6)
    assert result.wq == pytest.approx(0.126277, abs=1e-6)
    assert result.l_sys == pytest.approx(9.515541, abs=1e-6)
    assert queueing.mmck(9, 1, 10, 10).p_block == pytest.approx(queueing.erlang_b(10, 9))


def test_erlang_a_matches_reference_values_even_when_overloaded():
    a = queueing.erlang_a(9, 1, 10, 0.5)
    assert a.p_wait == pytest.approx(0.468942, abs=1e-6)
    assert a.p_abandon == pytest.approx(0.067012, abs=1e-6)
    over = queueing.erlang_a(12, 1, 10, 0.5)
    assert over.p_abandon == pytest.approx(0.195656, abs=1e-6)
    assert over.lq == pytest.approx(4.695743, abs=1e-5)


@pytest.mark.parametrize(("lam", "mu", "nu"), [(0.5, 1, 1), (0.7, 1, 0.3), (0.3, 2, 5)])
def test_retrial_closed_form_agrees_with_the_ctmc(lam, mu, nu):
    closed = queueing.mm1_retrial(lam, mu, nu)
    numeric = queueing.mm1_retrial_ctmc(lam, mu, nu)
    assert closed.orbit_mean == pytest.approx(numeric.orbit_mean, rel=1e-6)
    assert closed.p_busy == pytest.approx(numeric.p_busy, rel=1e-6)


def test_retrial_with_instant_retries_is_an_mm1_queue():
    assert queueing.mm1_retrial(0.5, 1, 1e9).orbit_mean == pytest.approx(0.5, rel=1e-6)
