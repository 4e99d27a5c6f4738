"""Default management in a real browser against real ``closeout serve`` (default.toml) and
``closeout console`` processes: the margin run with its shortfall, the defaulter, the lot
with RCV, b*, DV01 and invitees, the sealed bid window showing who bid and never an amount,
the award and settlement done from the browser, the settlement instructions, and the loss
waterfall once allocated, every figure checked against the server's own answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver

from clients.default_online import MARGIN_RUN, load_state, load_tokens
from clients.default_scenario import load_default_scenario
from clients.default_sdk import ClearingClient, MemberClient, market_to_proto
from tests.console.conftest import DEFAULTS, ROOT, Stack, screenshot, start_stack
from tests.console.test_browser import (
    confirm_click,
    run,
    sign_in,
    table,
    text_of,
    wait,
    wait_text,
)

TOKENS = load_tokens(ROOT / "examples" / "server" / "default-tokens.toml")
OPS = TOKENS.operator_token
BASIC = load_default_scenario(ROOT / "examples" / "default" / "basic.json")
MARKET = market_to_proto(BASIC.market or {})
LOT = "Dealer-D-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory.mktemp("default-stack"), DEFAULTS)


async def open_lot(server: str) -> None:
    async with ClearingClient(server, OPS) as ops:
        await load_state(ops, BASIC)
        await ops.run_margin(MARGIN_RUN, MARKET)
        await ops.declare_default("Dealer-D", market=MARKET)
        await ops.convert("Dealer-D", MARKET, hedge=True)
        await ops.create_auction(LOT, grading_threshold="2500")
        await ops.open_window(LOT)


async def bid(server: str, member: str, amount: str) -> None:
    async with MemberClient(server, TOKENS.members[member]) as client:
        await client.submit_bid(LOT, "b-1", amount)


def test_a_default_from_margin_call_to_loss_waterfall(
    stack: Stack, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    run(open_lot(stack.server))
    run(bid(stack.server, "MM-1", "12200.00"))
    run(bid(stack.server, "Bank-A", "12050"))
    sign_in(browser, stack, OPS)
    # the sign-in form posts and redirects; leaving before it lands would load /default unsigned
    wait(browser).until(lambda d: "/login" not in d.current_url)
    browser.get(stack.url("/default"))
    short = [row for row in table(browser, "#margin-run") if row[3] != "0.00"]
    assert [row[0] for row in short] == ["Dealer-D"]
    assert [row[0] for row in table(browser, "#defaulters")] == ["Dealer-D"]

    async def lot() -> tuple[str, str, str, list[str]]:
        async with ClearingClient(stack.server, OPS) as ops:
            [found] = await ops.lots()
            t = found.terms
            return t.rcv, t.implied_bid, t.dv01, list(found.eligible)

    rcv, implied, dv01, eligible = run(lot())
    [lot_row] = table(browser, "#lots")
    assert lot_row[0] == LOT and lot_row[4] == "12,337.67" and implied == "12337.67"
    assert lot_row[3] == "-12,337.67" and rcv == "-12337.67"
    assert lot_row[6] == ", ".join(eligible)
    [auction_row] = table(browser, "#default-auctions")
    assert auction_row[2] == "OPEN" and auction_row[4] == "Bank-A, MM-1"
    screenshot(browser, "default-overview")

    # The sealed window: who bid, never how much.
    browser.get(stack.url(f"/default/{LOT}"))
    assert text_of(browser, "#implied-bid") == "12,337.67"
    assert text_of(browser, "#dv01").replace(",", "") == dv01
    invitees = {row[0]: row[3] for row in table(browser, "#invitees")}
    assert invitees == {m: ("bid in" if m in ("Bank-A", "MM-1") else "—") for m in eligible}
    for sealed in ("12,200", "12200", "12,050", "12050"):
        assert sealed not in browser.page_source
    screenshot(browser, "default-sealed-window")

    # Close, award and settle from the browser.
    confirm_click(browser, "close-lot")
    wait_text(browser, "#phase", "CLOSED")
    confirm_click(browser, "award-lot")
    wait_text(browser, "#phase", "AWARDED")
    assert text_of(browser, "#award-member") == "MM-1"
    assert text_of(browser, "#award-amount") == "12,200.00"
    confirm_click(browser, "settle-lot")
    wait_text(browser, "#phase", "SETTLED")

    async def instructions() -> list[tuple[str, str, str]]:
        async with ClearingClient(stack.server, OPS) as ops:
            made = await ops.instructions(LOT)
            return [(i.instruction_id, i.from_account, i.to_account) for i in made]

    shown = [(row[0], row[2], row[3]) for row in table(browser, "#instructions")]
    assert shown == run(instructions()) and shown
    screenshot(browser, "default-settled")

    # The loss waterfall as the server allocated it.
    async def allocate() -> dict[str, str]:
        async with ClearingClient(stack.server, OPS) as ops:
            allocation = (await ops.allocate_losses("Dealer-D")).allocation
            return {m.member_id: m.total for m in allocation.members}

    totals = run(allocate())
    browser.get(stack.url("/default"))
    reports = {row[0]: row[7].replace(",", "") for row in table(browser, "#loss-reports-Dealer-D")}
    assert reports == totals and "Dealer-D" in reports
    screenshot(browser, "default-waterfall")
