"""``closeout.v1.AdminService``: read-only facts about the server, for operators.

``GetCaller`` is the exception: any authenticated participant learns who the server takes it
for (its own id and role, nothing else), so a client can decide what to offer a token.

Also the smallest complete example of a service module (see ``server/runtime.py``): a
servicer built around the :class:`~server.runtime.Runtime`, a role check, and ``register``.
This module must never change state or reveal anything about auctions.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from closeout.v1 import admin_pb2, admin_pb2_grpc
from server.auth import current_principal, requires_role
from server.config import Role
from server.runtime import Registration, Runtime

__all__ = ["AdminServicer", "register"]

_ROLES = {
    Role.OPERATOR: admin_pb2.PARTICIPANT_ROLE_OPERATOR,
    Role.DEALER: admin_pb2.PARTICIPANT_ROLE_DEALER,
    Role.MARKET_MAKER: admin_pb2.PARTICIPANT_ROLE_MARKET_MAKER,
    Role.CLEARING_MEMBER: admin_pb2.PARTICIPANT_ROLE_CLEARING_MEMBER,
    Role.OBSERVER: admin_pb2.PARTICIPANT_ROLE_OBSERVER,
}


SERVICE_NAME = admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    """Answers GetServerInfo from the runtime and GetCaller from the principal."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @requires_role(Role.OPERATOR)
    async def GetServerInfo(  # noqa: N802 -- the RPC's name, fixed by the proto
        self, request: admin_pb2.GetServerInfoRequest, context: Any
    ) -> admin_pb2.GetServerInfoResponse:
        now = Timestamp()
        now.FromDatetime(self._runtime.clock.now())
        head_seq, head_hash = self._runtime.journal.head
        return admin_pb2.GetServerInfoResponse(
            version=self._runtime.version,
            server_time=now,
            journal_head_sequence=head_seq,
            journal_head_hash=head_hash,
            caller_participant_id=current_principal().participant_id,
        )

    async def GetCaller(  # noqa: N802 -- the RPC's name, fixed by the proto
        self, request: admin_pb2.GetCallerRequest, context: Any
    ) -> admin_pb2.GetCallerResponse:
        principal = current_principal()
        return admin_pb2.GetCallerResponse(
            participant_id=principal.participant_id, role=_ROLES[principal.role]
        )


def register(server: Any, runtime: Runtime) -> Registration:
    """Add the AdminService to ``server``."""
    admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(runtime), server)
    return Registration(service_names=(SERVICE_NAME,))
