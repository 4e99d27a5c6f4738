"""Rich tables for auction results, from the JSON-shaped result dict.

Both the offline replay and the online run produce the same dict (``AuctionResult.to_dict``
shape), so both print through here and look identical. Presentation only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console

from clients.tables import Table


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        numeric = col in {"bid", "offer", "price", "size", "filled", "amount", "effective"}
        table.add_column(col, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def _money(value: str | None) -> str:
    if value is None:
        return "-"
    whole, _, frac = value.partition(".")
    sign = "-" if whole.startswith("-") else ""
    digits = f"{int(whole.lstrip('-')):,}"
    return f"{sign}{digits}.{frac}" if frac else f"{sign}{digits}"


def render_cds_result(result: Mapping[str, Any], console: Console) -> None:
    """Print a CDS auction result as a summary and one table per section."""
    oi = result["open_interest"]
    summary = _table(
        f"Auction {result['auction_id']} ({result['currency']})",
        ["item", "value"],
        [
            [
                "status",
                result["status"] + (f": {result['reason']}" if result.get("reason") else ""),
            ],
            ["initial market midpoint", result["initial_market_midpoint"] or "-"],
            [
                "open interest",
                f"{_money(oi['size'])} {oi['side']}" if oi["side"] != "NONE" else "0",
            ],
            ["final price", result["final_price"] or "-"],
        ],
    )
    console.print(summary)
    if result["matched_markets"]:
        console.print(
            _table(
                "Matched markets",
                ["#", "bid dealer", "bid", "offer", "offer dealer", "tradeable", "best half"],
                [
                    [
                        str(i + 1),
                        m["bid_dealer"],
                        m["bid"],
                        m["offer"],
                        m["offer_dealer"],
                        "yes" if m["tradeable"] else "",
                        "yes" if m["in_best_half"] else "",
                    ]
                    for i, m in enumerate(result["matched_markets"])
                ],
            )
        )
    if result["adjustment_amounts"]:
        console.print(
            _table(
                "Adjustment amounts",
                ["dealer", "amount"],
                [[a["dealer"], _money(a["amount"])] for a in result["adjustment_amounts"]],
            )
        )
    if result["market_position_trades"]:
        console.print(
            _table(
                "Market position trades (physical settlement requests)",
                ["dealer", "customer", "side", "price", "size", "filled"],
                [
                    [
                        t["dealer"],
                        t["customer"] or "",
                        t["side"],
                        t["price"],
                        _money(t["size"]),
                        _money(t["filled"]),
                    ]
                    for t in result["market_position_trades"]
                ],
            )
        )
    if result["limit_order_fills"]:
        console.print(
            _table(
                "Limit orders",
                ["dealer", "order", "side", "price", "effective", "size", "filled", "status"],
                [
                    [
                        f["dealer"],
                        "initial market" if f["carried_over"] else f["order_id"],
                        f["side"],
                        f["price"],
                        f["effective_price"],
                        _money(f["size"]),
                        _money(f["filled"]),
                        f["status"],
                    ]
                    for f in result["limit_order_fills"]
                ],
            )
        )

    if any(v != "0" for v in result.get("residue", {}).values()):
        residue = result["residue"]
        console.print(
            f"Rounding Convention residue (below one rounding amount of "
            f"{_money(result['rounding_amount'])}, not allocated): limit orders "
            f"{_money(residue['limit_orders'])}, settlement requests "
            f"{_money(residue['settlement_requests'])}",
            highlight=False,
        )
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "Settlement requests that do not count",
            ["dealer", "customer", "side", "size", "reason"],
            [
                [r["dealer"], r["customer"] or "", r["side"], _money(r["size"]), r["reason"]]
                for r in result.get("invalid_settlement_requests", [])
            ],
        ),
        (
            "Limit orders that do not count",
            ["dealer", "customer", "price", "size", "reason"],
            [
                [o["dealer"], o["customer"] or "", o["price"], _money(o["size"]), o["reason"]]
                for o in result.get("excluded_limit_orders", [])
            ],
        ),
        (
            "Initial bidding periods",
            ["#", "closed at", "outcome"],
            [
                [str(p["attempt"]), p["closed_at"], p["failure"] or "valid"]
                for p in result.get("initial_bidding_periods", [])
            ]
            if len(result.get("initial_bidding_periods", [])) > 1
            else [],
        ),
        (
            "Customer requests declined",
            ["dealer", "customer", "kind", "side", "size", "price", "reason"],
            [
                [
                    d["dealer"],
                    d["customer"],
                    d["kind"],
                    d["side"],
                    _money(d["size"]),
                    d["price"] or "",
                    d["reason"],
                ]
                for d in result.get("customer_declines", [])
            ],
        ),
    ]
    for title, columns, rows in sections:
        if rows:
            console.print(_table(title, columns, rows))


def render_public_result(result: Mapping[str, Any], console: Console) -> None:
    """Print public results (creditfixings shape) as a summary and one table per section."""
    oi = result["open_interest"]
    console.print(
        _table(
            f"Auction {result['auction_id']} ({result['currency']}): public results",
            ["item", "value"],
            [
                [
                    "status",
                    result["status"] + (f": {result['reason']}" if result.get("reason") else ""),
                ],
                ["initial market midpoint", result["initial_market_midpoint"] or "-"],
                [
                    "open interest",
                    f"{_money(oi['size'])} {oi['side']}" if oi["side"] != "NONE" else "0",
                ],
                ["final price", result["final_price"] or "-"],
                ["final price date", result["final_price_date"] or "-"],
            ],
        )
    )
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "Initial markets",
            ["dealer", "bid", "offer"],
            [[m["dealer"], m["bid"], m["offer"]] for m in result["initial_markets"]],
        ),
        (
            "Adjustment amounts",
            ["dealer", "amount", "payment date"],
            [
                [a["dealer"], _money(a["amount"]), a["payment_date"] or "-"]
                for a in result["adjustment_amounts"]
            ],
        ),
        (
            "Physical settlement requests",
            ["dealer", "side", "size"],
            [
                [r["dealer"], r["side"], _money(r["size"])]
                for r in result["physical_settlement_requests"]
            ],
        ),
        (
            "Limit orders",
            ["dealer", "side", "price", "size", "filled", "status"],
            [
                [
                    o["dealer"] + (" (initial market)" if o["from_initial_market"] else ""),
                    o["side"],
                    o["price"],
                    _money(o["size"]),
                    _money(o["filled"]),
                    o["status"],
                ]
                for o in result["limit_orders"]
            ],
        ),
    ]
    for title, columns, rows in sections:
        if rows:
            console.print(_table(title, columns, rows))


def public_csv(results: Sequence[Mapping[str, Any]]) -> str:
    """Public results as one CSV table (a ``section`` column per kind of row)."""
    import csv
    import io

    from matching.cds.publication import CSV_COLUMNS, public_csv_rows

    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for result in results:
        writer.writerows(public_csv_rows(dict(result)))
    return buffer.getvalue()
