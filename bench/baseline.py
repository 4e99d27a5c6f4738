"""The empty baseline: ``AuctionService`` (and the members' ``DefaultAuctionService``) with
handlers that do nothing, on grpc.aio + uvloop.

Run as ``python -m bench.baseline [--listen 127.0.0.1:0]``; prints ``PORT <n>`` once serving
and stops on SIGTERM/SIGINT. The bench drives it with exactly the client it drives the real
server with, so "what the stack allows" (grpc, protobuf, the event loop, the client) is
measured in the same run as the server. Differences from the real server, on purpose: no
interceptor, no authentication, no journal, no engine. ``SubmitOrders`` reads the whole
stream (it must, to receive the messages) and answers with the count.

Imports only grpc, the generated wire code and uvloop, so it also runs in a throwaway venv
with another grpcio (the 1.75 vs 1.85 comparison). It must never import ``server`` or
``matching``, and never listen beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio

from closeout.v1 import auction_pb2 as pb
from closeout.v1 import auction_pb2_grpc, clearing_pb2, clearing_pb2_grpc, common_pb2

__all__ = ["EmptyAuctionService", "EmptyDefaultAuctionService", "main"]


class EmptyAuctionService(auction_pb2_grpc.AuctionServiceServicer):
    """Fixed answers, no work."""

    def __init__(self) -> None:
        self._ack = common_pb2.Ack(sequence=1, client_order_id="x")

    async def SubmitLimitOrder(  # noqa: N802 - RPC names are fixed by the proto
        self, request: pb.SubmitLimitOrderRequest, context: Any
    ) -> pb.SubmitLimitOrderResponse:
        return pb.SubmitLimitOrderResponse(ack=self._ack, order_id="x")

    async def SubmitOrders(  # noqa: N802
        self, request_iterator: AsyncIterator[pb.SubmitOrdersRequest], context: Any
    ) -> pb.SubmitOrdersResponse:
        count = 0
        async for _ in request_iterator:
            count += 1
        return pb.SubmitOrdersResponse(accepted=count, last_sequence=count)


class EmptyDefaultAuctionService(clearing_pb2_grpc.DefaultAuctionServiceServicer):
    """A fixed acknowledgement for every bid and withdrawal (``closeout bench default``)."""

    def __init__(self) -> None:
        self._ack = common_pb2.Ack(sequence=1, client_order_id="x")
        self._ack.accepted_at.GetCurrentTime()

    async def SubmitBid(  # noqa: N802
        self, request: clearing_pb2.SubmitBidRequest, context: Any
    ) -> clearing_pb2.SubmitBidResponse:
        return clearing_pb2.SubmitBidResponse(ack=self._ack)

    async def WithdrawBid(  # noqa: N802
        self, request: clearing_pb2.WithdrawBidRequest, context: Any
    ) -> clearing_pb2.WithdrawBidResponse:
        return clearing_pb2.WithdrawBidResponse(ack=self._ack)


async def _serve(listen: str) -> None:
    server = grpc.aio.server()
    auction_pb2_grpc.add_AuctionServiceServicer_to_server(
        EmptyAuctionService(),  # type: ignore[abstract]  # the other methods: UNIMPLEMENTED
        server,
    )
    clearing_pb2_grpc.add_DefaultAuctionServiceServicer_to_server(
        EmptyDefaultAuctionService(),  # type: ignore[abstract]
        server,
    )
    port = server.add_insecure_port(listen)
    await server.start()
    print(f"PORT {port} grpcio {grpc.__version__}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--listen", default="127.0.0.1:0")
    args = parser.parse_args(argv)
    if not args.listen.startswith("127.0.0.1:"):
        parser.error("the baseline listens on 127.0.0.1 only")
    import uvloop

    uvloop.run(_serve(args.listen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
