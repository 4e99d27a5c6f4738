"""Auction parameters and exact money: validation names the parameter, prices never round."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.cds.params import AuctionParams
from matching.errors import InvalidInput
from matching.money import PriceGrid, _parse_text, format_decimal, parse_amount, parse_decimal


def test_cap_defaults_to_half_the_spread() -> None:
    p = AuctionParams.build(auction_id="a", quotation_amount="2000000", max_spread="3")
    assert p.grid.format(p.cap_ticks) == "1.5"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_spread": "2.125"}, "auction.cap_amount"),  # half is off grid: must be explicit
        ({"max_spread": "0"}, "auction.max_spread"),
        ({"quotation_amount": "0"}, "auction.quotation_amount"),
        ({"quotation_amount": "1.5"}, "auction.quotation_amount"),
        ({"price_increment": "0.3"}, "auction.price_increment"),
        ({"currency": "usd"}, "auction.currency"),
        ({"min_valid_submissions": 0}, "auction.min_valid_submissions"),
        ({"midpoint_rounding": "HALF_EVEN"}, "auction.midpoint_rounding"),
        ({"cap_amount": "-1"}, "auction.cap_amount"),
    ],
)
def test_invalid_parameters_are_named(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {
        "auction_id": "a",
        "quotation_amount": "2000000",
        "max_spread": "2",
        **kwargs,
    }
    with pytest.raises(InvalidInput) as info:
        AuctionParams.build(**args)  # type: ignore[arg-type]
    assert info.value.field == field


def test_params_round_trip() -> None:
    p = AuctionParams.build(
        auction_id="a",
        quotation_amount="1000000",
        max_spread="3",
        cap_amount="1",
        price_increment="0.25",
        min_valid_submissions=5,
    )
    assert AuctionParams.from_dict(p.to_dict()) == p


def test_grid_refuses_rather_than_rounds() -> None:
    grid = PriceGrid(Decimal("0.125"))
    assert grid.to_ticks("25.375", "p") == 203
    assert grid.format(203) == "25.375"
    with pytest.raises(InvalidInput, match=r"not on the 0\.125 price grid"):
        grid.to_ticks("25.3750001", "p")


@pytest.mark.parametrize("bad", ["1e6", "1,000", "", " ", "0x10", "+5", "1.0"])
def test_amounts_are_plain_whole_numbers(bad: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount(bad, "size")


def test_format_decimal() -> None:
    assert [format_decimal(Decimal(x)) for x in ("26.000", "25.3750", "-0.50", "0")] == [
        "26",
        "25.375",
        "-0.5",
        "0",
    ]


def _parsed(parse: Callable[[str, str], Decimal], text: str) -> tuple[str, object]:
    try:
        return ("parsed", parse(text, "price").as_tuple())
    except InvalidInput as exc:
        return ("refused", exc.message)


@given(st.one_of(st.text(alphabet="0123456789.-", max_size=40), st.text(max_size=8)))
def test_a_remembered_decimal_parses_as_the_text_does(text: str) -> None:
    """``parse_decimal`` remembers the strings it accepted: every parse (the first, and those
    from memory) gives what parsing the text afresh gives, value or refusal."""
    fresh = _parsed(_parse_text, text)
    assert _parsed(parse_decimal, text) == fresh
    assert _parsed(parse_decimal, text) == fresh
