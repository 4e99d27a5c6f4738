"""Rich tables and CSV/JSON exports for a default run, from its JSON-shaped result dict.

The offline run (and later the online one) produce the same dict, so both print through
here. Presentation and export formatting only: no clearing or auction rule lives here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console

from clients.tables import Table

INSTRUCTION_COLUMNS = (
    "instruction_id",
    "lot_id",
    "kind",
    "from_account",
    "to_account",
    "currency",
    "amount",
    "position_id",
    "description",
)
_NUMERIC = {
    "requirement",
    "collateral",
    "shortfall",
    "npv",
    "amount",
    "cash",
    "notional",
    "bid",
    "rcv",
    "b*",
    "dv01",
}


def money(value: str | None) -> str:
    """``"-12337.67"`` -> ``"-12,337.67"``; None -> ``"-"``."""
    if value is None:
        return "-"
    whole, _, frac = value.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = f"{int(whole.lstrip('-')):,}"
    return f"{sign}{digits}.{frac}" if frac else f"{sign}{digits}"


def _pct(rate: str) -> str:
    return f"{float(rate) * 100:.5f}%"


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in _NUMERIC else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def render_default_result(result: Mapping[str, Any], console: Console) -> None:
    """Print a default run: margin, default, lots, auctions, settlement, ledger."""
    console.print(
        _table(
            f"Margin run {result['margin_run']['run_id']} ({result['valuation_date']}, "
            f"curve {result['curve_id']})",
            ["member", "requirement", "collateral", "shortfall", "worst scenario"],
            [
                [
                    r["member"],
                    money(r["requirement"]),
                    money(r["collateral"]),
                    money(r["shortfall"]),
                    r["worst_scenario"],
                ]
                for r in result["margin_run"]["rows"]
            ],
        )
    )
    for d in result["defaults"]:
        console.print(
            _table(
                f"Default of {d['member']} ({d['basis']}: {d['reason']})",
                ["position", "npv"],
                [[p["position_id"], money(p["npv"])] for p in d["positions"]],
            )
        )
    for lot in result["lots"]:
        rows = [
            [
                p["position_id"],
                p["defaulted"]["side"].lower(),
                money(p["defaulted"]["notional"]),
                f"{_pct(p['defaulted']['fixed_rate'])} to {p['defaulted']['maturity']}",
                f"{p['standard_tenor']} at {_pct(p['standard']['fixed_rate'])}",
                money(p["rcv"]),
                money(p["implied_bid"]),
                money(p["standard_dv01"]),
            ]
            for p in lot["positions"]
        ]
        table = _table(
            f"Lot {lot['lot_id']} ({lot['currency']} {lot['index']}, {lot['rcv_convention']}): "
            f"RCV {money(lot['rcv'])}, b* {money(lot['implied_bid'])}, DV01 {money(lot['dv01'])}",
            ["position", "side", "notional", "defaulted", "standard", "rcv", "b*", "dv01"],
            rows,
        )
        table.caption = (
            f"{lot['status']}; invited at conversion: {', '.join(lot['eligible'])}; market "
            f"makers: {', '.join(lot['market_makers'])}; hedged: "
            f"{'yes' if lot['hedged'] else 'no'}; FX to {lot['clearing_currency']}: "
            f"{lot['fx_rate']}; auctions: {', '.join(lot['auction_ids']) or 'none'}"
        )
        console.print(table)
    for a in result["auctions"]:
        award = a["award"]
        headline = "no award"
        if award is not None:
            how = {
                "ASSIGNMENT": f"assigned at b* (drawn among {award['pool_kind']}) to",
                "OPERATOR_ASSIGNMENT": f"assigned at b* by the operator ({award['reason']}) to",
            }.get(award["method"], "awarded to")
            headline = f"{how} {award['member']} at {money(award['amount'])} (seed {award['seed']})"
            if award["tie_break"] != "NONE":
                headline += f", tie among {', '.join(award['tied'])} broken by {award['tie_break']}"
        console.print(
            _table(
                f"Auction {a['auction_id']} [{a['phase']}]: {headline}",
                ["member", "bid", "grade"],
                _auction_rows(a),
            )
        )
    if result["settlements"]:
        console.print(
            _table(
                "Settlement",
                ["lot", "method", "member", "amount", "b*", "shortfall", "charged", "uncovered"],
                [
                    [
                        s["lot_id"],
                        s["method"],
                        s["member"],
                        money(s["amount"]),
                        money(s["implied_bid"]),
                        money(s["shortfall"]),
                        money(s["collateral_charge"]),
                        money(s["uncovered"]),
                    ]
                    for s in result["settlements"]
                ],
            )
        )
        console.print(
            _table(
                "Settlement instructions",
                ["id", "kind", "from", "to", "amount", "what"],
                [
                    [
                        i["instruction_id"],
                        i["kind"],
                        i["from_account"],
                        i["to_account"],
                        money(i["amount"]),
                        i["description"],
                    ]
                    for i in result["instructions"]
                ],
            )
        )
    for a in result.get("allocations", []):
        render_allocation(a, console)
    console.print(ledger_table(result["ledger"]))


def render_allocation(a: Mapping[str, Any], console: Console) -> None:
    """A default's netting, waterfall and per-member report (``LossesAllocated`` form)."""
    ccy = a["clearing_currency"]
    console.print(
        _table(
            f"Losses of {a['defaulter']}: net {money(a['net_result'])} {ccy}, loss "
            f"{money(a['loss'])}, surplus to the estate {money(a['surplus'])}, uncovered "
            f"{money(a['uncovered'])}",
            ["layer", "member", "tier", "available", "used"],
            [
                [s["layer"], s["member"], s["tier"] or "", money(s["available"]), money(s["used"])]
                for s in a["steps"]
            ],
        )
    )
    console.print(
        _table(
            f"Per member ({ccy})",
            [
                "member",
                "tier",
                "fund before",
                "fund used",
                "margin used",
                "assessment",
                "surplus",
                "total",
            ],
            [
                [
                    m["member"],
                    m["tier"] or "",
                    money(m["default_fund_before"]),
                    money(m["default_fund_used"]),
                    money(m["collateral_used"]),
                    money(m["assessment"]),
                    money(m["surplus_received"]),
                    money(m["total"]),
                ]
                for m in a["members"]
            ],
        )
    )


def ledger_table(ledger: Mapping[str, Any]) -> Table:
    """The positions ledger: each account's status, cash, collateral and open positions."""
    return _table(
        "Positions ledger",
        ["account", "status", "cash", "collateral", "positions"],
        [
            [
                acc["account"],
                acc["status"],
                money(acc["cash"]),
                money(acc["collateral"]),
                "\n".join(
                    f"{p['position_id']}: {p['side'].lower()} {money(p['notional'])} "
                    f"{p['start']}..{p['maturity']} at {_pct(p['fixed_rate'])}"
                    + (" (external hedge)" if p["external"] else "")
                    for p in acc["positions"]
                )
                or "-",
            ]
            for acc in ledger["accounts"]
        ],
    )


def _auction_rows(auction: Mapping[str, Any]) -> list[list[str]]:
    grades = {g["member"]: g["grade"] for g in auction["grades"]}
    rows = [
        [b["member"], money(b["amount"]), grades.pop(b["member"], "")]
        for b in auction["bids"] or []
    ]
    rows += [[member, "-", grade] for member, grade in grades.items()]
    return rows


def instructions_csv(result: Mapping[str, Any]) -> str:
    """The settlement instructions as CSV (header row, one instruction per line)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=INSTRUCTION_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in result["instructions"]:
        writer.writerow({k: "" if row[k] is None else row[k] for k in INSTRUCTION_COLUMNS})
    return out.getvalue()


def instructions_json(result: Mapping[str, Any]) -> str:
    """The settlement instructions as a JSON array."""
    return json.dumps(result["instructions"], indent=2) + "\n"


def grades_csv(result: Mapping[str, Any]) -> str:
    """Every mandatory member's grade per auction as CSV, for loss allocation."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["auction_id", "lot_id", "member", "grade", "bid", "winning_amount"])
    for a in result["auctions"]:
        won = a["award"]["amount"] if a["award"] else ""
        for g in a["grades"]:
            writer.writerow(
                [a["auction_id"], a["lot_id"], g["member"], g["grade"], g["bid"] or "", won]
            )
    return out.getvalue()
