"""Receiving a client-streamed request whole, before a bulk handler applies any of it.

:func:`receive_whole` feeds each message to the handler's ``take`` (which may refuse, e.g. a
size bound) until the client half-closes, within a time limit (ABORTED after it: the
client's own deadline is DEADLINE_EXCEEDED), and then makes sure the stream really ended.
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
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import grpc
import grpc.aio

__all__ = ["receive_whole", "stream_complete"]

M = TypeVar("M")


async def receive_whole(
    messages: AsyncIterator[M],
    context: grpc.aio.ServicerContext[object, object],
    take: Callable[[M], None],
    *,
    seconds: float,
    nothing: str,
) -> None:
    """Give every message of the stream to ``take``, in order, until the client half-closes
    within ``seconds``; ``nothing`` ends the refusals ("nothing was applied")."""
    try:
        async with asyncio.timeout(seconds):
            async for message in messages:
                take(message)
    except TimeoutError:
        await context.abort(
            grpc.StatusCode.ABORTED, f"the stream was not complete within {seconds:g} s; {nothing}"
        )
    await stream_complete(context)


async def stream_complete(context: grpc.aio.ServicerContext[object, object]) -> None:
    """Return if the call is alive after its request stream ended; raise CancelledError
    (the handler stops, nothing applied) if the client or the transport ended it."""
    # The response headers go out now; on a call the transport has ended this fails.
    await context.send_initial_metadata(())
    await asyncio.sleep(0)  # a client's cancellation may land a moment after its half-close
    if context.cancelled() or context.done():
        raise asyncio.CancelledError
