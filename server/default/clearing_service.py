"""``closeout.v1.ClearingService``: the clearing-house operator's default management, over gRPC.

Each RPC: check the role, convert the request, price what needs pricing
(:mod:`server.default.valuation`, through the registry), make the engine calls through the
registry (which journals before it returns), convert back. Commands need the operator role;
the read RPCs (lots, results, ledger, instructions, grades, overview) are open to observers
too, since none of them holds a sealed bid (the overview names bidders, never amounts).
Domain errors propagate to the guard interceptor, which maps them to status codes through the
one table.

This module must never decide a clearing or auction rule, never return a sealed bid without
the recorded disclosure, and never acknowledge before the registry says it is durable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from closeout.v1 import clearing_pb2 as pb
from closeout.v1 import clearing_pb2_grpc
from matching.clearing.model import SwapTerms
from matching.clearing.state import MemberSpec
from matching.errors import DomainError, InvalidInput, LimitExceeded, NotFound, refusal_of
from matching.process import steps
from matching.process.waterfall import WaterfallConfig
from server.acks import ack_out
from server.auth import require_role
from server.config import Role
from server.default import valuation, wire
from server.default.registry import DefaultRegistry
from server.request_checks import check_request, check_request_off_loop
from server.runtime import Runtime
from server.streams import receive_whole
from server.timestamps import timestamp_in

READ_ROLES = (Role.OPERATOR, Role.OBSERVER)
MEMBER_ROLES = (Role.CLEARING_MEMBER, Role.MARKET_MAKER)


def _operator() -> str:
    return require_role(Role.OPERATOR).participant_id


#: Positions one streamed load may carry, and the seconds its stream may take to arrive.
MAX_STREAMED_POSITIONS = 1_000_000
LOAD_STREAM_SECONDS = 600.0


class LoadEntries:
    """The members and positions of one load (a request, or a stream's chunks in order),
    converted from the wire as they arrive; the wire's problems are collected, not raised at
    the first, so that a refusal lists them all (indices count across the whole load)."""

    def __init__(self, house_id: str) -> None:
        self.house_id = house_id
        self.members: list[MemberSpec] = []
        self.positions: list[tuple[str, str, SwapTerms]] = []
        self._problems: list[tuple[str, DomainError]] = []
        self._member_count = 0
        self._position_count = 0

    def add(self, part: pb.LoadClearingStateRequest | pb.LoadClearingStateChunksRequest) -> None:
        """Append a request's (or a chunk's) members and positions; every field of an entry
        that the engines refuse whatever the house holds is named (``members[3].role`` and
        ``members[3].collateral`` both)."""
        if part.house_id and part.house_id != self.house_id:
            self._problems.append(
                ("", InvalidInput("house_id", f"{part.house_id!r} differs from {self.house_id!r}"))
            )
        for m in part.members:
            where = f"members[{self._member_count}]"
            self._member_count += 1
            try:
                self.members.append(wire.member_in(m, where))
            except InvalidInput as exc:
                self._problems.extend(
                    ("", InvalidInput(v.field, v.description)) for v in exc.violations
                )
        if self._position_count + len(part.positions) > MAX_STREAMED_POSITIONS:
            raise LimitExceeded(
                f"a load carries at most {MAX_STREAMED_POSITIONS:,} positions; nothing was loaded"
            )
        for p in part.positions:
            where = f"positions[{self._position_count}]"
            self._position_count += 1
            try:
                self.positions.append(wire.position_in(p, where))
            except InvalidInput as exc:
                self._problems.extend(
                    ("", InvalidInput(v.field, v.description)) for v in exc.violations
                )

    def _refused(self, entry: InvalidInput) -> None:
        """Each bad field of one entry is a problem of its own (a refusal lists them all)."""
        self._problems.extend(("", InvalidInput(v.field, v.description)) for v in entry.violations)

    def check(self) -> None:
        """Refuse the load, listing every problem the wire found (up to the bound); refuse a
        load with nothing in it (no house is created for it)."""
        if self._problems:
            raise refusal_of(self._problems)
        if not self.members and not self.positions:
            raise InvalidInput(
                "positions",
                "nothing to load: the request has no members and no positions; nothing was changed",
            )


class ClearingServicer(clearing_pb2_grpc.ClearingServiceServicer):
    """Operator RPCs over the registry."""

    def __init__(self, registry: DefaultRegistry, runtime: Runtime) -> None:
        self._registry = registry
        self._now = runtime.clock.now
        self._compute = runtime.compute

    # -- clearing state, margin, default, conversion -------------------------------------

    async def LoadClearingState(  # noqa: N802 - RPC names are fixed by the proto
        self, request: pb.LoadClearingStateRequest, context: Any
    ) -> pb.LoadClearingStateResponse:
        operator = _operator()
        entries = LoadEntries(request.house_id)
        entries.add(request)
        ack = await self._load(entries, operator)
        return pb.LoadClearingStateResponse(
            ack=ack_out(ack),
            house_id=self._registry.house.house_id,
            members_admitted=len(entries.members),
            positions_booked=len(entries.positions),
        )

    async def LoadClearingStateChunks(  # noqa: N802
        self, request_iterator: AsyncIterator[pb.LoadClearingStateChunksRequest], context: Any
    ) -> pb.LoadClearingStateChunksResponse:
        """The load as a stream of chunks, all or nothing: nothing is decided until the whole
        stream has arrived (its chunk marked ``last`` included, within
        :data:`LOAD_STREAM_SECONDS`, at most :data:`MAX_STREAMED_POSITIONS` positions); a
        stream that fails, is cancelled or times out before that changes nothing, even when
        the transport ends it as a client's half-close would. Then it is one load, decided
        and journaled as the unary one, and acknowledged once durable."""
        operator = _operator()
        entries: LoadEntries | None = None
        chunks = 0
        complete = False

        def take(chunk: pb.LoadClearingStateChunksRequest) -> None:
            nonlocal entries, chunks, complete
            if complete:
                raise InvalidInput("last", "a chunk came after the last; nothing was loaded")
            if entries is None:
                entries = LoadEntries(chunk.house_id)
            entries.add(chunk)
            chunks += 1
            complete = chunk.last

        await receive_whole(
            request_iterator,
            context,
            take,
            seconds=LOAD_STREAM_SECONDS,
            nothing="nothing was loaded",
        )
        if entries is None or not complete:
            raise InvalidInput(
                "last", "the stream ended before its last chunk (last: true); nothing was loaded"
            )
        ack = await self._load(entries, operator)
        return pb.LoadClearingStateChunksResponse(
            ack=ack_out(ack),
            house_id=self._registry.house.house_id,
            members_admitted=len(entries.members),
            positions_booked=len(entries.positions),
            chunks=chunks,
        )

    async def _load(self, entries: LoadEntries, operator: str) -> Any:
        """The one load, unary or streamed: the wire's problems, then the engine's."""
        entries.check()
        return await self._registry.load(
            house_id=entries.house_id,
            members=entries.members,
            positions=entries.positions,
            by=operator,
        )

    def _markets(self, request: Any) -> valuation.Markets:
        """The request's ``market``/``markets`` as plain data (built, for the positions
        concerned, where the pricing runs)."""
        market = wire.market_in(request.market) if request.HasField("market") else None
        markets = wire.markets_in(request.markets) if request.HasField("markets") else None
        return market, markets

    async def RunMargin(  # noqa: N802
        self, request: pb.RunMarginRequest, context: Any
    ) -> pb.RunMarginResponse:
        operator = _operator()
        # every bad field at once, markets included (parsed in a worker: server/request_checks)
        await check_request_off_loop(self._compute, request)
        if not request.HasField("market") and not request.HasField("markets"):
            raise InvalidInput("markets", "required (or market, for one currency and index)")
        scenarios = valuation.margin_scenarios(wire.scenarios_in(request.scenarios))
        run = await self._registry.run_margin(
            run_id=request.run_id, markets=self._markets(request), scenarios=scenarios, by=operator
        )
        return pb.RunMarginResponse(ack=ack_out(run.ack), run=self._run_out(run.run_id))

    def _run_out(self, run_id: str) -> pb.MarginRun:
        house = self._registry.house
        rows = house.margin_run(run_id)
        meta = house.margin_meta[run_id]
        return wire.margin_out(run_id, rows, meta.valuation_date, meta.curve_id, meta.worst or {})

    async def GetMarginRun(  # noqa: N802
        self, request: pb.GetMarginRunRequest, context: Any
    ) -> pb.GetMarginRunResponse:
        require_role(*READ_ROLES)
        house = self._registry.house
        run_id = request.run_id or house.latest_run
        if run_id is None:
            raise NotFound("no margin run has been recorded")
        return pb.GetMarginRunResponse(run=self._run_out(run_id))

    async def DeclareDefault(  # noqa: N802
        self, request: pb.DeclareDefaultRequest, context: Any
    ) -> pb.DeclareDefaultResponse:
        operator = _operator()
        await check_request_off_loop(self._compute, request)  # every bad field at once
        priced = None
        if request.HasField("market") or request.HasField("markets"):
            priced = self._markets(request)
        ack = await self._registry.declare_default(
            member=request.member_id, reason=request.reason or None, markets=priced, by=operator
        )
        record = self._registry.house.defaults[request.member_id]
        return pb.DeclareDefaultResponse(ack=ack_out(ack), member_default=wire.default_out(record))

    async def ConvertPositions(  # noqa: N802
        self, request: pb.ConvertPositionsRequest, context: Any
    ) -> pb.ConvertPositionsResponse:
        operator = _operator()
        await check_request_off_loop(self._compute, request)  # every bad field at once
        if not request.HasField("market") and not request.HasField("markets"):
            raise InvalidInput("markets", "required (or market, for one currency and index)")
        ack, lot_ids = await self._registry.convert(
            member=request.member_id,
            markets=self._markets(request),
            rcv_convention=wire.rcv_in(request.rcv_convention),
            standard_tenors=list(request.standard_tenors),
            grouping=wire.grouping_in(request.group_by, request.max_lot_dv01),
            position_ids=list(request.position_ids),
            max_lot_dv01=request.max_lot_dv01,
            settled_flows=wire.settled_flows_in(request.settled_flows),
            hedge=request.hedge,
            by=operator,
        )
        return pb.ConvertPositionsResponse(
            ack=ack_out(ack), lots=[self._lot_out(i) for i in lot_ids]
        )

    def _lot_out(self, lot_id: str) -> pb.Lot:
        house = self._registry.house
        auctions = self._registry.auctions()
        return wire.lot_out(
            house.lot(lot_id),
            steps.lot_status(house, auctions, lot_id),
            [a.auction_id for a in steps.auctions_of(auctions, lot_id)],
        )

    async def ListLots(  # noqa: N802
        self, request: pb.ListLotsRequest, context: Any
    ) -> pb.ListLotsResponse:
        require_role(*READ_ROLES)
        if not self._registry.has_house():
            return pb.ListLotsResponse()
        return pb.ListLotsResponse(lots=[self._lot_out(i) for i in self._registry.house.lots])

    async def WithdrawLot(  # noqa: N802
        self, request: pb.WithdrawLotRequest, context: Any
    ) -> pb.WithdrawLotResponse:
        operator = _operator()
        ack = await self._registry.withdraw_lot(
            lot_id=request.lot_id, reason=request.reason, by=operator
        )
        return pb.WithdrawLotResponse(ack=ack_out(ack), lot=self._lot_out(request.lot_id))

    async def AllocateLosses(  # noqa: N802
        self, request: pb.AllocateLossesRequest, context: Any
    ) -> pb.AllocateLossesResponse:
        operator = _operator()
        check_request(request)  # every bad field at once (server/request_checks.py)
        config = WaterfallConfig.build(
            ccp_tranche=request.config.ccp_tranche or "0",
            assessment_multiple=request.config.assessment_multiple or "1",
        )
        ack = await self._registry.allocate_losses(
            defaulter=request.defaulter, config=config, by=operator
        )
        event = self._registry.house.allocations[request.defaulter]
        return pb.AllocateLossesResponse(ack=ack_out(ack), allocation=wire.allocation_out(event))

    async def GetLossAllocation(  # noqa: N802
        self, request: pb.GetLossAllocationRequest, context: Any
    ) -> pb.GetLossAllocationResponse:
        caller = require_role(*READ_ROLES, *MEMBER_ROLES)
        house = self._registry.house
        event = house.allocations.get(request.defaulter)
        if event is None:
            house.member(request.defaulter)
            raise NotFound(f"no loss allocation for {request.defaulter!r}")
        allocation = wire.allocation_out(event)
        if caller.role in MEMBER_ROLES:
            # a member sees the netting and its own report and instructions, nobody else's
            wire.keep_member(allocation, caller.participant_id)
        return pb.GetLossAllocationResponse(allocation=allocation)

    # -- auctions ------------------------------------------------------------------------

    async def CreateDefaultAuction(  # noqa: N802
        self, request: pb.CreateDefaultAuctionRequest, context: Any
    ) -> pb.CreateDefaultAuctionResponse:
        operator = _operator()
        check_request(request)  # every bad field at once (server/request_checks.py)
        created, ack = await self._registry.create_auction(
            auction_id=request.auction_id,
            lot_id=request.lot_id,
            reserve=request.reserve or None,
            reserve_bp=request.reserve_bp or None,
            grading_threshold=request.grading_threshold,
            open_at=timestamp_in(request, "open_at"),
            close_at=timestamp_in(request, "close_at"),
            window_seconds=request.window_seconds,
            by=operator,
            lot_ids=list(request.lot_ids),
        )
        return pb.CreateDefaultAuctionResponse(
            ack=ack_out(ack),
            auction=wire.auction_out(created[0]),
            auctions=[wire.auction_out(a) for a in created],
        )

    async def OpenBidWindow(  # noqa: N802
        self, request: pb.OpenBidWindowRequest, context: Any
    ) -> pb.OpenBidWindowResponse:
        operator = _operator()
        decision = await self._registry.open_window(request.auction_id, by=operator)
        auction = self._registry.auction(request.auction_id)
        return pb.OpenBidWindowResponse(
            ack=ack_out(decision.ack), auction=wire.auction_out(auction)
        )

    async def CloseBidWindow(  # noqa: N802
        self, request: pb.CloseBidWindowRequest, context: Any
    ) -> pb.CloseBidWindowResponse:
        operator = _operator()
        decision = await self._registry.execute(
            request.auction_id, lambda a: a.close(by=operator, now=self._now())
        )
        auction = self._registry.auction(request.auction_id)
        return pb.CloseBidWindowResponse(
            ack=ack_out(decision.ack), auction=wire.auction_out(auction)
        )

    async def CancelDefaultAuction(  # noqa: N802
        self, request: pb.CancelDefaultAuctionRequest, context: Any
    ) -> pb.CancelDefaultAuctionResponse:
        operator = _operator()
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: steps.cancel(
                self._registry.house, a, reason=request.reason, by=operator, now=self._now()
            ),
        )
        auction = self._registry.auction(request.auction_id)
        return pb.CancelDefaultAuctionResponse(
            ack=ack_out(decision.ack), auction=wire.auction_out(auction)
        )

    async def DiscloseBids(  # noqa: N802
        self, request: pb.DiscloseBidsRequest, context: Any
    ) -> pb.DiscloseBidsResponse:
        operator = _operator()
        decision = await self._registry.execute(
            request.auction_id,
            lambda a: a.disclose_bids(by=operator, reason=request.reason, now=self._now()),
        )
        auction = self._registry.auction(request.auction_id)
        return pb.DiscloseBidsResponse(
            ack=ack_out(decision.ack),
            bids=[wire.bid_out(b) for b in auction.bids(disclosed=True)],
        )

    async def AwardLot(  # noqa: N802
        self, request: pb.AwardLotRequest, context: Any
    ) -> pb.AwardLotResponse:
        operator = _operator()
        decision = await self._registry.award(request.auction_id, by=operator)
        auction = self._registry.auction(request.auction_id)
        return pb.AwardLotResponse(
            ack=ack_out(decision.ack), result=wire.result_out(auction.result())
        )

    async def AssignLot(  # noqa: N802
        self, request: pb.AssignLotRequest, context: Any
    ) -> pb.AssignLotResponse:
        operator = _operator()
        check_request(request)  # every bad field at once (server/request_checks.py)
        decision = await self._registry.assign(
            request.auction_id, member=request.member_id, reason=request.reason, by=operator
        )
        auction = self._registry.auction(request.auction_id)
        return pb.AssignLotResponse(
            ack=ack_out(decision.ack), result=wire.result_out(auction.result())
        )

    async def SettleLot(  # noqa: N802
        self, request: pb.SettleLotRequest, context: Any
    ) -> pb.SettleLotResponse:
        operator = _operator()
        decision = await self._registry.settle(request.auction_id, by=operator)
        lot_id = self._registry.auction(request.auction_id).lot.lot_id
        house = self._registry.house
        return pb.SettleLotResponse(
            ack=ack_out(decision.ack),
            settlement=self._lot_out(lot_id).settlement,
            instructions=[wire.instruction_out(i) for i in house.settlement_instructions(lot_id)],
        )

    # -- publications --------------------------------------------------------------------

    async def GetAuctionResult(  # noqa: N802
        self, request: pb.GetAuctionResultRequest, context: Any
    ) -> pb.GetAuctionResultResponse:
        require_role(*READ_ROLES)
        auction = self._registry.auction(request.auction_id)
        return pb.GetAuctionResultResponse(result=wire.result_out(auction.result()))

    async def GetLedger(  # noqa: N802
        self, request: pb.GetLedgerRequest, context: Any
    ) -> pb.GetLedgerResponse:
        require_role(*READ_ROLES)
        return wire.ledger_out(self._registry.house.ledger())

    async def GetSettlementInstructions(  # noqa: N802
        self, request: pb.GetSettlementInstructionsRequest, context: Any
    ) -> pb.GetSettlementInstructionsResponse:
        require_role(*READ_ROLES)
        house = self._registry.house
        # a lot's instructions, or a loss allocation's ("<defaulter>/losses")
        if request.lot_id and request.lot_id not in {f"{d}/losses" for d in house.allocations}:
            house.lot(request.lot_id)
        return pb.GetSettlementInstructionsResponse(
            instructions=[
                wire.instruction_out(i)
                for i in house.settlement_instructions(request.lot_id or None)
            ]
        )

    async def GetGrades(  # noqa: N802
        self, request: pb.GetGradesRequest, context: Any
    ) -> pb.GetGradesResponse:
        require_role(*READ_ROLES)
        auctions = (
            [self._registry.auction(request.auction_id)]
            if request.auction_id
            else self._registry.auctions()
        )
        return pb.GetGradesResponse(
            grades=[g for a in auctions for g in wire.grade_rows(a.result())]
        )

    async def GetDefaultOverview(  # noqa: N802
        self, request: pb.GetDefaultOverviewRequest, context: Any
    ) -> pb.GetDefaultOverviewResponse:
        require_role(*READ_ROLES)
        out = pb.GetDefaultOverviewResponse(
            auctions=[
                pb.DefaultAuctionStatus(auction=wire.auction_out(a), bidders=a.bidders())
                for a in self._registry.auctions()
            ]
        )
        if not self._registry.has_house():
            return out
        house = self._registry.house
        out.house_id = house.house_id
        if house.latest_run is not None:
            # The valuation date and curve id are not kept with the run: left empty.
            out.latest_margin_run.CopyFrom(
                wire.margin_out(house.latest_run, house.margin_run(house.latest_run), "", "", {})
            )
        out.defaults.extend(wire.default_out(r) for r in house.defaults.values())
        return out


def add(server: Any, registry: DefaultRegistry, runtime: Runtime) -> str:
    """Add the servicer; returns its full service name."""
    clearing_pb2_grpc.add_ClearingServiceServicer_to_server(
        ClearingServicer(registry, runtime), server
    )
    return str(pb.DESCRIPTOR.services_by_name["ClearingService"].full_name)
