"""The repository stands alone: nothing in it reads or links files outside it, the published
data its tests replay is inside it with its provenance, and CI runs the suite from a copy of
the clone alone."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "cds_auctions"
# What would reach outside the clone: the folder beside it, or an absolute path on the
# machine the project was started on.
OUTSIDE = re.compile(r"\.\./shared|/work/|parents\[\d\]\.parent|ROOT\.parent")


SKIPPED_DIRS = {"build", "dist", "var", "node_modules"}


def text_files() -> list[Path]:
    """Every source, doc and data file of the checkout (not .git, the venv or caches)."""
    found = []
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        hidden = any(p.startswith(".") and p not in {".ci", ".github"} for p in parts)
        if hidden or parts & SKIPPED_DIRS or any(p.endswith(".egg-info") for p in parts):
            continue
        if path.is_file() and path.suffix in {".py", ".md", ".toml", ".json", ".yaml", ""}:
            found.append(path)
    return found


def test_nothing_reads_or_links_outside_the_repository() -> None:
    files = text_files()
    assert any(p.name == "README.md" for p in files)
    this = Path(__file__).resolve()
    offenders = [
        f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
        for p in files
        if p.resolve() != this
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert offenders == []


def test_published_data_matches_the_checksums_in_its_provenance() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    listed = dict(
        (name, digest) for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    on_disk = {p.name for p in DATA.iterdir() if p.name != "README.md"}
    assert set(listed) == on_disk
    for name, digest in listed.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name


def test_ci_runs_the_suite_from_a_copy_of_the_clone_in_an_empty_folder() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    copy, cd, install = (
        ci.index("git ls-files"),
        ci.index('cd "$empty/closeout"'),
        ci.index("pip install -q -e '.[test]'"),
    )
    assert "mktemp -d" in ci and copy < cd < install < ci.index(".venv/bin/pytest -q")
