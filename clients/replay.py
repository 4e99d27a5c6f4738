"""Offline scenario replay: run a whole CDS auction through the pure engine, no server.

The scenario's entries are submitted in file order as their dealers (initial markets and
settlement requests in stage 1, limit orders in stage 2) on a synthetic clock, the windows
are closed by hand, and the publication is returned with the full event history. Engine
refusals are reported against the scenario entry that caused them.

No network and no server: this is the reference the online run (``--target``) must equal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from clients.scenario import Scenario, ScenarioError, describe
from matching.cds.auction import CdsAuction, Decision, Schedule
from matching.cds.events import Event
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


def run_offline(scenario: Scenario) -> Replay:
    """Run the scenario to its end; ScenarioError names the entry the engine refused."""
    tick = iter(range(1, 1 << 62))

    def now() -> datetime:
        return REPLAY_EPOCH + timedelta(seconds=next(tick))

    created = CdsAuction.create(
        params=scenario.params, panel=scenario.panel, schedule=Schedule(), by=OPERATOR, now=now()
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

    step("open stage 1", lambda: auction.open_stage1(by=OPERATOR, now=now()))
    for m in scenario.markets:
        step(
            scenario.where("initial_markets", m.index),
            lambda m=m: auction.submit_market(  # type: ignore[misc]
                dealer=m.dealer,
                client_order_id=f"market-{m.index}",
                bid=m.bid,
                offer=m.offer,
                now=now(),
            ),
        )
    for r in scenario.requests:
        step(
            scenario.where("physical_settlement_requests", r.index),
            lambda r=r: auction.submit_request(  # type: ignore[misc]
                dealer=r.dealer,
                client_order_id=f"request-{r.index}",
                side=r.side,
                size=r.size,
                customer=r.customer,
                market_position=r.market_position,
                market_position_side=r.market_position_side,
                now=now(),
            ),
        )
    step("close stage 1", lambda: auction.close_stage1(by=OPERATOR, now=now()))
    notes: list[str] = []
    if auction.phase is Phase.STAGE1_CLOSED:
        step("open stage 2", lambda: auction.open_stage2(by=OPERATOR, now=now()))
        for o in scenario.orders:
            step(
                scenario.where("limit_orders", o.index),
                lambda o=o: auction.submit_limit_order(  # type: ignore[misc]
                    dealer=o.dealer,
                    client_order_id=f"order-{o.index}",
                    side=o.side,
                    price=o.price,
                    size=o.size,
                    customer=o.customer,
                    now=now(),
                ),
            )
        step("close stage 2", lambda: auction.close_stage2(by=OPERATOR, now=now()))
    else:
        notes = unused_orders_note(auction.phase.value, len(scenario.orders))
    return Replay(auction.result(), history, notes)


def unused_orders_note(phase: str, orders: int) -> list[str]:
    """The note for limit orders of a scenario whose auction ended at stage 1."""
    if not orders:
        return []
    return [f"the auction ended at stage 1 ({phase}): {orders} limit order(s) took no part"]
