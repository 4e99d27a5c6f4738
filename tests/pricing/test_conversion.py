"""Standard-tenor choice, the three RCV conventions, and the neutralising hedge."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from pricing.conventions import Tenor
from pricing.conversion import RcvConvention, SettledFlows, convert, standard_tenors
from pricing.errors import PricingInputError
from pricing.risk import BumpedMarkets, analyse
from pricing.swaps import SwapBook
from tests.pricing import patent

MARKETS = BumpedMarkets.of(patent.market())


def _book(maturities: list[dt.date], side: float = 1.0, rate: float = 0.0515) -> SwapBook:
    n = len(maturities)
    conv = patent.table_book().convention
    return SwapBook.of(
        conv,
        [patent.SPOT] * n,
        [m.toordinal() for m in maturities],
        [1e7] * n,
        [rate] * n,
        [side] * n,
    )


def test_next_standard_tenor_at_or_beyond_the_remaining_term() -> None:
    book = _book(
        [
            dt.date(2017, 6, 14),
            dt.date(2017, 12, 14),
            dt.date(2017, 12, 15),
            dt.date(2008, 3, 1),
            dt.date(2052, 1, 1),
        ]
    )
    chosen, maturities = standard_tenors(book, patent.VALUATION)
    assert [str(t) for t in chosen] == ["10Y", "10Y", "12Y", "1Y", "50Y"]
    assert maturities[0] == dt.date(2017, 12, 14).toordinal()
    custom, _ = standard_tenors(book, patent.VALUATION, [Tenor.parse("5Y"), Tenor.parse("50Y")])
    assert [str(t) for t in custom] == ["50Y", "50Y", "50Y", "5Y", "50Y"]
    with pytest.raises(PricingInputError):
        standard_tenors(book, patent.VALUATION, [Tenor.parse("30Y")])


def test_same_coupon_rcv_is_minus_the_forward() -> None:
    book = _book([dt.date(2017, 6, 14)])
    result = convert(book, MARKETS)
    fwd = SwapBook.of(
        book.convention,
        [dt.date(2017, 6, 14).toordinal()],
        [dt.date(2017, 12, 14).toordinal()],
        [1e7],
        [0.0515],
        [1.0],
    )
    forward = analyse(fwd, MARKETS)
    assert result.rcv[0] == pytest.approx(-forward.npv[0], abs=1e-6)
    assert result.residual_dv01[0] == pytest.approx(forward.dv01[0], abs=1e-6)
    assert result.standard_rate[0] == 0.0515


def test_at_market_rcv_is_the_defaulted_npv() -> None:
    book = _book([dt.date(2017, 6, 14), dt.date(2021, 2, 1)], side=-1.0)
    result = convert(book, MARKETS, RcvConvention.AT_MARKET)
    np.testing.assert_allclose(result.rcv, result.defaulted.npv, atol=1e-6)
    np.testing.assert_allclose(result.standard.npv, 0.0, atol=1e-6)
    np.testing.assert_allclose(result.standard_rate, result.standard.par_rate, atol=1e-15)


def test_zero_cash_moves_the_coupon_so_no_cash_changes_hands() -> None:
    book = _book([dt.date(2017, 6, 14), dt.date(2031, 9, 9)], rate=0.061)
    result = convert(book, MARKETS, RcvConvention.ZERO_CASH)
    np.testing.assert_allclose(result.rcv, 0.0, atol=1e-6)
    d, s = result.defaulted, result.standard
    expected = s.par_rate - (d.par_rate - 0.061) * d.svf / s.svf
    np.testing.assert_allclose(result.standard_rate, expected, atol=1e-15)


@pytest.mark.parametrize("convention", list(RcvConvention))
def test_hedge_neutralises_the_ccp_residual(convention: RcvConvention) -> None:
    book = _book([dt.date(2017, 6, 14), dt.date(2014, 1, 20)], side=-1.0)
    result = convert(book, MARKETS, convention)
    assert np.all(result.hedge_notional > 0)
    # After the auction the CCP holds defaulted - standard; adding the hedge leaves no DV01.
    hedge = SwapBook.of(
        book.convention,
        book.maturity,
        result.standard_maturity,
        result.hedge_notional,
        np.zeros(2),
        result.hedge_side,
    )
    par = analyse(hedge, MARKETS).par_rate
    hedge_dv01 = analyse(hedge.replace(fixed_rate=par), MARKETS).dv01
    residual = result.defaulted.dv01 - result.standard.dv01 + hedge_dv01
    np.testing.assert_allclose(residual, 0.0, atol=1e-6)


def _seasoned(fixing: float = float("nan")) -> SwapBook:
    """The spec's seasoned swap: payer 5.15% on 10m, 2007-06-14 to 2017-06-14."""
    conv = patent.table_book().convention
    return SwapBook.of(
        conv,
        [dt.date(2007, 6, 14).toordinal()],
        [dt.date(2017, 6, 14).toordinal()],
        [1e7],
        [0.0515],
        [1.0],
        fixing=[fixing],
    )


@pytest.mark.parametrize("fixing", [float("nan"), 0.0525])
def test_seasoned_swap_converts_without_the_flows_paying_on_the_settlement_date(
    fixing: float,
) -> None:
    # Priced 2007-12-12, spot (transfer) 2007-12-14: the coupons paying on 2007-12-14 are
    # the defaulter's; the converted position is the spot-starting 9.5y swap (spec: -12,337.67).
    # A stored fixing of the period paying on the settlement date goes with that period.
    result = convert(_seasoned(fixing), MARKETS)
    assert round(float(result.rcv[0]), 2) == -12337.67
    spot_start = convert(_book([dt.date(2017, 6, 14)]), MARKETS)
    assert result.defaulted.npv[0] == pytest.approx(spot_start.defaulted.npv[0], abs=1e-6)
    assert round(float(result.defaulted.npv[0]), 2) == -130298.79


def test_including_the_settled_flows_is_a_named_convention_and_not_the_default() -> None:
    kept = convert(_seasoned(0.0525), MARKETS, settled_flows=SettledFlows.INCLUDE_SETTLED)
    # The two coupons paying on 2007-12-14 stay in: fixed 257,500 out, floating in.
    assert abs(float(kept.rcv[0]) + 12337.67) > 100_000
    assert SettledFlows.parse("") is SettledFlows.EXCLUDE_SETTLED
    assert SettledFlows.parse("include-settled") is SettledFlows.INCLUDE_SETTLED
    with pytest.raises(PricingInputError):
        SettledFlows.parse("sometimes")
