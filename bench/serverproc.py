"""A real Closeout server for the bench: ``python -m bench.serverproc --dealers N --journal P``.

``--journal`` is a SQLite file or a PostgreSQL URL (the journal is replayed at start: give
the bench a fresh one). Builds a :class:`server.config.ServerConfig` with an operator and
``N`` dealers (tokens ``bench-ops-token`` and ``bench-dealer-<i>-token``, ids ``d00``..),
and, with ``--members M --market-makers K``, M clearing members ``m000``.. and K market makers
``mm00``.. for default auctions (tokens ``bench-member-<id>-token``),
starts :class:`server.app.CloseoutServer` on 127.0.0.1 under uvloop exactly as
``closeout serve`` does, prints ``PORT <n>`` once serving, and stops on SIGTERM/SIGINT.

This is the one part of ``bench`` that imports ``server`` (it starts servers); the load
generators speak only the wire API. Bench tokens are for loopback runs only: never use this
config for anything else.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

__all__ = [
    "OPERATOR_TOKEN",
    "bench_config",
    "dealer_ids",
    "dealer_token",
    "main",
    "market_maker_ids",
    "member_ids",
    "member_token",
]

OPERATOR_TOKEN = "bench-ops-token"


def dealer_ids(count: int) -> list[str]:
    """The bench's dealer ids: d00, d01, ..."""
    return [f"d{i:02d}" for i in range(count)]


def dealer_token(dealer: str) -> str:
    """The bench token of a dealer id."""
    return f"bench-dealer-{dealer}-token"


def member_ids(count: int) -> list[str]:
    """The bench's clearing-member ids: m000, m001, ..."""
    return [f"m{i:03d}" for i in range(count)]


def market_maker_ids(count: int) -> list[str]:
    """The bench's market-maker ids: mm00, mm01, ..."""
    return [f"mm{i:02d}" for i in range(count)]


def member_token(member: str) -> str:
    """The bench token of a clearing member's or market maker's id."""
    return f"bench-member-{member}-token"


def bench_config(
    dealers: int,
    journal: Path | str,
    listen: str = "127.0.0.1:0",
    metrics: str | None = None,
    members: int = 0,
    market_makers: int = 0,
) -> object:
    """A ServerConfig with one operator, ``dealers`` dealers, ``members`` clearing members
    and ``market_makers`` market makers (and ``/metrics`` on ``metrics``, host:port, when
    given)."""
    from server.config import Participant, Role, ServerConfig, hash_token

    participants = [Participant("ops", Role.OPERATOR, hash_token(OPERATOR_TOKEN))]
    participants += [
        Participant(d, Role.DEALER, hash_token(dealer_token(d))) for d in dealer_ids(dealers)
    ]
    participants += [
        Participant(m, Role.CLEARING_MEMBER, hash_token(member_token(m)))
        for m in member_ids(members)
    ]
    participants += [
        Participant(m, Role.MARKET_MAKER, hash_token(member_token(m)))
        for m in market_maker_ids(market_makers)
    ]
    return ServerConfig(
        listen=listen,
        journal=journal,
        participants=tuple(participants),
        log_level="WARNING",
        grace_seconds=2.0,
        metrics=metrics,
        source="bench",
    )


async def _run(
    dealers: int,
    journal: Path | str,
    metrics: str | None = None,
    members: int = 0,
    market_makers: int = 0,
) -> int:
    from server.app import CloseoutServer, serve
    from server.config import ServerConfig

    config = bench_config(
        dealers, journal, metrics=metrics, members=members, market_makers=market_makers
    )
    assert isinstance(config, ServerConfig)
    server = CloseoutServer(config)

    async def announce() -> None:
        await server.serving.wait()
        print(f"PORT {server.port}", flush=True)

    task = asyncio.create_task(announce())
    try:
        return await serve(config, server=server)
    finally:
        task.cancel()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dealers", type=int, default=25)
    parser.add_argument("--members", type=int, default=0, help="Clearing members m000...")
    parser.add_argument("--market-makers", type=int, default=0, help="Market makers mm00...")
    parser.add_argument(
        "--journal", required=True, help="A SQLite file path, or a postgresql:// URL."
    )
    parser.add_argument(
        "--metrics", default=None, help="host:port to serve Prometheus /metrics on (off: none)."
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("closeout.server").setLevel(logging.ERROR)  # the TLS warning
    import uvloop

    status: int = uvloop.run(
        _run(args.dealers, args.journal, args.metrics, args.members, args.market_makers)
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
