"""The console's guards over plain HTTP, against real ``closeout serve`` and ``closeout
console`` processes: the session cookie holds no token and is HttpOnly and SameSite=Strict,
forms without the session's CSRF token change nothing, observers cannot act, every response
carries the security headers, the public JSON and CSV carry dealer names and never a
customer, and repeated failed sign-ins are slowed down."""

from __future__ import annotations

import base64
import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
from starlette.testclient import TestClient

from clients.console.app import ConsoleConfig, build_app
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from tests.console.conftest import PATIENCE, Stack, free_port
from tests.console.test_browser import DEALER, OPS, WATCHER, run


def client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=f"http://{stack.console}", timeout=PATIENCE)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def signed_in(stack: Stack, token: str) -> httpx.Client:
    browser = client(stack)
    form = browser.get("/login")
    response = browser.post("/login", data={"csrf": csrf_of(form.text), "token": token})
    assert response.status_code == 303 and response.headers["location"] == "/cds"
    return browser


async def phase_of(server: str, auction_id: str) -> int:
    async with OperatorClient(server, OPS) as ops:
        return (await ops.auction(auction_id)).phase


async def create(server: str, auction_id: str, schedule: dict[str, datetime] | None = None) -> None:
    async with OperatorClient(server, OPS) as ops:
        parameters = apb.AuctionParameters(
            auction_id=auction_id, currency="USD", quotation_amount=2_000_000, max_spread="2"
        )
        await ops.create_auction(parameters, [DEALER["a"][0], DEALER["b"][0]], schedule)


def test_the_cookie_holds_a_session_id_never_the_token(stack: Stack) -> None:
    browser = signed_in(stack, OPS)
    cookie = browser.cookies["closeout_console"]
    payload = base64.b64decode(cookie.split(".")[0] + "==").decode()
    assert "sid" in payload and OPS not in payload and OPS not in cookie
    raw = client(stack).get("/login").headers["set-cookie"].lower()
    assert "httponly" in raw and "samesite=strict" in raw
    page = browser.get("/cds")
    assert page.status_code == 200 and OPS not in page.text


def test_security_headers_on_every_response(stack: Stack) -> None:
    for path in ("/login", "/results", "/static/console.css", "/cds"):
        headers = client(stack).get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"


def test_forms_without_the_csrf_token_change_nothing(stack: Stack) -> None:
    run(create(stack.server, "csrf-1"))
    browser = signed_in(stack, OPS)
    for data in ({}, {"csrf": "forged"}):
        response = browser.post("/cds/csrf-1/open", data=data)
        assert response.status_code == 403
    assert run(phase_of(stack.server, "csrf-1")) == apb.PHASE_SCHEDULED
    login = client(stack)
    refused = login.post("/login", data={"csrf": "forged", "token": OPS})
    assert refused.status_code == 403
    after = login.get("/cds")  # no session was made
    assert after.status_code == 303 and after.headers["location"].startswith("/login")


def test_observers_cannot_act_even_with_a_valid_form(stack: Stack) -> None:
    run(create(stack.server, "watch-2"))
    browser = signed_in(stack, WATCHER)
    page = browser.get("/cds/watch-2")
    assert 'id="open-window"' not in page.text
    response = browser.post("/cds/watch-2/open", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 403 and "Observers can look but not act" in response.text
    assert run(phase_of(stack.server, "watch-2")) == apb.PHASE_SCHEDULED


def test_a_scheduled_window_shows_its_close_for_the_countdown(stack: Stack) -> None:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    close = now + timedelta(hours=2)
    schedule = {"stage1_open": now + timedelta(hours=1), "stage1_close": close}
    run(create(stack.server, "timed-1", schedule))
    page = signed_in(stack, WATCHER).get("/cds/timed-1")
    assert f'data-closes-at="{close.isoformat()}Z"' in page.text


def test_public_json_and_csv_name_dealers_never_customers(stack: Stack) -> None:
    a, b = DEALER["a"][0], DEALER["b"][0]

    async def to_final() -> None:
        await create(stack.server, "pub-1")
        async with OperatorClient(stack.server, OPS) as ops:
            await ops.open_window("pub-1")
            async with DealerClient(stack.server, DEALER["a"][1]) as da:
                await da.submit_market("pub-1", "m", bid="40", offer="41")
                await da.submit_settlement_request(
                    "pub-1", "p", side="SELL", size=2_000_000, customer="hidden-fund"
                )
            async with DealerClient(stack.server, DEALER["b"][1]) as db:
                await db.submit_market("pub-1", "m", bid="39.5", offer="41")
            await ops.close_window("pub-1")
            await ops.open_window("pub-1")
            async with DealerClient(stack.server, DEALER["b"][1]) as db:
                await db.submit_limit_order(
                    "pub-1", "o", side="BID", price="40.5", size=2_000_000, customer="hidden-2"
                )
            await ops.close_window("pub-1")

    run(to_final())

    async def names() -> dict[str, str]:  # participant id -> published dealer name
        async with OperatorClient(stack.server, OPS) as ops:
            result = await ops.results("pub-1")
        return {
            a: result.market_position_trades[0].dealer,
            b: next(f.dealer for f in result.limit_order_fills if not f.carried_over),
        }

    published = run(names())
    anonymous = client(stack)
    data = anonymous.get("/results/pub-1.json").json()
    text = str(data)
    assert "hidden" not in text and "customer" not in text and "order_id" not in text
    assert data["status"] == "FINAL" and data["final_price"]
    assert {t["dealer"] for t in data["physical_settlement_requests"]} == {published[a]}
    assert published[b] in {o["dealer"] for o in data["limit_orders"]}
    table = anonymous.get("/results/pub-1.csv")
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert "hidden" not in table.text
    assert [r["price"] for r in rows if r["section"] == "final_price"] == [data["final_price"]]
    assert {r["dealer"] for r in rows if r["section"] == "limit_order"} == {
        o["dealer"] for o in data["limit_orders"]
    }


def test_repeated_failed_sign_ins_are_slowed_down(stack: Stack) -> None:
    # After every test that signs in to the stack: it locks 127.0.0.1 out for a minute.
    login = client(stack)
    codes = []
    for _ in range(6):
        form = login.get("/login")
        answer = login.post("/login", data={"csrf": csrf_of(form.text), "token": "x"})
        codes.append(answer.status_code)
    assert codes == [401] * 5 + [429]
    form = login.get("/login")
    locked = login.post("/login", data={"csrf": csrf_of(form.text), "token": OPS})
    assert locked.status_code == 429


def test_an_unreachable_server_is_said_so_not_a_traceback() -> None:
    nowhere = f"127.0.0.1:{free_port()}"  # nothing listens there
    app = build_app(ConsoleConfig(server=nowhere, public_token="demo-observer-token"))
    with TestClient(app) as browser:
        form = browser.get("/login")
        answer = browser.post("/login", data={"csrf": csrf_of(form.text), "token": OPS})
        assert (
            answer.status_code == 503 and f"The server at {nowhere} is not answering" in answer.text
        )
        public = browser.get("/results/anything.json")
        assert public.status_code == 503 and "Traceback" not in public.text
