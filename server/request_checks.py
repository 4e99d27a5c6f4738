"""Every field of a request checked at once: INVALID_ARGUMENT names *all* bad fields.

The engines refuse a request at its first broken rule (they decide in order, and a later
rule may depend on an earlier one). A client with three bad fields would then fix them one
round trip at a time. So each handler, once it has checked the caller's role (and panel or
invitation), runs :func:`check_request` before anything else: the table :data:`CHECKS`
lists, per request type, the fields whose validity depends on nothing but their own value
(identifiers, decimal syntax and bounds, whole amounts, enums, timestamps), each checked
with **the engines' own functions** (``check_id``, ``parse_decimal``, ``parse_amount``, the
price grid of cents, the wire's enum and timestamp converters), so a field refused here is
refused with the same words the engine would use. An auction's parameters are checked one
field at a time by the engine's own parser (``params_in`` -> ``AuctionParams.build``): the
field (and the fields its rule reads, :data:`PARAMETER_FIELDS`) copied onto parameters that
are valid, a violation counted when the engine names that field. Every violation is
collected; if there is any, the request is refused as a whole with a BadRequest listing them
all (the first :data:`~matching.errors.MAX_LISTED_PROBLEMS`, the message counting them all;
an ErrorInfo, reason ``INVALID_INPUT``) before anything is decided, so nothing changes. The
engines still check everything (and the rules that tie fields to each other or to the
auction's state). Market definitions (RunMargin, DeclareDefault, ConvertPositions) are
checked field by field by ``server/pricing_checks.py``, in a worker process
(:func:`check_request_off_loop`): a definition may be as large as the message limit.

This module must never decide a rule of its own: a check here is a call to the function
that decides it. A field absent from a message (proto3 default) is checked only where the
engine would refuse the default too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from closeout.v1 import operator_pb2 as opb
from matching.cds.auction import (
    check_dealer_names,
    decline_kind,
    decline_reason,
    decline_side,
)
from matching.cds.auction_set import check_rates, check_terms
from matching.default.auction import assignment_reason
from matching.default.cash import to_cents
from matching.errors import MAX_LISTED_PROBLEMS, FieldViolation, InvalidInput
from matching.eventsourcing import check_id
from matching.money import parse_amount, parse_decimal
from matching.process import steps
from matching.process.waterfall import WaterfallConfig
from pricing.clearing import reserve_at_bp, standard_tenors
from pricing.errors import PricingInputError
from server import pricing_checks
from server.timestamps import timestamp_in

if TYPE_CHECKING:
    from server.compute import Compute

__all__ = [
    "CHECKS",
    "OFF_LOOP",
    "InvalidRequest",
    "check_request",
    "check_request_off_loop",
    "violations_job",
    "violations_of",
]

Check = Callable[[Any, str], object]


class InvalidRequest(InvalidInput):
    """Several fields of one request are invalid; ``violations`` lists the first
    :data:`MAX_LISTED_PROBLEMS` of them and the message says how many there are in all
    (``total``, when more were found than are given)."""

    #: The ErrorInfo reason: the same as one invalid field's.
    REASON = "INVALID_INPUT"

    def __init__(self, violations: Sequence[FieldViolation], total: int | None = None) -> None:
        listed = list(violations[:MAX_LISTED_PROBLEMS])
        count = max(total or 0, len(violations))
        first = listed[0]
        super().__init__(first.field, first.description)
        more = "; ".join(f"{v.field}: {v.description}" for v in listed)
        if count > len(listed):
            self.message = f"{count} invalid fields (the first {len(listed)} listed): {more}"
        else:
            self.message = f"{count} invalid fields: {more}" if count > 1 else more
        self.args = (self.message,)
        self.violations = tuple(listed)


def _id(value: str, field: str) -> object:
    return check_id(value, field)


def _decimal(value: str, field: str) -> object:
    return parse_decimal(value, field)


def _optional_id(value: str, field: str) -> object:
    """An identifier that may be left out (empty)."""
    return check_id(value, field) if value else None


def _optional_decimal(value: str, field: str) -> object:
    return parse_decimal(value, field) if value else None


def _market_position(message: Any, field: str) -> object:
    """An attested market position: its size (whole) and its side, each on its own."""
    if not message.HasField(field):
        return None
    from server.cds.wire import side_in

    position = getattr(message, field)
    violations: list[FieldViolation] = []
    for check in (
        lambda: parse_amount(position.size, f"{field}.size"),
        lambda: side_in(position.side, f"{field}.side"),
    ):
        try:
            check()
        except InvalidInput as exc:
            violations.extend(exc.violations)
    _collect(violations)
    return None


def _decline_kind(value: str, field: str) -> object:
    return decline_kind(value)


def _decline_side(message: Any, field: str) -> object:
    """A declined request's side, read against its kind (not judged if the kind is bad)."""
    try:
        kind = decline_kind(message.kind)
    except InvalidInput:
        return None  # the kind is named on its own
    return decline_side(kind, message.side)


def _decline_reason(value: str, field: str) -> object:
    return decline_reason(value)


def _dealer_names(message: Any, field: str) -> object:
    """Each published dealer name on its own (``check_dealer_names``, against the panel)."""
    violations: list[FieldViolation] = []
    for dealer, name in sorted(message.dealer_names.items()):
        try:
            check_dealer_names({dealer: name}, message.panel)
        except InvalidInput as exc:
            violations.extend(exc.violations)
    _collect(violations)
    return None


def _currency_rates(rates: Any, field: str) -> object:
    """Each currency rate of a set on its own (``check_rates``)."""
    violations: list[FieldViolation] = []
    for code, rate in sorted(rates.items()):
        try:
            check_rates({code: rate})
        except InvalidInput as exc:
            violations.extend(exc.violations)
    _collect(violations)
    return None


def _terms(value: str, field: str) -> object:
    return check_terms(value)


def _reserve_bp(value: str, field: str) -> object:
    """A reserve in basis points of DV01 below the implied bid (read by the library)."""
    return reserve_at_bp(0, 0, value, field) if value else None


def _assignment_reason(value: str, field: str) -> object:
    return assignment_reason(value)


def _positive(value: int, field: str) -> object:
    if value <= 0:
        raise InvalidInput(field, "must be positive")
    return value


def _amount(value: int, field: str) -> object:
    return parse_amount(value, field)


def _cents(value: str, field: str) -> object:
    return to_cents(value, field)


def _order_side(value: int, field: str) -> object:
    return _wire().order_side_in(value, field)


def _side(value: int, field: str) -> object:
    return _wire().side_in(value, field)


@functools.cache
def _wire() -> ModuleType:
    """``server.cds.wire``, imported on first use (not at import: server.cds imports this
    module), then kept: an import statement per checked side showed in the profile."""
    from server.cds import wire

    return wire


def _timestamp(name: str) -> Check:
    def check(message: Any, field: str) -> object:
        return timestamp_in(message, name, field)

    return check


def _field(name: str, check: Check) -> tuple[str, Check, bool]:
    """Check field ``name``'s value."""
    return name, check, False


def _whole(name: str, check: Check) -> tuple[str, Check, bool]:
    """Check with the containing message (for timestamps: presence matters)."""
    return name, check, True


#: An auction parameter -> the other parameters its rule reads (copied with it when it is
#: checked). Parameters whose every wire value is valid (0 meaning the default) are absent.
PARAMETER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("currency", ()),
    ("quotation_amount", ()),
    ("price_increment", ()),
    ("max_spread", ("price_increment",)),
    ("cap_amount", ("price_increment", "max_spread")),
    ("min_limit_order_size", ()),
    ("midpoint_rounding", ()),
    ("rounding_amount", ("currency",)),
    ("calendar", ()),
    ("fallback_settlement_method", ()),
    ("auction_date", ()),
)

#: Valid parameters a checked field is copied onto (every one explicit, so that no default
#: ties one field to another).
_VALID_PARAMETERS = apb.AuctionParameters(
    auction_id="check",
    currency="USD",
    quotation_amount=1,
    max_spread="1",
    cap_amount="0",
    price_increment="0.125",
    rounding_amount=1,
)


def parameter_violations(params: apb.AuctionParameters, prefix: str) -> list[FieldViolation]:
    """Every invalid field of an auction's parameters, each found by the engine's parser."""
    from server.cds.wire import params_in  # not at import: server.cds imports this module

    violations: list[FieldViolation] = []
    try:  # the identifier rule of CdsAuction.create (stricter than the parameters' own)
        check_id(params.auction_id, f"{prefix}.auction_id")
    except InvalidInput as exc:
        violations.extend(exc.violations)
    for name, reads in PARAMETER_FIELDS:
        probe = apb.AuctionParameters()
        probe.CopyFrom(_VALID_PARAMETERS)
        for field in (name, *reads):
            setattr(probe, field, getattr(params, field))
        try:
            params_in(probe, prefix)
        except InvalidInput as exc:
            violations.extend(v for v in exc.violations if v.field == f"{prefix}.{name}")
    return violations


def _collect(violations: list[FieldViolation]) -> None:
    if violations:
        raise InvalidRequest(violations)


def _parameters(message: Any, field: str) -> object:
    if not message.HasField(field):
        raise InvalidInput(field, "required")
    _collect(parameter_violations(getattr(message, field), field))
    return None


def _panel(panel: Any, field: str) -> object:
    violations: list[FieldViolation] = []
    for i, dealer in enumerate(panel):
        try:
            check_id(dealer, f"{field}[{i}]")
        except InvalidInput as exc:
            violations.extend(exc.violations)
    _collect(violations)
    return None


def _schedule(schedule: Any, field: str) -> object:
    violations: list[FieldViolation] = []
    for name in ("stage1_open", "stage1_close", "stage2_open", "stage2_close"):
        try:
            timestamp_in(schedule, name, f"{field}.{name}")
        except InvalidInput as exc:
            violations.extend(exc.violations)
    _collect(violations)
    return None


def _set_members(auctions: Any, field: str) -> object:
    violations: list[FieldViolation] = []
    for i, member in enumerate(auctions):
        if member.HasField("parameters"):  # a missing one: the handler refuses it
            violations.extend(parameter_violations(member.parameters, f"{field}[{i}].parameters"))
    _collect(violations)
    return None


def _waterfall(config: Any, field: str) -> object:
    """Each tranche of a loss allocation, by ``WaterfallConfig.build`` (the other at its
    default)."""
    violations: list[FieldViolation] = []
    for name in ("ccp_tranche", "assessment_multiple"):
        try:
            WaterfallConfig.build(**{name: getattr(config, name)})
        except InvalidInput as exc:
            violations.extend(exc.violations)
    _collect(violations)
    return None


def _market(message: Any, field: str) -> object:
    """A single market definition, every field (``market.curve.quotes[3].rate``)."""
    if message.HasField(field):
        from server.pricing_service import market_in  # imports this module

        found = pricing_checks.market_violations(market_in(getattr(message, field)), f"{field}.")
        _collect(found)
    return None


def _market_set(message: Any, field: str) -> object:
    """A MarketSet, every field (``markets.markets[1].market.valuation_date``)."""
    if message.HasField(field):
        from server.default.wire import markets_in  # imports this module

        _collect(pricing_checks.market_set_violations(markets_in(getattr(message, field))))
    return None


def _scenarios(scenarios: Any, field: str) -> object:
    from server.default.wire import scenarios_in

    _collect(pricing_checks.scenario_violations(scenarios_in(scenarios), field))
    return None


def _rcv(value: int, field: str) -> object:
    from server.default.wire import rcv_in

    return rcv_in(value)


def _settled_flows(value: int, field: str) -> object:
    from server.default.wire import settled_flows_in

    return settled_flows_in(value)


def _grouping(message: Any, field: str) -> object:
    from server.default.wire import grouping_in

    return grouping_in(message.group_by, message.max_lot_dv01)


def _standard_tenors(tenors: Any, field: str) -> object:
    violations: list[FieldViolation] = []
    for i, tenor in enumerate(tenors):
        try:  # the one tenor, by the library's parser, named by its own index
            standard_tenors([tenor], f"{field}[{i}]")
        except PricingInputError as exc:
            violations.append(FieldViolation(exc.field.replace("[0]", "", 1), exc.message))
    _collect(violations)
    return None


def _dv01_limit(value: str, field: str) -> object:
    """A lot's DV01 limit: whole cents, and a limit the grouping accepts."""
    if value:
        steps.group_into_lots([], grouping="dv01", dv01={}, max_dv01=to_cents(value, field))
    return None


#: Request type -> its independent field checks (field path, check, whole-message check).
CHECKS: Mapping[str, tuple[tuple[str, Check, bool], ...]] = {
    apb.SubmitMarketRequest.DESCRIPTOR.full_name: (
        _field("client_order_id", _id),
        _field("bid", _decimal),
        _field("offer", _decimal),
    ),
    apb.WithdrawMarketRequest.DESCRIPTOR.full_name: (_field("client_order_id", _id),),
    apb.SubmitSettlementRequestRequest.DESCRIPTOR.full_name: (
        _field("client_order_id", _id),
        _field("side", _side),
        _field("size", _amount),
        _field("customer", _optional_id),
        _whole("market_position", _market_position),
    ),
    apb.WithdrawSettlementRequestRequest.DESCRIPTOR.full_name: (_field("client_order_id", _id),),
    apb.SubmitLimitOrderRequest.DESCRIPTOR.full_name: (
        _field("client_order_id", _id),
        _field("side", _order_side),
        _field("price", _decimal),
        _field("size", _positive),
        _field("customer", _optional_id),
    ),
    apb.ReplaceLimitOrderRequest.DESCRIPTOR.full_name: (
        _field("client_order_id", _id),
        _field("order_client_order_id", _id),
        _field("price", _decimal),
        _field("size", _positive),
    ),
    apb.CancelLimitOrderRequest.DESCRIPTOR.full_name: (
        _field("client_order_id", _id),
        _field("order_client_order_id", _id),
    ),
    apb.DeclineCustomerRequestRequest.DESCRIPTOR.full_name: (
        _field("client_order_id", _id),
        _field("customer", _id),
        _field("kind", _decline_kind),
        _whole("side", _decline_side),
        _field("size", _amount),
        _field("price", _optional_decimal),
        _field("reason", _decline_reason),
    ),
    cpb.SubmitBidRequest.DESCRIPTOR.full_name: (
        _field("client_order_id", _id),
        _field("amount", _cents),
    ),
    cpb.WithdrawBidRequest.DESCRIPTOR.full_name: (_field("client_order_id", _id),),
    cpb.CreateDefaultAuctionRequest.DESCRIPTOR.full_name: (
        _field("reserve", lambda v, f: _cents(v, f) if v else None),
        _field("auction_id", _optional_id),
        _field("reserve_bp", _reserve_bp),
        _field("grading_threshold", lambda v, f: _cents(v, f) if v else None),
        _whole("open_at", _timestamp("open_at")),
        _whole("close_at", _timestamp("close_at")),
    ),
    cpb.AllocateLossesRequest.DESCRIPTOR.full_name: (_field("config", _waterfall),),
    cpb.AssignLotRequest.DESCRIPTOR.full_name: (
        _field("member_id", _id),
        _field("reason", _assignment_reason),
    ),
    cpb.RunMarginRequest.DESCRIPTOR.full_name: (
        _field("run_id", _id),
        _whole("market", _market),
        _whole("markets", _market_set),
        _field("scenarios", _scenarios),
    ),
    cpb.DeclareDefaultRequest.DESCRIPTOR.full_name: (
        _whole("market", _market),
        _whole("markets", _market_set),
    ),
    cpb.ConvertPositionsRequest.DESCRIPTOR.full_name: (
        _whole("market", _market),
        _whole("markets", _market_set),
        _field("rcv_convention", _rcv),
        _field("standard_tenors", _standard_tenors),
        _whole("group_by", _grouping),
        _field("max_lot_dv01", _dv01_limit),
        _field("settled_flows", _settled_flows),
    ),
    opb.CreateAuctionRequest.DESCRIPTOR.full_name: (
        _whole("parameters", _parameters),
        _field("panel", _panel),
        _field("schedule", _schedule),
        _whole("dealer_names", _dealer_names),
    ),
    opb.CreateAuctionSetRequest.DESCRIPTOR.full_name: (
        _field("auction_set", _id),
        _field("terms", _terms),
        _field("auctions", _set_members),
        _field("panel", _panel),
        _field("schedule", _schedule),
        _whole("dealer_names", _dealer_names),
        _field("currency_rates", _currency_rates),
    ),
}


def _checks_of(request: Any) -> tuple[tuple[str, Check, bool], ...]:
    """The checks of ``request``'s type (:data:`CHECKS`), found by its class after the first."""
    kind = type(request)
    checks = _BY_CLASS.get(kind)
    if checks is None:
        name = getattr(getattr(request, "DESCRIPTOR", None), "full_name", "")
        checks = _BY_CLASS[kind] = tuple(CHECKS.get(name, ()))
    return checks


_BY_CLASS: dict[type, tuple[tuple[str, Check, bool], ...]] = {}


def _run(check: Check, request: Any, name: str, whole: bool) -> None:
    """One row of a table: the check of the whole request, or of its field ``name``."""
    check(request, name) if whole else check(getattr(request, name), name)


def violations_of(request: Any) -> list[FieldViolation]:
    """Every invalid field of ``request`` (of a type in :data:`CHECKS`; none for the others)."""
    violations: list[FieldViolation] = []
    for name, check, whole in _checks_of(request):
        try:
            _run(check, request, name, whole)
        except InvalidInput as exc:
            violations.extend(exc.violations)
        except PricingInputError as exc:
            violations.append(FieldViolation(exc.field, exc.message))
    return violations


def check_request(request: Any) -> None:
    """Raise :class:`InvalidRequest` naming every invalid field of ``request`` (of a type in
    :data:`CHECKS`); return if none is (or the type has no table)."""
    # Almost every request is valid: run the same checks once without collecting, and
    # collect (every violation, in table order) only when one of them refuses.
    try:
        for name, check, whole in _checks_of(request):
            _run(check, request, name, whole)
    except (InvalidInput, PricingInputError):
        pass
    else:
        return
    violations = violations_of(request)
    if violations:
        raise InvalidRequest(violations)


#: Requests whose checks parse market definitions (any size, up to the message limit): they
#: are checked in a worker process (:func:`check_request_off_loop`), not on the event loop.
OFF_LOOP: Mapping[str, type[Any]] = {
    t.DESCRIPTOR.full_name: t
    for t in (cpb.RunMarginRequest, cpb.DeclareDefaultRequest, cpb.ConvertPositionsRequest)
}


def violations_job(name: str, raw: bytes) -> tuple[int, list[tuple[str, str]]]:
    """In a worker: the serialized request of type ``name`` (in :data:`OFF_LOOP`) -> how many
    fields are invalid, and the first :data:`MAX_LISTED_PROBLEMS` (field, description)."""
    found = violations_of(OFF_LOOP[name].FromString(raw))
    return len(found), [(v.field, v.description) for v in found[:MAX_LISTED_PROBLEMS]]


async def check_request_off_loop(compute: Compute, request: Any) -> None:
    """:func:`check_request`, run in ``compute``'s worker processes when the request carries
    a market definition (on the loop otherwise: the rest is a few fields, and a command that
    prices nothing must not wait for, or be refused, a worker slot)."""
    if not any(request.HasField(name) for name in ("market", "markets")):
        check_request(request)
        return
    name = request.DESCRIPTOR.full_name
    total, listed = await compute.run(violations_job, name, request.SerializeToString())
    if listed:
        raise InvalidRequest([FieldViolation(f, d) for f, d in listed], total)
