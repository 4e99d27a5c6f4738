"""Offline scenario replay: run a whole CDS auction through the pure engine, no server.

The scenario's entries are submitted in file order as their dealers (initial markets and
settlement requests in stage 1, limit orders in stage 2) on a synthetic clock, the windows
are closed by hand, and the publication is returned with the full event history. Engine
refusals are reported against the scenario entry that caused them.

No network and no server: this is the reference the online run (``--target``) must equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clients.scenario import DeclineEntry, Scenario, ScenarioError, ScenarioSet, describe
from matching.cds.auction import CdsAuction, Decision, Schedule
from matching.cds.auction_set import AuctionOfSet, plan_auction_set
from matching.cds.events import AuctionCreated, Event
from matching.cds.phases import Phase
from matching.cds.result import AuctionResult
from matching.errors import DomainError

REPLAY_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
OPERATOR = "scenario-operator"


@dataclass
class Replay:
    """The outcome of an offline run: the publication, the events and any notes."""

    result: AuctionResult
    events: list[Event]
    notes: list[str] = field(default_factory=list)
    auction: CdsAuction | None = None


def run_set_offline(scenarios: ScenarioSet) -> list[Replay]:
    """Run every auction of a set (same panel, names and currency rates), in file order.

    The set is validated as a whole first (``plan_auction_set``): a bad rate or a duplicate
    auction id refuses all of it.
    """
    names = {scenarios.ids[n]: n for n in scenarios.panel}
    try:
        decisions = plan_auction_set(
            set_id=scenarios.set_id,
            terms=scenarios.terms,
            panel=list(names),
            dealer_names=names,
            currency_rates=scenarios.currency_rates,
            auctions=[
                AuctionOfSet(s.params, d)
                for s, d in zip(scenarios.auctions, scenarios.descriptions, strict=True)
            ],
            schedule=Schedule(),
            by=OPERATOR,
            now=REPLAY_EPOCH,
        )
    except DomainError as exc:
        raise ScenarioError("auction_set", describe(exc)) from None
    replays = []
    for i, (one, decision) in enumerate(zip(scenarios.auctions, decisions, strict=True)):
        created = decision.events[0]
        assert isinstance(created, AuctionCreated)
        meta = created.auction_set
        try:
            replays.append(run_offline(one, auction_set=meta))
        except ScenarioError as exc:
            raise ScenarioError(f"auctions[{i}].{exc.where}", exc.message) from None
    return replays


def run_offline(scenario: Scenario, *, auction_set: Mapping[str, Any] | None = None) -> Replay:
    """Run the scenario to its end; ScenarioError names the entry the engine refused.

    Stage 1 runs once per initial bidding period: the scenario's own entries, then each of
    its ``reruns`` while the engine asks for another period (a period the file does not
    give has no submissions). Dealers submit under their internal ids; the auction publishes
    their names. The clock starts on the auction date (if the scenario gives one).
    """
    tick = iter(range(1, 1 << 62))
    day = scenario.params.auction_date
    epoch = REPLAY_EPOCH if day is None else datetime(day.year, day.month, day.day, 9, tzinfo=UTC)

    def now() -> datetime:
        return epoch + timedelta(seconds=next(tick))

    ids = scenario.id_of
    created = CdsAuction.create(
        params=scenario.params,
        panel=[ids(d) for d in scenario.panel],
        schedule=Schedule(),
        by=OPERATOR,
        now=now(),
        dealer_names={ids(d): d for d in scenario.panel},
        auction_set=auction_set,
    )
    auction = CdsAuction.from_events(created.events)
    history: list[Event] = list(created.events)

    def step(where: str, command: Callable[[], Decision]) -> None:
        try:
            decision = command()
        except DomainError as exc:
            raise ScenarioError(where, describe(exc)) from None
        auction.apply_all(decision.events)
        history.extend(decision.events)

    period = 0
    while True:
        markets, requests = (
            (scenario.markets, scenario.requests)
            if period == 0
            else (
                (scenario.reruns[period - 1].markets, scenario.reruns[period - 1].requests)
                if period <= len(scenario.reruns)
                else ((), ())
            )
        )
        label = "" if period == 0 else f" (initial bidding period {period + 1})"
        step(f"open stage 1{label}", lambda: auction.open_stage1(by=OPERATOR, now=now()))
        for m in markets:
            step(
                scenario.where("initial_markets", m.index, period),
                lambda m=m, period=period: auction.submit_market(  # type: ignore[misc]
                    dealer=ids(m.dealer),
                    client_order_id=f"market-{period}-{m.index}",
                    bid=m.bid,
                    offer=m.offer,
                    now=now(),
                ),
            )
        for r in requests:
            step(
                scenario.where("physical_settlement_requests", r.index, period),
                lambda r=r, period=period: auction.submit_request(  # type: ignore[misc]
                    dealer=ids(r.dealer),
                    client_order_id=f"request-{period}-{r.index}",
                    side=r.side,
                    size=r.size,
                    customer=r.customer,
                    market_position=r.market_position,
                    market_position_side=r.market_position_side,
                    now=now(),
                ),
            )
        step(f"close stage 1{label}", lambda: auction.close_stage1(by=OPERATOR, now=now()))
        if auction.phase is not Phase.SCHEDULED:
            break
        period += 1
    notes: list[str] = []
    if len(scenario.reruns) > period:
        notes.append(f"{len(scenario.reruns) - period} rerun(s) in the scenario were not needed")
    for d in scenario.declines:
        if d.kind.upper() == "PSR" or auction.phase is not Phase.STAGE1_CLOSED:
            decline(scenario, auction, d, step, now)
    if auction.phase is Phase.STAGE1_CLOSED:
        step("open stage 2", lambda: auction.open_stage2(by=OPERATOR, now=now()))
        for o in scenario.orders:
            step(
                scenario.where("limit_orders", o.index),
                lambda o=o: auction.submit_limit_order(  # type: ignore[misc]
                    dealer=ids(o.dealer),
                    client_order_id=f"order-{o.index}",
                    side=o.side,
                    price=o.price,
                    size=o.size,
                    customer=o.customer,
                    now=now(),
                ),
            )
        for d in scenario.declines:
            if d.kind.upper() != "PSR":
                decline(scenario, auction, d, step, now)
        step("close stage 2", lambda: auction.close_stage2(by=OPERATOR, now=now()))
    else:
        notes += unused_orders_note(auction.phase.value, len(scenario.orders))
    return Replay(auction.result(), history, notes, auction)


def decline(
    scenario: Scenario,
    auction: CdsAuction,
    d: DeclineEntry,
    step: Callable[[str, Callable[[], Decision]], None],
    now: Callable[[], datetime],
) -> None:
    """Record one declined customer request."""
    if auction.terminal:
        return
    step(
        scenario.where("customer_declines", d.index),
        lambda: auction.decline_customer_request(
            dealer=scenario.id_of(d.dealer),
            client_order_id=f"decline-{d.index}",
            customer=d.customer,
            kind=d.kind,
            side=d.side,
            size=d.size,
            price=d.price,
            reason=d.reason,
            now=now(),
        ),
    )


def unused_orders_note(phase: str, orders: int) -> list[str]:
    """The note for limit orders of a scenario whose auction ended at stage 1."""
    if not orders:
        return []
    return [f"the auction ended at stage 1 ({phase}): {orders} limit order(s) took no part"]
