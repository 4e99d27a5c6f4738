"""``ClearingHouse.scratch()``: the copy a load or a conversion decides on (all or nothing)
before any event is returned. It copies every container and shares the values, which is
right only while every value the house holds is frozen: checked here on the house each
accepted example ends with (lots, settlements, losses allocated), and a scratch that takes a
whole load leaves the house exactly as it was."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clients.default_replay import run_default
from clients.default_scenario import load_default_scenario
from matching.clearing.model import Role, Side, SwapTerms
from matching.clearing.state import ClearingHouse, MemberSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "default"
ACCEPTED = [p for p in sorted(EXAMPLES.glob("*.json")) if "rejected" not in p.name]
NOW = datetime(2030, 1, 2, 9, tzinfo=UTC)


def frozen(value: Any) -> bool:
    """A value nobody can change in place: a scalar, a tuple of them, a frozen dataclass."""
    if value is None or isinstance(value, bool | int | float | str | Decimal | datetime):
        return True
    if isinstance(value, tuple | frozenset):
        return all(frozen(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return bool(type(value).__dataclass_params__.frozen)  # type: ignore[attr-defined]
    return False


def ended(path: Path) -> ClearingHouse:
    return ClearingHouse.from_events(run_default(load_default_scenario(path)).clearing_events)


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.stem)
def test_every_value_the_house_holds_is_frozen(path: Path) -> None:
    house = ended(path)
    for name, held in vars(house).items():
        if isinstance(held, dict):
            bad = [k for k, v in held.items() if not (frozen(k) and frozen(v))]
        elif isinstance(held, list | set):
            bad = [v for v in held if not frozen(v)]
        else:
            bad = [] if frozen(held) else [held]
        assert not bad, f"{name} holds values that can change in place: {bad[:3]}"


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.stem)
def test_a_scratch_that_takes_a_load_leaves_the_house_as_it_was(path: Path) -> None:
    house = ended(path)
    before = {
        k: v.copy() if isinstance(v, dict | list | set) else v for k, v in vars(house).items()
    }
    scratch = house.scratch()
    terms = SwapTerms.build(
        currency="USD",
        index="USD-LIBOR-3M",
        side=Side.PAYER,
        notional="1000000",
        fixed_rate="0.05",
        start="2030-01-04",
        maturity="2035-01-04",
    )
    decision = scratch.load(
        members=[MemberSpec("Scratch-1", Role.CLEARING_MEMBER, False, "100", "0")],
        positions=[("Scratch-P-1", "Scratch-1", terms)],
        by="ops",
        now=NOW,
    )
    scratch.apply_all(decision.events)
    assert "Scratch-P-1" in scratch.positions and "Scratch-1" in scratch.members
    assert vars(house) == before


def state(house: ClearingHouse) -> dict[str, Any]:
    return {k: v for k, v in vars(house).items() if k != "_decided"}


@pytest.mark.parametrize("path", ACCEPTED[:3], ids=lambda p: p.stem)
def test_applying_a_load_takes_its_scratch_and_equals_replaying_its_events(path: Path) -> None:
    """A load decided on a scratch and applied at once takes the scratch's state (not
    applying 150,000 bookings twice): the same state as replaying every event one by one;
    with an event applied in between, the events are applied as usual."""
    house = ended(path)
    events = list(run_default(load_default_scenario(path)).clearing_events)
    terms = SwapTerms.build(
        currency="USD",
        index="USD-LIBOR-3M",
        side=Side.RECEIVER,
        notional="2000000",
        fixed_rate="0.04",
        start="2030-01-04",
        maturity="2040-01-04",
    )
    decision = house.load(
        members=[MemberSpec("Late-1", Role.CLEARING_MEMBER, False, "100", "0")],
        positions=[(f"Late-P-{i}", "Late-1", terms) for i in range(50)],
        by="ops",
        now=NOW,
    )
    house.apply_all(decision.events)
    replayed = ClearingHouse.from_events([*events, *decision.events])
    assert state(house) == state(replayed)
    assert house.positions["Late-P-49"].account == "Late-1"
    # Decided, then something else applied first: the decision's events no longer follow.
    again = house.load(members=[], positions=[("Late-Q", "Late-1", terms)], by="ops", now=NOW)
    other = house.load(members=[], positions=[("Late-R", "Late-1", terms)], by="ops", now=NOW)
    house.apply_all(other.events)
    with pytest.raises(ValueError, match="does not follow"):
        house.apply_all(again.events)
    assert "Late-Q" not in house.positions
