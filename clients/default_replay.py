"""Offline default run: a whole default from a scenario file, through the pure engines.

The runner may import both ``pricing`` and ``matching`` (the server does the same per
request): every priced value comes from :mod:`pricing.clearing`, the module the server calls
too, and every process rule from :mod:`matching.process.steps`, the functions the server's
registry calls: the runner only drives them one command at a time on a synthetic clock
(:func:`clients.default_scenario.window_opens`), as the server would on its own clock. Engine
and pricing refusals are reported against the scenario entry that caused them. No network,
no server, no wall clock.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

from clients.default_scenario import MARGIN_RUN, Action, BidEntry, Scenario, window_opens
from clients.scenario import ScenarioError, describe
from matching.clearing import events as cev
from matching.clearing.model import Position, SwapTerms
from matching.clearing.state import ClearingHouse, MemberSpec
from matching.default import events as aev
from matching.default.auction import AuctionParams, DefaultAuction, Schedule
from matching.default.cash import cents_text, to_cents
from matching.default.lot import ConvertedPosition
from matching.errors import DomainError
from matching.eventsourcing import Decision
from matching.process import steps
from matching.process.waterfall import WaterfallConfig
from pricing import clearing
from pricing.clearing import PricedMarkets
from pricing.errors import PricingInputError

OPERATOR = "scenario-operator"
_T = TypeVar("_T")


@dataclass
class DefaultReplay:
    """The outcome of an offline default run: the result dict and both journals."""

    result: dict[str, Any]
    clearing_events: list[cev.Event]
    auction_events: dict[str, list[aev.Event]]
    notes: list[str] = field(default_factory=list)


def _pricing(where: str, fn: Callable[[], _T]) -> _T:
    try:
        return fn()
    except PricingInputError as exc:
        raise ScenarioError(f"{where}.{exc.field}" if where else exc.field, exc.message) from None


def _domain(where: str, fn: Callable[[], _T]) -> _T:
    try:
        return fn()
    except DomainError as exc:
        raise ScenarioError(where, describe(exc)) from None


class _Run:
    """One offline default: the engines, their journals and the synthetic clock."""

    def __init__(self, scenario: Scenario, seeds: Mapping[str, int] | None) -> None:
        self.s = scenario
        self.seeds = dict(seeds or {})
        day = _pricing("", lambda: self._markets([p.terms.market for p in scenario.positions]))
        self.valuation_day = day.valuation_day
        self.curve_id = day.curve_id
        self.t = datetime.combine(
            datetime.fromisoformat(self.valuation_day).date(), time(9), tzinfo=UTC
        )
        created = ClearingHouse.create(house_id=scenario.house, by=OPERATOR, now=self.tick())
        self.house = ClearingHouse.from_events(created.events)
        self.journal: list[cev.Event] = list(created.events)
        self.auctions: dict[str, DefaultAuction] = {}
        self.histories: dict[str, list[aev.Event]] = {}
        self.windows = 0
        self.worst: dict[str, str] = {}
        self.notes: list[str] = []
        # pricing-only fields of a position as written (spread, current_fixing)
        self.extra: dict[str, dict[str, Any]] = {
            p.position_id: {k: p.swap[k] for k in ("spread", "current_fixing") if k in p.swap}
            for p in scenario.positions
        }

    # -- plumbing ----------------------------------------------------------------------------

    def tick(self, seconds: int = 1) -> datetime:
        self.t += timedelta(seconds=seconds)
        return self.t

    def _markets(self, kinds: Sequence[tuple[str, str]]) -> PricedMarkets:
        return clearing.markets_of(self.s.market, self.s.markets, kinds)

    def swap(self, p: Position) -> dict[str, Any]:
        """A booked position in the pricing format, with its fields as written."""
        return clearing.swap_of(p.position_id, p.terms.to_dict(), self.extra.get(p.position_id))

    def markets(self, where: str, positions: Sequence[Position]) -> PricedMarkets:
        return _pricing(where, lambda: self._markets([p.terms.market for p in positions]))

    def clear(self, where: str, command: Callable[[], Decision[cev.Event]]) -> None:
        decision = _domain(where, command)
        self.house.apply_all(decision.events)
        self.journal.extend(decision.events)

    def bid_on(self, auction: DefaultAuction, where: str, command: Callable[[], Any]) -> None:
        decision = _domain(where, command)
        auction.apply_all(decision.events)
        self.histories[auction.auction_id].extend(decision.events)

    # -- the steps -----------------------------------------------------------------------

    def load(self) -> None:
        s = self.s
        self.clear(
            "members/positions",
            lambda: self.house.load(
                members=[
                    MemberSpec(m.member, m.role, m.mandatory, m.collateral, m.default_fund)
                    for m in s.members
                ],
                positions=[(p.position_id, p.member, p.terms) for p in s.positions],
                by=OPERATOR,
                now=self.tick(),
            ),
        )

    def margin(self) -> None:
        active = steps.margin_positions(self.house)
        pmx = self.markets("margin", active)
        scenarios = _pricing("margin", lambda: clearing.margin_scenarios(self.s.margin_scenarios))
        collateral = {
            m: float(Decimal(c) / 100) for m, c in steps.margin_collateral(self.house).items()
        }
        swaps = [self.swap(p) for p in active]
        requirements, self.worst = _pricing(
            "margin",
            lambda: clearing.margin_requirements_multi(
                pmx,
                swaps,
                [p.terms.market for p in active],
                [p.account for p in active],
                collateral,
                scenarios,
            ),
        )
        self.clear(
            "margin",
            lambda: self.house.record_margin_run(
                run_id=MARGIN_RUN,
                requirements=requirements,
                valuation_date=pmx.valuation_day,
                curve_id=pmx.curve_id,
                by=OPERATOR,
                now=self.tick(),
                worst=self.worst,
            ),
        )

    def declare(self, where: str, member: str, reason: str | None) -> None:
        held = self.house.open_positions(member) if member in self.house.members else []
        values: dict[str, str] = {}
        if held:
            pmx = self.markets(where, held)
            swaps = [self.swap(p) for p in held]
            npvs = _pricing(
                where,
                lambda: clearing.position_npvs_multi(pmx, swaps, [p.terms.market for p in held]),
            )
            values = {p.position_id: v for p, v in zip(held, npvs, strict=True)}
        self.clear(
            where,
            lambda: self.house.declare_default(
                member=member, by=OPERATOR, now=self.tick(), reason=reason, values=values
            ),
        )

    def convert(
        self,
        where: str,
        member: str,
        position_ids: Sequence[str] = (),
        group_by: str | None = None,
        max_lot_dv01: str | None = None,
    ) -> list[str]:
        s = self.s
        held = _domain(where, lambda: steps.positions_to_convert(self.house, member, position_ids))
        pmx = self.markets(where, held)
        rcv = _pricing(where, lambda: clearing.rcv_convention(s.rcv_convention))
        tenors = _pricing(where, lambda: clearing.standard_tenors(s.standard_tenors))
        flows = _pricing(where, lambda: clearing.settled_flows(s.settled_flows))
        booked = [
            clearing.Booked(p.position_id, p.terms.to_dict(), self.extra.get(p.position_id))
            for p in held
        ]
        rows = _pricing(
            where, lambda: clearing.converted_positions_multi(pmx, booked, rcv, tenors, flows)
        )
        converted = {
            row["position_id"]: _domain(where, partial(ConvertedPosition.from_dict, row))
            for row in rows
        }
        grouping = group_by or s.group_by
        limit_text = max_lot_dv01 if max_lot_dv01 is not None else s.max_lot_dv01
        if limit_text is not None:
            grouping = "dv01"
        limit = _domain(where, lambda: to_cents(limit_text, "max_lot_dv01")) if limit_text else None
        groups = _domain(
            where,
            lambda: steps.group_into_lots(
                held,
                grouping=grouping,
                dv01={pid: c.standard_dv01 for pid, c in converted.items()},
                max_dv01=limit,
                by_hand=bool(position_ids),
            ),
        )
        hedges = self._hedges(pmx, converted) if s.hedge else None
        decision, lot_ids = _domain(
            where,
            lambda: steps.convert(
                self.house,
                member=member,
                conversions=converted,
                groups=groups,
                pricing=lambda market: _pricing(where, lambda: _lot_pricing(pmx, market)),
                valuation_time=pmx.valuation_day,
                rcv_convention=rcv.value,
                settled_flows=flows.value,
                hedges=hedges,
                by=OPERATOR,
                now=self.tick(),
            ),
        )
        self.house.apply_all(decision.events)
        self.journal.extend(decision.events)
        return lot_ids

    @staticmethod
    def _hedges(
        pmx: PricedMarkets, converted: Mapping[str, ConvertedPosition]
    ) -> dict[str, SwapTerms]:
        out: dict[str, SwapTerms] = {}
        for c in converted.values():
            pm = pmx.markets[c.defaulted.market]
            one = {"currency": c.defaulted.currency, "index": c.defaulted.index}
            for pid, terms in clearing.forward_hedges(pm, {**one, "positions": [c.to_dict()]}):
                out[pid] = SwapTerms.from_dict(terms, f"hedge of {pid}")
        return out

    def window(self, action: Action) -> None:
        s = self.s
        lots = list(action.lots) if action.lots is not None else self._open_lots()
        for lot_id in lots:
            _domain(action.where, partial(self.house.lot, lot_id))
        if not lots:
            self.notes.append("no lot left to auction")
            return
        for b in action.bids:
            target = b.lot if b.lot is not None else (lots[0] if len(lots) == 1 else None)
            where = s.where_bid(b.index, action)
            if target is None:
                raise ScenarioError(where, "name the lot (there are several)")
            if target not in lots:
                raise ScenarioError(where, f"no lot {target!r} in this window")
        opened = window_opens(self.valuation_day, self.windows, s.window_seconds)
        self.windows += 1
        close_at = opened + timedelta(seconds=s.window_seconds)
        created: list[DefaultAuction] = []
        for lot_id in lots:
            auction = self._create(action, lot_id, opened, close_at)
            created.append(auction)
        for auction in created:
            self.bid_on(
                auction,
                f"opening {auction.lot.lot_id}",
                partial(steps.open_window, self.house, auction, by=OPERATOR, now=opened),
            )
        for b in action.bids:
            target = b.lot if b.lot is not None else lots[0]
            auction = created[lots.index(target)]
            self._bid(auction, b, opened, s.where_bid(b.index, action))
        cancel = action.data.get("cancel", {})
        assign = action.data.get("assign", {})
        after = close_at
        for auction in created:
            self.bid_on(
                auction,
                f"closing {auction.lot.lot_id}",
                partial(auction.close, by=OPERATOR, now=close_at),
            )
        for auction in created:
            lot_id = auction.lot.lot_id
            after += timedelta(seconds=1)
            if lot_id in cancel:
                self.bid_on(
                    auction,
                    f"{action.where}.cancel.{lot_id}",
                    partial(
                        steps.cancel,
                        self.house,
                        auction,
                        reason=str(cancel[lot_id]),
                        by=OPERATOR,
                        now=after,
                    ),
                )
                continue
            seed = self.seeds.get(auction.auction_id, s.seed)
            self.bid_on(
                auction,
                f"award of {lot_id}",
                partial(steps.award, self.house, auction, seed=seed, by=OPERATOR, now=after),
            )
            outcome = auction.outcome
            assert outcome is not None
            if outcome.failed:
                if lot_id not in assign:
                    self.notes.append(
                        f"auction {auction.auction_id} failed: no valid bid and nobody to assign"
                    )
                    continue
                choice = assign[lot_id]
                if not isinstance(choice, Mapping) or set(choice) != {"member", "reason"}:
                    raise ScenarioError(f"{action.where}.assign.{lot_id}", "give member and reason")
                after += timedelta(seconds=1)
                self.bid_on(
                    auction,
                    f"{action.where}.assign.{lot_id}",
                    partial(
                        steps.assign,
                        self.house,
                        auction,
                        member=str(choice["member"]),
                        reason=str(choice["reason"]),
                        by=OPERATOR,
                        now=after,
                    ),
                )
        for auction in created:
            if auction.outcome is None or auction.outcome.failed or auction.terminal:
                continue
            after += timedelta(seconds=1)
            self._settle(auction, after)
        self.t = max(self.t, after)

    def _open_lots(self) -> list[str]:
        auctions = list(self.auctions.values())
        return [
            lot_id
            for lot_id in self.house.lots
            if steps.lot_status(self.house, auctions, lot_id) == "CONVERTED"
        ]

    def _create(
        self, action: Action, lot_id: str, opened: datetime, close_at: datetime
    ) -> DefaultAuction:
        s = self.s
        where = f"auction of {lot_id}"
        known = list(self.auctions.values())
        _domain(where, lambda: steps.check_new_auction(self.house, known, lot_id))
        record = self.house.lot(lot_id)
        reserve = s.reserve
        if s.reserve_bp is not None:
            bp = s.reserve_bp
            cents = _pricing(
                "auction",
                lambda: clearing.reserve_at_bp(record.lot.implied_bid, record.lot.dv01, bp),
            )
            reserve = cents_text(cents)
        params = _domain(
            "auction",
            lambda: AuctionParams.build(reserve=reserve, grading_threshold=s.grading_threshold),
        )
        invitation = self.house.invitation(lot_id)
        auction_id = steps.next_auction_id(known, lot_id)
        created = _domain(
            where,
            lambda: DefaultAuction.create(
                auction_id=auction_id,
                lot=record.lot,
                eligible=invitation.eligible,
                market_makers=invitation.market_makers,
                mandatory=invitation.mandatory,
                params=params,
                schedule=Schedule(close_at=close_at),
                by=OPERATOR,
                now=opened - timedelta(seconds=1),
            ),
        )
        auction = DefaultAuction.from_events(created.events)
        self.auctions[auction_id] = auction
        self.histories[auction_id] = list(created.events)
        return auction

    def _bid(self, auction: DefaultAuction, b: BidEntry, opened: datetime, where: str) -> None:
        now = opened + timedelta(seconds=b.index + 1 if b.at is None else b.at)
        if b.withdraw:
            self.bid_on(
                auction,
                where,
                lambda: auction.withdraw_bid(
                    member=b.member, client_order_id=b.client_order_id, now=now
                ),
            )
        else:
            self.bid_on(
                auction,
                where,
                lambda: auction.submit_bid(
                    member=b.member,
                    client_order_id=b.client_order_id,
                    amount=b.amount or "",
                    now=now,
                ),
            )

    def _settle(self, auction: DefaultAuction, at: datetime) -> None:
        where = f"settlement of {auction.lot.lot_id}"
        clearing_decision, closing = _domain(
            where, lambda: steps.settle(self.house, auction, by=OPERATOR, now=at)
        )
        if clearing_decision is not None:
            self.house.apply_all(clearing_decision.events)
            self.journal.extend(clearing_decision.events)
        auction.apply_all(closing.events)
        self.histories[auction.auction_id].extend(closing.events)

    def withdraw(self, action: Action) -> None:
        self.clear(
            action.where,
            lambda: steps.withdraw_lot(
                self.house,
                list(self.auctions.values()),
                lot_id=str(action.data["lot"]),
                reason=str(action.data["reason"]),
                by=OPERATOR,
                now=self.tick(),
            ),
        )

    def admit(self, action: Action) -> None:
        d = action.data
        spec = MemberSpec(
            str(d["id"]),
            str(d["role"]),
            bool(d.get("mandatory", False)),
            str(d.get("collateral", "0")),
            str(d.get("default_fund", "0")),
        )
        self.clear(
            action.where,
            lambda: self.house.load(members=[spec], positions=[], by=OPERATOR, now=self.tick()),
        )

    def allocate(self, defaulters: Sequence[str]) -> None:
        config = _domain("waterfall", lambda: waterfall_config(self.s))
        for member in defaulters:
            scratch = copy.deepcopy(self.house)
            try:
                decision = steps.allocate_losses(
                    scratch,
                    list(self.auctions.values()),
                    defaulter=member,
                    config=config,
                    by=OPERATOR,
                    now=self.tick(),
                )
            except DomainError as exc:
                self.notes.append(f"losses of {member} not allocated: {describe(exc)}")
                continue
            self.house.apply_all(decision.events)
            self.journal.extend(decision.events)


def waterfall_config(scenario: Scenario) -> WaterfallConfig:
    """The scenario's waterfall tranches (none given: no CCP tranche, 1x assessments)."""
    w = scenario.waterfall or {}
    return WaterfallConfig.build(
        ccp_tranche=w.get("ccp_tranche", "0"),
        assessment_multiple=w.get("assessment_multiple", "1"),
    )


def _lot_pricing(pmx: PricedMarkets, market: tuple[str, str]) -> steps.LotPricing:
    currency, index = market
    pm = pmx.market_for(currency, index, "lots")
    rate = pmx.fx_rate(currency, "fx_rates")
    return steps.LotPricing(pm.curve_id, format(rate.normalize(), "f"), pmx.clearing_currency)


def run_default(scenario: Scenario, seeds: Mapping[str, int] | None = None) -> DefaultReplay:
    """Play the scenario through to loss allocation; ScenarioError names the refused entry.

    ``seeds`` overrides the scenario's seed per auction id (a live server draws its own:
    replaying with the seeds it recorded reproduces its outcome).
    """
    run = _Run(scenario, seeds)
    run.load()
    run.margin()
    defaulters, notes = scenario.defaulters(run.house.short_members(MARGIN_RUN))
    run.notes.extend(notes)
    for member in defaulters:
        reason = scenario.default_reason if scenario.default_basis == "operator" else None
        run.declare("default", member, reason)
    for member in defaulters:
        if not run.house.defaults[member].positions:
            run.notes.append(f"{member} holds no position: nothing to convert")
            continue
        run.convert("conversion", member)
    for action in scenario.actions:
        if action.do == "window":
            run.window(action)
        elif action.do == "withdraw":
            run.withdraw(action)
        elif action.do == "admit":
            run.admit(action)
        elif action.do == "default":
            run.declare(action.where, str(action.data["member"]), str(action.data["reason"]))
            if str(action.data["member"]) not in defaulters:
                defaulters.append(str(action.data["member"]))
        elif action.do == "convert":
            d = action.data
            run.convert(
                action.where,
                str(d["member"]),
                [str(x) for x in d.get("positions", [])],
                d.get("group_by"),
                None if d.get("max_lot_dv01") is None else str(d["max_lot_dv01"]),
            )
    run.allocate(defaulters)
    return DefaultReplay(result_of(run), run.journal, run.histories, run.notes)


def result_of(run: _Run) -> dict[str, Any]:
    """The whole outcome as one JSON-native dict (the online runner reads the same back)."""
    house = run.house
    auctions = list(run.auctions.values())
    return {
        "house": run.s.house,
        "valuation_date": run.valuation_day,
        "curve_id": house.margin_meta[MARGIN_RUN].curve_id,
        "margin_run": {
            "run_id": MARGIN_RUN,
            "rows": [
                {**r.to_dict(), "worst_scenario": run.worst.get(r.member, "")}
                for r in house.margin_run(MARGIN_RUN)
            ],
        },
        "defaults": [
            {
                "member": d.member,
                "basis": d.basis,
                "reason": d.reason,
                "shortfall": None if d.shortfall is None else cents_text(d.shortfall),
                "positions": [
                    {"position_id": pid, "npv": None if npv is None else cents_text(npv)}
                    for pid, npv in d.positions
                ],
            }
            for d in house.defaults.values()
        ],
        "lots": [
            {
                **{k: v for k, v in rec.lot.to_dict().items()},
                "eligible": list(rec.invitation.eligible),
                "market_makers": list(rec.invitation.market_makers),
                "mandatory": list(rec.invitation.mandatory),
                "hedged": rec.hedged,
                "status": steps.lot_status(house, auctions, lot_id),
                "withdraw_reason": rec.withdrawn,
                "auction_ids": [a.auction_id for a in steps.auctions_of(auctions, lot_id)],
            }
            for lot_id, rec in house.lots.items()
        ],
        "auctions": [a.result() for a in auctions],
        "settlements": [
            {
                "lot_id": rec.lot.lot_id,
                "method": rec.method,
                "member": rec.settlement.member,
                "amount": cents_text(rec.settlement.amount),
                "implied_bid": cents_text(rec.settlement.implied_bid),
                "shortfall": cents_text(rec.settlement.shortfall),
                "collateral_charge": cents_text(rec.settlement.collateral_charge),
                "uncovered": cents_text(rec.settlement.uncovered),
                "reason": rec.reason,
            }
            for rec in house.lots.values()
            if rec.settlement is not None
        ],
        "instructions": [i.to_dict() for i in house.settlement_instructions()],
        "ledger": house.ledger(),
        "allocations": [e.allocation for e in house.allocations.values()],
    }
