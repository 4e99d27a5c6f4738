"""Server configuration: frozen dataclasses loaded from TOML, then environment overrides.

Precedence, lowest first: the built-in demo (:func:`demo_config`, used only when no file is
given) or the TOML file; then environment variables; then the ``closeout serve`` flags (the
CLI passes them to :func:`load_config` as ``overrides``).

Environment variables::

    CLOSEOUT_CONFIG          path of the TOML file (when --config is not given)
    CLOSEOUT_LISTEN          host:port to listen on
    CLOSEOUT_JOURNAL         journal: a SQLite file path or URL, or a postgresql:// URL
    CLOSEOUT_GRACE_SECONDS   shutdown grace period
    CLOSEOUT_LOG_LEVEL       DEBUG, INFO, WARNING, ERROR
    CLOSEOUT_MAX_MESSAGE_BYTES   largest request or response message
    CLOSEOUT_METRICS         host:port of the Prometheus /metrics endpoint (off when unset)
    CLOSEOUT_TLS_CERT, CLOSEOUT_TLS_KEY, CLOSEOUT_TLS_CLIENT_CA   PEM file paths

Tokens are stored only as ``sha256:<hex>`` (see :func:`hash_token`; or
``printf %s TOKEN | sha256sum``) and compared with :func:`hmac.compare_digest`.

This module must never log or keep a plain token, and never read files other than the
config itself (TLS files are read by ``server/app.py`` when it binds the port).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from server.journal_store import parse_location

__all__ = [
    "DEMO_TOKENS",
    "ConfigError",
    "Participant",
    "Role",
    "ServerConfig",
    "TlsConfig",
    "demo_config",
    "hash_token",
    "load_config",
    "parse_listen",
    "token_matches",
]

_HASH_RE: Final = re.compile(r"^sha256:[0-9a-f]{64}$")
_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key."""


class Role(enum.Enum):
    """What a participant may do. Services decide which roles each RPC accepts."""

    OPERATOR = "operator"
    DEALER = "dealer"
    MARKET_MAKER = "market_maker"
    CLEARING_MEMBER = "clearing_member"
    OBSERVER = "observer"


def hash_token(token: str) -> str:
    """The stored form of a bearer token: ``sha256:<hex of sha256(utf-8 token)>``."""
    return "sha256:" + hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, token_hash: str) -> bool:
    """Whether ``token`` hashes to ``token_hash``, compared in constant time."""
    return hmac.compare_digest(hash_token(token).encode(), token_hash.encode())


@dataclass(frozen=True)
class Participant:
    """A configured caller: its id, its role, and the hash of its bearer token."""

    id: str
    role: Role
    token_hash: str = field(repr=False)
    #: Under mutual TLS: the common name the caller's client certificate must carry (None:
    #: any certificate the client CA signed).
    client_cert_cn: str | None = None


@dataclass(frozen=True)
class TlsConfig:
    """PEM files for the listener; with ``client_ca`` clients must present a certificate."""

    cert: Path
    key: Path
    client_ca: Path | None = None


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs to start. Build with :func:`load_config`."""

    listen: str = "127.0.0.1:50051"
    #: A SQLite file (Path) or a PostgreSQL URL (str); see ``server/journal_store.py``.
    journal: Path | str = Path("var/closeout.sqlite")
    participants: tuple[Participant, ...] = ()
    tls: TlsConfig | None = None
    grace_seconds: float = 5.0
    log_level: str = "INFO"
    #: Largest request or response message, bytes (``server/transport.py``).
    max_message_bytes: int = 16 * 1024 * 1024
    #: host:port of the Prometheus ``/metrics`` endpoint; None: no metrics are kept.
    metrics: str | None = None
    #: Where this config came from ("built-in demo" or a file path), for the startup log.
    source: str = "built-in demo"
    #: Wait for the journal's writer lock instead of refusing, then take over (hot standby).
    standby: bool = False
    #: Listen off loopback without TLS (explicit waiver; see ``server/transport_policy.py``).
    allow_insecure: bool = False
    #: Unary calls one participant may have in progress at once, answers not yet taken by
    #: the client included (``server/interceptors.py``).
    max_calls_per_participant: int = 64


#: The demo's documented tokens. Never use them outside a local demo.
DEMO_TOKENS: Final[Mapping[str, tuple[Role, str]]] = {
    "ops": (Role.OPERATOR, "demo-operator-token"),
    "dealer-a": (Role.DEALER, "demo-dealer-a-token"),
    "dealer-b": (Role.DEALER, "demo-dealer-b-token"),
    "dealer-c": (Role.DEALER, "demo-dealer-c-token"),
    "dealer-d": (Role.DEALER, "demo-dealer-d-token"),
    "mm-1": (Role.MARKET_MAKER, "demo-market-maker-token"),
    "cm-1": (Role.CLEARING_MEMBER, "demo-clearing-member-token"),
    "watcher": (Role.OBSERVER, "demo-observer-token"),
}


def demo_config() -> ServerConfig:
    """The out-of-the-box local demo: 127.0.0.1:50051, ./var/closeout.sqlite, demo tokens."""
    return ServerConfig(
        listen="127.0.0.1:50051",
        journal=Path("var/closeout.sqlite"),
        participants=tuple(
            Participant(pid, role, hash_token(token)) for pid, (role, token) in DEMO_TOKENS.items()
        ),
    )


def parse_listen(value: str, key: str = "server.listen") -> tuple[str, int]:
    """Split ``host:port`` (``[::1]:50051`` for IPv6); port 0 asks the OS for a free one."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(f"{key}: expected host:port, got {value!r}")
    return host, int(port_text)


def load_config(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Load the config: ``path`` (else ``$CLOSEOUT_CONFIG``, else the demo), env, overrides.

    ``overrides`` keys: ``listen``, ``journal``, ``standby`` and ``metrics`` (None values are
    ignored).

    Raises:
        ConfigError: naming the offending key (``participants[2].role: ...``).
    """
    environ = os.environ if env is None else env
    file_path = path if path is not None else environ.get("CLOSEOUT_CONFIG") or None
    config = demo_config() if file_path is None else _from_file(Path(file_path))
    config = _apply_env(config, environ)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        if key == "listen":
            config = replace(config, listen=str(value))
        elif key == "journal":
            config = replace(config, journal=_journal(str(value), "--journal", None))
        elif key == "standby":
            config = replace(config, standby=bool(value))
        elif key == "metrics":
            parse_listen(str(value), "--metrics")
            config = replace(config, metrics=str(value))
        else:
            raise ConfigError(f"{key}: not an override the server knows")
    parse_listen(config.listen)
    return config


def _from_file(path: Path) -> ServerConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: not valid TOML: {exc}") from None
    return _from_mapping(data, source=str(path), base=path.parent)


def _from_mapping(data: Mapping[str, Any], *, source: str, base: Path) -> ServerConfig:
    _no_unknown(data, {"server", "journal", "tls", "participants"}, "")
    server = _table(data, "server")
    _no_unknown(
        server,
        {
            "listen",
            "grace_seconds",
            "log_level",
            "max_message_bytes",
            "metrics",
            "allow_insecure",
            "max_calls_per_participant",
        },
        "server.",
    )
    journal_path = _journal_setting(data.get("journal"), base)
    defaults = ServerConfig()
    listen = _str(server, "listen", "server.listen", defaults.listen)
    parse_listen(listen)
    grace = server.get("grace_seconds", defaults.grace_seconds)
    if isinstance(grace, bool) or not isinstance(grace, int | float) or grace < 0:
        raise ConfigError(f"server.grace_seconds: expected a number >= 0, got {grace!r}")
    log_level = _log_level(_str(server, "log_level", "server.log_level", defaults.log_level))
    max_message = server.get("max_message_bytes", defaults.max_message_bytes)
    if isinstance(max_message, bool) or not isinstance(max_message, int) or max_message < 1024:
        raise ConfigError(
            f"server.max_message_bytes: expected an integer >= 1024, got {max_message!r}"
        )
    metrics = server.get("metrics")
    if metrics is not None:
        metrics = _str(server, "metrics", "server.metrics", None)
        parse_listen(metrics, "server.metrics")
    journal_path = journal_path or defaults.journal
    allow_insecure = server.get("allow_insecure", False)
    if not isinstance(allow_insecure, bool):
        raise ConfigError(f"server.allow_insecure: expected true or false, got {allow_insecure!r}")
    max_calls = server.get("max_calls_per_participant", defaults.max_calls_per_participant)
    if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
        raise ConfigError(
            f"server.max_calls_per_participant: expected an integer >= 1, got {max_calls!r}"
        )
    tls = _tls(data, base)
    participants = _participants(data.get("participants"))
    return ServerConfig(
        listen=listen,
        journal=journal_path,
        participants=participants,
        tls=tls,
        grace_seconds=float(grace),
        log_level=log_level,
        max_message_bytes=max_message,
        metrics=metrics,
        source=source,
        allow_insecure=allow_insecure,
        max_calls_per_participant=max_calls,
    )


def _participants(raw: object) -> tuple[Participant, ...]:
    if raw is None:
        raise ConfigError("participants: at least one [[participants]] entry is required")
    if not isinstance(raw, list) or not raw:
        raise ConfigError("participants: expected a non-empty array of tables")
    seen: set[str] = set()
    result: list[Participant] = []
    for i, entry in enumerate(raw):
        where = f"participants[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a table")
        _no_unknown(entry, {"id", "role", "token_hash", "client_cert_cn"}, f"{where}.")
        pid = _str(entry, "id", f"{where}.id", None)
        if not _ID_RE.match(pid):
            raise ConfigError(f"{where}.id: {pid!r} is not a valid participant id")
        if pid in seen:
            raise ConfigError(f"{where}.id: {pid!r} appears twice")
        seen.add(pid)
        role_text = _str(entry, "role", f"{where}.role", None)
        try:
            role = Role(role_text)
        except ValueError:
            choices = ", ".join(r.value for r in Role)
            raise ConfigError(f"{where}.role: {role_text!r} is not one of {choices}") from None
        token_hash = _str(entry, "token_hash", f"{where}.token_hash", None)
        if not _HASH_RE.match(token_hash):
            raise ConfigError(
                f"{where}.token_hash: expected 'sha256:' and 64 lowercase hex digits"
                " (store the hash, never the token)"
            )
        cert_cn = entry.get("client_cert_cn")
        if cert_cn is not None and (not isinstance(cert_cn, str) or not cert_cn):
            raise ConfigError(f"{where}.client_cert_cn: expected a certificate common name")
        result.append(Participant(pid, role, token_hash, cert_cn))
    return tuple(result)


def _tls(data: Mapping[str, Any], base: Path) -> TlsConfig | None:
    if "tls" not in data:
        return None
    tls = _table(data, "tls")
    _no_unknown(tls, {"cert", "key", "client_ca"}, "tls.")
    cert = _path(tls, "cert", "tls.cert", base)
    key = _path(tls, "key", "tls.key", base)
    if cert is None or key is None:
        raise ConfigError("tls.cert and tls.key: both are required when [tls] is present")
    return TlsConfig(cert, key, _path(tls, "client_ca", "tls.client_ca", base))


def _apply_env(config: ServerConfig, env: Mapping[str, str]) -> ServerConfig:
    if value := env.get("CLOSEOUT_LISTEN"):
        parse_listen(value, "CLOSEOUT_LISTEN")
        config = replace(config, listen=value)
    if value := env.get("CLOSEOUT_JOURNAL"):
        config = replace(config, journal=_journal(value, "CLOSEOUT_JOURNAL", None))
    if value := env.get("CLOSEOUT_GRACE_SECONDS"):
        try:
            grace = float(value)
        except ValueError:
            raise ConfigError(f"CLOSEOUT_GRACE_SECONDS: not a number: {value!r}") from None
        if grace < 0:
            raise ConfigError("CLOSEOUT_GRACE_SECONDS: must be >= 0")
        config = replace(config, grace_seconds=grace)
    if value := env.get("CLOSEOUT_MAX_MESSAGE_BYTES"):
        if not value.isdigit() or int(value) < 1024:
            raise ConfigError(f"CLOSEOUT_MAX_MESSAGE_BYTES: expected an integer >= 1024: {value!r}")
        config = replace(config, max_message_bytes=int(value))
    if value := env.get("CLOSEOUT_METRICS"):
        parse_listen(value, "CLOSEOUT_METRICS")
        config = replace(config, metrics=value)
    if value := env.get("CLOSEOUT_LOG_LEVEL"):
        config = replace(config, log_level=_log_level(value, "CLOSEOUT_LOG_LEVEL"))
    cert, key, ca = (env.get(f"CLOSEOUT_TLS_{k}") for k in ("CERT", "KEY", "CLIENT_CA"))
    if cert or key or ca:
        current = config.tls
        cert_path = Path(cert) if cert else (current.cert if current else None)
        key_path = Path(key) if key else (current.key if current else None)
        if cert_path is None or key_path is None:
            raise ConfigError("CLOSEOUT_TLS_CERT and CLOSEOUT_TLS_KEY: both are required")
        ca_path = Path(ca) if ca else (current.client_ca if current else None)
        config = replace(config, tls=TlsConfig(cert_path, key_path, ca_path))
    return config


def _journal_setting(raw: object, base: Path) -> Path | str | None:
    """``journal = "URL or path"``, or a ``[journal]`` table with ``url`` or ``path``."""
    if raw is None:
        return None
    if isinstance(raw, str):
        return _journal(raw, "journal", base)
    if not isinstance(raw, dict):
        raise ConfigError("journal: expected a URL or path string, or a table")
    _no_unknown(raw, {"path", "url"}, "journal.")
    if "path" in raw and "url" in raw:
        raise ConfigError("journal: give either path or url, not both")
    key = "url" if "url" in raw else "path"
    if key not in raw:
        return None
    return _journal(_str(raw, key, f"journal.{key}", None), f"journal.{key}", base)


def _journal(value: str, where: str, base: Path | None) -> Path | str:
    """A journal location; a relative SQLite path in a file is relative to that file."""
    try:
        location = parse_location(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if isinstance(location, Path):
        location = location.expanduser()
        if base is not None and not location.is_absolute():
            location = base / location
    return location


def _log_level(value: str, key: str = "server.log_level") -> str:
    level = value.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ConfigError(f"{key}: {value!r} is not DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _no_unknown(table: Mapping[str, Any], known: set[str], prefix: str) -> None:
    # A typo in a security setting must not be silently ignored.
    for key in table:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown key (known: {', '.join(sorted(known))})")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected a table")
    return value


def _str(table: Mapping[str, Any], key: str, where: str, default: str | None) -> str:
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: required")
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _path(table: Mapping[str, Any], key: str, where: str, base: Path) -> Path | None:
    if key not in table:
        return None
    path = Path(_str(table, key, where, None)).expanduser()
    # Relative paths in a file are relative to that file, so a config works from any cwd.
    return path if path.is_absolute() else base / path
