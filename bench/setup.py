"""Bringing a live server's CDS auction to the stage-2 window, and reading books back.

Used by the ingest and auction benches, through the wire API only (the SDK, and a raw stub
with an unlimited receive size for reading large books). Never imports ``server``.
"""

from __future__ import annotations

import grpc
import grpc.aio

from bench.serverproc import OPERATOR_TOKEN, dealer_token
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import auction_pb2_grpc

__all__ = ["QUOTATION_AMOUNT", "book_ids", "open_stage2"]

QUOTATION_AMOUNT = 2_000_000


async def open_stage2(target: str, auction_id: str, dealers: list[str], psr_size: int) -> None:
    """Create the auction, run stage 1 (every dealer quotes, one sells ``psr_size``), open 2."""
    async with OperatorClient(target, OPERATOR_TOKEN) as ops:
        await ops.create_auction(
            apb.AuctionParameters(
                auction_id=auction_id,
                currency="USD",
                quotation_amount=QUOTATION_AMOUNT,
                max_spread="2",
            ),
            panel=dealers,
        )
        await ops.open_window(auction_id)
        for i, dealer in enumerate(dealers):
            async with DealerClient(target, dealer_token(dealer)) as client:
                bid = f"{40 + (i % 4) * 0.125:.3f}"
                await client.submit_market(auction_id, "m-1", bid=bid, offer="41.5")
                if i == 0:
                    await client.submit_settlement_request(
                        auction_id, "psr-1", side="SELL", size=psr_size
                    )
        await ops.close_window(auction_id)
        await ops.open_window(auction_id)


async def book_ids(target: str, dealer: str, auction_id: str) -> set[str]:
    """The client order ids of the dealer's resting limit orders (not the carried quote)."""
    channel = grpc.aio.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
    try:
        stub = auction_pb2_grpc.AuctionServiceStub(channel)
        response = await stub.ListMySubmissions(
            apb.ListMySubmissionsRequest(auction_id=auction_id),
            metadata=(("authorization", f"Bearer {dealer_token(dealer)}"),),
        )
    finally:
        await channel.close()
    return {o.order_id.split("/", 1)[1] for o in response.limit_orders if not o.carried_over}
