"""A per-participant cap on the watch events the server holds in memory for sending.

A ``WatchAuction`` stream reads its history from the journal a page at a time and hands each
message to gRPC, whose send waits while the client's HTTP/2 flow-control window is full: a
client that does not read stops its stream at that point, holding the page it was sending.
Without a cap, a participant's pages add up over its streams (16 of them at most). With
:class:`WatchBuffers`, every participant has ``cap`` events to share between its streams: a
stream takes a page of what is left (never less than ``floor`` events, so that no stream of
the participant ever starves: the total stays under ``cap + floor x streams``) and gives it
back once gRPC has taken the page's last message. So what a non-reading (or slow) client
costs the server is bounded per participant, whatever the auction's length and however many
times it reconnects; the stream itself stays open, flow-controlled, until the client reads,
cancels, or its connection's keepalive fails.

This module decides nothing about what a participant may see; it only counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WATCH_BUFFER_EVENTS", "WATCH_BUFFER_FLOOR", "WatchBuffers"]

#: Events of watch history one participant's streams may hold in memory together.
WATCH_BUFFER_EVENTS = 2_000
#: The smallest page a stream reads, however much of the cap its siblings hold.
WATCH_BUFFER_FLOOR = 50


class WatchBuffers:
    """How many history events each participant's watch streams hold now (and at most)."""

    def __init__(self, cap: int = WATCH_BUFFER_EVENTS, floor: int = WATCH_BUFFER_FLOOR) -> None:
        self.cap = cap
        self.floor = floor
        self._held: dict[str, int] = {}
        #: The most each participant has held at once (for tests and metrics).
        self.peak: dict[str, int] = {}

    def held(self, participant: str) -> int:
        """Events the participant's streams hold now."""
        return self._held.get(participant, 0)

    @contextmanager
    def page(self, participant: str, wanted: int) -> Iterator[int]:
        """Reserve a page of at most ``wanted`` events for one stream; yields its size, and
        gives it back when the block ends (after the page has been handed to gRPC)."""
        held = self._held.get(participant, 0)
        size = min(wanted, max(self.floor, self.cap - held))
        self._held[participant] = held + size
        self.peak[participant] = max(self.peak.get(participant, 0), held + size)
        try:
            yield size
        finally:
            left = self._held[participant] - size
            if left:
                self._held[participant] = left
            else:
                del self._held[participant]
