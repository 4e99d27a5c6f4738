"""Every engine's events (CDS auction, clearing, default auction): ``to_dict`` (a builder
made once per class, ``matching.eventsourcing``) is the shared dict form, each dataclass
field in declaration order, then ``type``; and ``event_from_dict`` reads it back to the same
event. The journal hashes and stores what ``to_dict`` gives."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from matching import eventsourcing
from matching.cds import events as cds_events
from matching.clearing import events as clearing_events
from matching.default import events as default_events

FAMILIES = (cds_events.FAMILY, clearing_events.FAMILY, default_events.FAMILY)
#: Every registered event class of every family, with its family.
CLASSES: list[tuple[eventsourcing.EventFamily[Any], type[eventsourcing.Event]]] = [
    (family, cls)
    for family in FAMILIES
    for cls in sorted(family._types.values(), key=lambda c: c.type)
]
IDS = [f"{family.name.replace(' ', '_')}-{cls.type}" for family, cls in CLASSES]


@pytest.mark.parametrize(("family", "cls"), CLASSES, ids=IDS)
def test_to_dict_is_every_field_in_order_then_the_type(
    family: eventsourcing.EventFamily[Any], cls: type[eventsourcing.Event]
) -> None:
    values: dict[str, Any] = {f.name: f"{f.name}-value" for f in dataclasses.fields(cls)}
    values["seq"] = 7
    if "customer" in values:
        values["customer"] = None  # a None field stays None
    event = cls(**values)
    expected = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    expected["type"] = cls.type
    got = event.to_dict()
    assert list(got.items()) == list(expected.items())
    assert family.from_dict(got) == event
    assert event.to_dict() is not got  # a fresh dict each call: the caller may keep it


def test_every_family_is_covered() -> None:
    # The parametrisation above is taken from the registries: none may be empty.
    assert all(family._types for family in FAMILIES)
