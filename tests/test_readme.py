"""The README opens with exactly two set-up commands, and CI runs the second one's tests."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def first_block() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"```sh\n(.*?)```", text, re.S)
    assert match is not None, "the README has no shell block"
    assert text.index(match.group(0)) < text.index("\n---\n"), "the set-up block comes first"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_readme_starts_with_two_setup_commands() -> None:
    serve, tests = first_block()
    assert serve.endswith("closeout serve")
    assert "pip install" in serve and "pip install" in tests
    assert tests.endswith("pytest -q")


def test_ci_installs_and_runs_the_readme_tests() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -q -e '.[test]'" in ci
    assert ".venv/bin/pytest -q" in ci
