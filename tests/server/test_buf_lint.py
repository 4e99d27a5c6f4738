"""``buf lint`` (STANDARD rules, buf.yaml at the repo root) passes on proto/."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _buf() -> str:
    # buf-bin installs the binary beside the interpreter; the venv may not be on PATH.
    beside = Path(sys.executable).parent / "buf"
    found = str(beside) if beside.exists() else shutil.which("buf")
    assert found, "buf not installed: buf-bin is a test dependency (pip install -e '.[test]')"
    return found


def test_buf_lint_is_clean() -> None:
    result = subprocess.run([_buf(), "lint"], capture_output=True, text=True, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
