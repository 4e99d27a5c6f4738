"""The server on its storage: journal locations in the config, a PostgreSQL journal end to end,
one server per journal, and an exclusive listening port."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

import grpc
import grpc.aio
import pytest

from closeout.v1 import admin_pb2, admin_pb2_grpc
from server.config import ConfigError, load_config
from server.journal import Journal, JournalLocked, JournalUnavailable, verify
from server.journal_store import describe_location
from tests.server.backends import location, postgres_location
from tests.server.conftest import OPERATOR, ProbeModule, make_config, running

__all__ = ["location", "postgres_location"]  # fixtures used here


def _config_file(tmp_path: Path, journal_line: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        journal_line
        + '\n[[participants]]\nid = "ops"\nrole = "operator"\ntoken_hash = "sha256:'
        + "0" * 64
        + '"\n'
    )
    return path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('journal = "postgresql://closeout@db.internal/closeout"', "postgresql://"),
        ('journal = "sqlite:///var/j.sqlite"', "var/j.sqlite"),
        ('journal = "sqlite:////srv/j.sqlite"', "/srv/j.sqlite"),
        ('journal = "var/j.sqlite"', "var/j.sqlite"),
        ('[journal]\npath = "var/j.sqlite"', "var/j.sqlite"),
        ('[journal]\nurl = "postgres://u@h/db"', "postgres://"),
    ],
)
def test_the_journal_is_a_path_or_a_url(tmp_path: Path, line: str, expected: str) -> None:
    config = load_config(_config_file(tmp_path, line), env={})
    if expected.endswith("://"):
        assert isinstance(config.journal, str)
        assert config.journal.startswith(expected)
    elif expected.startswith("/"):
        assert config.journal == Path(expected)
    else:  # relative to the config file
        assert config.journal == tmp_path / expected


def test_an_unknown_journal_scheme_is_refused_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"journal: unknown journal scheme 'mysql'"):
        load_config(_config_file(tmp_path, 'journal = "mysql://h/db"'), env={})
    with pytest.raises(ConfigError, match="CLOSEOUT_JOURNAL"):
        load_config(env={"CLOSEOUT_JOURNAL": "sqlite://relative"})


def test_env_and_flags_take_urls_and_the_standby_switch() -> None:
    url = "postgresql://closeout@db/closeout"
    assert load_config(env={"CLOSEOUT_JOURNAL": url}).journal == url
    flagged = load_config(env={}, overrides={"journal": url, "standby": True})
    assert (flagged.journal, flagged.standby) == (url, True)


def test_a_password_in_the_url_is_never_shown() -> None:
    shown = describe_location("postgresql://closeout:hunter2@db:5432/closeout")
    assert "hunter2" not in shown
    assert "db" in shown


async def test_the_server_runs_on_either_backend(location: str | Path, tmp_path: Path) -> None:
    config = replace(make_config(tmp_path), journal=location)
    async with running(config, (ProbeModule(),)) as first:
        appended = await first.journal.append("cds/A", [{"type": "A"}, {"type": "B"}])
    probe = ProbeModule()
    async with running(config, (probe,)) as second:
        assert second.replayed == 2
        assert probe.replayed == appended


async def test_two_servers_cannot_share_a_journal(location: str | Path, tmp_path: Path) -> None:
    config = replace(make_config(tmp_path), journal=location)
    async with running(config) as first:
        with pytest.raises(JournalLocked, match="one server writes a journal"):
            async with running(config):
                pass
        async with grpc.aio.insecure_channel(f"127.0.0.1:{first.port}") as channel:
            info = await admin_pb2_grpc.AdminServiceStub(channel).GetServerInfo(
                admin_pb2.GetServerInfoRequest(), metadata=OPERATOR
            )
        assert info.journal_head_sequence == 0  # the first one still serves


async def test_a_port_in_use_is_an_error_not_a_shared_port(tmp_path: Path) -> None:
    async with running(make_config(tmp_path / "a")) as first:
        other = replace(
            make_config(tmp_path / "b"), listen=f"127.0.0.1:{first.port}"
        )  # another journal, the same port
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1:\d+"):
            async with running(other):
                pass


async def test_a_port_held_by_another_program_is_an_error(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # it would share, we won't
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        config = replace(make_config(tmp_path), listen=f"127.0.0.1:{holder.getsockname()[1]}")
        with pytest.raises(ConfigError, match="cannot listen"):
            async with running(config):
                pass
    finally:
        holder.close()


async def test_an_unreachable_postgresql_journal_is_a_clear_error(postgres_location: str) -> None:
    missing = postgres_location.split("?")[0].rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(JournalUnavailable, match=r"cannot open journal .*no_such_database"):
        await Journal.open(missing)
    report = verify(missing)
    assert not report.ok
    assert "no_such_database" in (report.problem or "")
