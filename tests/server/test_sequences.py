"""Per-caller sequence numbers (``server.sequences``): each viewer's numbers are its positions
among the events it may see, gap-free, and translate back to the auction's exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.sequences import AUCTION_NUMBERS, ViewNumbers

OWNERS = st.lists(st.sampled_from([None, "a", "b", "c"]), max_size=60)


@given(OWNERS)
def test_each_viewer_counts_public_and_own_events_without_gaps(owners: list[str | None]) -> None:
    numbers = ViewNumbers()
    for seq, owner in enumerate(owners, start=1):
        numbers.add(seq, owner)
    for viewer in (None, "a", "b", "zz"):
        visible = [s for s, o in enumerate(owners, start=1) if o is None or o == viewer]
        assert [numbers.position(viewer, s) for s in visible] == list(range(1, len(visible) + 1))
        view = numbers.of(viewer)
        assert [view.into(p) for p in range(1, len(visible) + 1)] == visible
        assert view.into(0) == 0 and view.out(0) == 0
        assert numbers.position(viewer, len(owners)) == len(visible)


@given(OWNERS, st.integers(min_value=0, max_value=3))
def test_others_events_never_move_a_viewers_numbers(owners: list[str | None], extra: int) -> None:
    """Inserting another owner's events anywhere leaves a's count of its events unchanged."""
    quiet, busy = ViewNumbers(), ViewNumbers()
    seq_b = 0
    for seq_q, owner in enumerate(owners, start=1):
        if owner == "b":
            for _ in range(extra):
                seq_b += 1
                busy.add(seq_b, "b")
        seq_b += 1
        quiet.add(seq_q, owner)
        busy.add(seq_b, owner)
        if owner in (None, "a"):
            assert quiet.position("a", seq_q) == busy.position("a", seq_b)


def test_operators_count_the_auctions_own_numbers() -> None:
    assert AUCTION_NUMBERS.out(17) == 17 and AUCTION_NUMBERS.into(17) == 17
