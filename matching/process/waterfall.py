"""Netting a default's lots and allocating the loss through the default waterfall.

The result of a default is netted over all its settled lots (each lot's ``amount - b*``,
converted into the clearing currency). A **loss** is consumed layer by layer, each layer
used only once the ones before it are exhausted:

1. the defaulter's margin (its collateral left);
2. the defaulter's default-fund contribution;
3. the clearing house's own tranche ("skin in the game");
4. the surviving members' default-fund contributions, **juniorised** by auction behaviour:
   tier NO_BID first, then SHORT, then SENIOR (competitive, winners, members not obliged to
   bid); pro rata to contributions within a tier (exact cents, ``matching.allocation``);
5. assessments on the survivors, each capped at ``assessment_multiple`` times its
   contribution (rounded down to the cent), pro rata to the caps;
6. what is left is ``uncovered``.

A **surplus** (the auctions fetched more than b* in total) goes back to the defaulter's
estate. Every figure is an integer number of cents; the parts always add up exactly to the
loss. No I/O, no state: a function of its inputs.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from matching.allocation import Claim, pro_rata
from matching.default.cash import cents_text, to_cents
from matching.errors import InvalidInput
from matching.money import DecimalLike, parse_decimal


class Tier(enum.Enum):
    """A survivor's place in the queue for its contribution: NO_BID is used first."""

    NO_BID = "NO_BID"
    SHORT = "SHORT"
    SENIOR = "SENIOR"


TIER_ORDER = (Tier.NO_BID, Tier.SHORT, Tier.SENIOR)


class Layer(enum.Enum):
    """A layer of the waterfall, in the order it is used."""

    DEFAULTER_MARGIN = "DEFAULTER_MARGIN"
    DEFAULTER_DEFAULT_FUND = "DEFAULTER_DEFAULT_FUND"
    CCP_TRANCHE = "CCP_TRANCHE"
    SURVIVOR_DEFAULT_FUND = "SURVIVOR_DEFAULT_FUND"
    ASSESSMENT = "ASSESSMENT"
    UNCOVERED = "UNCOVERED"
    SURPLUS_TO_ESTATE = "SURPLUS_TO_ESTATE"


def tier_of(grades: Iterable[str]) -> Tier:
    """A survivor's tier from its grades over the default's auctions: the worst one counts
    (any NO_BID -> NO_BID; else any SHORT -> SHORT; else SENIOR, also with no grade)."""
    seen = set(grades)
    if "NO_BID" in seen:
        return Tier.NO_BID
    if "SHORT" in seen:
        return Tier.SHORT
    return Tier.SENIOR


@dataclass(frozen=True, slots=True)
class WaterfallConfig:
    """The configurable tranches: the CCP's own (cents) and the assessment cap multiple."""

    ccp_tranche: int = 0
    assessment_multiple: Decimal = Decimal(1)

    @classmethod
    def build(
        cls, *, ccp_tranche: DecimalLike = 0, assessment_multiple: DecimalLike = 1
    ) -> WaterfallConfig:
        """Validate: a non-negative tranche in cents, a non-negative finite multiple."""
        tranche = to_cents(ccp_tranche if ccp_tranche != "" else 0, "config.ccp_tranche")
        if tranche < 0:
            raise InvalidInput("config.ccp_tranche", "must not be negative")
        text = assessment_multiple if assessment_multiple != "" else 1
        multiple = parse_decimal(text, "config.assessment_multiple")
        if multiple < 0:
            raise InvalidInput("config.assessment_multiple", "must be a non-negative number")
        return cls(tranche, multiple)

    def to_dict(self) -> dict[str, str]:
        """Journal form."""
        return {
            "ccp_tranche": cents_text(self.ccp_tranche),
            "assessment_multiple": format(self.assessment_multiple.normalize(), "f"),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WaterfallConfig:
        """Inverse of :meth:`to_dict`."""
        return cls.build(
            ccp_tranche=data["ccp_tranche"], assessment_multiple=data["assessment_multiple"]
        )

    def cap(self, contribution: int) -> int:
        """A survivor's assessment cap in cents: multiple x contribution, rounded down."""
        return int((self.assessment_multiple * contribution).to_integral_value(ROUND_FLOOR))


@dataclass(frozen=True, slots=True)
class Survivor:
    """A surviving member: its default-fund contribution (cents) and its tier."""

    member: str
    contribution: int
    tier: Tier


@dataclass(frozen=True, slots=True)
class Step:
    """One use of one layer: whose resource, how much it held and how much was used."""

    layer: Layer
    member: str
    tier: Tier | None
    available: int
    used: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form."""
        return {
            "layer": self.layer.value,
            "member": self.member,
            "tier": None if self.tier is None else self.tier.value,
            "available": cents_text(self.available),
            "used": cents_text(self.used),
        }


@dataclass(frozen=True, slots=True)
class Waterfall:
    """The allocation of one default's net result."""

    net_result: int
    loss: int
    surplus: int
    uncovered: int
    steps: tuple[Step, ...]

    def used_by(self, layer: Layer, member: str | None = None) -> int:
        """What ``layer`` took (from ``member`` only, when given)."""
        return sum(
            s.used
            for s in self.steps
            if s.layer is layer and (member is None or s.member == member)
        )


def allocate(
    *,
    net_result: int,
    defaulter: str,
    defaulter_margin: int,
    defaulter_fund: int,
    survivors: Sequence[Survivor],
    config: WaterfallConfig,
    ccp: str = "CCP",
) -> Waterfall:
    """Allocate ``net_result`` (cents; negative is a loss) through the waterfall."""
    for name, value in (("defaulter_margin", defaulter_margin), ("defaulter_fund", defaulter_fund)):
        if value < 0:
            raise ValueError(f"{name} must not be negative")
    if any(s.contribution < 0 for s in survivors):
        raise ValueError("contributions must not be negative")
    if net_result >= 0:
        steps = (
            (Step(Layer.SURPLUS_TO_ESTATE, defaulter, None, net_result, net_result),)
            if net_result
            else ()
        )
        return Waterfall(net_result, 0, net_result, 0, steps)
    loss = -net_result
    left = loss
    out: list[Step] = []

    def take(layer: Layer, member: str, available: int, tier: Tier | None = None) -> None:
        nonlocal left
        used = min(left, available)
        left -= used
        out.append(Step(layer, member, tier, available, used))

    take(Layer.DEFAULTER_MARGIN, defaulter, defaulter_margin)
    take(Layer.DEFAULTER_DEFAULT_FUND, defaulter, defaulter_fund)
    take(Layer.CCP_TRANCHE, ccp, config.ccp_tranche)
    ordered = sorted(survivors, key=lambda s: s.member)
    for tier in TIER_ORDER:
        group = [s for s in ordered if s.tier is tier]
        total = sum(s.contribution for s in group)
        used = min(left, total)
        shares = pro_rata(used, [Claim(s.member, s.contribution, 0) for s in group])
        for s, share in zip(group, shares, strict=True):
            out.append(Step(Layer.SURVIVOR_DEFAULT_FUND, s.member, tier, s.contribution, share))
        left -= used
    caps = [config.cap(s.contribution) for s in ordered]
    used = min(left, sum(caps))
    shares = pro_rata(used, [Claim(s.member, c, 0) for s, c in zip(ordered, caps, strict=True)])
    for s, cap, share in zip(ordered, caps, shares, strict=True):
        out.append(Step(Layer.ASSESSMENT, s.member, s.tier, cap, share))
    left -= used
    if left:
        out.append(Step(Layer.UNCOVERED, "", None, left, left))
    return Waterfall(net_result, loss, 0, left, tuple(out))
