"""``closeout.v1.PricingService``: the gRPC face of the pure ``pricing/`` library.

Per RPC: protobuf -> the request's plain-data form (the same shape as the JSON format of
``examples/pricing/README.md``, so field paths in errors agree) -> ``pricing.inputs`` parses
it into domain values -> ``pricing.report`` prices and formats decimal strings -> protobuf.
A ``PricingInputError`` becomes INVALID_ARGUMENT with a BadRequest through the one error
table (``server/errors.py``), listing every bad entry at once: when the request is refused,
each curve quote and each swap is parsed again on its own by the pricing library's own
functions (``quote_of``; ``book_of`` against the request's valuation date and conventions,
read by ``parse_date`` and ``conventions_of``), and every entry they refuse is named by its path
(``curve.quotes[3].rate``, ``swaps[7].notional``) next to the first refusal (at most
:data:`MAX_VIOLATIONS`; the message says how many in all). Stateless: nothing is journalled.
This module must never compute a price, round money or decide what input is valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import DecodeError, Message

from closeout.v1 import pricing_pb2 as pb
from matching.errors import MAX_LISTED_PROBLEMS, FieldViolation, InvalidInput
from pricing.conventions import Tenor
from pricing.conversion import RcvConvention
from pricing.dates import parse_date
from pricing.errors import PricingInputError
from pricing.inputs import parse_margin_request, parse_market, parse_request
from pricing.report import convert_request, curve_report, margin_request, price_request
from server import pricing_checks
from server.compute import Compute
from server.errors import MALFORMED, abort
from server.request_checks import InvalidRequest
from server.runtime import Registration, Runtime

__all__ = ["PricingServicer", "add_to_server", "register"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PricingService"].full_name
T = TypeVar("T")

_FLOAT_KIND = {pb.FLOAT_INDEX_KIND_IBOR: "ibor", pb.FLOAT_INDEX_KIND_OIS: "ois"}
_INTERPOLATION = {
    pb.CURVE_INTERPOLATION_LOG_LINEAR_DISCOUNT: "log_linear_discount",
    pb.CURVE_INTERPOLATION_LINEAR_ZERO: "linear_zero",
    pb.CURVE_INTERPOLATION_MONOTONE_CONVEX: "monotone_convex",
}
_INSTRUMENT = {
    pb.CURVE_INSTRUMENT_DEPOSIT: "deposit",
    pb.CURVE_INSTRUMENT_FRA: "fra",
    pb.CURVE_INSTRUMENT_SWAP: "swap",
}
_SIDE = {pb.SWAP_SIDE_PAYER: "payer", pb.SWAP_SIDE_RECEIVER: "receiver"}
_RCV = {
    pb.RCV_CONVENTION_SAME_COUPON: "same_coupon",
    pb.RCV_CONVENTION_AT_MARKET: "at_market",
    pb.RCV_CONVENTION_ZERO_CASH: "zero_cash",
}


# --- protobuf -> plain data ---------------------------------------------------------------


def _conventions(msg: pb.SwapConventions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if msg.HasField("calendar"):
        kind = msg.calendar.WhichOneof("kind")
        if kind == "names":
            out["calendar"] = msg.calendar.names
        elif kind == "holidays":
            listed = msg.calendar.holidays
            out["calendar"] = {"name": listed.name or "explicit", "holidays": list(listed.dates)}
    for key in ("business_day", "fixed_frequency", "fixed_day_count", "float_frequency"):
        if getattr(msg, key):
            out[key] = getattr(msg, key)
    if msg.float_day_count:
        out["float_day_count"] = msg.float_day_count
    if msg.HasField("end_of_month"):
        out["end_of_month"] = msg.end_of_month
    if msg.HasField("spot_lag"):
        out["spot_lag"] = msg.spot_lag
    if msg.HasField("fixing_days"):
        out["fixing_days"] = msg.fixing_days
    if msg.float_index:
        out["float_index"] = _known(_FLOAT_KIND, msg.float_index)
    return out


def _curve(msg: pb.CurveDefinition) -> dict[str, Any]:
    out: dict[str, Any] = {"quotes": [_quote(q) for q in msg.quotes]}
    if msg.HasField("conventions"):
        out["conventions"] = _conventions(msg.conventions)
    if msg.interpolation:
        out["interpolation"] = _known(_INTERPOLATION, msg.interpolation)
    return out


def _quote(msg: pb.CurveQuote) -> dict[str, Any]:
    out: dict[str, Any] = {"instrument": _INSTRUMENT.get(msg.instrument, ""), "rate": msg.rate}
    for key in ("tenor", "start", "end"):
        if getattr(msg, key):
            out[key] = getattr(msg, key)
    return out


def market_in(msg: pb.MarketDefinition) -> dict[str, Any]:
    """A wire market definition as the pricing input mapping (shared with server/default)."""
    out: dict[str, Any] = {"valuation_date": msg.valuation_date}
    if msg.HasField("conventions"):
        out["conventions"] = _conventions(msg.conventions)
    if msg.HasField("curve"):
        out["curve"] = _curve(msg.curve)
    if msg.HasField("discount_curve"):
        out["discount_curve"] = _curve(msg.discount_curve)
    return out


def _known(names: Mapping[Any, str], value: int) -> str:
    """An enum's name for the library; an unknown number as its text (the library refuses
    it, naming the field), never silently the default."""
    return names.get(value, str(value))


def _conversion(request: pb.ConvertPositionRequest) -> dict[str, Any]:
    """The conversion's own fields (RCV convention, standard tenors) as plain data."""
    data: dict[str, Any] = {}
    if request.rcv_convention:
        data["rcv_convention"] = _known(_RCV, request.rcv_convention)
    if request.standard_tenors:
        data["standard_tenors"] = list(request.standard_tenors)
    return data


def _swap(msg: pb.SwapTerms, with_member: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "side": _SIDE.get(msg.side, ""),
        "notional": msg.notional,
        "fixed_rate": msg.fixed_rate,
    }
    keys = ["id", "start", "forward_start", "maturity", "tenor", "spread", "current_fixing"]
    if with_member:
        keys.append("member_id")
    for key in keys:
        if getattr(msg, key):
            out[key] = getattr(msg, key)
    return out


# --- plain data -> protobuf ---------------------------------------------------------------


def _valuation(row: dict[str, Any], prefix: str = "") -> pb.SwapValuation:
    return pb.SwapValuation(
        id=row["id"],
        npv=row[f"{prefix}npv"],
        par_rate=row[f"{prefix}par_rate"],
        svf=row[f"{prefix}svf"],
        pv01=row.get(f"{prefix}pv01", ""),
        dv01=row[f"{prefix}dv01"],
    )


def _built(curve: dict[str, Any]) -> pb.BuiltCurve:
    return pb.BuiltCurve(
        id=curve["id"],
        interpolation=curve["interpolation"],
        pillars=[pb.CurvePillar(**p) for p in curve["pillars"]],
        discount_factors=curve["discount_factors"],
    )


#: The service's methods (the proto's), each computed by :func:`job` in a worker.
_WORK_NAMES = tuple(m.name for m in pb.DESCRIPTOR.services_by_name["PricingService"].methods)


class PricingServicer:
    """Stateless: each call parses, prices off its own market, and answers.

    Bytes in, bytes out: the methods are registered without a (de)serializer
    (:func:`add_to_server`), so the event loop never parses a request nor the answer: the
    worker does both (:func:`job`). A request refused at admission (its role at its limit)
    costs the loop nothing but its arrival, however large it is."""

    def __init__(self, compute: Compute | None = None) -> None:
        self._compute = compute or Compute()

    async def answer(self, method: str, raw: bytes, context: Any) -> bytes:
        """The serialized answer to the serialized request of ``method``."""
        try:
            # Pricing a big batch takes a while: in the bounded pool of worker processes
            # (limits per role), never on the event loop, with the parsing of the request
            # and the building of the answer: converting 20,000 swaps between protobuf and
            # plain data is Python work too, and must not hold the loop either.
            answer: bytes = await self._compute.run(job, method, bytes(raw))
            return answer
        except PricingInputError as exc:
            await abort(context, InvalidInput(exc.field, exc.message))
            raise  # pragma: no cover - abort raises
        except PricingViolations as exc:
            await abort(context, exc.refusal())
            raise  # pragma: no cover - abort raises

    def handler(self) -> grpc.GenericRpcHandler:
        """The service's methods, each taking and giving serialized messages."""

        def method(name: str) -> grpc.RpcMethodHandler:
            async def call(raw: bytes, context: Any) -> bytes:
                return await self.answer(name, raw, context)

            return grpc.unary_unary_rpc_method_handler(call)

        return grpc.method_handlers_generic_handler(
            SERVICE_NAME, {name: method(name) for name in _WORK_NAMES}
        )


# --- the work, run in a worker process (module-level; bytes in, bytes out) -----------------


def build_curve(request: pb.BuildCurveRequest) -> pb.BuildCurveResponse:
    """BuildCurve's work."""
    market = parse_market(market_in(request.market))
    days = [parse_date(d, f"dates[{i}]").toordinal() for i, d in enumerate(request.dates)]
    out = curve_report(market, days)
    return pb.BuildCurveResponse(
        market_id=out["market_id"],
        projection=_built(out["projection"]),
        discount=_built(out["discount"]),
    )


def price_swaps(request: pb.PriceSwapsRequest) -> pb.PriceSwapsResponse:
    """PriceSwaps' work."""
    data = {**market_in(request.market), "swaps": [_swap(s) for s in request.swaps]}
    out = price_request(parse_request(data))
    return pb.PriceSwapsResponse(
        market_id=out["curve_id"], swaps=[_valuation(r) for r in out["swaps"]]
    )


def convert_position(request: pb.ConvertPositionRequest) -> pb.ConvertPositionResponse:
    """ConvertPosition's work."""
    data: dict[str, Any] = {
        **market_in(request.market),
        "swaps": [_swap(s) for s in request.swaps],
    }
    data.update(_conversion(request))
    out = convert_request(parse_request(data, convert=True))
    return pb.ConvertPositionResponse(
        market_id=out["curve_id"],
        conversions=[
            pb.Conversion(
                defaulted=_valuation(r),
                standard=_valuation({**r, "standard_pv01": ""}, "standard_"),
                standard_tenor=r["standard"],
                standard_maturity=r["standard_maturity"],
                standard_fixed_rate=r["standard_fixed_rate"],
                rcv=r["rcv"],
                implied_bid=r["implied_bid"],
                residual_dv01=r["residual_dv01"],
                hedge_notional=r["hedge_notional"],
                hedge_side=(
                    pb.SWAP_SIDE_PAYER if r["hedge_side"] == "payer" else pb.SWAP_SIDE_RECEIVER
                ),
            )
            for r in out["swaps"]
        ],
    )


def performance_bond(
    request: pb.ComputePerformanceBondRequest,
) -> pb.ComputePerformanceBondResponse:
    """ComputePerformanceBond's work."""
    data: dict[str, Any] = {
        **market_in(request.market),
        "swaps": [_swap(s, with_member=True) for s in request.swaps],
        "collateral": dict(request.collateral),
    }
    if request.scenarios:
        data["scenarios"] = [scenario_in(s) for s in request.scenarios]
    out = margin_request(parse_margin_request(data))
    return pb.ComputePerformanceBondResponse(
        market_id=out["curve_id"],
        members=[pb.MemberRequirement(**m) for m in out["members"]],
    )


_WORK: dict[str, tuple[type[Message], Callable[[Any], Message]]] = {
    "BuildCurve": (pb.BuildCurveRequest, build_curve),
    "PriceSwaps": (pb.PriceSwapsRequest, price_swaps),
    "ConvertPosition": (pb.ConvertPositionRequest, convert_position),
    "ComputePerformanceBond": (pb.ComputePerformanceBondRequest, performance_bond),
}


class PricingViolations(Exception):
    """Several fields of one pricing request are invalid (picklable: raised in a worker).
    ``violations`` are the first :data:`MAX_LISTED_PROBLEMS` (field, description); ``total``
    counts them all."""

    def __init__(self, violations: list[tuple[str, str]], total: int) -> None:
        super().__init__(violations, total)
        self.violations = violations
        self.total = total

    def refusal(self) -> InvalidInput:
        """The refusal to answer with: every violation listed, and how many there are."""
        return InvalidRequest([FieldViolation(f, d) for f, d in self.violations], self.total)


def entry_violations(method: str, request: Any) -> list[FieldViolation]:
    """Every invalid field of a pricing request, each parsed on its own by the pricing
    library (``server/pricing_checks.py``): the market definition's, each curve quote's, each
    swap's (read against the request's market), and the request's own (dates, conventions of
    the conversion, members, collateral, scenarios)."""
    market = market_in(request.market)
    found = pricing_checks.market_violations(market)
    if method == "BuildCurve":
        return found + pricing_checks.date_violations(request.dates)
    margin = method == "ComputePerformanceBond"
    swaps = [_swap(s, with_member=margin) for s in request.swaps]
    found += pricing_checks.swap_violations(swaps, market)
    if margin:
        found += pricing_checks.member_violations(swaps)
        found += pricing_checks.collateral_violations(dict(request.collateral))
        found += pricing_checks.scenario_violations([scenario_in(s) for s in request.scenarios])
    if method == "ConvertPosition":
        for name, value in _conversion(request).items():
            if name == "rcv_convention":
                found += _one("rcv_convention", RcvConvention.parse, value, "rcv_convention")
            else:
                for i, tenor in enumerate(value):
                    at = f"standard_tenors[{i}]"
                    found += _one(at, Tenor.parse, tenor, at)
    return found


def _one(field: str, parse: Callable[..., object], *args: Any) -> list[FieldViolation]:
    try:
        parse(*args)
    except PricingInputError as exc:
        return [FieldViolation(exc.field or field, exc.message)]
    return []


def _all_violations(method: str, request: Message, first: PricingInputError) -> Exception:
    """The refusal of a request whose parse stopped at ``first``: it and every other field
    the library refuses on its own."""
    listed = [FieldViolation(first.field, first.message)]
    seen = {first.field}
    for violation in entry_violations(method, request):
        if violation.field not in seen:
            seen.add(violation.field)
            listed.append(violation)
    if len(listed) == 1:
        return first
    return PricingViolations(
        [(v.field, v.description) for v in listed[:MAX_LISTED_PROBLEMS]], len(listed)
    )


def job(method: str, raw: bytes) -> bytes:
    """The worker's entry point: the serialized request of ``method`` -> the serialized
    answer (errors propagate: they pickle). A refused request names every bad entry."""
    request_type, work = _WORK[method]
    try:
        request = request_type.FromString(raw)
    except DecodeError:
        raise InvalidInput("request", MALFORMED) from None
    try:
        return work(request).SerializeToString()
    except PricingInputError as exc:
        raise _all_violations(method, request, exc) from None


def scenario_in(msg: pb.CurveScenario) -> dict[str, Any]:
    """A wire curve scenario as the pricing input mapping (shared with server/default)."""
    out: dict[str, Any] = {"name": msg.name, "short_bp": msg.short_bp, "long_bp": msg.long_bp}
    for key in ("short_years", "long_years"):
        if getattr(msg, key):
            out[key] = getattr(msg, key)
    return out


def add_to_server(server: grpc.aio.Server, compute: Compute | None = None) -> None:
    """Add the PricingService to ``server`` (no auth of its own: interceptors carry it)."""
    server.add_generic_rpc_handlers((PricingServicer(compute).handler(),))


def register(server: Any, runtime: Runtime) -> Registration:
    """The service-module hook of ``server/app.py`` (pricing needs the compute pool)."""
    add_to_server(server, runtime.compute)
    return Registration(service_names=(SERVICE_NAME,))
