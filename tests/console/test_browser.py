"""The console in a real browser (headless Chromium) against real ``closeout serve`` and
``closeout console`` processes: sign-in and its refusals, an auction created and run from the
browser to its results page with the numbers checked against the server's own publication,
sealed windows that show who submitted and never a price, live updates from the server's
event stream, the public results page, and Hertz 2020 played through the live server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Awaitable
from typing import Any, TypeVar

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from clients.online import load_credentials
from clients.sdk import DealerClient, OperatorClient
from closeout.v1 import auction_pb2 as apb
from closeout.v1 import operator_pb2 as opb
from tests.console.conftest import (
    CLOSEOUT,
    PATIENCE,
    ROOT,
    Stack,
    _env,
    make_browser,
    screenshot,
)

TOKENS = load_credentials(ROOT / "examples" / "server" / "scenario-tokens.toml")
OPS = "demo-operator-token"
WATCHER = "demo-observer-token"
DEALER = {d: TOKENS.dealers[d.upper()] for d in ("a", "b", "c", "d")}  # (participant, token)

_T = TypeVar("_T")


def run(call: Awaitable[_T]) -> _T:
    async def wrapped() -> _T:
        return await call

    return asyncio.run(wrapped())


def wait(driver: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    return WebDriverWait(driver, PATIENCE)


# Pages re-render their live parts (server-sent events, polling) at any moment: read them
# with one script run, atomic in the page, so no element goes stale between two reads.
_TEXT = "const e = document.querySelector(arguments[0]); return e && e.innerText.trim();"
_TABLE = (
    "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
    ".map(r => Array.from(r.cells).map(c => c.innerText.trim()));"
)


def text_of(driver: webdriver.Chrome, css: str) -> str:
    """The (non-empty) text of the element, once it is there."""
    found = wait(driver).until(lambda d: d.execute_script(_TEXT, css))
    return str(found)


def wait_text(driver: webdriver.Chrome, css: str, expected: str) -> None:
    wait(driver).until(lambda d: expected in (d.execute_script(_TEXT, css) or ""))


def table(driver: webdriver.Chrome, css: str) -> list[list[str]]:
    """The body rows of a table, cell texts."""
    rows: list[list[str]] = driver.execute_script(_TABLE, css)
    return rows


def sign_in(driver: webdriver.Chrome, stack: Stack, token: str) -> None:
    driver.get(stack.url("/login"))
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "sign-in").click()


def confirm_click(driver: webdriver.Chrome, element_id: str) -> None:
    for _ in range(20):  # the button may be re-rendered under our feet by a live update
        try:
            driver.find_element(By.ID, element_id).click()
            break
        except StaleElementReferenceException:
            continue
    else:
        pytest.fail(f"#{element_id} kept being re-rendered; never clicked")
    alert = wait(driver).until(ec.alert_is_present())
    assert alert is not None
    alert.accept()


async def dealer(server: str, name: str, action: str, auction_id: str, **kwargs: Any) -> None:
    async with DealerClient(server, DEALER[name][1]) as client:
        await getattr(client, action)(auction_id, **kwargs)


async def market(stack: Stack, who: str, bid: str, offer: str) -> None:
    await dealer(
        stack.server, who, "submit_market", "web-1", client_order_id="m", bid=bid, offer=offer
    )


async def create(server: str, auction_id: str, panel: list[str]) -> None:
    async with OperatorClient(server, OPS) as ops:
        parameters = apb.AuctionParameters(
            auction_id=auction_id, currency="USD", quotation_amount=2_000_000, max_spread="2"
        )
        await ops.create_auction(parameters, panel)


async def published(server: str, auction_id: str) -> opb.AuctionResult:
    async with OperatorClient(server, OPS) as ops:
        return await ops.results(auction_id)


def grouped(size: int) -> str:
    return f"{size:,}"


# -- sign-in ---------------------------------------------------------------------------------


def test_dealers_and_unknown_tokens_do_not_get_in(stack: Stack, browser: webdriver.Chrome) -> None:
    sign_in(browser, stack, DEALER["a"][1])
    message = text_of(browser, "#login-error")
    assert "a is a dealer" in message and "operators and observers" in message
    screenshot(browser, "login-refused")
    browser.get(stack.url("/cds"))
    assert browser.current_url.startswith(stack.url("/login"))  # no session was made
    sign_in(browser, stack, "not-a-token")
    assert text_of(browser, "#login-error") == "The server does not know this token."
    assert "not-a-token" not in browser.page_source


def test_observer_reads_but_has_no_buttons(stack: Stack, browser: webdriver.Chrome) -> None:
    run(create(stack.server, "watch-1", [DEALER[d][0] for d in ("a", "b")]))
    sign_in(browser, stack, WATCHER)
    assert text_of(browser, "#signed-in-as") == "watcher"
    browser.get(stack.url("/cds/watch-1"))
    assert text_of(browser, "#phase") == "SCHEDULED"
    assert not browser.find_elements(By.ID, "open-window")
    assert not browser.find_elements(By.ID, "create-auction")
    browser.find_element(By.ID, "sign-out").click()
    wait(browser).until(ec.url_contains("/login"))
    browser.get(stack.url("/cds/watch-1"))
    assert "/login" in browser.current_url


# -- one auction from the browser ------------------------------------------------------------


def test_operator_runs_an_auction_to_its_results(stack: Stack, browser: webdriver.Chrome) -> None:
    a, b, c, d = (DEALER[x][0] for x in ("a", "b", "c", "d"))
    sign_in(browser, stack, OPS)
    wait(browser).until(ec.url_contains("/cds"))
    form = browser.find_element(By.ID, "create-auction")
    form.find_element(By.NAME, "auction_id").send_keys("web-1")
    form.find_element(By.NAME, "panel").send_keys(f"{a}, {b}, {c}, {d}")
    screenshot(browser, "cds-list")
    browser.find_element(By.ID, "create").click()
    wait_text(browser, "#phase", "SCHEDULED")
    confirm_click(browser, "open-window")
    wait_text(browser, "#phase", "STAGE1_OPEN")

    # Sealed stage 1: who has submitted shows up live, never what.
    run(
        dealer(
            stack.server, "a", "submit_market", "web-1", client_order_id="m", bid="40", offer="41"
        )
    )
    run(
        dealer(
            stack.server,
            "a",
            "submit_settlement_request",
            "web-1",
            client_order_id="p",
            side="SELL",
            size=5_000_000,
            customer="secret-fund",
        )
    )
    run(
        dealer(
            stack.server, "b", "submit_market", "web-1", client_order_id="m", bid="39.5", offer="41"
        )
    )
    run(
        dealer(
            stack.server,
            "c",
            "submit_market",
            "web-1",
            client_order_id="m",
            bid="39.75",
            offer="40.75",
        )
    )
    wait_text(browser, "#submitters", "3 of 4 dealers active")
    assert table(browser, "#submitters-table") == [
        [a, "submitted", "1", "—"],
        [b, "submitted", "—", "—"],
        [c, "submitted", "—", "—"],
        [d, "—", "—", "—"],
    ]
    page = browser.page_source
    for sealed in ("39.5", "39.75", "40.75", "5,000,000", "5000000", "secret-fund"):
        assert sealed not in page, sealed
    screenshot(browser, "cds-sealed-window")

    # Closing from the browser publishes stage 1; the page shows the server's figures.
    confirm_click(browser, "close-window")
    wait_text(browser, "#phase", "STAGE1_CLOSED")
    stage1 = run(published(stack.server, "web-1"))
    assert text_of(browser, "#imm") == stage1.initial_market_midpoint
    assert text_of(browser, "#open-interest") == f"{grouped(stage1.open_interest_size)} to sell"
    adjustments = table(browser, "#adjustment-amounts")
    assert len(adjustments) == len(stage1.adjustment_amounts)
    markets = table(browser, "#initial-markets")
    assert len(markets) == len(stage1.matched_markets) > 0

    # Stage 2 opens from the browser; the close comes from elsewhere and arrives live (SSE).
    confirm_click(browser, "open-window")
    wait_text(browser, "#phase", "STAGE2_OPEN")
    imm = stage1.initial_market_midpoint
    run(
        dealer(
            stack.server,
            "d",
            "submit_limit_order",
            "web-1",
            client_order_id="o-1",
            side="BID",
            price=imm,
            size=3_000_000,
        )
    )
    wait_text(browser, "#submitters", "4 of 4 dealers active")
    assert "3,000,000" not in browser.page_source

    async def close_elsewhere() -> None:
        async with OperatorClient(stack.server, OPS) as ops:
            await ops.close_window("web-1")

    run(close_elsewhere())
    wait_text(browser, "#phase", "FINAL")  # no reload: the server's event stream drove it
    final = run(published(stack.server, "web-1"))
    assert text_of(browser, "#final-price") == final.final_price
    fills = {
        (f.dealer, f.filled) for f in final.limit_order_fills if f.filled
    }  # the server's fills
    shown = set()
    for texts in table(browser, "#limit-orders"):
        if texts[6] != "0":
            shown.add((texts[0], int(texts[6].replace(",", ""))))
    assert shown == fills and (d, 3_000_000) in shown
    screenshot(browser, "cds-final")

    # The public page needs no sign-in, shows the same numbers and never the customer.
    check_public_page(stack, "web-1", final)


def check_public_page(stack: Stack, auction_id: str, final: opb.AuctionResult) -> None:
    anonymous = make_browser()
    try:
        anonymous.get(stack.url(f"/results/{auction_id}"))
        assert text_of(anonymous, "#final-price") == final.final_price
        assert text_of(anonymous, "#imm") == final.initial_market_midpoint
        assert "secret-fund" not in anonymous.page_source
        assert not anonymous.find_elements(By.ID, "signed-in-as")
        screenshot(anonymous, f"results-{auction_id}")
    finally:
        anonymous.quit()
    data = httpx.get(stack.url(f"/results/{auction_id}.json"), timeout=PATIENCE).json()
    assert data["final_price"] == final.final_price and "secret-fund" not in json.dumps(data)


# -- Hertz 2020 through the live server ------------------------------------------------------


def test_hertz_2020_results_page(stack: Stack, browser: webdriver.Chrome) -> None:
    played = subprocess.run(
        [*CLOSEOUT, "cds", "run", str(ROOT / "examples" / "cds" / "hertz_2020.json"),
         "--target", stack.server, "--tokens",
         str(ROOT / "examples" / "server" / "scenario-tokens.toml")],
        env=_env(), capture_output=True, text=True, timeout=PATIENCE * 5, check=False,
    )  # fmt: skip
    assert played.returncode == 0, played.stderr
    browser.get(stack.url("/results/hertz-2020"))
    assert text_of(browser, "#imm") == "25.375"
    assert text_of(browser, "#open-interest") == "111,525,000 to sell"
    assert text_of(browser, "#final-price") == "26.375"
    goldman = [
        row for row in table(browser, "#limit-orders") if row[0] == "Goldman Sachs"
    ]  # the published name
    filled = sum(int(cells[4].replace(",", "")) for cells in goldman)
    final = run(published(stack.server, "hertz-2020"))
    expected = sum(f.filled for f in final.limit_order_fills if f.dealer == "Goldman Sachs")
    assert filled == expected == 39_528_000  # published: Goldman Sachs filled 39.528m
    screenshot(browser, "results-hertz-2020")


def test_a_non_final_auction_has_no_public_page(stack: Stack) -> None:
    run(create(stack.server, "pending-1", [DEALER["a"][0]]))
    for suffix in ("", ".json", ".csv"):
        assert (
            httpx.get(stack.url(f"/results/pending-1{suffix}"), timeout=PATIENCE).status_code == 404
        )
        assert httpx.get(stack.url(f"/results/nope{suffix}"), timeout=PATIENCE).status_code == 404
