"""What every event-sourced engine of Closeout shares: events, decisions, acks, idempotency.

An engine (a CDS auction, a default auction, the clearing house) is a state machine whose
command methods return a :class:`Decision` (events plus an acknowledgement) without changing
anything, and whose ``apply`` is the only mutation. :class:`EventSourced` holds the common
half of that: the gap-free sequence check, dispatch of ``apply`` to ``_on_<EventClass>``,
and idempotency by (owner, client order id) -- the same id with the same content returns the
original acknowledgement, with other content ALREADY_EXISTS.

Each engine declares its events as frozen dataclasses of JSON-native fields registered in
its own :class:`EventFamily`, which is their only (de)serialisation. No I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Generic, TypeVar

from matching.errors import AlreadyExists, InvalidInput

MAX_ID_LENGTH = 128

#: Fields every event carries that are not part of what the submitter asked for.
HEADER_FIELDS = frozenset({"seq", "at", "auction_id", "stream_id"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common header: ``seq`` numbers a stream's events from 1 without gaps; ``at`` is ISO-8601."""

    type: ClassVar[str] = ""
    seq: int
    at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-native form with a ``type`` tag: every field in declaration order, then
        ``type``; inverse of :meth:`EventFamily.from_dict`. Built by a function made once per
        class: every accepted order and every booked position is serialised once, and a
        loop over ``dataclasses.fields`` cost three times as much."""
        build = _TO_DICT.get(type(self))
        if build is None:
            build = _TO_DICT[type(self)] = _dict_builder(type(self))
        return build(self)


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_TO_DICT: dict[type, Callable[[Any], dict[str, Any]]] = {}


def field_names(cls: type) -> tuple[str, ...]:
    """The dataclass field names of an event class, in declaration order (cached)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _dict_builder(cls: type) -> Callable[[Any], dict[str, Any]]:
    """``lambda e: {"seq": e.seq, ..., "type": e.type}`` for ``cls``'s fields (dataclass
    field names are identifiers, so the source is safe to compile)."""
    names = (*field_names(cls), "type")
    for name in names:  # checked before compiling source from them, also under -O
        if not name.isidentifier() or keyword.iskeyword(name):
            raise TypeError(f"{cls.__name__}: field {name!r} is not an identifier")
    body = ", ".join(f"{name!r}: e.{name}" for name in names)
    built: Callable[[Any], dict[str, Any]] = eval(f"lambda e: {{{body}}}")
    return built


E = TypeVar("E", bound=Event)
_C = TypeVar("_C", bound=type[Event])


class EventFamily(Generic[E]):
    """The registered event types of one engine, by their ``type`` tag."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._types: dict[str, type[E]] = {}
        #: Each type's field names and ``type`` as a set, made once (replay decodes millions).
        self._names: dict[type[E], frozenset[str]] = {}

    def register(self, cls: _C) -> _C:
        """Class decorator: add an event type (its ``type`` tag must be new)."""
        if cls.type in self._types:
            raise ValueError(f"{self.name} event type {cls.type!r} registered twice")
        self._types[cls.type] = cls  # type: ignore[assignment]
        return cls

    def from_dict(self, data: Mapping[str, Any]) -> E:
        """Rebuild an event from its dict form; unknown types and fields are refused."""
        kind = data.get("type")
        cls = self._types.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise InvalidInput("type", f"unknown {self.name} event type {kind!r}")
        names = self._names.get(cls)
        if names is None:
            names = self._names[cls] = frozenset(field_names(cls)) | {"type"}
        extra = data.keys() - names
        if extra:
            raise InvalidInput("event", f"unknown fields {sorted(extra)} for {kind}")
        fields = dict(data)
        del fields["type"]
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Ack:
    """What a submitter is told: the sequence number and time its command was accepted."""

    seq: int
    at: str
    client_order_id: str
    duplicate: bool = False


# Not slotted: calling the parametrised alias (``Decision[CdsEvent](...)``) sets
# ``__orig_class__``, which a slotted frozen dataclass refuses with a TypeError.
@dataclass(frozen=True)
class Decision(Generic[E]):
    """The events a command emits (empty for an idempotent repeat) and its acknowledgement."""

    events: tuple[E, ...]
    ack: Ack | None = None


def check_id(value: str, field: str, *, max_length: int = MAX_ID_LENGTH) -> str:
    """Identifiers: 1..max printable characters, no '/' (order ids join with it), no '~'."""
    if (
        not isinstance(value, str)
        or not value
        or len(value) > max_length
        or not value.isprintable()
        or "/" in value
        or "~" in value
    ):
        raise InvalidInput(
            field, f"must be 1 to {max_length} printable characters without '/' or '~'"
        )
    return value


#: How far ahead of the server's time a scheduled window time may be (a year: auctions are
#: held within weeks of a credit event or a default; a date further out is a typing error).
SCHEDULE_HORIZON = timedelta(days=366)


def check_scheduled(field: str, value: datetime | None, now: datetime, *, closes: bool) -> None:
    """A scheduled time of a window (None: by hand) against the server's time ``now``: within
    :data:`SCHEDULE_HORIZON`, and a close (``closes``) after ``now``: a window closing at or
    before creation would be over before anyone could submit."""
    if value is None:
        return
    if closes and value <= now:
        raise InvalidInput(field, f"must be after the server's time ({now.isoformat()})")
    if value > now + SCHEDULE_HORIZON:
        raise InvalidInput(
            field, f"must be within {SCHEDULE_HORIZON.days} days of the server's time"
        )


def iso(now: datetime) -> str:
    """``now`` as ISO-8601; engines refuse naive times (they would replay ambiguously).

    Exactly ``now.isoformat()``. A UTC time with microseconds (every server clock reading
    but one in a million) is written from its whole second's text, made once per second:
    every accepted order is stamped, and ``isoformat`` showed.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    micros = now.microsecond
    if now.tzinfo is not UTC or not micros:
        return now.isoformat()
    second = (now.year, now.month, now.day, now.hour, now.minute, now.second)
    text = _ISO_SECONDS.get(second)
    if text is None:
        if len(_ISO_SECONDS) >= _ISO_SECONDS_KEPT:
            _ISO_SECONDS.clear()
        text = _ISO_SECONDS[second] = now.replace(microsecond=0, tzinfo=None).isoformat()
    return f"{text}.{micros:06d}+00:00"


#: The text of whole UTC seconds for :func:`iso` (a clock's recent seconds); bounded.
_ISO_SECONDS: dict[tuple[int, int, int, int, int, int], str] = {}
_ISO_SECONDS_KEPT = 64


def utc_micros(at: str) -> int | None:
    """An event time :func:`iso` wrote for a UTC clock, as microseconds since the epoch, when
    :func:`utc_text` gives back the very same string; None for any other shape (another
    zone, a whole second, an old journal's spelling).

    Only that shape is read (32 characters, six fraction digits, not all zero,
    ``+00:00``); the whole second is parsed once per distinct second: replay reads every
    order's time, and every acknowledgement carries one.
    """
    if len(at) != 32 or at[19] != "." or not at.endswith("+00:00"):
        return None
    fraction = at[20:26]
    # isoformat() writes no fraction for a whole second, so "000000" never round-trips.
    if fraction == "000000" or not (fraction.isascii() and fraction.isdigit()):
        return None
    second = at[:19]
    base = _UTC_SECONDS.get(second)
    if base is None:
        whole = second + "+00:00"
        try:
            moment = datetime.fromisoformat(whole)
        except ValueError:
            return None
        base = (moment - _EPOCH) // _MICROSECOND
        if utc_text(base) != whole:
            return None
        if len(_UTC_SECONDS) >= _UTC_SECONDS_KEPT:
            _UTC_SECONDS.clear()
        _UTC_SECONDS[second] = base
    return base + int(fraction)


def utc_text(micros: int) -> str:
    """Inverse of :func:`utc_micros`: the time ``micros`` after the epoch as :func:`iso`
    writes it for a UTC clock."""
    return (_EPOCH + timedelta(microseconds=micros)).isoformat()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
#: Whole seconds already read by :func:`utc_micros` (text to microseconds); bounded.
_UTC_SECONDS: dict[str, int] = {}
_UTC_SECONDS_KEPT = 4096


def fingerprint(event: Event) -> tuple[Any, ...]:
    """What a submitter asked for: the event without its header, comparable across retries."""
    data = event.to_dict()
    return tuple(sorted((k, repr(v)) for k, v in data.items() if k not in HEADER_FIELDS))


class EventSourced(Generic[E]):
    """Sequence check, ``apply`` dispatch and client-order-id idempotency for an engine.

    Subclasses set :attr:`owner_field` (the event field naming who submitted: ``dealer``,
    ``member``) and :attr:`stream_field` (``auction_id``), define ``_on_<EventClass>``
    handlers, and call :meth:`_init_stream` from their constructor.
    """

    owner_field: ClassVar[str] = "dealer"
    stream_field: ClassVar[str] = "auction_id"

    stream_id: str
    last_seq: int
    _acks: dict[tuple[str, str], tuple[tuple[Any, ...], Ack]]

    def _init_stream(self, stream_id: str, first_seq: int) -> None:
        self.stream_id = stream_id
        self.last_seq = first_seq
        self._acks = {}

    def apply(self, event: E) -> None:
        """Apply one accepted event; the only place state changes."""
        stream = getattr(event, self.stream_field)
        if stream != self.stream_id:
            raise ValueError(f"event of {stream} applied to {self.stream_id}")
        if event.seq != self.last_seq + 1:
            raise ValueError(f"event seq {event.seq} does not follow {self.last_seq}")
        handler: Callable[[E], None] = getattr(self, f"_on_{type(event).__name__}")
        handler(event)
        self.last_seq = event.seq
        if client_order_id := getattr(event, "client_order_id", None):
            owner: str = getattr(event, self.owner_field)
            ack = Ack(event.seq, event.at, client_order_id)
            self._acks[(owner, client_order_id)] = (fingerprint(event), ack)

    def apply_all(self, events: Sequence[E]) -> None:
        """Apply events in order."""
        for event in events:
            self.apply(event)

    def _head(self, now: datetime) -> dict[str, Any]:
        """Header fields of the next event."""
        return {self.stream_field: self.stream_id, "seq": self.last_seq + 1, "at": iso(now)}

    def _decide(self, event: E, client_order_id: str | None = None) -> Decision[E]:
        return Decision((event,), Ack(event.seq, event.at, client_order_id or ""))

    def _repeat(self, event: E) -> Decision[E] | None:
        """The original acknowledgement when this client order id was used for the same thing."""
        key = (getattr(event, self.owner_field), getattr(event, "client_order_id"))  # noqa: B009
        prior = self._acks.get(key)
        if prior is None:
            return None
        print_, ack = prior
        if print_ != fingerprint(event):
            raise self._reused(*key)
        return Decision((), dataclasses.replace(ack, duplicate=True))

    @staticmethod
    def _reused(owner: str, client_order_id: str) -> AlreadyExists:
        """The refusal of a client order id its owner used for something else."""
        return AlreadyExists(
            f"client_order_id {client_order_id!r} was already used by {owner} for another request"
        )

    def acks_snapshot(self) -> list[tuple[tuple[str, str], int]]:
        """(owner, client order id) -> seq, for replay-equality snapshots."""
        return sorted((k, v[1].seq) for k, v in self._acks.items())
