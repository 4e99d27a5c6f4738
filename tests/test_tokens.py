"""Tokens files for online scenario runs: both formats read through one checker."""

from __future__ import annotations

from pathlib import Path

import pytest

from clients.default_online import load_tokens
from clients.online import load_credentials
from clients.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]


def test_the_shipped_token_files_load() -> None:
    cds = load_credentials(ROOT / "examples" / "server" / "scenario-tokens.toml")
    assert cds.dealers["Goldman Sachs"] == ("goldman-sachs", "demo-goldman-sachs-token")
    default = load_tokens(ROOT / "examples" / "server" / "default-tokens.toml")
    assert default.operator_token == cds.operator_token == "demo-operator-token"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("dealers = {}\n", "operator", "operator's bearer token"),
        ('operator = "t"\nmembers = {}\n', "", "unknown key(s) members"),
        ('operator = "t"\ndealers = 3\n', "dealers", "must be a table"),
        ('operator = "t"\n[dealers]\nA = { token = "x" }\n', "dealers.A", "participant and token"),
        ("operator = \n", "", "cannot read tokens"),
    ],
)
def test_bad_cds_token_files_name_the_key(
    tmp_path: Path, text: str, where: str, words: str
) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load_credentials(path)
    assert info.value.where == (f"{path}: {where}" if where else str(path))
    assert words in info.value.message


def test_bad_default_token_file_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "tokens.toml"
    path.write_text('operator = "t"\n[members]\nBank-A = 7\n')
    with pytest.raises(ScenarioError) as info:
        load_tokens(path)
    assert info.value.where == f"{path}: members"
