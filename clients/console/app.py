"""The operator console: a Starlette app that talks to ``closeout serve`` like any client.

Pages (server-side Jinja2 templates; htmx and its SSE extension, vendored, for live parts):

* ``/login``, ``/logout``: operators and observers sign in with their bearer token; the
  console asks the server who the token is (``GetCaller``) and refuses dealers, market
  makers and clearing members. The token stays on the console's side (``sessions.py``).
* ``/cds``: the CDS auctions (and, for operators, a form to create one); ``/cds/<id>``: one
  auction with its phase, a countdown to the window's close, who has submitted during a
  sealed window (never what), the stage-1 publication and the final results tables, and the
  open / close / cancel buttons (confirmed; operators only). Live: the page's panel is
  re-rendered on every event of the server's ``WatchAuction`` stream (server-sent events).
* ``/default``: the default process (margin run, shortfalls, defaulters, lots with their
  terms, RCV, b*, DV01 and invitees, auctions with who bid, loss waterfall, ledger);
  ``/default/<auction id>``: one lot's auction with the sealed window, award or assignment,
  grades and settlement instructions, with the operator's buttons; live from ``WatchLot``.
* ``/results/<id>``, ``.json``, ``.csv``: the public results of a FINAL auction, no sign-in,
  dealer names only; any other auction has no public page (404).

Every form carries the session's CSRF token; every response carries a strict Content
Security Policy (scripts from the console only). This module speaks only the wire API
through the SDK and must never import ``server``, put a token in a cookie, a URL or a page,
or show a submission's price, size or amount before the server publishes it.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import grpc
import grpc.aio
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clients.console import views
from clients.console.sessions import ConsoleSession, SessionStore
from clients.default_sdk import ClearingClient, name_of
from clients.errors import field_violations
from clients.results import phase_name
from clients.sdk import OperatorClient
from closeout.v1 import admin_pb2
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import clearing_pb2 as cpb
from closeout.v1 import operator_pb2 as opb

__all__ = ["ConsoleConfig", "build_app"]

HERE = Path(__file__).resolve().parent

_ROLES = {
    admin_pb2.PARTICIPANT_ROLE_OPERATOR: "operator",
    admin_pb2.PARTICIPANT_ROLE_OBSERVER: "observer",
    admin_pb2.PARTICIPANT_ROLE_DEALER: "dealer",
    admin_pb2.PARTICIPANT_ROLE_MARKET_MAKER: "market maker",
    admin_pb2.PARTICIPANT_ROLE_CLEARING_MEMBER: "clearing member",
}

#: Content Security Policy: everything from the console itself, nothing inline, no frames.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)

#: How long a page waits for the server before it says the server is not answering, seconds.
_PATIENCE = 15.0

#: Failed sign-ins per client address before it must wait (``_LOCKOUT`` seconds).
_MAX_FAILURES = 5
_LOCKOUT = 60.0


@dataclass(frozen=True)
class ConsoleConfig:
    """How the console reaches the server and how it treats its own visitors."""

    #: host:port of ``closeout serve``.
    server: str
    #: Token the console reads public results with (an observer's); None: no public pages.
    public_token: str | None = None
    #: PEM root certificate of a TLS server; None: plain text to the server.
    root_certificates: bytes | None = None
    #: Mark the session cookie Secure (set when the console is served over HTTPS).
    secure_cookies: bool = False
    #: Idle and absolute session lifetimes, seconds.
    idle_seconds: float = 30 * 60
    lifetime_seconds: float = 12 * 3600


class _SecurityHeaders:
    """Adds the CSP and the usual hardening headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", _CSP.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Console:
    """The console's state: config, sessions, the public reader, templates."""

    def __init__(self, config: ConsoleConfig) -> None:
        self.config = config
        self.sessions = SessionStore(idle=config.idle_seconds, lifetime=config.lifetime_seconds)
        self.public: OperatorClient | None = None
        self.failures: dict[str, list[float]] = {}
        self.templates = Jinja2Templates(directory=HERE / "templates")
        env = self.templates.env
        env.filters["grouped"] = views.grouped
        env.filters["q"] = lambda value: quote(str(value), safe="")
        env.globals["server"] = config.server

    # -- rendering -----------------------------------------------------------------------

    def page(
        self,
        request: Request,
        name: str,
        session: ConsoleSession | None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        flashes: list[tuple[str, str]] = []
        if session is not None:
            flashes, session.flashes = session.flashes, []
        return self.templates.TemplateResponse(
            request,
            name,
            {"me": session, "flashes": flashes, **context},
            status_code=status_code,
        )

    def error(
        self, request: Request, session: ConsoleSession | None, status: int, message: str
    ) -> Response:
        return self.page(request, "error.html", session, status_code=status, message=message)

    # -- sign-in -------------------------------------------------------------------------

    async def session_of(self, request: Request) -> ConsoleSession | None:
        return await self.sessions.get(request.session.get("sid"))

    def locked_out(self, address: str) -> bool:
        now = time.monotonic()
        recent = [t for t in self.failures.get(address, []) if now - t < _LOCKOUT]
        self.failures[address] = recent
        return len(recent) >= _MAX_FAILURES

    def failed(self, address: str) -> None:
        if len(self.failures) > 10_000:  # many addresses: forget those with no recent failure
            now = time.monotonic()
            self.failures = {a: t for a, t in self.failures.items() if t and now - t[-1] < _LOCKOUT}
        self.failures.setdefault(address, []).append(time.monotonic())


def _address(request: Request) -> str:
    return request.client.host if request.client else "-"


def _rpc_message(exc: grpc.aio.AioRpcError) -> str:
    fields = field_violations(exc)
    if fields:
        return "; ".join(f"{f.field}: {f.description}" for f in fields)
    details: str | None = exc.details()
    return details or exc.code().name


Handler = Callable[[Request, ConsoleSession], Awaitable[Response]]


def build_app(config: ConsoleConfig) -> Starlette:
    """The console as an ASGI app (serve it with uvicorn; tests use it directly)."""
    console = Console(config)

    def signed_in(
        handler: Handler, *, act: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a page: sign-in required; ``act``: a POST by an operator with a valid CSRF."""

        async def endpoint(request: Request) -> Response:
            session = await console.session_of(request)
            if session is None:
                if request.method == "GET" and "hx-request" not in request.headers:
                    return RedirectResponse(f"/login?next={quote(request.url.path)}", 303)
                return console.error(request, None, 401, "Sign in again: your session ended.")
            if act:
                form = await request.form()
                if not session.check_csrf(_text(form, "csrf")):
                    return console.error(request, session, 403, "The form expired; try again.")
                if not session.can_act:
                    return console.error(request, session, 403, "Observers can look but not act.")
            try:
                return await asyncio.wait_for(handler(request, session), _PATIENCE)
            except grpc.aio.AioRpcError as exc:
                return await _rpc_failure(request, session, exc)
            except TimeoutError:
                return console.error(
                    request, session, 503, f"The server at {config.server} is not answering."
                )

        return endpoint

    async def _rpc_failure(
        request: Request, session: ConsoleSession, exc: grpc.aio.AioRpcError
    ) -> Response:
        code = exc.code()
        if code is grpc.StatusCode.UNAUTHENTICATED:
            await console.sessions.remove(session.session_id)
            return console.error(request, None, 401, "The server no longer accepts your token.")
        if code is grpc.StatusCode.NOT_FOUND:
            return console.error(request, session, 404, _rpc_message(exc))
        if code is grpc.StatusCode.PERMISSION_DENIED:
            return console.error(request, session, 403, _rpc_message(exc))
        if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
            return console.error(
                request, session, 503, f"The server at {config.server} is not answering."
            )
        return console.error(request, session, 502, f"{code.name}: {_rpc_message(exc)}")

    # -- sign-in and out -------------------------------------------------------------------

    async def login_form(request: Request) -> Response:
        session = await console.session_of(request)
        if session is not None:
            return RedirectResponse("/cds", 303)
        return _login_page(request, None, 200)

    def _login_page(request: Request, message: str | None, status: int) -> Response:
        csrf = secrets.token_urlsafe(32)
        request.session["login_csrf"] = csrf
        return console.page(
            request,
            "login.html",
            None,
            status_code=status,
            csrf=csrf,
            message=message,
            next=_safe_next(request.query_params.get("next")),
        )

    async def login(request: Request) -> Response:
        form = await request.form()
        expected = request.session.pop("login_csrf", None)
        posted = _text(form, "csrf")
        if not expected or not posted or not secrets.compare_digest(expected, posted):
            return _login_page(request, "The sign-in form expired; try again.", 403)
        address = _address(request)
        if console.locked_out(address):
            return _login_page(request, "Too many failed sign-ins; wait a minute.", 429)
        token = (_text(form, "token") or "").strip()
        if not token:
            return _login_page(request, "Enter your token.", 400)
        cds = OperatorClient(config.server, token, root_certificates=config.root_certificates)
        try:
            me = await asyncio.wait_for(cds.caller(), _PATIENCE)
        except TimeoutError:
            await cds.close()
            return _login_page(request, f"The server at {config.server} is not answering.", 503)
        except grpc.aio.AioRpcError as exc:
            await cds.close()
            if exc.code() is grpc.StatusCode.UNAUTHENTICATED:
                console.failed(address)
                return _login_page(request, "The server does not know this token.", 401)
            return _login_page(
                request, f"The server at {config.server} is not answering ({exc.code().name}).", 503
            )
        role = _ROLES.get(me.role, "unknown")
        if role not in ("operator", "observer"):
            await cds.close()
            console.failed(address)
            return _login_page(
                request,
                f"{me.participant_id} is a {role}: the console is for the clearing house's "
                "operators and observers. Dealers and members use their own systems.",
                403,
            )
        session = ConsoleSession(
            session_id=console.sessions.new_id(),
            participant_id=me.participant_id,
            role=role,
            cds=cds,
            clearing=ClearingClient(
                config.server, token, root_certificates=config.root_certificates
            ),
        )
        console.sessions.add(session)
        console.failures.pop(address, None)
        request.session.clear()  # a fresh id at each sign-in (no session fixation)
        request.session["sid"] = session.session_id
        return RedirectResponse(_safe_next(_text(form, "next")) or "/cds", 303)

    async def logout(request: Request) -> Response:
        session = await console.session_of(request)
        form = await request.form()
        if session is not None:
            if not session.check_csrf(_text(form, "csrf")):
                return console.error(request, session, 403, "The form expired; try again.")
            await console.sessions.remove(session.session_id)
        request.session.clear()
        return RedirectResponse("/login", 303)

    # -- CDS -------------------------------------------------------------------------------

    async def cds_list(request: Request, session: ConsoleSession) -> Response:
        auctions = await session.cds.list_auctions()
        return console.page(
            request,
            "cds_list.html",
            session,
            auctions=[views.auction_row(a) for a in reversed(auctions)],
            form={},
        )

    async def cds_create(request: Request, session: ConsoleSession) -> Response:
        form = await request.form()
        values = {k: (_text(form, k) or "").strip() for k in _CREATE_FIELDS}
        try:
            parameters, panel, schedule = _creation(values)
        except ValueError as exc:
            session.flash("error", str(exc))
            return await _list_again(request, session, values)
        try:
            await session.cds.create_auction(parameters, panel, schedule)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS):
                session.flash("error", _rpc_message(exc))
                return await _list_again(request, session, values)
            raise
        session.flash("ok", f"Auction {parameters.auction_id} created.")
        return RedirectResponse(f"/cds/{quote(parameters.auction_id, safe='')}", 303)

    async def _list_again(
        request: Request, session: ConsoleSession, values: dict[str, str]
    ) -> Response:
        auctions = await session.cds.list_auctions()
        return console.page(
            request,
            "cds_list.html",
            session,
            status_code=400,
            auctions=[views.auction_row(a) for a in reversed(auctions)],
            form=values,
        )

    async def _cds_model(session: ConsoleSession, auction_id: str) -> dict[str, Any]:
        auction = await session.cds.auction(auction_id)
        phase = auction.phase
        submitters = None
        if phase not in (apb.PHASE_FINAL, apb.PHASE_CANCELLED, apb.PHASE_FAILED):
            submitters = await session.cds.submitters(auction_id)
        result = None
        if phase not in (apb.PHASE_SCHEDULED, apb.PHASE_STAGE1_OPEN):
            result = await session.cds.results(auction_id)
        model = views.cds_page(auction, result, submitters)
        model["last_sequence"] = auction.last_sequence
        return model

    async def cds_auction(request: Request, session: ConsoleSession) -> Response:
        auction_id = request.path_params["auction_id"]
        model = await _cds_model(session, auction_id)
        return console.page(request, "cds_auction.html", session, a=model)

    async def cds_panel(request: Request, session: ConsoleSession) -> Response:
        model = await _cds_model(session, request.path_params["auction_id"])
        return console.page(request, "_cds_panel.html", session, a=model)

    async def cds_submitters(request: Request, session: ConsoleSession) -> Response:
        auction_id = request.path_params["auction_id"]
        auction = await session.cds.auction(auction_id)
        submitters = await session.cds.submitters(auction_id)
        model = views.cds_page(auction, None, submitters)
        return console.page(request, "_submitters.html", session, a=model)

    async def cds_events(request: Request, session: ConsoleSession) -> Response:
        auction_id = request.path_params["auction_id"]
        after = _int(request.query_params.get("after"))
        return _relay_updates(request, session.cds.watch(auction_id, after))

    def cds_action(
        run: Callable[[ConsoleSession, str, FormData], Awaitable[str]],
    ) -> Handler:
        async def handler(request: Request, session: ConsoleSession) -> Response:
            auction_id = request.path_params["auction_id"]
            form = await request.form()
            try:
                session.flash("ok", await run(session, auction_id, form))
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (
                    grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.UNAVAILABLE,
                    grpc.StatusCode.NOT_FOUND,
                ):
                    raise
                session.flash("error", _rpc_message(exc))
            return RedirectResponse(f"/cds/{quote(auction_id, safe='')}", 303)

        return handler

    async def open_cds(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        response = await session.cds.open_window(auction_id)
        return f"Window opened: {phase_name(response.auction.phase)}."

    async def close_cds(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        response = await session.cds.close_window(auction_id)
        return f"Window closed: {phase_name(response.auction.phase)}."

    async def cancel_cds(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        reason = (_text(form, "reason") or "").strip()
        await session.cds.cancel(auction_id, reason)
        return "Auction cancelled."

    # -- default management ------------------------------------------------------------------

    async def _overview(session: ConsoleSession) -> dict[str, Any]:
        overview = await session.clearing.overview()
        lots: list[cpb.Lot] = []
        ledger = None
        allocations: list[cpb.LossAllocation] = []
        if overview.house_id:
            lots = await session.clearing.lots()
            ledger = await session.clearing.ledger()
            for record in overview.defaults:
                try:
                    allocations.append(await session.clearing.loss_allocation(record.member_id))
                except grpc.aio.AioRpcError as exc:
                    if exc.code() is not grpc.StatusCode.NOT_FOUND:  # not allocated yet
                        raise
        return views.default_overview(overview, lots, ledger, allocations)

    async def default_page(request: Request, session: ConsoleSession) -> Response:
        return console.page(request, "default.html", session, d=await _overview(session))

    async def default_panel(request: Request, session: ConsoleSession) -> Response:
        return console.page(request, "_default_panel.html", session, d=await _overview(session))

    async def _lot_model(session: ConsoleSession, auction_id: str) -> dict[str, Any]:
        overview = await session.clearing.overview()
        status = next((s for s in overview.auctions if s.auction.auction_id == auction_id), None)
        if status is None:
            return {}
        result = await session.clearing.result(auction_id)
        lots = await session.clearing.lots()
        lot = next((x for x in lots if x.terms.lot_id == status.auction.lot_id), None)
        instructions = await session.clearing.instructions(status.auction.lot_id)
        model = views.default_auction_page(status, result, lot, instructions)
        model["last_sequence"] = status.auction.last_sequence
        return model

    async def default_auction(request: Request, session: ConsoleSession) -> Response:
        auction_id = request.path_params["auction_id"]
        model = await _lot_model(session, auction_id)
        if not model:
            return console.error(request, session, 404, f"no default auction {auction_id!r}")
        return console.page(request, "default_auction.html", session, a=model)

    async def default_auction_panel(request: Request, session: ConsoleSession) -> Response:
        model = await _lot_model(session, request.path_params["auction_id"])
        if not model:
            return console.error(request, session, 404, "no such default auction")
        return console.page(request, "_default_auction_panel.html", session, a=model)

    async def default_events(request: Request, session: ConsoleSession) -> Response:
        auction_id = request.path_params["auction_id"]
        after = _int(request.query_params.get("after"))
        return _relay_updates(request, session.clearing.watch(auction_id, after))

    def default_action(
        run: Callable[[ConsoleSession, str, FormData], Awaitable[str]],
    ) -> Handler:
        async def handler(request: Request, session: ConsoleSession) -> Response:
            auction_id = request.path_params["auction_id"]
            form = await request.form()
            try:
                session.flash("ok", await run(session, auction_id, form))
            except grpc.aio.AioRpcError as exc:
                if exc.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.UNAVAILABLE):
                    raise
                session.flash("error", _rpc_message(exc))
            return RedirectResponse(f"/default/{quote(auction_id, safe='')}", 303)

        return handler

    async def open_lot(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        await session.clearing.open_window(auction_id)
        return "Bid window opened."

    async def close_lot(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        await session.clearing.close_window(auction_id)
        return "Bid window closed."

    async def award_lot(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        awarded = await session.clearing.award(auction_id)
        award = awarded.result.award
        how = name_of(cpb.AwardMethod, award.method, "AWARD_METHOD_").lower()
        return f"Lot placed by {how}: {award.member_id} at {award.amount}."

    async def settle_lot(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        settled = await session.clearing.settle(auction_id)
        return f"Settled: {len(settled.instructions)} instructions."

    async def cancel_lot(session: ConsoleSession, auction_id: str, form: FormData) -> str:
        await session.clearing.cancel(auction_id, (_text(form, "reason") or "").strip())
        return "Auction cancelled."

    # -- public results --------------------------------------------------------------------

    async def _public(auction_id: str) -> opb.PublicResult | Response:
        reader = console.public
        if reader is None:
            return PlainTextResponse(
                "public results are not enabled on this console (--public-token)", 503
            )
        try:
            found = await asyncio.wait_for(reader.public_results(auction_id), _PATIENCE)
        except TimeoutError:
            return PlainTextResponse("the auction server is not answering", 503)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.PERMISSION_DENIED,
                grpc.StatusCode.INVALID_ARGUMENT,
            ):
                return PlainTextResponse("no published results for this auction", 404)
            return PlainTextResponse("the auction server is not answering", 503)
        if len(found) != 1 or found[0].status != apb.PHASE_FINAL:
            return PlainTextResponse("no published results for this auction", 404)
        return found[0]

    async def results_index(request: Request) -> Response:
        reader = console.public
        finals: list[dict[str, Any]] = []
        if reader is not None:
            try:
                finals = [
                    views.auction_row(a)
                    for a in await reader.list_auctions()
                    if a.phase == apb.PHASE_FINAL
                ]
            except grpc.aio.AioRpcError:
                return PlainTextResponse("the auction server is not answering", 503)
        return console.page(request, "results_index.html", None, auctions=finals[::-1])

    async def results_page(request: Request) -> Response:
        found = await _public(request.path_params["auction_id"])
        if isinstance(found, Response):
            return found
        return console.page(request, "results.html", None, r=views.public_results(found))

    async def results_json(request: Request) -> Response:
        found = await _public(request.path_params["auction_id"])
        if isinstance(found, Response):
            return found
        return JSONResponse(views.public_json(found))

    async def results_csv(request: Request) -> Response:
        found = await _public(request.path_params["auction_id"])
        if isinstance(found, Response):
            return found
        name = quote(found.auction_id, safe="")
        return PlainTextResponse(
            views.public_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{name}.csv"},
        )

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def home(request: Request) -> Response:
        return RedirectResponse("/cds", 303)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if config.public_token:
            console.public = OperatorClient(
                config.server, config.public_token, root_certificates=config.root_certificates
            )
        try:
            yield
        finally:
            await console.sessions.close_all()
            if console.public is not None:
                await console.public.close()

    routes: list[Route | Mount] = [
        Route("/", home),
        Route("/healthz", health),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/cds", signed_in(cds_list), methods=["GET"]),
        Route("/cds", signed_in(cds_create, act=True), methods=["POST"]),
        Route("/cds/{auction_id}", signed_in(cds_auction)),
        Route("/cds/{auction_id}/panel", signed_in(cds_panel)),
        Route("/cds/{auction_id}/submitters", signed_in(cds_submitters)),
        Route("/cds/{auction_id}/events", signed_in(cds_events)),
        Route(
            "/cds/{auction_id}/open", signed_in(cds_action(open_cds), act=True), methods=["POST"]
        ),
        Route(
            "/cds/{auction_id}/close", signed_in(cds_action(close_cds), act=True), methods=["POST"]
        ),
        Route(
            "/cds/{auction_id}/cancel",
            signed_in(cds_action(cancel_cds), act=True),
            methods=["POST"],
        ),
        Route("/default", signed_in(default_page)),
        Route("/default/panel", signed_in(default_panel)),
        Route("/default/{auction_id}", signed_in(default_auction)),
        Route("/default/{auction_id}/panel", signed_in(default_auction_panel)),
        Route("/default/{auction_id}/events", signed_in(default_events)),
    ]
    for verb, cds_run in (("open", open_cds), ("close", close_cds), ("cancel", cancel_cds)):
        routes.append(
            Route(
                f"/cds/{{auction_id}}/{verb}",
                signed_in(cds_action(cds_run), act=True),
                methods=["POST"],
            )
        )
    for verb, run in (
        ("open", open_lot),
        ("close", close_lot),
        ("award", award_lot),
        ("settle", settle_lot),
        ("cancel", cancel_lot),
    ):
        routes.append(
            Route(
                f"/default/{{auction_id}}/{verb}",
                signed_in(default_action(run), act=True),
                methods=["POST"],
            )
        )
    routes += [
        Route("/results", results_index),
        Route("/results/{auction_id}.json", results_json),
        Route("/results/{auction_id}.csv", results_csv),
        Route("/results/{auction_id}", results_page),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(_SecurityHeaders),
            Middleware(
                SessionMiddleware,
                secret_key=secrets.token_urlsafe(32),
                session_cookie="closeout_console",
                max_age=int(config.lifetime_seconds),
                same_site="strict",
                https_only=config.secure_cookies,
            ),
        ],
    )
    app.state.console = console
    return app


# -- helpers -------------------------------------------------------------------------------

_CREATE_FIELDS = (
    "auction_id",
    "currency",
    "quotation_amount",
    "max_spread",
    "price_increment",
    "cap_amount",
    "min_valid_submissions",
    "panel",
    "stage1_open",
    "stage1_close",
    "stage2_open",
    "stage2_close",
)


def _creation(
    values: dict[str, str],
) -> tuple[apb.AuctionParameters, list[str], dict[str, datetime]]:
    """The CreateAuction request from the form; ValueError names a field the wire can't take."""
    try:
        quotation = int(values["quotation_amount"].replace(",", "") or "0")
    except ValueError:
        raise ValueError("quotation amount: a whole number of currency units") from None
    try:
        minimum = int(values["min_valid_submissions"] or "0")
    except ValueError:
        raise ValueError("minimum valid markets: a whole number") from None
    panel = [d for d in values["panel"].replace(",", " ").split() if d]
    schedule: dict[str, datetime] = {}
    for name in ("stage1_open", "stage1_close", "stage2_open", "stage2_close"):
        if values[name]:
            try:
                when = datetime.fromisoformat(values[name])
            except ValueError:
                raise ValueError(f"{name.replace('_', ' ')}: a date and time (UTC)") from None
            schedule[name] = when.replace(tzinfo=None)
    parameters = apb.AuctionParameters(
        auction_id=values["auction_id"],
        currency=values["currency"],
        quotation_amount=quotation,
        max_spread=values["max_spread"],
        price_increment=values["price_increment"],
        cap_amount=values["cap_amount"],
        min_valid_submissions=minimum,
    )
    return parameters, panel, schedule


def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    return value if isinstance(value, str) else None


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or "0"))
    except ValueError:
        return 0


def _safe_next(value: str | None) -> str:
    """Only a path on this console (no scheme, no host): no open redirect."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return ""


async def _idle_until_disconnected(request: Request) -> None:
    """Keep an event stream open (pings only) after its auction ended, so the browser does
    not reconnect in a loop; sse-starlette cancels it when the browser goes away."""
    await asyncio.Event().wait()


class _Update(Protocol):
    """What a page needs of a watched event: its type, to know that something changed."""

    type: str


def _relay_updates(request: Request, watch: AsyncIterator[_Update]) -> Response:
    """Server-sent events for one watch stream (CDS auction or default lot): one "update"
    per event, never its content (the page re-reads what it may show); "stream ended" when
    the server ends the watch, then pings until the browser leaves."""

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            async for event in watch:
                yield {"event": "update", "data": event.type}
        except grpc.aio.AioRpcError:
            yield {"event": "update", "data": "stream ended"}
        await _idle_until_disconnected(request)

    return EventSourceResponse(events(), ping=15)
