"""The committed wire API in closeout/v1 must be exactly what scripts/gen_proto.py generates."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_code_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_modules_import_as_package() -> None:
    from closeout.v1 import admin_pb2, admin_pb2_grpc, common_pb2

    assert admin_pb2.DESCRIPTOR.package == "closeout.v1"
    assert "AdminService" in admin_pb2.DESCRIPTOR.services_by_name
    assert hasattr(admin_pb2_grpc, "AdminServiceServicer")
    assert common_pb2.Ack.DESCRIPTOR.full_name == "closeout.v1.Ack"
