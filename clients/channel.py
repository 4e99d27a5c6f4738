"""How the SDK reaches a Closeout server: targets, TLS, deadlines, keepalive, message sizes.

* **Targets**: ``"host:port"``, several as ``"a:1,b:2"`` or a sequence (a primary and its
  standbys). A target without a port is refused here (gRPC would dial port 0).
* **Deadlines**: every call that waits for one answer gets ``timeout`` seconds (default
  :data:`DEFAULT_TIMEOUT`); a stopped server is then an error, not a hang.
* **Keepalive**: the channel pings the server every :data:`KEEPALIVE_TIME_MS` when it has
  open calls (streams included) and drops a connection whose ping is not answered within
  :data:`KEEPALIVE_TIMEOUT_MS`. The server's enforcement policy (``server/transport.py``)
  allows exactly this rate.
* **Message sizes**: ``max_message_bytes`` both ways (default :data:`DEFAULT_MAX_MESSAGE_BYTES`).
* **TLS**: root certificates (``--tls-ca``), a client certificate and key for mutual TLS,
  and an optional server name to check the certificate against.

:func:`explain` turns a failed connection into one sentence naming the target and the likely
cause (nothing listening, TLS expected or not expected, untrusted certificate, no answer).
This module speaks only gRPC; it must never import ``server``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "DEFAULT_TIMEOUT",
    "ChannelSettings",
    "FailoverChannel",
    "InvalidTarget",
    "explain",
    "never_reached",
    "open_channel",
    "parse_targets",
]

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
KEEPALIVE_TIME_MS = 30_000
KEEPALIVE_TIMEOUT_MS = 10_000

_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(\d{1,5})$")
_SCHEMES = ("unix:", "unix-abstract:", "dns:", "ipv4:", "ipv6:")


class InvalidTarget(ValueError):
    """A target that is not ``host:port`` (or a gRPC URI); the message says what to write."""


def parse_targets(target: str | Sequence[str]) -> tuple[str, ...]:
    """The targets in order: ``"a:1,b:2"`` or a sequence; each checked to be ``host:port``."""
    raw = target.split(",") if isinstance(target, str) else list(target)
    found = tuple(t.strip() for t in raw if t.strip())
    if not found:
        raise InvalidTarget("no target given: expected host:port, e.g. 127.0.0.1:50051")
    for t in found:
        if t.startswith(_SCHEMES):
            continue
        match = _HOST_PORT.match(t)
        if match is None:
            hint = f"{t}:50051" if ":" not in t else "127.0.0.1:50051"
            raise InvalidTarget(f"target {t!r} is not host:port (e.g. {hint})")
        if not 0 < int(match.group(1)) <= 65535:
            raise InvalidTarget(f"target {t!r}: port must be between 1 and 65535")
    return found


@dataclass(frozen=True)
class ChannelSettings:
    """How to open a channel: TLS material, the per-call deadline and the message size cap."""

    root_certificates: bytes | None = None
    private_key: bytes | None = None
    certificate_chain: bytes | None = None
    server_name: str | None = None
    timeout: float | None = DEFAULT_TIMEOUT
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES

    def __post_init__(self) -> None:
        if (self.private_key is None) != (self.certificate_chain is None):
            raise ValueError("a client certificate needs its private key, and the key its cert")
        if self.private_key is not None and self.root_certificates is None:
            raise ValueError("a client certificate is for TLS: give the root certificates too")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be positive seconds, got {self.timeout}")
        if self.max_message_bytes <= 0:
            raise ValueError("max_message_bytes must be positive")

    @property
    def tls(self) -> bool:
        """Whether the channel uses TLS."""
        return self.root_certificates is not None

    def options(self) -> list[tuple[str, Any]]:
        """The gRPC channel arguments: keepalive and message sizes (and the TLS name)."""
        options: list[tuple[str, Any]] = [
            ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
            ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
            ("grpc.keepalive_permit_without_calls", 0),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
        ]
        if self.server_name:
            options.append(("grpc.ssl_target_name_override", self.server_name))
        return options


def open_channel(target: str, settings: ChannelSettings) -> grpc.aio.Channel:
    """A channel to one target with ``settings``."""
    if not settings.tls:
        return grpc.aio.insecure_channel(target, options=settings.options())
    credentials = grpc.ssl_channel_credentials(
        root_certificates=settings.root_certificates,
        private_key=settings.private_key,
        certificate_chain=settings.certificate_chain,
    )
    return grpc.aio.secure_channel(target, credentials, options=settings.options())


def never_reached(exc: grpc.aio.AioRpcError) -> bool:
    """True when the call failed before the server could see it (no connection was made)."""
    details = exc.details() or ""
    return exc.code() == grpc.StatusCode.UNAVAILABLE and (
        "failed to connect" in details or "empty address list" in details
    )


def explain(exc: grpc.aio.AioRpcError, target: str, settings: ChannelSettings) -> str | None:
    """One sentence naming ``target`` and the likely cause of a connection failure, or None
    when ``exc`` is not about the connection (a refusal by the server speaks for itself)."""
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        waited = f" within {settings.timeout:g} s" if settings.timeout else ""
        return (
            f"no answer from {target}{waited}: the server may be stopped, overloaded or "
            "unreachable (--timeout waits longer)"
        )
    if code != grpc.StatusCode.UNAVAILABLE:
        return None
    if "Connection refused" in details:
        return f"nothing is listening on {target}: is `closeout serve` running on {target}?"
    if "DNS resolution failed" in details or "empty address list" in details:
        return f"cannot resolve {target}: check the host name"
    if "WRONG_VERSION_NUMBER" in details:
        return f"{target} does not speak TLS: the server is plain text (drop --tls-ca)"
    if "CERTIFICATE_VERIFY_FAILED" in details:
        return f"the certificate of {target} is not signed by the CA given with --tls-ca"
    if "is not in peer certificate" in details:
        return (
            f"the certificate of {target} does not name that host: dial the name it holds "
            "or give --tls-server-name"
        )
    if "Socket closed" in details or "Connection reset" in details:
        if not settings.tls:
            return f"{target} closed the connection: the server requires TLS (give --tls-ca)"
        if settings.certificate_chain is None:
            return (
                f"{target} closed the TLS connection: the server requires a client "
                "certificate (give --tls-cert and --tls-key)"
            )
        return f"{target} closed the TLS connection: it does not accept this client certificate"
    if "failed to connect" in details:
        return f"cannot connect to {target}: {details.rsplit(': ', 1)[-1]}"
    return None


class FailoverChannel:
    """One channel object over several targets: every call goes to the current target.

    Stubs are built once on this object; each call they make is bound, at call time, to the
    channel of :attr:`current` (opened on first use), so moving to the next target
    (:meth:`next_target`) moves every stub with it.
    """

    def __init__(self, targets: Sequence[str], settings: ChannelSettings) -> None:
        self.targets = tuple(targets)
        self.settings = settings
        self.current = 0
        self._open: dict[int, grpc.aio.Channel] = {}

    @property
    def target(self) -> str:
        """The target calls go to now."""
        return self.targets[self.current]

    def channel(self) -> grpc.aio.Channel:
        """The real channel to the current target."""
        if self.current not in self._open:
            self._open[self.current] = open_channel(self.target, self.settings)
        return self._open[self.current]

    def next_target(self) -> None:
        """Send the following calls to the next target (round robin)."""
        self.current = (self.current + 1) % len(self.targets)

    def _bound(self, kind: str, method: str, args: Any, kwargs: Any) -> Any:
        def call(*call_args: Any, **call_kwargs: Any) -> Any:
            factory = getattr(self.channel(), kind)
            return factory(method, *args, **kwargs)(*call_args, **call_kwargs)

        return call

    def unary_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As ``grpc.aio.Channel.unary_unary``, bound to the current target at each call."""
        return self._bound("unary_unary", method, args, kwargs)

    def unary_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As ``grpc.aio.Channel.unary_stream``, bound to the current target at each call."""
        return self._bound("unary_stream", method, args, kwargs)

    def stream_unary(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As ``grpc.aio.Channel.stream_unary``, bound to the current target at each call."""
        return self._bound("stream_unary", method, args, kwargs)

    def stream_stream(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """As ``grpc.aio.Channel.stream_stream``, bound to the current target at each call."""
        return self._bound("stream_stream", method, args, kwargs)

    async def close(self) -> None:
        """Close every channel opened so far."""
        for channel in self._open.values():
            await channel.close()
        self._open.clear()
