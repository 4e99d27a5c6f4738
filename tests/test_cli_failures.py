"""Wrong invocations of ``closeout``, each run as a real process: every one ends in exactly
one clear line on stderr and a non-zero exit status, never a traceback.

The table covers bad files, names, paths, ports and tokens, malformed targets, a server that
is not running or is stopped (SIGSTOP), and every TLS mismatch (plain text against TLS, TLS
against plain text, an untrusted certificate, mutual TLS without a client certificate),
against real ``closeout serve`` processes on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLOSEOUT = [sys.executable, "-c", "from clients.cli import main; main()"]
OPENSSL = shutil.which("openssl")
PATIENCE = 60.0  # a guard against a hung child, not a measurement

OPERATOR = ["--token", "demo-operator-token"]
# A log record of the server (text or JSON lines), not a message of the command.
LOG_RECORD = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ closeout\.|\{"level": )')


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLOSEOUT_", "GRPC_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["COLUMNS"] = "60"  # a narrow terminal: a long message must still be one line
    return {**env, **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@dataclass
class Server:
    process: subprocess.Popen[str]
    target: str


def _start(folder: Path, **env: str) -> Server:
    """``closeout serve`` (the built-in demo) on a free port, TLS settings from ``env``."""
    proc = subprocess.Popen(
        [*CLOSEOUT, "serve", "--listen", "127.0.0.1:0", "--journal", str(folder / "j.sqlite")],
        cwd=folder, env=_env(**env), stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if found := re.search(r"serving on 127\.0\.0\.1:(\d+)", line):
            return Server(proc, f"127.0.0.1:{found.group(1)}")
    proc.wait(PATIENCE)
    pytest.fail("closeout serve did not start:\n" + "".join(seen))


def _stop(server: Server) -> None:
    server.process.send_signal(signal.SIGCONT)
    server.process.kill()
    server.process.wait(PATIENCE)
    assert server.process.stderr is not None
    server.process.stderr.close()


def _openssl(folder: Path, name: str) -> tuple[Path, Path]:
    assert OPENSSL is not None
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name},IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class World:
    """Files and servers the wrong invocations point at."""

    folder: Path
    plain: Server
    tls: Server
    mutual: Server
    stopped: Server
    ca: Path
    other_ca: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if OPENSSL is None:
        pytest.fail("the openssl binary is needed (apt-get install openssl)")
    folder = tmp_path_factory.mktemp("cli-failures")
    ca, ca_key = _openssl(folder, "localhost")
    other_ca, _ = _openssl(folder, "other")
    client_cert, client_key = _openssl(folder, "dealer-a")
    (folder / "nd.sqlite").write_text("this is not a journal\n")
    (folder / "a-file").write_text("a file, not a folder\n")
    (folder / "nj.json").write_text("{ nope")
    scenario = json.loads((ROOT / "examples" / "cds" / "hertz_2020.json").read_text())
    text = json.dumps(scenario).replace('"Citigroup"', '"Citi\\u0007group"')
    (folder / "bd.json").write_text(text)
    servers: list[Server] = []
    try:
        for name, env in (
            ("plain", {}),
            ("tls", {"CLOSEOUT_TLS_CERT": str(ca), "CLOSEOUT_TLS_KEY": str(ca_key)}),
            (
                "mutual",
                {
                    "CLOSEOUT_TLS_CERT": str(ca),
                    "CLOSEOUT_TLS_KEY": str(ca_key),
                    "CLOSEOUT_TLS_CLIENT_CA": str(client_cert),
                },
            ),
            ("stopped", {}),
        ):
            (folder / name).mkdir()
            servers.append(_start(folder / name, **env))
        servers[3].process.send_signal(signal.SIGSTOP)
        plain, tls, mutual, stopped = servers
        yield World(folder, plain, tls, mutual, stopped, ca, other_ca, client_cert, client_key)
    finally:
        for server in servers:
            _stop(server)


@dataclass(frozen=True)
class Case:
    name: str
    args: Callable[[World], list[str]]
    code: int
    says: str


DOWN = f"127.0.0.1:{_free_port()}"  # nothing listens there
TOKENS = str(ROOT / "examples" / "server" / "scenario-tokens.toml")
HERTZ = str(ROOT / "examples" / "cds" / "hertz_2020.json")
SERVE = ["serve", "--listen", "127.0.0.1:0", "--journal"]
LIST = ["auctions", *OPERATOR]


def _at(server: str) -> Callable[[World], list[str]]:
    """``closeout auctions`` as the operator at one of the world's servers."""
    return lambda w: [*LIST, "--target", getattr(w, server).target]


def _tls_at(server: str, ca: str = "ca") -> Callable[[World], list[str]]:
    return lambda w: [*_at(server)(w), "--tls-ca", str(getattr(w, ca))]


CASES = [
    # files and names
    Case("scenario missing", lambda w: ["cds", "run", str(w.folder / "x.json")], 2, "x.json"),
    Case("scenario not JSON", lambda w: ["cds", "run", str(w.folder / "nj.json")], 2, "nj.json"),
    Case("dealer name refused", lambda w: ["cds", "run", str(w.folder / "bd.json")], 2, "refused"),
    Case(
        "default file missing", lambda w: ["default", "run", str(w.folder / "x.json")], 2, "x.json"
    ),
    Case(
        "pricing not JSON", lambda w: ["price", "swaps", str(w.folder / "nj.json")], 2, "not JSON"
    ),
    Case("load file missing", lambda w: ["default", "load", str(w.folder / "x.json")], 2, "x.json"),
    Case("unknown command", lambda w: ["frobnicate"], 2, "No such command"),
    Case(
        "bad date",
        lambda w: ["cds", "create", "a", "--panel", "x", "--stage1-open", "soon"],
        2,
        "--stage1-open",
    ),
    # the server's own start-up
    Case("journal not a database", lambda w: [*SERVE, str(w.folder / "nd.sqlite")], 1, "database"),
    Case(
        "journal under a file",
        lambda w: [*SERVE, str(w.folder / "a-file" / "j.sqlite")],
        1,
        "cannot open journal",
    ),
    Case("port out of range", lambda w: ["serve", "--listen", "127.0.0.1:99999"], 2, "host:port"),
    Case(
        "port busy",
        lambda w: ["serve", "--listen", w.plain.target, "--journal", str(w.folder / "b.sqlite")],
        2,
        "cannot listen",
    ),
    Case("config missing", lambda w: ["serve", "--config", "none.toml"], 2, "does not exist"),
    # targets and tokens
    Case(
        "target without port",
        lambda w: [*LIST, "--target", "127.0.0.1"],
        2,
        "'127.0.0.1' is not host:port (e.g. 127.0.0.1:50051)",
    ),
    Case("no token", lambda w: ["auctions", "--target", w.plain.target], 2, "a token is needed"),
    Case(
        "wrong token",
        lambda w: ["auctions", "--token", "nope", "--target", w.plain.target],
        1,
        "UNAUTHENTICATED",
    ),
    Case(
        "wrong role",
        lambda w: [
            "cds",
            "create",
            "a",
            "--panel",
            "dealer-a",
            "--target",
            w.plain.target,
            "--token",
            "demo-dealer-a-token",
        ],
        1,
        "PERMISSION_DENIED",
    ),
    Case(
        "unknown auction",
        lambda w: ["results", "nope", *OPERATOR, "--target", w.plain.target],
        1,
        "NOT_FOUND",
    ),
    Case(
        "server down",
        lambda w: [*LIST, "--target", DOWN],
        1,
        f"nothing is listening on {DOWN}: is `closeout serve` running on {DOWN}?",
    ),
    Case(
        "every standby down",
        lambda w: [*LIST, "--target", f"{DOWN},{DOWN}"],
        1,
        "is `closeout serve` running",
    ),
    Case(
        "server stopped (SIGSTOP)",
        lambda w: [*_at("stopped")(w), "--timeout", "1"],
        1,
        "no answer from",
    ),
    Case(
        "scenario on a down server",
        lambda w: ["cds", "run", HERTZ, "--target", DOWN, "--tokens", TOKENS],
        1,
        "is `closeout serve` running",
    ),
    # TLS
    Case(
        "CA file missing",
        lambda w: [*LIST, "--tls-ca", str(w.folder / "none.pem")],
        2,
        "cannot read the CA certificate",
    ),
    Case("CA file not PEM", lambda w: [*LIST, "--tls-ca", str(w.folder / "a-file")], 2, "PEM"),
    Case(
        "cert without key",
        lambda w: [*_tls_at("tls")(w), "--tls-cert", str(w.client_cert)],
        2,
        "go together",
    ),
    Case("plain text to TLS", _at("tls"), 1, "requires TLS"),
    Case("TLS to plain text", _tls_at("plain"), 1, "does not speak TLS"),
    Case("untrusted certificate", _tls_at("tls", "other_ca"), 1, "not signed by the CA"),
    Case("mutual TLS without client cert", _tls_at("mutual"), 1, "requires a client certificate"),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_wrong_invocation_is_one_clear_line_and_a_nonzero_exit(world: World, case: Case) -> None:
    done = subprocess.run(
        [*CLOSEOUT, *case.args(world)], cwd=world.folder, env=_env(), capture_output=True,
        text=True, timeout=PATIENCE, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    # ``closeout serve`` logs records to stderr once it runs; the failure is the line after.
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not LOG_RECORD.match(ln)]
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == case.code, done.stderr
    assert len(lines) == 1, done.stderr
    assert case.says in lines[0]


@pytest.mark.slow
def test_mutual_tls_server_is_reached_with_a_client_certificate(world: World) -> None:
    done = subprocess.run(
        [*CLOSEOUT, "auctions", *OPERATOR, "--target", world.mutual.target,
         "--tls-ca", str(world.ca), "--tls-cert", str(world.client_cert),
         "--tls-key", str(world.client_key)],
        env=_env(), capture_output=True, text=True, timeout=PATIENCE,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Auctions" in done.stdout
