"""Regenerate the committed wire API (``closeout/v1``) from ``proto/closeout/v1/*.proto``.

Usage::

    .venv/bin/python scripts/gen_proto.py           # rewrite closeout/v1/*_pb2*.py{,i}
    .venv/bin/python scripts/gen_proto.py --check   # exit 1 if the committed code is stale

Generates ``*_pb2.py`` and ``*_pb2_grpc.py`` with grpcio-tools and ``*_pb2.pyi`` /
``*_pb2_grpc.pyi`` with mypy-protobuf, using ``proto/`` as the proto path so the code imports
as ``from closeout.v1 import x_pb2``. This script must never edit a ``.proto`` file or any
hand-written module; it only owns the generated files in ``closeout/v1``.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = Path("closeout") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _plugin(name: str) -> Path:
    # The mypy-protobuf plugins live beside the interpreter in a venv; PATH may not have them.
    candidate = Path(sys.executable).parent / name
    found = candidate if candidate.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"gen_proto: {name} not found (install mypy-protobuf)")
    return Path(found)


def proto_files() -> list[Path]:
    """Every .proto of the wire API, relative to ``proto/``, sorted for a stable output."""
    return sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Generate into ``out_dir`` (which gets ``closeout/v1/...``); return the files written."""
    # Deferred: grpcio-tools is a test-only dependency; it ships no type information.
    from grpc_tools import protoc  # type: ignore[import-untyped]

    files = proto_files()
    if not files:
        raise SystemExit(f"gen_proto: no .proto files under {PROTO_ROOT / PACKAGE_DIR}")
    (out_dir / PACKAGE_DIR).mkdir(parents=True, exist_ok=True)
    well_known = resources.files("grpc_tools") / "_proto"
    args = [
        "grpc_tools.protoc",
        f"--proto_path={PROTO_ROOT}",
        f"--proto_path={well_known}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *(str(f) for f in files),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("gen_proto: protoc failed (see the messages above)")
    return sorted(
        p for p in (out_dir / PACKAGE_DIR).iterdir() if p.name.endswith(GENERATED_SUFFIXES)
    )


def _committed() -> dict[str, Path]:
    return {
        p.name: p
        for p in (ROOT / PACKAGE_DIR).iterdir()
        if p.is_file() and p.name.endswith(GENERATED_SUFFIXES)
    }


def check() -> int:
    """Regenerate into a temporary folder; print differences; 0 if none, 1 otherwise."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p for p in generate(Path(tmp))}
        committed = _committed()
        problems: list[str] = []
        for name in sorted(fresh.keys() - committed.keys()):
            problems.append(f"missing: {PACKAGE_DIR / name}")
        for name in sorted(committed.keys() - fresh.keys()):
            problems.append(f"no longer generated (delete it): {PACKAGE_DIR / name}")
        for name in sorted(fresh.keys() & committed.keys()):
            new = fresh[name].read_text().splitlines(keepends=True)
            old = committed[name].read_text().splitlines(keepends=True)
            if new != old:
                diff = difflib.unified_diff(old, new, f"committed/{name}", f"generated/{name}")
                problems.append(f"stale: {PACKAGE_DIR / name}\n{''.join(list(diff)[:40])}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("gen_proto: generated code is stale; run scripts/gen_proto.py", file=sys.stderr)
        return 1
    print("gen_proto: generated code is up to date")
    return 0


def write() -> int:
    """Regenerate in place, removing generated files whose .proto is gone."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p for p in generate(Path(tmp))}
        for name, path in _committed().items():
            if name not in fresh:
                path.unlink()
        for name, path in fresh.items():
            shutil.copyfile(path, ROOT / PACKAGE_DIR / name)
    print(f"gen_proto: wrote {len(fresh)} files to {PACKAGE_DIR}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if committed code is stale")
    args = parser.parse_args(argv)
    return check() if args.check else write()


if __name__ == "__main__":
    sys.exit(main())
