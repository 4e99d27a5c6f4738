"""Rich tables for auction results, from the JSON-shaped result dict.

Both the offline replay and the online run produce the same dict (``AuctionResult.to_dict``
shape), so both print through here and look identical. Presentation only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in columns:
        numeric = col in {"bid", "offer", "price", "size", "filled", "amount", "effective"}
        table.add_column(col, justify="right" if numeric else "left")
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
