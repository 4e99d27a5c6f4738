"""Who is calling: bearer-token authentication and role checks for servicers.

A servicer reads the authenticated caller with :func:`current_principal` and refuses a
wrong role with :func:`require_role` (or the :func:`requires_role` decorator)::

    class AuctionServicer(auction_pb2_grpc.AuctionServiceServicer):
        @requires_role(Role.OPERATOR)
        async def OpenWindow(self, request, context): ...

        async def SubmitOrder(self, request, context):
            me = require_role(Role.DEALER, Role.MARKET_MAKER)
            ...  # me.participant_id is the dealer; never trust an id in the request

The principal is set by ``server/interceptors.py`` inside the handler's own task (a
contextvar), so it is right for unary and streaming handlers alike; services listed in
:data:`PUBLIC_SERVICES` (health, reflection) need no token and have no principal.

This module must never log a token, never accept a token that is not configured, and never
let a principal outlive the call it was authenticated for.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast

from matching.errors import NotPermitted
from server.config import Participant, Role, hash_token

__all__ = [
    "PUBLIC_SERVICES",
    "AuthenticationError",
    "Authenticator",
    "Principal",
    "current_principal",
    "require_role",
    "requires_role",
]

#: Services anyone may call without a token: health checking and server reflection.
PUBLIC_SERVICES: Final = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)

_BEARER: Final = "bearer "


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of the current RPC."""

    participant_id: str
    role: Role


class AuthenticationError(Exception):
    """No usable credentials. The interceptor answers UNAUTHENTICATED with ``str(self)``."""


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "closeout_principal", default=None
)


class Authenticator:
    """Maps bearer tokens to principals by the hash of the token.

    Only hashes are kept (the configured ``token_hash`` values), never a token. A call
    costs one sha256 and one dict lookup on the digest, not a comparison with every
    participant. Timing can only tell how the caller's own digest compares with the stored
    digests, which says nothing about any configured token (going from a digest back to a
    token is a preimage search), so the constant-time scan bought nothing.
    """

    def __init__(self, participants: Iterable[Participant]) -> None:
        self._participants: tuple[Participant, ...] = tuple(participants)
        self._by_hash: dict[str, Principal] = {}
        self._bound = {p.id: p.client_cert_cn for p in self._participants if p.client_cert_cn}
        for participant in self._participants:
            # The first participant with a hash wins, as the linear scan did.
            self._by_hash.setdefault(
                participant.token_hash, Principal(participant.id, participant.role)
            )

    def bound_name(self, principal: Principal) -> str | None:
        """The client-certificate common name ``principal`` is bound to (None: not bound)."""
        return self._bound.get(principal.participant_id)

    def authenticate(self, metadata: Sequence[tuple[str, str | bytes]] | None) -> Principal:
        """The principal for the ``authorization: Bearer <token>`` entry of ``metadata``.

        Raises:
            AuthenticationError: no such entry, not a bearer token, or an unknown token.
        """
        values = [v for k, v in (metadata or ()) if k.lower() == "authorization"]
        if not values:
            raise AuthenticationError(
                "missing credentials: send metadata 'authorization: Bearer <token>'"
            )
        if len(values) > 1:
            raise AuthenticationError("more than one authorization entry in the metadata")
        value = values[0]
        if isinstance(value, bytes):
            raise AuthenticationError("authorization metadata must be text")
        if not value.lower().startswith(_BEARER) or not value[len(_BEARER) :].strip():
            raise AuthenticationError("authorization metadata must be 'Bearer <token>'")
        digest = hash_token(value[len(_BEARER) :].strip())
        match = self._by_hash.get(digest)
        if match is None:
            raise AuthenticationError("invalid bearer token")
        return match


def current_principal() -> Principal:
    """The caller of the RPC being handled.

    Raises:
        RuntimeError: outside an authenticated handler (a public service, or a bug);
            the catch-all turns it into INTERNAL.
    """
    principal = _current.get()
    if principal is None:
        raise RuntimeError("no authenticated principal in this context")
    return principal


def require_role(*roles: Role) -> Principal:
    """The current principal, if its role is one of ``roles``.

    Raises:
        matching.errors.NotPermitted: otherwise (PERMISSION_DENIED through the error table).
    """
    principal = current_principal()
    if principal.role not in roles:
        wanted = " or ".join(r.value for r in roles)
        raise NotPermitted(
            f"this call needs role {wanted}; participant {principal.participant_id}"
            f" has role {principal.role.value}"
        )
    return principal


_F = TypeVar("_F", bound=Callable[..., Any])


def requires_role(*roles: Role) -> Callable[[_F], _F]:
    """Decorate a servicer method (coroutine or async generator) to call :func:`require_role`."""

    def decorate(method: _F) -> _F:
        if inspect.isasyncgenfunction(method):

            @functools.wraps(method)
            async def stream(*args: Any, **kwargs: Any) -> Any:
                require_role(*roles)
                async for item in method(*args, **kwargs):
                    yield item

            return cast(_F, stream)

        @functools.wraps(method)
        async def unary(*args: Any, **kwargs: Any) -> Any:
            require_role(*roles)
            return await method(*args, **kwargs)

        return cast(_F, unary)

    return decorate


def _set_principal(principal: Principal | None) -> contextvars.Token[Principal | None]:
    """For ``server/interceptors.py`` only: bind the principal to the current context."""
    return _current.set(principal)


def _reset_principal(token: contextvars.Token[Principal | None]) -> None:
    """For ``server/interceptors.py`` only: undo :func:`_set_principal`."""
    _current.reset(token)
