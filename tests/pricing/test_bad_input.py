"""Bad input is refused with a PricingInputError naming the field (and exit 2 from the CLI)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from clients.cli import app
from pricing.errors import PricingInputError
from pricing.inputs import parse_request
from pricing.report import convert_request, price_request
from pricing.swaps import SwapBook
from tests.pricing import patent

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "pricing" / "patent_example.json"


def _request() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


def _edit(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_request())
    node: Any = data
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return data


_DELETE = object()

CASES = [
    ("conventions.calendar", "Atlantis", "conventions.calendar"),
    ("swaps[0].maturity", "2007-06-14", "swaps[0].maturity"),
    ("swaps[1].notional", "-5", "swaps[1].notional"),
    ("swaps[0].notionl", "5", "swaps[0].notionl"),
    ("curve.quotes[0].quote", "0.05", "curve.quotes[0].quote"),
    ("extra", 1, "extra"),
    ("valuation_date", "12/12/2007", "valuation_date"),
    ("curve.quotes[5].tenor", "3X", "curve.quotes[5].tenor"),
    ("conventions.fixed_day_count", "ACT/999", "conventions.fixed_day_count"),
    ("curve.interpolation", "cubic", "curve.interpolation"),
    ("swaps[2].side", "long", "swaps[2].side"),
    ("swaps[0].fixed_rate", "five", "swaps[0].fixed_rate"),
    ("swaps", [], "swaps"),
    ("conventions.spot_lag", -1, "conventions.spot_lag"),
]


@pytest.mark.parametrize(("path", "value", "field"), CASES)
def test_refused_with_the_field_named(path: str, value: Any, field: str) -> None:
    with pytest.raises(PricingInputError) as info:
        price_request(parse_request(_edit(path, value)))
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("swaps[0].notional", "123456789012345678.99"),  # both used to price alike
        ("swaps[0].notional", "9007199254740993"),  # 2**53 + 1: no float holds it
        ("swaps[1].fixed_rate", "0.012345678901234567"),
        ("curve.quotes[0].rate", "0.04900000000000001"),
    ],
)
def test_more_digits_than_a_float_holds_are_refused_not_rounded(path: str, value: str) -> None:
    with pytest.raises(PricingInputError) as info:
        parse_request(_edit(path, value))
    assert info.value.field == path
    assert "significant digits" in info.value.message


def test_fifteen_significant_digits_are_priced() -> None:
    data = _edit("swaps[0].notional", "999999999999999")
    data["swaps"][1]["fixed_rate"] = "0.0515000000000000000"  # trailing zeros: exact
    assert price_request(parse_request(data))["swaps"][0]["id"]


def test_non_increasing_pillars_are_refused() -> None:
    data = _request()
    quotes = data["curve"]["quotes"]
    quotes[5], quotes[6] = quotes[6], quotes[5]
    with pytest.raises(PricingInputError) as info:
        price_request(parse_request(data))
    assert info.value.field == "curve.quotes[6]"
    assert "increase" in info.value.message


def test_missing_current_fixing_is_refused() -> None:
    data = _edit("swaps[0].start", "2005-12-14")
    with pytest.raises(PricingInputError) as info:
        price_request(parse_request(data))
    assert info.value.field == "swaps[0].current_fixing"


def test_convert_fields_only_in_convert() -> None:
    data = _edit("rcv_convention", "at_market")
    with pytest.raises(PricingInputError) as info:
        parse_request(data)
    assert info.value.field == "rcv_convention"
    assert convert_request(parse_request(data, convert=True))["rcv_convention"] == "at_market"


def test_beyond_longest_standard_tenor_is_refused() -> None:
    data = _edit("standard_tenors", ["1Y", "5Y"])
    with pytest.raises(PricingInputError) as info:
        convert_request(parse_request(data, convert=True))
    assert info.value.field == "swaps[0].maturity"


def test_book_validates_its_arrays() -> None:
    conv = patent.table_book().convention
    with pytest.raises(PricingInputError) as info:
        SwapBook.of(conv, [10], [5], [1.0], [0.01], [1.0])
    assert info.value.field == "swaps[0].maturity"
    with pytest.raises(PricingInputError) as info:
        SwapBook.of(conv, [5, 5], [10, 10], [1.0, np.nan], [0.01, 0.01], [1.0, 1.0])
    assert info.value.field == "swaps[1].notional"
    with pytest.raises(PricingInputError) as info:
        SwapBook.of(conv, [5], [10], [1.0], [0.01], [2.0])
    assert info.value.field == "swaps[0].side"


def test_cli_exits_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(_edit("swaps[1].notional", "-5")))
    for command in ("swaps", "convert"):
        result = CliRunner().invoke(app, ["price", command, str(bad)])
        assert result.exit_code == 2
        assert "swaps[1].notional" in result.output


def test_cli_refuses_non_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(app, ["price", "swaps", str(bad)])
    assert result.exit_code == 2
