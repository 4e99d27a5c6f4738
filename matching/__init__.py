"""Pure auction engines: sealed books, the CDS two-stage auction, the converted-swap auction.

Rules of this package (after h11's ``_state.py``): it does **no I/O** — no asyncio, no grpc, no
files, no database, no clock and no randomness of its own. Time (``now``) and random seeds
are arguments. Engines take domain values, return decisions and events, and can be rebuilt
from the list of events they emitted. Prices are integer ticks and sizes integer currency
units; decimal strings exist only at the edges (``matching.money``).
"""
