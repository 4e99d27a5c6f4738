"""Signed-in console sessions, kept on the console's side, keyed by a random id.

The browser holds only the session id, inside Starlette's signed, HttpOnly, SameSite=Strict
cookie; the operator's bearer token stays here, in memory, with the SDK channel opened with it.
A session ends on logout, after ``idle`` without a request, or ``lifetime`` after sign-in,
whichever comes first; the console's restart ends them all (nothing is written to disk).

Each session carries its own CSRF token, which every form posts back and
:meth:`ConsoleSession.check_csrf` compares in constant time.

This module must never write a token to disk, into a cookie or into a log line.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from clients.default_sdk import ClearingClient
from clients.sdk import OperatorClient

__all__ = ["ConsoleSession", "SessionStore"]


@dataclass
class ConsoleSession:
    """One signed-in operator or observer and the server connections made with its token."""

    session_id: str
    participant_id: str
    role: str  # "operator" or "observer"
    cds: OperatorClient
    clearing: ClearingClient
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    started: float = field(default_factory=time.monotonic)
    seen: float = field(default_factory=time.monotonic)
    #: Messages for the next page ("ok" or "error", text), shown once.
    flashes: list[tuple[str, str]] = field(default_factory=list)

    def flash(self, kind: str, text: str) -> None:
        """Show ``text`` on the next page."""
        self.flashes.append((kind, text))

    @property
    def can_act(self) -> bool:
        """Operators may open, close, cancel and create; observers only read."""
        return self.role == "operator"

    def check_csrf(self, value: str | None) -> bool:
        """True when the posted CSRF token is this session's."""
        return value is not None and hmac.compare_digest(value.encode(), self.csrf.encode())

    async def close(self) -> None:
        """Close the session's channels to the server."""
        await self.cds.close()
        await self.clearing.close()


class SessionStore:
    """Live sessions by id, with idle and absolute expiry."""

    def __init__(
        self,
        *,
        idle: float = 30 * 60,
        lifetime: float = 12 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions: dict[str, ConsoleSession] = {}
        self._idle = idle
        self._lifetime = lifetime
        self._clock = clock

    def new_id(self) -> str:
        """A fresh, unguessable session id."""
        return secrets.token_urlsafe(32)

    def add(self, session: ConsoleSession) -> None:
        """Keep a new session."""
        now = self._clock()
        session.started = session.seen = now
        self._sessions[session.session_id] = session

    async def get(self, session_id: str | None) -> ConsoleSession | None:
        """The live session with this id (touching it), or None; expired ones are closed."""
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen > self._idle or now - session.started > self._lifetime:
            await self.remove(session_id)
            return None
        session.seen = now
        return session

    async def remove(self, session_id: str) -> None:
        """End a session (logout or expiry)."""
        session = self._sessions.pop(session_id, None)
        if session is not None:
            await session.close()

    async def close_all(self) -> None:
        """End every session (the console is stopping)."""
        for session_id in list(self._sessions):
            await self.remove(session_id)

    def __len__(self) -> int:
        return len(self._sessions)
