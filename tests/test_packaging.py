"""What a newcomer checks first: ``closeout --version``, the LICENSE the package declares,
and the package metadata (licence file, classifiers)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_version_flag_prints_the_package_version() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from clients.cli import main; main()", "--version"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == f"closeout {PROJECT['version']}"


def test_license_file_is_the_apache_2_text_the_metadata_declares() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_metadata_carries_classifiers() -> None:
    # Read from pyproject.toml, not the installed metadata: a venv installed before a
    # metadata change would otherwise fail this test until reinstalled.
    classifiers = PROJECT["classifiers"]
    assert "Programming Language :: Python :: 3.11" in classifiers
    assert "Topic :: Office/Business :: Financial" in classifiers
    assert "License :: OSI Approved :: Apache Software License" not in classifiers  # PEP 639


def test_python_classifiers_are_versions_the_package_accepts() -> None:
    from packaging.specifiers import SpecifierSet

    accepted = SpecifierSet(PROJECT["requires-python"])
    prefix = "Programming Language :: Python :: "
    versions = [c.removeprefix(prefix) for c in PROJECT["classifiers"] if c.startswith(prefix)]
    minor = [v for v in versions if v.count(".") == 1]
    assert minor and all(v in accepted for v in minor)
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in minor  # the one tested
