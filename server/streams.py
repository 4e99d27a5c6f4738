"""Whether a client-streamed request really ended, before a bulk handler applies it.

A request stream ends the same way for the handler whether the client half-closed it (it
is complete) or the call died under it: the client cancelled, or the transport refused a
message (one over the message limit ends the call with RESOURCE_EXHAUSTED after the
messages before it were read). :func:`stream_complete` tells them apart by asking the
transport to do something on the call: sending the response headers fails on a call that
is over, and the handler then stops without applying anything.

This module must never apply, journal or answer anything itself.
"""

from __future__ import annotations

import asyncio

import grpc.aio

__all__ = ["stream_complete"]


async def stream_complete(context: grpc.aio.ServicerContext[object, object]) -> None:
    """Return if the call is alive after its request stream ended; raise CancelledError
    (the handler stops, nothing applied) if the client or the transport ended it."""
    # The response headers go out now; on a call the transport has ended this fails.
    await context.send_initial_metadata(())
    await asyncio.sleep(0)  # a client's cancellation may land a moment after its half-close
    if context.cancelled() or context.done():
        raise asyncio.CancelledError
