"""The server's HTTP/2 transport options: keepalive enforcement, message sizes, one listener.

* **Keepalive**: the server pings each connection every :data:`KEEPALIVE_TIME_MS` and
  closes one whose ping goes unanswered for :data:`KEEPALIVE_TIMEOUT_MS` (a vanished
  client's watch stream is reclaimed). It accepts client pings at most every
  :data:`MIN_CLIENT_PING_INTERVAL_MS` (the SDK pings every 30 s, ``clients/channel.py``)
  and closes a connection that pings faster :data:`MAX_PING_STRIKES` times.
* **Message sizes**: ``max_message_bytes`` (``server.max_message_bytes`` in the config)
  caps requests and responses alike; bulk data goes in streams of small messages
  (``SubmitOrders``, the chunked portfolio load) or pages, never one huge message.
* **One listener per port**: ``SO_REUSEPORT`` is off, so a second server on a busy port
  fails to start instead of silently sharing the port with the first.

This module only builds grpc options; it must never hold server logic.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "KEEPALIVE_TIMEOUT_MS",
    "KEEPALIVE_TIME_MS",
    "MAX_PING_STRIKES",
    "MIN_CLIENT_PING_INTERVAL_MS",
    "server_options",
]

DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
KEEPALIVE_TIME_MS = 60_000
KEEPALIVE_TIMEOUT_MS = 20_000
MIN_CLIENT_PING_INTERVAL_MS = 20_000
MAX_PING_STRIKES = 2


def server_options(max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[tuple[str, Any]]:
    """The grpc server options (channel arguments) for the transport policy above."""
    return [
        ("grpc.so_reuseport", 0),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", MIN_CLIENT_PING_INTERVAL_MS),
        ("grpc.http2.min_ping_interval_without_data_ms", MIN_CLIENT_PING_INTERVAL_MS),
        ("grpc.http2.max_ping_strikes", MAX_PING_STRIKES),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]
