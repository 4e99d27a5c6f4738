"""TLS and mutual TLS on the listener, with self-signed certificates made by openssl here."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from closeout.v1 import admin_pb2, admin_pb2_grpc
from server.config import TlsConfig
from tests.server.conftest import OPERATOR, make_config, running

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(
    OPENSSL is None, reason="the openssl binary is not installed (apt-get install openssl)"
)
# The server's certificate names localhost; clients dial 127.0.0.1 and check that name.
NAME_OVERRIDE = (("grpc.ssl_target_name_override", "localhost"),)


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    assert OPENSSL is not None
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def _health(channel: grpc.aio.Channel) -> int:
    reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    status: int = reply.status
    return status


async def test_tls_listener(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "localhost")
    config = replace(make_config(tmp_path), tls=TlsConfig(cert, key))
    async with running(config) as server:
        address = f"127.0.0.1:{server.port}"
        credentials = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with grpc.aio.secure_channel(address, credentials, NAME_OVERRIDE) as ch:
            assert await _health(ch) == health_pb2.HealthCheckResponse.SERVING
            info = await admin_pb2_grpc.AdminServiceStub(ch).GetServerInfo(
                admin_pb2.GetServerInfoRequest(), metadata=OPERATOR
            )
            assert info.caller_participant_id == "ops"
        async with grpc.aio.insecure_channel(address) as plain:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _health(plain)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_mutual_tls_requires_a_client_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "localhost")
    client_cert, client_key = _self_signed(tmp_path, "dealer-a")
    config = replace(make_config(tmp_path), tls=TlsConfig(cert, key, client_ca=client_cert))
    async with running(config) as server:
        address = f"127.0.0.1:{server.port}"
        with_cert = grpc.ssl_channel_credentials(
            root_certificates=cert.read_bytes(),
            private_key=client_key.read_bytes(),
            certificate_chain=client_cert.read_bytes(),
        )
        async with grpc.aio.secure_channel(address, with_cert, NAME_OVERRIDE) as ch:
            assert await _health(ch) == health_pb2.HealthCheckResponse.SERVING
        without_cert = grpc.ssl_channel_credentials(root_certificates=cert.read_bytes())
        async with grpc.aio.secure_channel(address, without_cert, NAME_OVERRIDE) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await _health(ch)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
