"""The steps of a default, as pure functions over the clearing house and its auctions.

Each function takes the engines' current state plus plain priced values and returns the
engines' decisions (events and acknowledgement) **without changing anything**; the driver
(the server's registry, the offline runner) applies and journals them. The rules here:

* **Margin run**: every open cleared position of a member not in default counts (not the
  CCP's, not external hedges); every member not in default gets a row.
* **Conversion**: a defaulter's positions not yet in a live lot are converted (or exactly
  the positions named, for a lot built by hand); lots are one per position, one per currency
  and index, or split by DV01 (a lot of one currency and index grows in position order while
  the sum of its positions' |DV01| stays at or under the limit); lots are numbered
  ``<defaulter>-<n>``, n continuing after the defaulter's existing lots; the neutralising
  hedge, when asked, is booked right after its lot.
* **Auctions**: a lot has at most one live auction; a lot settled or withdrawn gets none; a
  FAILED or CANCELLED auction releases its lot for a new one (ids ``<lot>``, then
  ``<lot>.2``, ``<lot>.3``...). Who may bid is decided when the window opens (the clearing
  house's invitation then). At the award, invited members in default by then are excluded.
* **Settlement**: an award settles at the bid (AWARD), a draw at b* (ASSIGNMENT), an
  operator's assignment at b* with its reason (OPERATOR_ASSIGNMENT).
* **Withdrawal**: a lot in no live auction and not settled can be withdrawn; its positions
  are free for new lots.
* **Cancellation** of an auction is possible until the clearing house settles its lot, also
  after the award (a taker that defaulted before the settlement): the lot is free again.
* **Loss allocation**: once every defaulted position is in a settled lot, the default's
  result is netted over its lots and allocated through the waterfall
  (:mod:`matching.process.waterfall`); a survivor's tier is its worst grade over the
  default's auctions.

No I/O, no clock (``now`` is an argument), no randomness (``seed`` is), no pricing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from matching.clearing import events as cev
from matching.clearing.model import CCP, Position, PositionStatus, SwapTerms
from matching.clearing.state import ClearingHouse
from matching.default import events as aev
from matching.default.auction import DefaultAuction
from matching.default.cash import cents_text
from matching.default.lot import ConvertedPosition
from matching.default.phases import RELEASED, Phase
from matching.errors import AlreadyExists, InvalidInput, InvalidTransition, NotFound
from matching.eventsourcing import Ack, Decision
from matching.process.waterfall import WaterfallConfig

GROUPINGS = ("position", "currency_index", "dv01")

# -- margin run --------------------------------------------------------------------------------


def margin_positions(house: ClearingHouse) -> list[Position]:
    """The positions a margin run prices: open, cleared, of members not in default."""
    return [
        p
        for p in house.open_positions()
        if p.account != CCP and not p.external and not house.is_defaulted(p.account)
    ]


def margin_collateral(house: ClearingHouse) -> dict[str, int]:
    """Collateral (cents) of every member not in default: the rows of a margin run."""
    return {m: house.collateral.get(m, 0) for m in house.members if not house.is_defaulted(m)}


# -- conversion -------------------------------------------------------------------------------


def positions_to_convert(
    house: ClearingHouse, member: str, position_ids: Sequence[str] = ()
) -> list[Position]:
    """The defaulter's positions to convert: those named (a lot built by hand), or every
    defaulted position still open and in no live lot."""
    if not house.is_defaulted(member):
        house.member(member)
        raise InvalidTransition(f"{member} is not in default")
    free = [
        pos
        for pos, _ in house.defaulted_positions(member)
        if pos.status is PositionStatus.OPEN and not in_live_lot(house, pos.position_id)
    ]
    if position_ids:
        by_id = {p.position_id: p for p in free}
        seen: set[str] = set()
        chosen = []
        for i, pid in enumerate(position_ids):
            if pid in seen:
                raise InvalidInput(f"position_ids[{i}]", f"{pid} is named twice")
            seen.add(pid)
            if pid not in by_id:
                raise NotFound(
                    f"position_ids[{i}]: {pid} is not a defaulted position of {member} "
                    "that is open and in no live lot"
                )
            chosen.append(by_id[pid])
        return chosen
    if not free:
        raise InvalidTransition(f"{member} has no defaulted position left to convert")
    return free


def in_live_lot(house: ClearingHouse, position_id: str) -> bool:
    """Whether the position is in a lot that is not withdrawn."""
    return any(
        rec.withdrawn is None and any(p.position_id == position_id for p in rec.lot.positions)
        for rec in house.lots.values()
    )


def group_into_lots(
    positions: Sequence[Position],
    *,
    grouping: str,
    dv01: Mapping[str, int] | None = None,
    max_dv01: int | None = None,
    by_hand: bool = False,
) -> list[tuple[str, ...]]:
    """Position ids grouped into lots, in position order (see the module docstring)."""
    if by_hand:
        markets = {p.terms.market for p in positions}
        if len(markets) > 1:
            raise InvalidInput("position_ids", "a lot holds one currency and index only")
        return [tuple(p.position_id for p in positions)]
    if grouping not in GROUPINGS:
        raise InvalidInput("group_by", f"must be one of {', '.join(GROUPINGS)}")
    if grouping == "position":
        return [(p.position_id,) for p in positions]
    if grouping == "currency_index":
        groups: dict[tuple[str, str], list[str]] = {}
        for p in positions:
            groups.setdefault(p.terms.market, []).append(p.position_id)
        return [tuple(ids) for ids in groups.values()]
    if dv01 is None or max_dv01 is None or max_dv01 <= 0:
        raise InvalidInput("max_lot_dv01", "splitting by DV01 needs a positive limit")
    out: list[list[str]] = []
    current: dict[tuple[str, str], tuple[int, int]] = {}  # market -> (lot index, |DV01| sum)
    for p in positions:
        size = abs(dv01[p.position_id])
        slot = current.get(p.terms.market)
        if slot is not None and slot[1] + size <= max_dv01:
            out[slot[0]].append(p.position_id)
            current[p.terms.market] = (slot[0], slot[1] + size)
        else:
            out.append([p.position_id])
            current[p.terms.market] = (len(out) - 1, size)
    return [tuple(ids) for ids in out]


def next_lot_ids(house: ClearingHouse, member: str, count: int) -> list[str]:
    """``count`` new lot ids ``<member>-<n>``, n continuing after the member's lots."""
    first = 1 + sum(1 for rec in house.lots.values() if rec.lot.defaulter == member)
    ids = [f"{member}-{first + k}" for k in range(count)]
    taken = [i for i in ids if i in house.lots]
    if taken:
        raise AlreadyExists(f"lot {taken[0]!r} already exists")
    return ids


@dataclass(frozen=True)
class LotPricing:
    """What the pricing edge says about one market's lots: curve id and FX into the
    clearing currency (decimal string)."""

    curve_id: str
    fx_rate: str
    clearing_currency: str


def convert(
    house: ClearingHouse,
    *,
    member: str,
    conversions: Mapping[str, ConvertedPosition],
    groups: Sequence[tuple[str, ...]],
    pricing: Callable[[tuple[str, str]], LotPricing],
    valuation_time: str,
    rcv_convention: str,
    settled_flows: str,
    hedges: Mapping[str, SwapTerms] | None,
    by: str,
    now: datetime,
) -> tuple[Decision[cev.Event], list[str]]:
    """Every lot (and its hedge) as one all-or-none decision, and the new lot ids.

    ``conversions`` are the priced conversions by position id; ``pricing`` gives each
    (currency, index)'s curve id and FX rate; ``hedges`` (when the hedge is wanted) the
    neutralising hedge swap of each position that needs one.
    """
    scratch = house.scratch()
    events: list[cev.Event] = []
    lot_ids = next_lot_ids(house, member, len(groups))
    for lot_id, ids in zip(lot_ids, groups, strict=True):
        market = conversions[ids[0]].defaulted.market
        priced = pricing(market)
        decision = scratch.convert(
            lot_id=lot_id,
            member=member,
            conversions=[conversions[i] for i in ids],
            curve_id=priced.curve_id,
            valuation_time=valuation_time,
            rcv_convention=rcv_convention,
            settled_flows=settled_flows,
            fx_rate=priced.fx_rate,
            clearing_currency=priced.clearing_currency,
            by=by,
            now=now,
        )
        scratch.apply_all(decision.events)
        events.extend(decision.events)
        swaps = [hedges[i] for i in ids if i in hedges] if hedges is not None else []
        if swaps:
            decision = scratch.book_hedge(lot_id=lot_id, hedges=swaps, by=by, now=now)
            scratch.apply_all(decision.events)
            events.extend(decision.events)
    last = events[-1]
    return Decision(tuple(events), Ack(last.seq, last.at, "")), lot_ids


# -- auctions ---------------------------------------------------------------------------------


def auctions_of(auctions: Iterable[DefaultAuction], lot_id: str) -> list[DefaultAuction]:
    """The auctions of one lot, in the order given (creation order)."""
    return [a for a in auctions if a.lot.lot_id == lot_id]


def live_auction(auctions: Iterable[DefaultAuction], lot_id: str) -> DefaultAuction | None:
    """The lot's auction that still holds it (not cancelled, not failed), if any."""
    return next(
        (a for a in auctions_of(auctions, lot_id) if a.phase not in RELEASED),
        None,
    )


def lot_status(house: ClearingHouse, auctions: Iterable[DefaultAuction], lot_id: str) -> str:
    """CONVERTED, IN_AUCTION, SETTLED or WITHDRAWN."""
    record = house.lot(lot_id)
    if record.status != "CONVERTED":
        return record.status
    live = live_auction(auctions, lot_id)
    return "IN_AUCTION" if live is not None and live.phase is not Phase.SETTLED else "CONVERTED"


def next_auction_id(auctions: Iterable[DefaultAuction], lot_id: str) -> str:
    """``<lot>`` for a lot's first auction, ``<lot>.<n>`` for the n-th."""
    n = len(auctions_of(auctions, lot_id)) + 1
    return lot_id if n == 1 else f"{lot_id}.{n}"


def auction_id_for(
    auctions: Iterable[DefaultAuction], lot_id: str, requested: str, *, several: bool
) -> str:
    """The id of a new auction of ``lot_id``: the one requested (``<requested>.<lot>`` when
    one request creates several auctions in one window), or :func:`next_auction_id`."""
    if not requested:
        return next_auction_id(auctions, lot_id)
    return f"{requested}.{lot_id}" if several else requested


def check_new_auction(
    house: ClearingHouse, auctions: Iterable[DefaultAuction], lot_id: str
) -> None:
    """Refuse a new auction of a lot that is settled, withdrawn or in a live auction."""
    record = house.lot(lot_id)
    if record.settlement is not None:
        raise InvalidTransition(f"lot {lot_id} is already settled")
    if record.withdrawn is not None:
        raise InvalidTransition(f"lot {lot_id} was withdrawn: convert its positions again")
    live = live_auction(list(auctions), lot_id)
    if live is not None:
        raise AlreadyExists(f"lot {lot_id} is already in auction {live.auction_id}")


def open_window(
    house: ClearingHouse, auction: DefaultAuction, *, by: str, now: datetime
) -> Decision[aev.Event]:
    """Open the window with the invitation decided now."""
    invitation = house.invitation(auction.lot.lot_id)
    return auction.open(
        by=by,
        now=now,
        eligible=invitation.eligible,
        market_makers=invitation.market_makers,
        mandatory=invitation.mandatory,
    )


def award(
    house: ClearingHouse, auction: DefaultAuction, *, seed: int, by: str, now: datetime
) -> Decision[aev.Event]:
    """Award (or assign, or fail) with invited members in default by now excluded."""
    excluded = [m for m in auction.eligible if house.is_defaulted(m)]
    return auction.award(by=by, now=now, seed=seed, excluded=excluded)


def assign(
    house: ClearingHouse,
    auction: DefaultAuction,
    *,
    member: str,
    reason: str,
    by: str,
    now: datetime,
) -> Decision[aev.Event]:
    """An operator's assignment to a member in good standing, with a reason."""
    house.member(member)
    if house.is_defaulted(member):
        raise InvalidTransition(f"{member} is in default: it cannot take the lot")
    if house.lot(auction.lot.lot_id).withdrawn is not None:
        raise InvalidTransition(f"lot {auction.lot.lot_id} was withdrawn")
    return auction.assign(by=by, now=now, member=member, reason=reason)


def cancel(
    house: ClearingHouse, auction: DefaultAuction, *, reason: str, by: str, now: datetime
) -> Decision[aev.Event]:
    """Cancel an auction, also one awarded or assigned but not settled (its taker may have
    defaulted since); never once the clearing house has settled its lot."""
    record = house.lot(auction.lot.lot_id)
    if record.settlement is not None and record.auction_id == auction.auction_id:
        raise InvalidTransition(
            f"lot {auction.lot.lot_id} is settled by {auction.auction_id}: finish its settlement"
        )
    return auction.cancel(by=by, reason=reason, now=now)


def settle(
    house: ClearingHouse, auction: DefaultAuction, *, by: str, now: datetime
) -> tuple[Decision[cev.Event] | None, Decision[aev.Event]]:
    """The clearing house's settlement of the award (None when a crash left it already
    recorded) and the auction's; both decided before either is applied."""
    lot_id = auction.lot.lot_id
    record = house.lot(lot_id)
    closing = auction.settle(by=by, now=now, settlement_id=lot_id)
    clearing: Decision[cev.Event] | None = None
    if record.settlement is None or record.auction_id != auction.auction_id:
        outcome = auction.outcome
        if outcome is None or outcome.failed:  # pragma: no cover - settle() refuses this
            raise InvalidTransition(f"{auction.auction_id} has no award to settle")
        clearing = house.settle(
            lot_id=lot_id,
            member=outcome.member,
            amount=cents_text(outcome.amount),
            method=outcome.method,
            auction_id=auction.auction_id,
            by=by,
            now=now,
            reason=outcome.reason,
        )
    return clearing, closing


def withdraw_lot(
    house: ClearingHouse,
    auctions: Iterable[DefaultAuction],
    *,
    lot_id: str,
    reason: str,
    by: str,
    now: datetime,
) -> Decision[cev.Event]:
    """Withdraw a lot in no live auction."""
    live = live_auction(list(auctions), lot_id)
    house.lot(lot_id)
    if live is not None and live.phase is not Phase.SETTLED:
        raise InvalidTransition(
            f"lot {lot_id} is in auction {live.auction_id} ({live.phase.value}): cancel it first"
        )
    return house.withdraw_lot(lot_id=lot_id, reason=reason, by=by, now=now)


# -- loss allocation --------------------------------------------------------------------------


def grades_of(
    house: ClearingHouse, auctions: Iterable[DefaultAuction], defaulter: str
) -> dict[str, list[str]]:
    """Each member's grades over the defaulter's auctions, as ``"<auction>:<grade>"``."""
    lots = {rec.lot.lot_id for rec in house.lots.values() if rec.lot.defaulter == defaulter}
    out: dict[str, list[str]] = {}
    for a in auctions:
        if a.lot.lot_id in lots and a.outcome is not None:
            for g in a.outcome.grades:
                out.setdefault(g.member, []).append(f"{a.auction_id}:{g.grade.value}")
    return out


def allocate_losses(
    house: ClearingHouse,
    auctions: Iterable[DefaultAuction],
    *,
    defaulter: str,
    config: WaterfallConfig,
    by: str,
    now: datetime,
) -> Decision[cev.Event]:
    """Net the default over its lots and run the waterfall (see ``waterfall``)."""
    return house.allocate_losses(
        defaulter=defaulter,
        grades=grades_of(house, auctions, defaulter),
        config=config,
        by=by,
        now=now,
    )
