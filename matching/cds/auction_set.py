"""Several auctions under one set of terms: one bidder list, one set of currency rates.

After a restructuring one set of Auction Settlement Terms can hold an auction per maturity
bucket; senior and subordinated auctions of an entity run the same day. Each is its own
book (its own :class:`~matching.cds.auction.CdsAuction`), but the participating bidders,
their published names and the currency rates are fixed once for all of them, they share
one window schedule (so they run concurrently) and they are published together
(``matching.cds.publication.public_set``). Every auction carries the set in its
``AuctionCreated`` event, so a journal replays it.

``plan_auction_set`` validates the whole set and returns one creation decision per auction,
or refuses it all. No I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from matching.cds.auction import CdsAuction, Decision, Schedule, check_dealer_names
from matching.cds.params import AuctionParams
from matching.errors import InvalidInput
from matching.eventsourcing import check_id
from matching.money import format_decimal, parse_decimal


@dataclass(frozen=True, slots=True)
class AuctionOfSet:
    """One auction of a set: its parameters and what it settles ("Senior", "2.5-5y")."""

    params: AuctionParams
    description: str = ""


def check_terms(terms: str) -> str:
    """A set's terms (what its auctions settle): at most 200 printable characters."""
    if len(terms) > 200 or not terms.isprintable():
        raise InvalidInput("terms", "must be at most 200 printable characters")
    return terms


def check_rates(rates: Mapping[str, str]) -> dict[str, str]:
    """Currency rates by ISO code: positive exact decimals, canonical strings."""
    out: dict[str, str] = {}
    for code, raw in sorted(rates.items()):
        where = f"currency_rates[{code}]"
        if len(code) != 3 or not code.isalpha() or not code.isupper():
            raise InvalidInput(where, "the key must be a 3-letter ISO 4217 code")
        rate = parse_decimal(raw, where)
        if rate <= 0:
            raise InvalidInput(where, "must be positive")
        out[code] = format_decimal(rate)
    return out


def plan_auction_set(
    *,
    set_id: str,
    terms: str,
    panel: Sequence[str],
    dealer_names: Mapping[str, str],
    currency_rates: Mapping[str, str],
    auctions: Sequence[AuctionOfSet],
    schedule: Schedule,
    by: str,
    now: datetime,
) -> list[Decision]:
    """One AuctionCreated decision per auction of the set, or InvalidInput for the set.

    Auctions in more than one currency need a rate for each of them.
    """
    check_id(set_id, "auction_set")
    check_terms(terms)
    if not auctions:
        raise InvalidInput("auctions", "a set holds at least one auction")
    ids = [a.params.auction_id for a in auctions]
    for i, aid in enumerate(ids):
        if ids.index(aid) != i:
            raise InvalidInput(f"auctions[{i}].parameters.auction_id", f"{aid!r} is used twice")
    rates = check_rates(currency_rates)
    currencies = {a.params.currency for a in auctions}
    if len(currencies) > 1:
        missing = sorted(currencies - set(rates))
        if missing:
            raise InvalidInput(
                "currency_rates", f"auctions in several currencies need a rate for {missing}"
            )
    for i, a in enumerate(auctions):
        if len(a.description) > 200 or not a.description.isprintable():
            raise InvalidInput(f"auctions[{i}].description", "at most 200 printable characters")
    names = check_dealer_names(
        dealer_names, [check_id(d, f"panel[{i}]") for i, d in enumerate(panel)]
    )
    decisions = []
    for a in auctions:
        meta = {
            "id": set_id,
            "terms": terms,
            "auctions": ids,
            "currency_rates": rates,
            "description": a.description,
        }
        decisions.append(
            CdsAuction.create(
                params=a.params,
                panel=panel,
                schedule=schedule,
                by=by,
                now=now,
                dealer_names=names,
                auction_set=meta,
            )
        )
    return decisions
