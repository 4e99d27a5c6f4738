"""Per-participant sequence numbers: each caller numbers an auction's events by its own view.

An auction's journal numbers every event 1, 2, 3, ... whoever caused it. Shown as is, those
numbers are a side channel: in a sealed window a dealer who sees its acknowledgement jump
from 21 to 24, or a gap in its watch stream, has counted another dealer's submissions. So
the wire never carries the auction's own numbers to a participant. Every sequence number a
caller is given (an ``Ack``, a watch message, ``after_sequence``, ``last_sequence``, the
sequence of one of its own submissions) is the position of that event in the stream the
caller may watch: the public events (phase changes, publications) plus, for a dealer or
member, its own submissions. Those positions move only with what the caller is shown, are
gap-free in its watch stream and never change once given (numbers are handed out in
application order, which is the journal's order), so a client resumes exactly as before.

:class:`ViewNumbers` keeps, per auction, the auction numbers of its public events and of each
owner's private ones (one integer per event), and translates both ways by binary search.

This module must never decide who may see an event: the caller of :meth:`ViewNumbers.add`
says whose it is (None: public).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right

__all__ = ["AUCTION_NUMBERS", "Numbering", "ViewNumbers"]


class ViewNumbers:
    """One auction's events, numbered per viewer (None: operators and observers, who see the
    public events only; a participant id: the public events and that participant's own)."""

    __slots__ = ("_last", "_own", "_public")

    def __init__(self) -> None:
        self._public = array("q")
        self._own: dict[str, array[int]] = {}
        self._last = 0

    def add(self, seq: int, owner: str | None) -> None:
        """Record the auction's event ``seq`` (numbers come in increasing order) as public
        (``owner`` None) or private to ``owner``."""
        if seq <= self._last:
            return  # already recorded (replay after a live append never happens; be safe)
        self._last = seq
        if owner is None:
            self._public.append(seq)
        else:
            self._own.setdefault(owner, array("q")).append(seq)

    def position(self, viewer: str | None, seq: int) -> int:
        """How many of the events ``viewer`` may see have an auction number <= ``seq``: the
        viewer's number for its event ``seq``, or its count of events up to ``seq``."""
        count = bisect_right(self._public, seq)
        if viewer is not None:
            own = self._own.get(viewer)
            if own is not None:
                count += bisect_right(own, seq)
        return count

    def auction_seq(self, viewer: str | None, position: int) -> int:
        """The auction number of ``viewer``'s event number ``position`` (0 for 0); a position
        beyond what it may see maps past the last event recorded."""
        if position <= 0:
            return 0
        if viewer is None or viewer not in self._own:
            if position <= len(self._public):
                return self._public[position - 1]
            return self._last + 1
        low, high = 1, self._last + 1  # the smallest seq whose position reaches ``position``
        while low < high:
            middle = (low + high) // 2
            if self.position(viewer, middle) >= position:
                high = middle
            else:
                low = middle + 1
        return low

    def of(self, viewer: str | None) -> Numbering:
        """How ``viewer`` numbers this auction's events."""
        return Numbering(self, viewer)


class Numbering:
    """One caller's numbering of one auction: ``out`` turns an auction number into the
    caller's, ``into`` the caller's back into the auction's. Without ``numbers`` (operators,
    who may count every event) both are the identity."""

    __slots__ = ("_numbers", "_viewer")

    def __init__(self, numbers: ViewNumbers | None, viewer: str | None = None) -> None:
        self._numbers = numbers
        self._viewer = viewer

    def out(self, seq: int) -> int:
        """The caller's number for the auction's event ``seq`` (0 stays 0)."""
        if self._numbers is None or seq <= 0:
            return seq
        return self._numbers.position(self._viewer, seq)

    def into(self, position: int) -> int:
        """The auction number of the caller's event ``position``."""
        if self._numbers is None:
            return position
        return self._numbers.auction_seq(self._viewer, position)


#: Operators' numbering: the auction's own.
AUCTION_NUMBERS = Numbering(None)
