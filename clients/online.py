"""Play a CDS scenario through a live server: every entry submitted as its own dealer.

The operator creates the auction and opens and closes the windows by hand; each dealer
submits with its own bearer token, so the server's panel, authentication and idempotency
rules all apply. The auction is created with the scenario's dealer names as the published
names of the participants, so the result that comes back over the wire compares field by
field with the offline replay.

A tokens file maps scenario dealers to participants (participant ids are short codes, while
scenario dealers are names such as "Goldman Sachs")::

    operator = "demo-operator-token"
    [dealers]
    "Goldman Sachs" = { participant = "goldman-sachs", token = "demo-goldman-sachs-token" }

Speaks only the wire API.
"""

from __future__ import annotations

import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio

from clients.errors import field_violations
from clients.replay import unused_orders_note
from clients.results import phase_name, result_to_dict
from clients.scenario import DeclineEntry, Scenario, ScenarioError, ScenarioSet
from clients.sdk import DealerClient, OperatorClient, Unreachable
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import operator_pb2 as opb

_T = TypeVar("_T")


@dataclass(frozen=True)
class Credentials:
    """The operator's token and, per scenario dealer, its participant id and token."""

    operator_token: str
    dealers: dict[str, tuple[str, str]]

    def participant(self, dealer: str, where: str) -> tuple[str, str]:
        """(participant id, token) of a scenario dealer; ScenarioError if it has none."""
        try:
            return self.dealers[dealer]
        except KeyError:
            raise ScenarioError(where, f"no participant and token for dealer {dealer!r}") from None


def read_tokens(path: Path, table: str) -> tuple[str, dict[str, Any]]:
    """A tokens file (TOML): the operator's token and the ``table`` of participants' entries.

    Errors name the key; keys other than ``operator`` and ``table`` are refused.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(str(path), f"cannot read tokens: {exc}") from None
    operator = doc.get("operator")
    if not isinstance(operator, str) or not operator:
        raise ScenarioError(f"{path}: operator", "must be the operator's bearer token")
    unknown = set(doc) - {"operator", table}
    if unknown:
        raise ScenarioError(str(path), f"unknown key(s) {', '.join(sorted(unknown))}")
    entries = doc.get(table) or {}
    if not isinstance(entries, dict):
        raise ScenarioError(f"{path}: {table}", "must be a table")
    return operator, entries


def load_credentials(path: Path) -> Credentials:
    """Read a CDS tokens file (``[dealers]``: participant and token per scenario dealer)."""
    operator, entries = read_tokens(path, "dealers")
    dealers: dict[str, tuple[str, str]] = {}
    for name, entry in entries.items():
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("participant", "token")
        ):
            raise ScenarioError(f"{path}: dealers.{name}", "needs participant and token strings")
        dealers[name] = (entry["participant"], entry["token"])
    return Credentials(operator, dealers)


def parameters_of(scenario: Scenario, auction_id: str) -> apb.AuctionParameters:
    """The scenario's parameters as a wire message."""
    p = scenario.params.to_dict()
    return apb.AuctionParameters(
        auction_id=auction_id,
        currency=p["currency"],
        quotation_amount=int(p["quotation_amount"]),
        max_spread=p["max_spread"],
        cap_amount=p["cap_amount"],
        price_increment=p["price_increment"],
        min_valid_submissions=p["min_valid_submissions"],
        min_limit_order_size=int(p["min_limit_order_size"]),
        max_orders_per_dealer=p["max_orders_per_dealer"],
        midpoint_rounding=apb.MidpointRounding.Value(f"MIDPOINT_ROUNDING_{p['midpoint_rounding']}"),
        rounding_amount=int(p["rounding_amount"]),
        require_market_position=p["require_market_position"],
        calendar=p["calendar"],
        fallback_settlement_method=p["fallback_settlement_method"],
        max_initial_bidding_periods=p["max_initial_bidding_periods"],
        auction_date=p["auction_date"] or "",
    )


async def _step(where: str, call: Callable[[], Awaitable[_T]]) -> _T:
    try:
        return await call()
    except Unreachable:
        raise  # not the scenario's fault: the caller says which server and why
    except grpc.aio.AioRpcError as exc:
        violations = "; ".join(f"{v.field}: {v.description}" for v in field_violations(exc))
        raise ScenarioError(where, f"{exc.code().name}: {violations or exc.details()}") from None


async def run_online(
    scenario: Scenario,
    target: str,
    credentials: Credentials,
    *,
    auction_id: str | None = None,
    root_certificates: bytes | None = None,
    **connection: Any,
) -> tuple[dict[str, Any], list[str]]:
    """Play ``scenario`` at ``target``; the result dict (in scenario names) and notes."""
    aid = auction_id or scenario.params.auction_id
    panel = {d: credentials.participant(d, f"auction.panel ({d})") for d in scenario.panel}
    names = {pid: name for name, (pid, _) in panel.items()}
    tls: dict[str, Any] = {"root_certificates": root_certificates, **connection}
    dealers: dict[str, DealerClient] = {}
    operator = OperatorClient(target, credentials.operator_token, **tls)
    try:
        for name, (_, token) in panel.items():
            dealers[name] = DealerClient(target, token, **tls)
        await _step(
            "create auction",
            lambda: operator.create_auction(
                parameters_of(scenario, aid),
                [pid for pid, _ in panel.values()],
                dealer_names=names,
            ),
        )
        notes = await _play(scenario, aid, operator, dealers)
        result = await _step("get results", lambda: operator.results(aid))
    finally:
        await operator.close()
        for client in dealers.values():
            await client.close()
    out = result_to_dict(result)  # the server publishes the scenario's dealer names
    if auction_id is not None:
        out["auction_id"] = scenario.params.auction_id
    return out, notes


async def run_set_online(
    scenarios: ScenarioSet,
    target: str,
    credentials: Credentials,
    *,
    root_certificates: bytes | None = None,
    **connection: Any,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Create the set at ``target`` (one CreateAuctionSet) and play each auction in turn."""
    panel = {d: credentials.participant(d, f"auction_set.panel ({d})") for d in scenarios.panel}
    names = {pid: name for name, (pid, _) in panel.items()}
    tls: dict[str, Any] = {"root_certificates": root_certificates, **connection}
    dealers: dict[str, DealerClient] = {}
    operator = OperatorClient(target, credentials.operator_token, **tls)
    request = opb.CreateAuctionSetRequest(
        auction_set=scenarios.set_id,
        terms=scenarios.terms,
        panel=[pid for pid, _ in panel.values()],
        dealer_names=names,
        currency_rates=scenarios.currency_rates,
        auctions=[
            opb.AuctionOfSet(parameters=parameters_of(one, one.params.auction_id), description=d)
            for one, d in zip(scenarios.auctions, scenarios.descriptions, strict=True)
        ],
    )
    results: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        for name, (_, token) in panel.items():
            dealers[name] = DealerClient(target, token, **tls)
        await _step("create auction set", lambda: operator.create_auction_set(request))
        for i, one in enumerate(scenarios.auctions):
            aid = one.params.auction_id
            try:
                notes += await _play(one, aid, operator, dealers)
                result = await _step("get results", lambda aid=aid: operator.results(aid))  # type: ignore[misc]
            except ScenarioError as exc:
                raise ScenarioError(f"auctions[{i}].{exc.where}", exc.message) from None
            results.append(result_to_dict(result))
    finally:
        await operator.close()
        for client in dealers.values():
            await client.close()
    return results, notes


async def _play(
    scenario: Scenario, aid: str, operator: OperatorClient, dealers: dict[str, DealerClient]
) -> list[str]:
    """Run a created auction's windows with the scenario's submissions; the notes."""
    period = 0
    while True:
        if period == 0:
            markets, requests = scenario.markets, scenario.requests
        elif period <= len(scenario.reruns):
            rerun = scenario.reruns[period - 1]
            markets, requests = rerun.markets, rerun.requests
        else:
            markets, requests = (), ()
        label = "" if period == 0 else f" (initial bidding period {period + 1})"
        await _step(f"open stage 1{label}", lambda: operator.open_window(aid))
        for m in markets:
            await _step(
                scenario.where("initial_markets", m.index, period),
                lambda m=m, period=period: dealers[m.dealer].submit_market(  # type: ignore[misc]
                    aid, f"market-{period}-{m.index}", bid=m.bid, offer=m.offer
                ),
            )
        for r in requests:
            where = scenario.where("physical_settlement_requests", r.index, period)
            position = None
            if r.market_position is not None:
                position = (r.market_position_side or r.side, _units(r.market_position, where))
            await _step(
                where,
                lambda r=r, position=position, period=period, where=where: dealers[  # type: ignore[misc]
                    r.dealer
                ].submit_settlement_request(
                    aid,
                    f"request-{period}-{r.index}",
                    side=r.side,
                    size=_units(r.size, where),
                    customer=r.customer,
                    market_position=position,
                ),
            )
        closed = await _step(f"close stage 1{label}", lambda: operator.close_window(aid))
        phase = phase_name(closed.auction.phase)
        if phase != "SCHEDULED":
            break
        period += 1
    notes = [] if phase == "STAGE1_CLOSED" else unused_orders_note(phase, len(scenario.orders))
    if len(scenario.reruns) > period:
        notes.insert(0, f"{len(scenario.reruns) - period} rerun(s) in the scenario were not needed")
    for d in scenario.declines:
        if d.kind.upper() == "PSR" or phase != "STAGE1_CLOSED":
            await _decline(scenario, dealers, aid, d, phase)
    if phase == "STAGE1_CLOSED":
        await _step("open stage 2", lambda: operator.open_window(aid))
        for o in scenario.orders:
            await _step(
                scenario.where("limit_orders", o.index),
                lambda o=o: dealers[o.dealer].submit_limit_order(  # type: ignore[misc]
                    aid,
                    f"order-{o.index}",
                    side=o.side,
                    price=o.price,
                    size=_units(o.size, scenario.where("limit_orders", o.index)),
                    customer=o.customer,
                ),
            )
        for d in scenario.declines:
            if d.kind.upper() != "PSR":
                await _decline(scenario, dealers, aid, d, phase)
        await _step("close stage 2", lambda: operator.close_window(aid))
    return notes


async def _decline(
    scenario: Scenario, dealers: dict[str, DealerClient], aid: str, d: DeclineEntry, phase: str
) -> None:
    """Record one declined customer request (not once the auction is over)."""
    if phase in ("FINAL", "FAILED", "CANCELLED"):
        return
    where = scenario.where("customer_declines", d.index)
    await _step(
        where,
        lambda: dealers[d.dealer].decline_customer_request(
            aid,
            f"decline-{d.index}",
            customer=d.customer,
            kind=d.kind,
            side=d.side,
            size=_units(d.size, where),
            price=d.price or "",
            reason=d.reason,
        ),
    )


def _units(value: str, where: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ScenarioError(
            where, f"size: {value!r} is not a whole number of currency units"
        ) from None
