"""What settling an award moves, as one pure function: positions, cash and collateral.

For a lot of a defaulter D awarded (or assigned) to member W at amount b (cents):

* every converted position leaves D's account and is **taken over by the CCP** (the CCP
  steps into the defaulter's shoes, so each instrument stays balanced across accounts);
* W receives each **standard swap on the defaulted side**, and the CCP books the opposite
  leg, so after settlement the CCP holds defaulted minus standard: the residual (forward
  piece) that the neutralising hedge offsets;
* **cash b** moves from W to the CCP (b < 0: from the CCP to W);
* the **shortfall** against the model, b* - b, is recorded, not charged: the default's
  result is netted over all its lots and allocated once, by the loss waterfall
  (:mod:`matching.process.waterfall`), so a surplus on one lot offsets a shortfall on another.
  ``collateral_charge`` and ``uncovered`` are always 0 (kept for the journal and wire shape).

Every move is a settlement instruction between two accounts, so cash is conserved (its sum
over all accounts does not change) and so is every instrument's notional. No I/O, no state:
the clearing house applies the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matching.clearing.model import CCP, Position, SwapTerms
from matching.default.cash import cents_text
from matching.default.lot import Lot


@dataclass(frozen=True, slots=True)
class Instruction:
    """One settlement instruction: ``kind`` CASH, COLLATERAL or POSITION between accounts."""

    instruction_id: str
    lot_id: str
    kind: str
    from_account: str
    to_account: str
    currency: str
    amount: int | None
    position_id: str | None
    description: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form (amount as a two-decimal string, None for POSITION)."""
        return {
            "instruction_id": self.instruction_id,
            "lot_id": self.lot_id,
            "kind": self.kind,
            "from_account": self.from_account,
            "to_account": self.to_account,
            "currency": self.currency,
            "amount": None if self.amount is None else cents_text(self.amount),
            "position_id": self.position_id,
            "description": self.description,
        }


@dataclass(frozen=True, slots=True)
class SettlementPlan:
    """Everything a settlement changes; ``instructions`` in the order they are to be made."""

    lot_id: str
    member: str
    amount: int
    implied_bid: int
    shortfall: int
    collateral_charge: int
    uncovered: int
    instructions: tuple[Instruction, ...]
    closed_positions: tuple[str, ...]
    new_positions: tuple[Position, ...]


def plan_settlement(lot: Lot, *, member: str, amount: int, method: str) -> SettlementPlan:
    """The moves that settle ``lot`` with ``member`` paying ``amount`` cents (``method``
    AWARD, ASSIGNMENT or OPERATOR_ASSIGNMENT)."""
    lot_id, d, ccy = lot.lot_id, lot.defaulter, lot.currency
    out: list[Instruction] = []
    closed: list[str] = []
    new: list[Position] = []

    def add(kind: str, src: str, dst: str, value: int | None, pid: str | None, text: str) -> None:
        out.append(
            Instruction(f"{lot_id}/{len(out) + 1}", lot_id, kind, src, dst, ccy, value, pid, text)
        )

    for p in lot.positions:
        taken = f"{p.position_id}@{CCP}"
        closed.append(p.position_id)
        new.append(Position(taken, CCP, p.defaulted, f"taken over from {d} ({lot_id})"))
        add("POSITION", d, CCP, None, p.position_id, f"defaulted position taken over as {taken}")
        std: SwapTerms = p.standard
        won = f"{lot_id}/{p.position_id}/{member}"
        new.append(Position(won, member, std, f"{method.lower().replace('_', ' ')} of {lot_id}"))
        new.append(Position(f"{lot_id}/{p.position_id}/{CCP}", CCP, std.flipped(), f"facing {won}"))
        add(
            "POSITION",
            CCP,
            member,
            None,
            won,
            f"standard {p.standard_tenor} {std.side.value.lower()} {std.notional} at "
            f"{std.fixed_rate}, {std.start} to {std.maturity}",
        )
    if amount > 0:
        add(
            "CASH",
            member,
            CCP,
            amount,
            None,
            f"{method.lower().replace('_', ' ')} price paid for {lot_id}",
        )
    elif amount < 0:
        add(
            "CASH",
            CCP,
            member,
            -amount,
            None,
            f"{method.lower().replace('_', ' ')} price paid for {lot_id}",
        )
    shortfall = lot.implied_bid - amount
    return SettlementPlan(
        lot_id=lot_id,
        member=member,
        amount=amount,
        implied_bid=lot.implied_bid,
        shortfall=shortfall,
        collateral_charge=0,
        uncovered=0,
        instructions=tuple(out),
        closed_positions=tuple(closed),
        new_positions=tuple(new),
    )
