"""Every CDS event's ``to_dict`` (a builder made once per class) is the shared dict form:
each dataclass field in declaration order, then ``type``; and ``event_from_dict`` reads it
back to the same event. The journal hashes and stores what ``to_dict`` gives."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from matching.cds import events as ev

#: Every registered event class, by its type tag.
CLASSES: list[type[ev.Event]] = sorted(ev.FAMILY._types.values(), key=lambda c: c.type)


@pytest.mark.parametrize("cls", CLASSES)
def test_to_dict_is_every_field_in_order_then_the_type(cls: type[ev.Event]) -> None:
    values: dict[str, object] = {f.name: f"{f.name}-value" for f in dataclasses.fields(cls)}
    values["seq"] = 7
    if "customer" in values:
        values["customer"] = None  # a None field stays None
    event = cls(**values)  # type: ignore[arg-type]
    expected = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    expected["type"] = cls.type
    got = event.to_dict()
    assert list(got.items()) == list(expected.items())
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert ev.event_from_dict(got) == event
    assert event.to_dict() is not got  # a fresh dict each call: the caller may keep it


@given(
    text=st.text(max_size=6),
    seq=st.integers(1, 2**40),
    customer=st.one_of(st.none(), st.text(max_size=4)),
)
def test_the_fast_limit_order_constructor_makes_the_same_event(
    text: str, seq: int, customer: str | None
) -> None:
    """``limit_order_submitted`` (slots set directly) makes the very event the dataclass's
    constructor makes: equal, same hash, same dict, still frozen."""
    fields = {
        "auction_id": "A" + text,
        "seq": seq,
        "at": text + "at",
        "dealer": "D" + text,
        "client_order_id": text + "c",
        "order_id": f"D{text}/{text}c",
        "side": "BID",
        "price": text + "1",
        "size": "5" + text,
        "customer": customer,
    }
    made = ev.limit_order_submitted(**fields)  # type: ignore[arg-type]
    built = ev.LimitOrderSubmitted(**fields)  # type: ignore[arg-type]
    assert type(made) is ev.LimitOrderSubmitted
    assert made == built and hash(made) == hash(built)
    assert made.to_dict() == built.to_dict()
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.price = "2"  # type: ignore[misc]
