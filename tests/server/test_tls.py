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
from server.config import ConfigError, ServerConfig, TlsConfig, hash_token, load_config
from server.transport_policy import check_transport
from tests.server.conftest import OPERATOR, call_unary_unary, make_config, running

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


# -- transport policy ------------------------------------------------------------------------


def _own_tokens(config: ServerConfig) -> ServerConfig:
    """The config with tokens of its own (not the published demo ones)."""
    return replace(
        config,
        participants=tuple(
            replace(p, token_hash=hash_token(f"own-{p.id}-secret")) for p in config.participants
        ),
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "192.0.2.10", "example.org"])
async def test_no_tls_off_loopback_is_refused_unless_waived(tmp_path: Path, host: str) -> None:
    config = replace(_own_tokens(make_config(tmp_path)), listen=f"{host}:0")
    with pytest.raises(ConfigError, match=r"server\.listen: .*no \[tls\].*allow_insecure"):
        check_transport(config)
    with pytest.raises(ConfigError, match="no \\[tls\\]"):
        async with running(config):
            pass
    check_transport(replace(config, allow_insecure=True))  # the explicit waiver


@pytest.mark.parametrize("host", ["0.0.0.0", "[::]", "192.0.2.10"])
def test_metrics_off_loopback_are_refused_unless_waived(tmp_path: Path, host: str) -> None:
    """/metrics has no TLS (scrapers' tokens in clear): off loopback only with the waiver, even
    when the gRPC port is on loopback (the built-in demo's)."""
    config = replace(make_config(tmp_path), listen="127.0.0.1:0", metrics=f"{host}:9100")
    with pytest.raises(ConfigError, match=r"server\.metrics: .*allow_insecure"):
        check_transport(config)
    check_transport(replace(config, allow_insecure=True))  # the explicit waiver
    check_transport(replace(config, metrics="127.0.0.1:9100"))


@pytest.mark.parametrize("tls", [False, True])
async def test_demo_tokens_are_served_on_loopback_only(tmp_path: Path, tls: bool) -> None:
    cert, key = _self_signed(tmp_path, "localhost")
    config = replace(
        make_config(tmp_path),
        listen="0.0.0.0:0",
        allow_insecure=True,
        tls=TlsConfig(cert, key) if tls else None,
    )
    with pytest.raises(ConfigError, match="published demo tokens"):
        check_transport(config)
    check_transport(replace(config, listen="127.0.0.1:0"))
    check_transport(replace(config, listen="localhost:0"))
    check_transport(replace(config, listen="[::1]:0"))


def test_allow_insecure_and_certificate_binding_are_read_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[server]\nlisten = "0.0.0.0:1"\nallow_insecure = true\n'
        "[[participants]]\n"
        'id = "dealer-a"\nrole = "dealer"\nclient_cert_cn = "dealer-a.example"\n'
        f'token_hash = "{hash_token("own")}"\n'
    )
    config = load_config(path, env={})
    assert config.allow_insecure
    assert config.participants[0].client_cert_cn == "dealer-a.example"
    path.write_text(path.read_text().replace("allow_insecure = true", 'allow_insecure = "yes"'))
    with pytest.raises(ConfigError, match=r"server\.allow_insecure"):
        load_config(path, env={})


async def test_mutual_tls_binds_a_participant_to_its_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path, "localhost")
    ca_dir = tmp_path / "clients"
    ca_dir.mkdir()
    a_cert, a_key = _self_signed(ca_dir, "dealer-a")
    b_cert, b_key = _self_signed(ca_dir, "dealer-b")
    bundle = tmp_path / "client-ca.pem"
    bundle.write_bytes(a_cert.read_bytes() + b_cert.read_bytes())
    base = make_config(tmp_path)
    participants = tuple(
        replace(p, client_cert_cn=p.id) if p.id in ("dealer-a", "dealer-b") else p
        for p in base.participants
    )
    config = replace(base, participants=participants, tls=TlsConfig(cert, key, client_ca=bundle))
    dealer_a = (("authorization", "Bearer demo-dealer-a-token"),)

    def credentials(chain: Path, private: Path) -> grpc.ChannelCredentials:
        return grpc.ssl_channel_credentials(
            root_certificates=cert.read_bytes(),
            private_key=private.read_bytes(),
            certificate_chain=chain.read_bytes(),
        )

    async with running(config) as server:
        address = f"127.0.0.1:{server.port}"
        request = admin_pb2.GetServerInfoRequest()
        async with grpc.aio.secure_channel(
            address, credentials(a_cert, a_key), NAME_OVERRIDE
        ) as ch:
            assert await call_unary_unary(ch, b"who", dealer_a) == [b"dealer-a"]
            # An unbound participant (the operator) may use any certificate the CA signed.
            info = await admin_pb2_grpc.AdminServiceStub(ch).GetServerInfo(
                request, metadata=OPERATOR
            )
            assert info.caller_participant_id == "ops"
        async with grpc.aio.secure_channel(
            address, credentials(b_cert, b_key), NAME_OVERRIDE
        ) as ch:
            # dealer-b's certificate with dealer-a's token: refused, and nothing runs.
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await call_unary_unary(ch, b"who", dealer_a)
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "certificate" in (refused.value.details() or "")
