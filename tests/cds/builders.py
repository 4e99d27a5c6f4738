"""Small builders for CDS engine tests: drive an auction command by command."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from matching.cds.auction import CdsAuction, Decision, Schedule
from matching.cds.events import Event
from matching.cds.params import AuctionParams

T0 = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)


class Driver:
    """An auction plus its full event history, applying each decision as it is made."""

    def __init__(
        self,
        dealers: Sequence[str],
        *,
        schedule: Schedule | None = None,
        quotation_amount: str = "2000000",
        max_spread: str = "2",
        cap_amount: str | None = None,
        min_valid_submissions: int = 1,
        **params: object,
    ) -> None:
        self.params = AuctionParams.build(
            auction_id="t-1",
            quotation_amount=quotation_amount,
            max_spread=max_spread,
            cap_amount=cap_amount,
            min_valid_submissions=min_valid_submissions,
            **params,  # type: ignore[arg-type]
        )
        created = CdsAuction.create(
            params=self.params, panel=dealers, schedule=schedule or Schedule(), by="ops", now=T0
        )
        self.auction = CdsAuction.from_events(created.events)
        self.events: list[Event] = list(created.events)
        self.clock = T0
        self._n = 0

    def now(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def do(self, decision: Decision) -> Decision:
        self.auction.apply_all(decision.events)
        self.events.extend(decision.events)
        return decision

    def coid(self) -> str:
        self._n += 1
        return f"c{self._n}"

    def open1(self) -> None:
        self.do(self.auction.open_stage1(by="ops", now=self.now()))

    def market(self, dealer: str, bid: str, offer: str) -> Decision:
        return self.do(
            self.auction.submit_market(
                dealer=dealer, client_order_id=self.coid(), bid=bid, offer=offer, now=self.now()
            )
        )

    def psr(self, dealer: str, side: str, size: int | str, **kw: object) -> Decision:
        return self.do(
            self.auction.submit_request(
                dealer=dealer,
                client_order_id=self.coid(),
                side=side,
                size=str(size),
                now=self.now(),
                **kw,  # type: ignore[arg-type]
            )
        )

    def close1(self) -> None:
        self.do(self.auction.close_stage1(by="ops", now=self.now()))

    def open2(self) -> None:
        self.do(self.auction.open_stage2(by="ops", now=self.now()))

    def order(
        self, dealer: str, side: str, price: str, size: int | str, customer: str | None = None
    ) -> Decision:
        return self.do(
            self.auction.submit_limit_order(
                dealer=dealer,
                client_order_id=self.coid(),
                side=side,
                price=price,
                size=str(size),
                now=self.now(),
                customer=customer,
            )
        )

    def close2(self) -> None:
        self.do(self.auction.close_stage2(by="ops", now=self.now()))

    def stage1(
        self, markets: Sequence[tuple[str, str, str]], psrs: Sequence[tuple[str, str, int]] = ()
    ) -> None:
        self.open1()
        for dealer, bid, offer in markets:
            self.market(dealer, bid, offer)
        for dealer, side, size in psrs:
            self.psr(dealer, side, size)
        self.close1()
