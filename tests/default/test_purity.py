"""The default-management engines stay pure: no pricing, transport, I/O, clock or own randomness."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted([*ROOT.glob("matching/clearing/*.py"), *ROOT.glob("matching/default/*.py")])
FORBIDDEN = {"pricing", "grpc", "asyncio", "server", "clients", "time", "os", "secrets", "socket"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_forbidden_imports_and_no_clock(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
        if isinstance(node, ast.Attribute):
            assert node.attr not in {"now", "utcnow", "today"}, f"{path.name} reads a clock"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"open", "print", "input"}, f"{path.name} does I/O"
    source = path.read_text()
    if "import random" in source:
        # the only randomness allowed: a generator seeded from an argument
        assert path.name == "award.py" and "random.Random(seed)" in source
