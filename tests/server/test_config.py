"""Configuration: demo defaults, the example file, env and flag overrides, errors naming keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import (
    DEMO_TOKENS,
    ConfigError,
    Role,
    demo_config,
    hash_token,
    load_config,
    token_matches,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "server" / "closeout.toml"
ONE = '[[participants]]\nid = "ops"\nrole = "operator"\ntoken_hash = "' + hash_token("t") + '"\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(text)
    return path


def test_demo_config_is_the_default() -> None:
    config = load_config(env={})
    assert config.listen == "127.0.0.1:50051"
    assert config.journal == Path("var/closeout.sqlite")
    assert config.tls is None
    roles = {p.id: p.role for p in config.participants}
    assert roles["ops"] is Role.OPERATOR
    assert {"dealer-a", "dealer-b", "dealer-c", "dealer-d"} <= roles.keys()
    assert Role.OBSERVER in roles.values()
    for participant in demo_config().participants:
        assert token_matches(DEMO_TOKENS[participant.id][1], participant.token_hash)


def test_tokens_are_stored_hashed() -> None:
    digest = hash_token("demo-operator-token")
    assert digest.startswith("sha256:")
    assert "demo-operator-token" not in digest
    assert token_matches("demo-operator-token", digest)
    assert not token_matches("demo-operator-token!", digest)
    assert "token" not in repr(demo_config().participants[0]).lower()


def test_example_file_loads_and_matches_demo_tokens() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.source == str(EXAMPLE)
    assert config.journal == EXAMPLE.parent / "../../var/closeout.sqlite"
    ops = next(p for p in config.participants if p.id == "ops")
    assert token_matches("demo-operator-token", ops.token_hash)


def test_env_and_overrides_win_in_order(tmp_path: Path) -> None:
    path = _write(tmp_path, '[server]\nlisten = "127.0.0.1:1"\n' + ONE)
    env = {
        "CLOSEOUT_CONFIG": str(path),
        "CLOSEOUT_LISTEN": "127.0.0.1:2",
        "CLOSEOUT_JOURNAL": "/tmp/env.sqlite",
        "CLOSEOUT_GRACE_SECONDS": "0.5",
        "CLOSEOUT_LOG_LEVEL": "debug",
        "CLOSEOUT_TLS_CERT": "c.pem",
        "CLOSEOUT_TLS_KEY": "k.pem",
    }
    config = load_config(env=env)
    assert config.listen == "127.0.0.1:2"
    assert config.journal == Path("/tmp/env.sqlite")
    assert config.grace_seconds == 0.5
    assert config.log_level == "DEBUG"
    assert config.tls is not None
    assert config.tls.client_ca is None
    flagged = load_config(env=env, overrides={"listen": "127.0.0.1:3", "journal": None})
    assert flagged.listen == "127.0.0.1:3"
    assert flagged.journal == Path("/tmp/env.sqlite")


def test_tls_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    text = '[tls]\ncert = "s.crt"\nkey = "s.key"\nclient_ca = "ca.crt"\n' + ONE
    config = load_config(_write(tmp_path, text), env={})
    assert config.tls is not None
    assert config.tls.cert == tmp_path / "s.crt"
    assert config.tls.client_ca == tmp_path / "ca.crt"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[server]\nlisten = "nowhere"\n' + ONE, "server.listen"),
        ("[server]\nlisten = 5\n" + ONE, "server.listen"),
        ("[server]\ngrace_seconds = -1\n" + ONE, "server.grace_seconds"),
        ('[server]\nlog_level = "LOUD"\n' + ONE, "server.log_level"),
        ('[server]\nlisen = "x"\n' + ONE, "server.lisen"),
        ('[tls]\ncert = "c"\n' + ONE, "tls.key"),
        ("", "participants"),
        (ONE.replace('"operator"', '"king"'), "participants[0].role"),
        (ONE.replace("sha256:", "md5:"), "participants[0].token_hash"),
        (ONE.replace('id = "ops"', 'id = "a b"'), "participants[0].id"),
        (ONE + ONE, "participants[1].id"),
        (ONE.replace("token_hash", "token"), "participants[0].token"),
        ("this is = not toml [", "not valid TOML"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(_write(tmp_path, text), env={})
    assert key in str(refused.value)


def test_missing_file_and_bad_env_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml", env={})
    with pytest.raises(ConfigError, match="CLOSEOUT_LISTEN"):
        load_config(env={"CLOSEOUT_LISTEN": "x"})
    with pytest.raises(ConfigError, match="CLOSEOUT_GRACE_SECONDS"):
        load_config(env={"CLOSEOUT_GRACE_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="CLOSEOUT_TLS_KEY"):
        load_config(env={"CLOSEOUT_TLS_CERT": "c.pem"})
