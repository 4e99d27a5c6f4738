"""Parity with QuantLib 1.4x on generated curves and books.

Tolerances (from the brief): par rates 1e-10 absolute, SVF 1e-10 relative, NPV 0.01 per
10 million notional, DV01 1e-6 relative. Calendars agree because our explicit-list calendar
holds QuantLib's own holiday list. Monotone convex is compared with QuantLib's
``PiecewiseConvexMonotoneForward`` with ``ConvexMonotone(quadraticity=0, monotonicity=1,
forcePositive=False)``, which its documentation describes as the basic Hagan-West method
(on the spec's curve the discount factors agree to 1e-12). QuantLib's defaults (0.3, 0.7,
True) are a smoothed variant (discount factors differ by up to 6e-5 there), and
``PiecewiseConvexMonotoneZero`` runs the forward-rate construction on zero rates, which is
not Hagan-West and fails to bootstrap that curve ("root not bracketed"), so it is not used.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from bench.quantlib_curves import qdate
from pricing.calendars import BusinessDay
from pricing.conventions import Tenor, usd_sofr_ois
from pricing.conversion import RcvConvention, SettledFlows, convert
from pricing.dates import add_months
from pricing.interpolation import Interpolation
from pricing.legs import build_legs
from pricing.market import Market
from pricing.risk import analyse
from pricing.swaps import SwapBook
from tests.pricing.cases import (
    IBOR_SWAP_YEARS,
    OIS_TENORS,
    ois_market,
    random_book,
    random_ibor_convention,
    random_market,
    random_valuation,
)
from tests.pricing.qlref import (
    QlMarket,
    exported_calendar,
    ql_joint_us_uk,
    ql_market,
    ql_swaps,
    ql_values,
)

QCAL = ql_joint_us_uk()
CAL = exported_calendar(QCAL, "NewYork+London (QuantLib list)")
WORST: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_worst() -> Iterator[None]:
    # For the record (run with -s): the worst differences seen across the module.
    yield
    print(
        "\nworst differences vs QuantLib:",
        {k: v if k == "swaps_compared" else f"{v:.3g}" for k, v in WORST.items()},
    )


def _compare(book: SwapBook, market: Market, qm: QlMarket | None = None) -> None:
    ours = analyse(book, market)
    theirs = ql_values(book, qm or ql_market(market, QCAL), QCAL)
    scale = book.notional / 1e7
    checks = {
        "par_rate": np.abs(ours.par_rate - theirs.par_rate),
        "svf_rel": np.abs(ours.svf / theirs.svf - 1),
        "npv_per_10mm": np.abs(ours.npv - theirs.npv) / scale,
        "dv01_rel": np.abs(ours.dv01 / theirs.dv01 - 1),
    }
    limits = {"par_rate": 1e-10, "svf_rel": 1e-10, "npv_per_10mm": 0.01, "dv01_rel": 1e-6}
    WORST["swaps_compared"] = WORST.get("swaps_compared", 0) + len(book)
    for name, diff in checks.items():
        WORST[name] = max(WORST.get(name, 0.0), float(diff.max()))
        bad = np.flatnonzero(~(diff <= limits[name]))
        assert bad.size == 0, (
            f"{name}: {bad.size} of {len(book)} swaps off, worst {diff.max():.3g}; first: "
            f"start={book.start[bad[0]]} maturity={book.maturity[bad[0]]}"
        )


@pytest.mark.parametrize("interpolation", list(Interpolation))
@pytest.mark.parametrize("dual", [False, True], ids=["single", "dual"])
@pytest.mark.parametrize("seed", [11, 29, 47, 83])
def test_ibor_swaps_match_quantlib(interpolation: Interpolation, dual: bool, seed: int) -> None:
    rng = np.random.default_rng(seed * 7 + (3 if dual else 0))
    valuation = random_valuation(rng, CAL)
    convention = random_ibor_convention(rng, CAL)
    market = random_market(rng, valuation, convention, interpolation, dual)
    book = random_book(rng, valuation, convention, 40)
    assert len(book) >= 30
    _compare(book, market)


@pytest.mark.parametrize("interpolation", list(Interpolation))
@pytest.mark.parametrize("dual", [False, True], ids=["single", "dual"])
def test_swaps_past_the_last_pillar_match_quantlib(
    interpolation: Interpolation, dual: bool
) -> None:
    # The curves end before the book does (single: swaps quoted to 10 years; dual: the OIS
    # discount curve to 15 years, under a projection curve to 50). Past its last pillar each
    # library holds a forward flat: for monotone convex QuantLib's last node, the last
    # interval's discrete forward, not the Hagan-West forward at the pillar.
    rng = np.random.default_rng(61 + dual)
    valuation = random_valuation(rng, CAL)
    convention = random_ibor_convention(rng, CAL)
    if dual:
        market = random_market(
            rng, valuation, convention, interpolation, True, ois_tenors=OIS_TENORS[:10]
        )
    else:
        years = tuple(y for y in IBOR_SWAP_YEARS if y <= 10)
        market = random_market(rng, valuation, convention, interpolation, False, years)
    curves = market.build()
    ends = curves.discount.pillar_days[-1] if dual else curves.projection.pillar_days[-1]
    book = random_book(rng, valuation, convention, 60)
    assert (book.maturity > ends + 365).sum() >= 10, "the book must reach past the curve"
    _compare(book, market)


@pytest.mark.parametrize("interpolation", list(Interpolation))
def test_ois_swaps_match_quantlib(interpolation: Interpolation) -> None:
    rng = np.random.default_rng(5)
    valuation = random_valuation(rng, CAL)
    market = ois_market(rng, valuation, CAL, interpolation)
    book = random_book(rng, valuation, usd_sofr_ois(CAL), 30, seasoned=False)
    _compare(book, market)


def test_todays_stored_fixing_matches_quantlib() -> None:
    # Spot-starting swaps fix today: with a stored fixing both libraries use it.
    rng = np.random.default_rng(17)
    valuation = random_valuation(rng, CAL)
    convention = random_ibor_convention(rng, CAL)
    market = random_market(rng, valuation, convention, Interpolation.LOG_LINEAR_DISCOUNT, False)
    spot = convention.spot(valuation)
    n = 20
    book = SwapBook.of(
        convention, [spot] * n, spot + rng.integers(40, 20 * 365, size=n), [1e7] * n,
        rng.uniform(0, 0.06, n), rng.choice([1.0, -1.0], n), fixing=[0.0123] * n,
    )  # fmt: skip
    _compare(book, market)
    forecast = analyse(book.replace(fixing=np.full(n, np.nan)), market)
    assert np.all(np.abs(forecast.npv - analyse(book, market).npv) > 1.0)


@pytest.mark.parametrize("interpolation", list(Interpolation))
def test_seasoned_ois_swaps_match_quantlib(interpolation: Interpolation) -> None:
    # Past overnight fixings all at one rate; each swap's stored fixing is the compounded
    # rate it has realised since its current period started, computed from those fixings.
    rng = np.random.default_rng(23)
    valuation = random_valuation(rng, CAL)
    convention = usd_sofr_ois(CAL)
    market = ois_market(rng, valuation, CAL, interpolation)
    book = random_book(rng, valuation, convention, 30)
    legs = build_legs(convention, book.start, book.maturity)
    current = (legs.fl_start < valuation) & (legs.fl_pay > valuation)
    period_start = np.full(len(book), -1)
    period_start[legs.fl_owner[current]] = legs.fl_start[current]
    rate = 0.0321
    bdays = CAL.adjust(
        np.arange(period_start.max(initial=valuation) - 800, valuation), BusinessDay.FOLLOWING
    )
    bdays = np.unique(bdays[bdays < valuation])
    fixing = np.full(len(book), np.nan)
    for i in np.flatnonzero(period_start > 0):
        days = bdays[bdays >= period_start[i]]
        nxt = np.append(days[1:], valuation)
        growth = np.prod(1 + rate * (nxt - days) / 360.0)
        fixing[i] = (growth - 1) / ((valuation - period_start[i]) / 360.0)
    book = book.replace(fixing=fixing)
    assert np.isfinite(fixing).sum() >= 5
    qm = ql_market(market, QCAL)
    for d in bdays:
        qm.overnight.addFixing(qdate(int(d)), rate, True)
    _compare(book, market, qm)


@pytest.mark.parametrize("settled_flows", list(SettledFlows))
@pytest.mark.parametrize("seed", [3, 31])
def test_rcv_matches_quantlib(settled_flows: SettledFlows, seed: int) -> None:
    # RCV (same coupon) = V(defaulted) - V(standard from spot). Under EXCLUDE_SETTLED the
    # defaulted swap's flows paying on or before the settlement (spot) date are left out:
    # QuantLib's engine with that settlement date, flows on it counted as settled.
    import QuantLib as ql  # noqa: N813

    rng = np.random.default_rng(seed)
    valuation = random_valuation(rng, CAL)
    convention = random_ibor_convention(rng, CAL)
    market = random_market(rng, valuation, convention, Interpolation.LOG_LINEAR_DISCOUNT, True)
    book = random_book(rng, valuation, convention, 40)
    # Seasoned swaps with coupons paying on spot itself, the settlement date: what the
    # convention decides. (A coupon paying before spot would leave two fixed periods unpaid,
    # the next one fixing before today, which a book's one stored fixing cannot express.)
    spot = convention.spot(valuation)
    n = 16
    paying = np.full(n, spot)
    years = rng.integers(1, 12, size=n)
    maturity = add_months(paying, 12 * years, np.zeros(n, dtype=bool))
    start = add_months(paying, -6 * rng.integers(1, 6, size=n), np.zeros(n, dtype=bool))
    book = book.replace(
        start=np.concatenate([book.start, start]),
        maturity=np.concatenate([book.maturity, maturity]),
        notional=np.concatenate([book.notional, np.full(n, 1e7)]),
        fixed_rate=np.concatenate([book.fixed_rate, rng.uniform(0.01, 0.06, n)]),
        side=np.concatenate([book.side, rng.choice([1.0, -1.0], n)]),
        spread=np.concatenate([book.spread, np.zeros(n)]),
        fixing=np.concatenate([book.fixing, np.full(n, np.nanmax(book.fixing))]),
    )
    conv = convert(book, market, RcvConvention.SAME_COUPON, risk=False, settled_flows=settled_flows)
    other = next(f for f in SettledFlows if f is not settled_flows)
    moved = (
        conv.rcv
        - convert(book, market, RcvConvention.SAME_COUPON, risk=False, settled_flows=other).rcv
    )
    assert (np.abs(moved) > 100).sum() >= n // 2, "the book must tell the conventions apart"
    qm = ql_market(market, QCAL)
    engine = (
        ql.DiscountingSwapEngine(qm.discount, False, qdate(spot), qdate(valuation))
        if settled_flows is SettledFlows.EXCLUDE_SETTLED
        else ql.DiscountingSwapEngine(qm.discount)
    )
    defaulted = np.array([s.NPV() for s in ql_swaps(book, qm, QCAL, engine)])
    standard_book = book.replace(
        start=np.full(len(book), spot),
        maturity=conv.standard_maturity,
        fixing=np.full(len(book), np.nan),
    )
    standard = np.array([s.NPV() for s in ql_swaps(standard_book, qm, QCAL)])
    diff = np.abs(conv.rcv - (defaulted - standard)) / (book.notional / 1e7)
    WORST["rcv_per_10mm"] = max(WORST.get("rcv_per_10mm", 0.0), float(diff.max()))
    assert diff.max() <= 0.01, f"RCV off by {diff.max():.3g} per 10mm"


@pytest.mark.parametrize("seed", range(4))
def test_end_of_month_conventions_match_quantlib(seed: int) -> None:
    # Spot on a month's last business day (sometimes not its last calendar day), the
    # end-of-month rule on: curve instruments, spot swaps by tenor, and random swaps.
    rng = np.random.default_rng(100 + seed)
    year, month = 2005 + seed * 4, 1 + (seed * 7) % 12
    last = dt.date(year + month // 12, month % 12 + 1, 1).toordinal() - 1
    spot = int(CAL.adjust(np.array([last]), BusinessDay.PRECEDING)[0])
    valuation = int(CAL.advance_days(np.array([spot]), -2)[0])
    convention = replace(random_ibor_convention(rng, CAL), end_of_month=True)
    assert convention.spot(valuation) == spot
    market = random_market(
        rng, valuation, convention, Interpolation.LOG_LINEAR_DISCOUNT, seed % 2 == 1
    )
    tenors = [Tenor(months=m) for m in (1, 2, 3, 6, 13, 24, 60, 120, 240)]
    ends = np.concatenate([convention.add_tenor(np.array([spot]), t) for t in tenors])
    book = random_book(rng, valuation, convention, 20)
    k = len(tenors)
    book = book.replace(
        start=np.concatenate([np.full(k, spot), book.start]),
        maturity=np.concatenate([ends, book.maturity]),
        notional=np.concatenate([np.full(k, 1e7), book.notional]),
        fixed_rate=np.concatenate([np.full(k, 0.03), book.fixed_rate]),
        side=np.concatenate([np.ones(k), book.side]),
        spread=np.concatenate([np.zeros(k), book.spread]),
        fixing=np.concatenate([np.full(k, np.nan), book.fixing]),
    )
    _compare(book, market)
