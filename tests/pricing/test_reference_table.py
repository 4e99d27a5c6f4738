"""The spec's published reference table, reproduced to the cent (the only hard-coded figures).

| swap | NPV | par rate | SVF |
| 10y standard | -117,961.12 | 5.00000% | 7.86407 |
| 9.5y defaulted | -130,298.79 | 4.97767% | 7.56081 |
| 9.5y->10y forward | +12,337.67 | 5.55683% | 0.30326 |
RCV = -12,337.67, b* = +12,337.67.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pricing.calendars import named_calendar
from pricing.conversion import RcvConvention, convert
from pricing.inputs import parse_request
from pricing.report import convert_request, price_request
from pricing.swaps import price
from tests.pricing import patent
from tests.pricing.qlref import exported_calendar, ql_joint_us_uk

TABLE = {
    "npv": [-117961.12, -130298.79, 12337.67],
    "par_pct": [5.00000, 4.97767, 5.55683],
    "svf": [7.86407, 7.56081, 0.30326],
}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricing" / "patent_example.json"


@pytest.mark.parametrize(
    "calendar",
    [
        named_calendar("NewYork+London"),
        named_calendar("NewYork"),
        exported_calendar(ql_joint_us_uk(), "QuantLib US+UK"),
    ],
    ids=["NewYork+London", "NewYork", "QuantLib-list"],
)
def test_library_reproduces_the_table(calendar: object) -> None:
    from pricing.calendars import Calendar

    assert isinstance(calendar, Calendar)
    curves = patent.market(calendar).build()
    values = price(patent.table_book(calendar), patent.VALUATION, curves.discount)
    assert np.round(values.npv, 2).tolist() == TABLE["npv"]
    assert np.round(values.par_rate * 100, 5).tolist() == TABLE["par_pct"]
    assert np.round(values.svf, 5).tolist() == TABLE["svf"]


def test_rcv_and_implied_bid() -> None:
    book = patent.table_book()
    defaulted = book.replace(
        start=book.start[1:2],
        maturity=book.maturity[1:2],
        notional=book.notional[1:2],
        fixed_rate=book.fixed_rate[1:2],
        side=book.side[1:2],
        spread=book.spread[1:2],
        fixing=book.fixing[1:2],
    )
    result = convert(defaulted, patent.market(), RcvConvention.SAME_COUPON)
    assert str(result.standard_tenor[0]) == "10Y"
    assert result.rcv[0] == pytest.approx(-12337.67, abs=0.01)
    assert result.implied_bid[0] == pytest.approx(12337.67, abs=0.01)


def test_example_file_reproduces_the_table() -> None:
    request = parse_request(json.loads(EXAMPLE.read_text()))
    rows = price_request(request)["swaps"]
    assert [r["npv"] for r in rows] == ["-117961.12", "-130298.79", "12337.67"]
    assert [round(float(r["par_rate"]) * 100, 5) for r in rows] == TABLE["par_pct"]
    assert [round(float(r["svf"]), 5) for r in rows] == TABLE["svf"]
    converted = convert_request(parse_request(json.loads(EXAMPLE.read_text()), convert=True))
    defaulted = converted["swaps"][1]
    assert defaulted["standard"] == "10Y"
    assert defaulted["rcv"] == "-12337.67"
    assert defaulted["implied_bid"] == "12337.67"
