"""The wire's acknowledgement (``common.proto`` Ack) of an engine's :class:`Ack`, for every
service: the event's sequence number as the caller counts (``server.sequences``), when it
was accepted, and the client order id.

This module must never decide whether something was accepted.
"""

from __future__ import annotations

from closeout.v1 import common_pb2
from matching.eventsourcing import Ack
from server.sequences import AUCTION_NUMBERS, Numbering
from server.timestamps import stamp_into

__all__ = ["ack_into", "ack_out"]


def ack_out(ack: Ack | None, numbering: Numbering = AUCTION_NUMBERS) -> common_pb2.Ack:
    """The acknowledgement (an empty one for None)."""
    message = common_pb2.Ack()
    ack_into(message, ack, numbering)
    return message


def ack_into(
    message: common_pb2.Ack, ack: Ack | None, numbering: Numbering = AUCTION_NUMBERS
) -> None:
    """:func:`ack_out` written into ``message``, typically a response's own ``ack`` field
    (``response.ack``): the same bytes, without building an Ack and a Timestamp that the
    response's constructor would then copy (the busiest answer of the server)."""
    message.SetInParent()
    if ack is None:
        return
    message.sequence = numbering.out(ack.seq)
    stamp_into(message.accepted_at, ack.at)
    message.client_order_id = ack.client_order_id
