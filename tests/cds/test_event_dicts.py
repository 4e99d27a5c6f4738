"""Every CDS event's ``to_dict`` (a builder made once per class) is the shared dict form:
each dataclass field in declaration order, then ``type``; and ``event_from_dict`` reads it
back to the same event. The journal hashes and stores what ``to_dict`` gives."""

from __future__ import annotations

import dataclasses
import json

import pytest

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
