"""After the final price: public results in the creditfixings shape (payment date T+3
business days, no customers), settlement statements, cash settlement; auction sets; reruns
of the initial bidding period and cancellation with the fallback; published dealer names."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clients.cli import app
from clients.replay import run_offline, run_set_offline
from clients.scenario import (
    ScenarioError,
    assign_ids,
    dealer_id,
    load_scenario,
    parse_auction_set,
    parse_scenario,
)
from matching.cds.auction import CdsAuction, Schedule
from matching.cds.auction_set import AuctionOfSet, plan_auction_set
from matching.cds.params import AuctionParams
from matching.cds.phases import Phase
from matching.cds.publication import public_result, public_set
from matching.cds.settlement import cash_settlement, settlement_statement
from matching.errors import InvalidInput, InvalidTransition
from tests.cds.builders import T0, Driver

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def hertz() -> CdsAuction:
    replay = run_offline(load_scenario(ROOT / "examples" / "cds" / "hertz_2020.json"))
    assert replay.auction is not None
    return replay.auction


def test_public_results_of_hertz_in_the_creditfixings_shape() -> None:
    pub = public_result(hertz()).to_dict()
    assert (pub["initial_market_midpoint"], pub["final_price"]) == ("25.375", "26.375")
    assert pub["open_interest"] == {"side": "SELL", "size": "111525000"}
    assert len(pub["initial_markets"]) == 10
    # adjustment amounts are paid on the third business day after 2020-06-24 (a Wednesday)
    assert pub["final_price_date"] == "2020-06-24"
    assert {(a["dealer"], a["amount"], a["payment_date"]) for a in pub["adjustment_amounts"]} == {
        ("Citigroup", "12500", "2020-06-29"),
        ("Credit Suisse", "12500", "2020-06-29"),
        ("Deutsche Bank", "12500", "2020-06-29"),
        ("RBC Capital Markets", "2500", "2020-06-29"),
    }
    # one net request per dealer: Goldman's own and its customers' together
    gs = [r for r in pub["physical_settlement_requests"] if r["dealer"] == "Goldman Sachs"]
    assert gs == [{"dealer": "Goldman Sachs", "side": "SELL", "size": "140000000"}]
    at_cap = [
        o for o in pub["limit_orders"] if o["dealer"] == "Goldman Sachs" and o["price"] == "26.375"
    ]
    assert [(o["size"], o["filled"], o["status"]) for o in at_cap] == [
        ("42000000", "39528000", "PARTIAL")
    ]
    # published results never name a customer, nor a client order id
    text = json.dumps(pub)
    assert "GS-CUSTOMER" not in text and "order-" not in text and "customer" not in text


def test_payment_date_skips_holidays_of_the_auction_calendar() -> None:
    d = Driver("ABCD", calendar="NewYork")
    d.clock = datetime(2026, 11, 24, 9, tzinfo=UTC)  # Tuesday before Thanksgiving
    four = [("A", "39.5", "40.5"), ("B", "39.5", "40.5"), ("C", "41", "42"), ("D", "39.5", "40.5")]
    d.stage1(four, [("A", "SELL", 1_000_000)])
    d.open2()
    d.close2()
    pub = public_result(d.auction).to_dict()
    assert [a["dealer"] for a in pub["adjustment_amounts"]] == ["C"]  # 41 bid above IMM 40
    assert pub["final_price_date"] == "2026-11-24"
    # Wed 25, (Thu 26 Thanksgiving), Fri 27, Mon 30
    assert {a["payment_date"] for a in pub["adjustment_amounts"]} == {"2026-11-30"}


def test_public_results_csv_has_one_row_per_published_item() -> None:
    result = runner.invoke(
        app, ["cds", "run", str(ROOT / "examples/cds/hertz_2020.json"), "--public", "--csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    sections = {r["section"] for r in rows}
    assert sections == {
        "status",
        "initial_market_midpoint",
        "open_interest",
        "final_price",
        "initial_market",
        "adjustment_amount",
        "physical_settlement_request",
        "limit_order",
    }
    assert sum(r["section"] == "initial_market" for r in rows) == 10
    assert "GS-CUSTOMER" not in result.stdout


def test_settlement_statement_at_the_final_price() -> None:
    auction = hertz()
    gs = settlement_statement(auction, "goldman-sachs")
    assert gs.dealer == "Goldman Sachs" and gs.final_price == "26.375"
    # Goldman sells its 140m request's bonds and buys 39.528m through its cap order
    sells = [x for x in gs.lines if x.direction == "SELL"]
    buys = [x for x in gs.lines if x.direction == "BUY"]
    assert [(x.kind, x.size, x.cash) for x in sells] == [
        ("MARKET_POSITION_TRADE", "140000000", "36925000")
    ]
    assert [(x.kind, x.size, x.cash) for x in buys] == [("LIMIT_ORDER", "39528000", "10425510")]
    assert (gs.cash_received, gs.cash_paid, gs.net_cash) == ("36925000", "10425510", "26499490")
    citi = settlement_statement(auction, "citigroup")
    assert (citi.adjustment_amount, citi.adjustment_payment_date) == ("12500", "2020-06-29")


def test_settlement_statement_needs_a_final_price_and_a_panel_dealer() -> None:
    d = Driver("ABCD")
    d.open1()
    with pytest.raises(InvalidTransition):
        settlement_statement(d.auction, "A")
    with pytest.raises(InvalidInput):
        settlement_statement(hertz(), "nobody")


@pytest.mark.parametrize(
    ("notional", "final", "owed"),
    [
        ("10000000", "26.375", "7362500"),
        ("10000000", "104.25", "0"),  # above par settles as 100
        ("10000000", "100", "0"),
        ("10000000", "0", "10000000"),
        ("1000001", "91.125", "88750.08875"),  # exact, never rounded
    ],
)
def test_cash_settlement(notional: str, final: str, owed: str) -> None:
    assert cash_settlement(notional, final) == owed


def test_cash_settlement_refuses_negative_and_float_inputs() -> None:
    with pytest.raises(InvalidInput, match="notional"):
        cash_settlement("-1", "40")
    with pytest.raises(InvalidInput, match="final_price"):
        cash_settlement("1", 40.5)  # type: ignore[arg-type]


def test_cash_settlement_command() -> None:
    result = runner.invoke(
        app, ["cds", "cash-settlement", "--final-price", "26.375", "--notional", "10000000"]
    )
    assert result.exit_code == 0, result.output
    assert "7362500" in result.stdout.replace(",", "")
    bad = runner.invoke(app, ["cds", "cash-settlement", "--final-price", "x", "--notional", "1"])
    assert bad.exit_code == 2 and "final_price" in bad.stderr


# -- reruns of the initial bidding period --------------------------------------------------


def failing(**kw: object) -> Driver:
    return Driver("ABCD", min_valid_submissions=4, **kw)  # type: ignore[arg-type]


def test_too_few_markets_reruns_the_initial_bidding_period_with_fresh_submissions() -> None:
    d = failing()
    d.stage1([("A", "39.5", "40.5"), ("B", "39.5", "40.5")], [("A", "SELL", 1_000_000)])
    a = d.auction
    assert (a.phase, a.attempt, a.markets, a.requests) == (Phase.SCHEDULED, 2, {}, {})
    assert a.next_timer() is None  # a rerun is opened by an operator
    four = [("A", "39.5", "40.5"), ("B", "39.5", "40.5"), ("C", "39.5", "40.5"), ("D", "40", "41")]
    d.stage1(four, [("B", "BUY", 2_000_000)])
    r = a.result()
    assert a.phase is Phase.STAGE1_CLOSED and r.open_interest_size == "2000000"
    assert [(p.attempt, p.failure) for p in r.bidding_periods] == [
        (1, "2 valid initial market(s), fewer than the minimum of 4"),
        (2, None),
    ]
    assert CdsAuction.from_events(d.events).snapshot() == a.snapshot()


def test_reruns_run_out_and_the_auction_is_cancelled_naming_the_fallback() -> None:
    d = failing(fallback_settlement_method="Physical Settlement")
    for _ in range(3):
        d.stage1([("A", "39.5", "40.5")])
    r = d.auction.result()
    assert d.auction.phase is Phase.CANCELLED
    assert r.reason is not None and "fallback settlement method applies: Physical Settlement" in (
        r.reason
    )
    assert [p.attempt for p in r.bidding_periods] == [1, 2, 3]


def test_a_rerun_opens_on_the_auction_date_or_the_next_two_business_days() -> None:
    d = failing(auction_date="2026-11-20", calendar="NewYork")  # a Friday
    d.clock = datetime(2026, 11, 20, 9, tzinfo=UTC)
    d.stage1([("A", "39.5", "40.5")])
    d.clock = datetime(2026, 11, 25, 9, tzinfo=UTC)  # Mon 23 and Tue 24 were the two days
    with pytest.raises(InvalidTransition, match="between 2026-11-20 and 2026-11-24"):
        d.auction.open_stage1(by="ops", now=d.now())
    d.clock = datetime(2026, 11, 24, 9, tzinfo=UTC)
    d.open1()
    assert d.auction.phase is Phase.STAGE1_OPEN


# -- published dealer names -----------------------------------------------------------------


NAMES = [
    "Bank of America / Merrill Lynch",
    "Société Générale",
    "Morgan Stanley & Co. International plc",
    "J.P. Morgan Securities LLC",
]


def test_dealer_names_as_published_run_offline_with_safe_ids() -> None:
    doc = {
        "auction": {"id": "names", "quotation_amount": "2000000", "max_spread": "2"},
        "initial_markets": [{"dealer": n, "bid": "39.5", "offer": "40.5"} for n in NAMES],
        "physical_settlement_requests": [{"dealer": NAMES[0], "side": "SELL", "size": "3000000"}],
        "limit_orders": [{"dealer": NAMES[1], "side": "BID", "price": "40", "size": "1000000"}],
    }
    replay = run_offline(parse_scenario(json.dumps(doc)))
    out = replay.result.to_dict()
    assert {m["bid_dealer"] for m in out["matched_markets"]} == set(NAMES)
    filled = [f for f in out["limit_order_fills"] if not f["carried_over"]]
    assert filled[0]["dealer"] == "Société Générale"
    assert filled[0]["order_id"] == "societe-generale/order-0"
    assert replay.auction is not None
    assert sorted(replay.auction.panel) == sorted(
        [
            "bank-of-america-merrill-lynch",
            "societe-generale",
            "morgan-stanley-co-international-plc",
            "j-p-morgan-securities-llc",
        ]
    )
    assert (
        public_result(replay.auction).to_dict()["physical_settlement_requests"][0]["dealer"]
        == NAMES[0]
    )


def test_names_that_make_the_same_id_get_distinct_ids() -> None:
    assert dealer_id("Crédit Agricole") == "credit-agricole"
    assert dealer_id("!!!") == "dealer"
    assert assign_ids(["A.B", "A B", "a-b"]) == {"A.B": "a-b", "A B": "a-b-2", "a-b": "a-b-3"}


def test_engine_refuses_bad_or_duplicate_published_names() -> None:
    params = AuctionParams.build(auction_id="x", quotation_amount="2000000", max_spread="2")
    now = datetime(2026, 1, 5, tzinfo=UTC)

    def create(names: dict[str, str]) -> None:
        CdsAuction.create(
            params=params,
            panel=["a", "b"],
            schedule=Schedule(),
            by="o",
            now=now,
            dealer_names=names,
        )

    create({"a": "Bank of America / Merrill Lynch", "b": "Société Générale"})
    with pytest.raises(InvalidInput, match="also the name of a"):
        create({"a": "Citi", "b": "CITI"})
    with pytest.raises(InvalidInput, match="not on the panel"):
        create({"z": "Zed"})
    with pytest.raises(InvalidInput, match="printable"):
        create({"a": "tab\\there".replace("\\t", "\t")})


@pytest.mark.parametrize(
    "mutation",
    [
        {"auction": []},
        {"auction": {"id": 5, "quotation_amount": "1", "max_spread": "2"}},
        {"initial_markets": "none"},
        {"initial_markets": [{"dealer": 7, "bid": "1", "offer": "2"}]},
        {"initial_markets": [{"dealer": "", "bid": "1", "offer": "2"}]},
        {"initial_markets": [{"dealer": "A", "bid": 1.5e3, "offer": "2"}]},
        {"initial_markets": [{"dealer": "A", "bid": True, "offer": "2"}]},
        {
            "physical_settlement_requests": [{"dealer": "A", "side": "SELL", "size": "1"}],
            "limit_orders": [{"dealer": "A", "side": "BID", "price": "40", "size": "1.5"}],
        },
        {"reruns": {"initial_markets": []}},
        {"reruns": [{"initial_markets": [{"dealer": "A"}]}]},
        {"customer_declines": [{"dealer": "A", "customer": "L", "kind": "PSR"}]},
        {"auction": {"id": "x", "quotation_amount": "2000000", "max_spread": "2", "date": "x"}},
        {
            "auction": {
                "id": "x",
                "quotation_amount": "2000000",
                "max_spread": "2",
                "currency": "GBP",
            }
        },
        {
            "auction": {
                "id": "x",
                "quotation_amount": "2000000",
                "max_spread": "2",
                "calendar": "Mars",
            }
        },
        {"physical_settlement_requests": [{"dealer": "A", "side": "SELL", "size": "-5"}]},
    ],
)
def test_no_bad_scenario_ends_in_a_traceback(mutation: dict[str, object], tmp_path: Path) -> None:
    doc: dict[str, object] = {
        "auction": {"id": "x", "quotation_amount": "2000000", "max_spread": "2"},
        "initial_markets": [{"dealer": "A", "bid": "40", "offer": "41"}],
        **mutation,
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    result = runner.invoke(app, ["cds", "run", str(path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("scenario refused ")


# -- auction sets ---------------------------------------------------------------------------


def test_an_auction_set_shares_panel_names_and_rates_and_is_published_together() -> None:
    now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    senior = AuctionParams.build(auction_id="x-snr", quotation_amount="2000000", max_spread="2")
    sub = AuctionParams.build(
        auction_id="x-sub",
        currency="EUR",
        quotation_amount="1000000",
        max_spread="3",
        cap_amount="1",
    )
    decisions = plan_auction_set(
        set_id="x-2026",
        terms="2026 X Corp CDS Auction Settlement Terms",
        panel=["a", "b", "c"],
        dealer_names={"a": "Bank of America / Merrill Lynch"},
        currency_rates={"EUR": "1.0825", "USD": "1"},
        auctions=[AuctionOfSet(senior, "Senior"), AuctionOfSet(sub, "Subordinated")],
        schedule=Schedule(),
        by="ops",
        now=now,
    )
    auctions = [CdsAuction.from_events(d.events) for d in decisions]
    for a in auctions:
        assert a.panel == frozenset({"a", "b", "c"})
        assert a.name_of("a") == "Bank of America / Merrill Lynch"
        assert a.auction_set is not None
        assert a.auction_set["currency_rates"] == {"EUR": "1.0825", "USD": "1"}
        assert a.auction_set["auctions"] == ["x-snr", "x-sub"]
    assert [p.auction_set for p in public_set(reversed(auctions))] == ["x-2026", "x-2026"]
    assert [p.auction_id for p in public_set(reversed(auctions))] == ["x-snr", "x-sub"]
    with pytest.raises(InvalidInput, match="need a rate"):
        plan_auction_set(
            set_id="y",
            terms="",
            panel=["a"],
            dealer_names={},
            currency_rates={"EUR": "1.1"},
            auctions=[AuctionOfSet(senior), AuctionOfSet(sub)],
            schedule=Schedule(),
            by="ops",
            now=now,
        )
    with pytest.raises(InvalidInput, match="must be positive"):
        plan_auction_set(
            set_id="y",
            terms="",
            panel=["a"],
            dealer_names={},
            currency_rates={"EUR": "0"},
            auctions=[AuctionOfSet(senior)],
            schedule=Schedule(),
            by="ops",
            now=now,
        )


def test_scenario_reruns_are_played_in_turn() -> None:
    doc = {
        "auction": {
            "id": "rerun",
            "quotation_amount": "2000000",
            "max_spread": "2",
            "min_valid_submissions": 2,
            "date": str(date(2026, 3, 2)),
        },
        "initial_markets": [{"dealer": "A", "bid": "40", "offer": "41"}],
        "reruns": [
            {
                "initial_markets": [
                    {"dealer": "A", "bid": "40", "offer": "41"},
                    {"dealer": "B", "bid": "40", "offer": "41"},
                ]
            },
            {"initial_markets": []},
        ],
    }
    replay = run_offline(parse_scenario(json.dumps(doc)))
    assert replay.result.status == "FINAL"
    assert [p.attempt for p in replay.result.bidding_periods] == [1, 2]
    assert replay.notes == ["1 rerun(s) in the scenario were not needed"]
    with pytest.raises(ScenarioError) as info:
        run_offline(
            parse_scenario(
                json.dumps(
                    {
                        **doc,
                        "reruns": [
                            {"initial_markets": [{"dealer": "A", "bid": "40", "offer": "45"}]}
                        ],
                    }
                )
            )
        )
    assert info.value.where == "reruns[0].initial_markets[0] (A)"


def test_a_rerun_is_run_by_hand_whatever_the_first_schedule_said() -> None:
    t0 = T0 + timedelta(days=59)  # within a year of the auction's creation (at T0)
    schedule = Schedule(
        stage1_open=t0, stage1_close=t0.replace(minute=30), stage2_open=t0.replace(hour=11)
    )
    d = Driver("ABCD", schedule=schedule, min_valid_submissions=2)
    d.clock = t0
    d.open1()
    d.market("A", "39.5", "40.5")
    d.clock = t0.replace(minute=30)
    d.close1()
    assert d.auction.phase is Phase.SCHEDULED
    assert d.auction.next_timer() is None  # the scheduler does not reopen or close it
    d.clock = t0.replace(hour=10)  # after the first period's close
    d.open1()
    d.market("A", "39.5", "40.5")
    d.market("B", "39.5", "40.5")  # accepted: the old close does not apply
    d.close1()
    assert d.auction.phase.value == "FINAL"


def test_auction_set_scenario_runs_every_auction_and_publishes_them_together() -> None:
    path = ROOT / "examples" / "cds" / "auction_set.json"
    result = runner.invoke(app, ["cds", "run", str(path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["auction_set"] == "example-corp-2026"
    assert [(a["auction_id"], a["final_price"]) for a in out["auctions"]] == [
        ("example-corp-2026-senior", "40.25"),
        ("example-corp-2026-subordinated", "12"),
    ]
    published = runner.invoke(app, ["cds", "run", str(path), "--public", "--json"])
    assert published.exit_code == 0, published.output
    both = json.loads(published.stdout)
    assert [p["auction_set"] for p in both] == ["example-corp-2026"] * 2
    assert {p["currency"] for p in both} == {"USD", "EUR"}


def test_auction_set_scenario_refusals_name_the_auction() -> None:
    doc = json.loads((ROOT / "examples" / "cds" / "auction_set.json").read_text())
    doc["auctions"][1]["initial_markets"][0]["bid"] = "11.1"
    with pytest.raises(ScenarioError) as info:
        run_set_offline(parse_auction_set(json.dumps(doc)))
    assert info.value.where == "auctions[1].initial_markets[0] (Barclays)"
    doc = json.loads((ROOT / "examples" / "cds" / "auction_set.json").read_text())
    doc["auction_set"]["currency_rates"] = {"USD": "1"}
    with pytest.raises(ScenarioError, match="need a rate"):
        run_set_offline(parse_auction_set(json.dumps(doc)))
