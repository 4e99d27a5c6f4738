"""``closeout.v1.DefaultAuctionService``: what clearing members and market makers do in a
default auction, over gRPC.

The member is always the authenticated participant (its participant id is its member id),
never a field of the request; the engine refuses members not invited to the lot
(PERMISSION_DENIED). Each RPC makes one call into the engine through the registry (which
journals before it returns). Operators and observers may watch an auction's public events.

This module must never decide an auction rule, never show a member another member's bid
(or that it bid), and never acknowledge before the registry says the events are durable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import clearing_pb2_grpc
from matching.default.phases import TERMINAL, Phase
from matching.errors import InvalidInput, NotFound
from server.acks import ack_out
from server.auth import require_role
from server.config import Role
from server.default import wire
from server.default.registry import DefaultRegistry
from server.request_checks import check_request
from server.runtime import Runtime
from server.sequences import AUCTION_NUMBERS, Numbering
from server.timestamps import timestamp_out

#: Events a watcher's history is taken in.
WATCH_PAGE = 1000

MEMBER_ROLES = (Role.CLEARING_MEMBER, Role.MARKET_MAKER)
WATCH_ROLES = (*MEMBER_ROLES, Role.OPERATOR, Role.OBSERVER)


def _member() -> str:
    return require_role(*MEMBER_ROLES).participant_id


def _eligible_member(registry: DefaultRegistry, auction_id: str) -> str:
    """The calling member, if invited to ``auction_id``; otherwise NOT_FOUND, word for word
    the refusal for an auction that does not exist (no telling real ids from unknown)."""
    member = _member()
    if member not in registry.auction(auction_id).eligible:
        raise NotFound(f"no default auction {auction_id!r}")
    return member


class DefaultAuctionServicer(clearing_pb2_grpc.DefaultAuctionServiceServicer):
    """Member RPCs over the registry."""

    def __init__(self, registry: DefaultRegistry, runtime: Runtime) -> None:
        self._registry = registry
        self._now = runtime.clock.now

    def _numbering(self, request: Any, member: str) -> Numbering:
        """How ``member`` numbers the events of the request's auction: the public ones and its
        own bids (``server.sequences``), never moving with other members' bids."""
        return self._registry.numbers(request.auction_id).of(member)

    async def ListInvitations(  # noqa: N802 - RPC names are fixed by the proto
        self, request: pb.ListInvitationsRequest, context: Any
    ) -> pb.ListInvitationsResponse:
        member = _member()
        out = []
        for a in self._registry.auctions():
            if member not in a.eligible:
                continue
            invitation = pb.Invitation(
                auction_id=a.auction_id,
                lot_id=a.lot.lot_id,
                phase=wire.PHASE_OUT[a.phase],
                mandatory=member in a.mandatory,
            )
            if a.schedule.close_at is not None:
                invitation.close_at.CopyFrom(timestamp_out(a.schedule.close_at))
            out.append(invitation)
        return pb.ListInvitationsResponse(invitations=out)

    async def GetLot(  # noqa: N802
        self, request: pb.GetLotRequest, context: Any
    ) -> pb.GetLotResponse:
        member = _eligible_member(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        auction = self._registry.auction(request.auction_id)
        return wire.view_out(auction.view_of(member), auction.lot, self._numbering(request, member))

    async def SubmitBid(  # noqa: N802
        self, request: pb.SubmitBidRequest, context: Any
    ) -> pb.SubmitBidResponse:
        member = _eligible_member(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.submit_bid(
                member=member,
                client_order_id=request.client_order_id,
                amount=request.amount,
                now=self._now(),
            ),
        )
        return pb.SubmitBidResponse(ack=ack_out(decision.ack, self._numbering(request, member)))

    async def WithdrawBid(  # noqa: N802
        self, request: pb.WithdrawBidRequest, context: Any
    ) -> pb.WithdrawBidResponse:
        member = _eligible_member(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.withdraw_bid(
                member=member, client_order_id=request.client_order_id, now=self._now()
            ),
        )
        return pb.WithdrawBidResponse(ack=ack_out(decision.ack, self._numbering(request, member)))

    async def GetMyBid(  # noqa: N802
        self, request: pb.GetMyBidRequest, context: Any
    ) -> pb.GetMyBidResponse:
        member = _eligible_member(self._registry, request.auction_id)
        check_request(request)  # every bad field at once (server/request_checks.py)
        auction = self._registry.auction(request.auction_id)
        bid = auction.bid_of(member)
        numbering = self._numbering(request, member)
        return pb.GetMyBidResponse(bid=None if bid is None else wire.bid_out(bid, numbering))

    async def WatchLot(  # noqa: N802
        self, request: pb.WatchLotRequest, context: Any
    ) -> AsyncIterator[pb.WatchLotResponse]:
        principal = require_role(*WATCH_ROLES)
        self._registry.auction(request.auction_id)  # NOT_FOUND for an unknown auction
        viewer: str | None = None
        if principal.role in MEMBER_ROLES:
            viewer = _eligible_member(self._registry, request.auction_id)
        # Numbers as the caller counts them: operators the auction's own, members the public
        # events and their own bids, observers the public events (no gaps for others' bids).
        numbering = (
            AUCTION_NUMBERS
            if principal.role is Role.OPERATOR
            else self._registry.numbers(request.auction_id).of(viewer)
        )
        known = numbering.out(self._registry.durable_seq(request.auction_id))
        if request.after_sequence > known:
            raise InvalidInput(
                "after_sequence", f"you have been shown only {known} events of this auction"
            )
        after = numbering.into(request.after_sequence)
        phase = Phase.CREATED
        for event in self._registry.durable_history(request.auction_id, 0, after):
            phase = wire.phase_after(event, phase)
        buffers = self._registry.watch_buffers
        while True:
            # One page at a time, within the caller's share of the watch buffer (as
            # WatchAuction): a slow or non-reading client holds its page (gRPC waits for the
            # client to read), never the history, and never more than its participant's cap
            # over all its streams (``server/watch_buffer.py``).
            with buffers.page(principal.participant_id, WATCH_PAGE) as size:
                page = self._registry.durable_history(request.auction_id, after, size)
                for event in page:
                    phase = wire.phase_after(event, phase)
                    after = event.seq
                    message = wire.watch_out(event, phase, viewer, numbering.out(event.seq))
                    if message is not None:
                        yield message
            if phase in TERMINAL:
                return
            if len(page) == size:
                continue
            await self._registry.wait_for_events(request.auction_id, after)


def add(server: Any, registry: DefaultRegistry, runtime: Runtime) -> str:
    """Add the servicer; returns its full service name."""
    clearing_pb2_grpc.add_DefaultAuctionServiceServicer_to_server(
        DefaultAuctionServicer(registry, runtime), server
    )
    return str(pb.DESCRIPTOR.services_by_name["DefaultAuctionService"].full_name)
