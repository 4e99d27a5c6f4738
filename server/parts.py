"""Split one protobuf answer into parts under a byte budget, for answers too large for one
gRPC message (a 90,000-order auction's results): merged in order with ``MergeFrom`` (lists
concatenate), the parts are the answer again.

The first part holds every single field and no list entry; the others hold list entries, in
field order then entry order, as many as fit the budget (an entry larger than the budget goes
alone). Pure: no I/O; it never drops, reorders or alters an entry.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

__all__ = ["split"]

M = TypeVar("M", bound=Message)

#: Bytes a list entry costs beyond its own size at most (field tag and length prefix).
_ENTRY_OVERHEAD = 16


def _is_map(field: FieldDescriptor) -> bool:
    kind = field.message_type
    return kind is not None and bool(kind.GetOptions().map_entry)


def split(message: M, max_bytes: int) -> list[M]:
    """``message`` as parts of at most ``max_bytes`` each (see the module docstring)."""
    lists = [
        f.name
        for f in message.DESCRIPTOR.fields
        if f.is_repeated
        and f.message_type is not None
        and not f.message_type.GetOptions().map_entry
    ]
    head = type(message)()
    head.CopyFrom(message)
    for name in lists:
        head.ClearField(name)
    parts = [head]
    current = type(message)()
    size = 0
    for name in lists:
        for entry in getattr(message, name):
            cost = entry.ByteSize() + _ENTRY_OVERHEAD
            if size and size + cost > max_bytes:
                parts.append(current)
                current = type(message)()
                size = 0
            getattr(current, name).append(entry)
            size += cost
    if size:
        parts.append(current)
    return parts
