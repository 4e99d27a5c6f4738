"""A margin run priced with OIS discounting records the dual-curve id ("<discount>/<projection>",
as ``pricing.market.Market.id`` spells it); it used to be refused as an identifier with '/'."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from matching.errors import InvalidInput
from pricing.inputs import parse_market
from tests.default.builders import House, standard_house

ROOT = Path(__file__).resolve().parents[2]


def dual_curve_id() -> str:
    doc = json.loads((ROOT / "examples" / "pricing" / "libor_ois_discounting.json").read_text())
    return parse_market({k: v for k, v in doc.items() if k != "swaps"}).build().id


def test_a_dual_curve_margin_run_is_recorded_and_replays() -> None:
    curve_id = dual_curve_id()
    assert "/" in curve_id
    h: House = standard_house()
    h.do(
        h.state.record_margin_run(
            run_id="r2",
            requirements={"D": "1.00"},
            valuation_date="2007-12-12",
            curve_id=curve_id,
            by="ops",
            now=h.now(),
        )
    )
    assert h.state.latest_run == "r2"
    assert h.replayed().snapshot() == h.state.snapshot()


@pytest.mark.parametrize("curve_id", ["", " ", "a\nb", "x" * 2049])
def test_a_curve_id_is_still_checked(curve_id: str) -> None:
    h = standard_house()
    with pytest.raises(InvalidInput) as info:
        h.state.record_margin_run(
            run_id="r2",
            requirements={},
            valuation_date="2007-12-12",
            curve_id=curve_id,
            by="ops",
            now=h.now(),
        )
    assert info.value.field == "curve_id"
