"""Transport security policy: where the server may listen without TLS, and with which tokens
(the HTTP/2 options are ``server/transport.py``).

Bearer tokens are the only proof of who calls; without TLS they travel in clear text. So,
checked once before the port is bound (:func:`check_transport`):

* off loopback (anything but 127.0.0.0/8, ::1 or ``localhost``, including 0.0.0.0), a
  ``[tls]`` section is required unless ``server.allow_insecure = true`` waives it explicitly
  (e.g. behind a TLS-terminating proxy on the same host);
* the documented demo tokens (README, :data:`server.config.DEMO_TOKENS`) are public
  knowledge: a server holding any of them listens on loopback only, TLS or not, waiver or
  not.

Under mutual TLS a participant may be bound to its client certificate
(``participants[i].client_cert_cn``): :func:`certificate_refusal` says why a call's
certificate does not belong to the participant whose token it carries.

This module reads no file and opens no socket; it must never weaken what the config asks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

from server.config import DEMO_TOKENS, ConfigError, ServerConfig, hash_token, parse_listen

__all__ = ["certificate_refusal", "check_transport", "is_loopback"]

_DEMO_HASHES = frozenset(hash_token(token) for _, token in DEMO_TOKENS.values())


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as in ``server.listen``) is a loopback address."""
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve anywhere
        return False


def check_transport(config: ServerConfig) -> None:
    """Refuse (ConfigError naming the key) a config that would expose tokens off loopback, or
    the plain-text ``/metrics`` endpoint (its scrapers' bearer tokens in clear) off loopback
    without the waiver."""
    if config.metrics is not None and not config.allow_insecure:
        metrics_host, _ = parse_listen(config.metrics)
        if not is_loopback(metrics_host):
            raise ConfigError(
                f"server.metrics: {config.metrics} is not a loopback address, and the /metrics"
                " endpoint has no TLS (its scrapers' bearer tokens would travel in clear text);"
                " bind it to 127.0.0.1 (and scrape it through a local agent), or set"
                " server.allow_insecure = true to waive this explicitly"
            )
    host, _ = parse_listen(config.listen)
    if is_loopback(host):
        return
    demo = sorted(p.id for p in config.participants if p.token_hash in _DEMO_HASHES)
    if demo:
        raise ConfigError(
            f"server.listen: {config.listen} is not a loopback address and participants"
            f" {', '.join(demo)} use the published demo tokens; listen on 127.0.0.1 or give"
            " them tokens of their own"
        )
    if config.tls is None and not config.allow_insecure:
        raise ConfigError(
            f"server.listen: {config.listen} is not a loopback address and no [tls] section"
            " is configured, so bearer tokens would travel in clear text; configure [tls],"
            " or set server.allow_insecure = true to waive this explicitly"
        )


def certificate_refusal(
    bound_name: str | None, auth_context: Mapping[str, Sequence[bytes]]
) -> str | None:
    """Why the call's client certificate does not belong to its participant (None: it does,
    or the participant is not bound to a certificate)."""
    if bound_name is None:
        return None
    names = auth_context.get("x509_common_name", ())
    if bound_name.encode() in names:
        return None
    return "the client certificate does not belong to the participant of this token"
