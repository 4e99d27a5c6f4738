"""The empty baseline alone, in whatever interpreter runs it: ``python -m bench.grpccompare``.

Starts ``bench.baseline`` with the same interpreter, drives it with the unary load of
``bench.load`` and prints one JSON line (grpcio version, calls/s, p99, server CPU per call).
``closeout bench ingest --compare-grpc PYTHON`` runs it under this venv and another (e.g. a
throwaway venv with grpcio 1.85.1) to compare grpcio versions on the same machine, same run.

Imports only bench.load, bench.procs and grpc (never ``server``), so it runs in a venv that
has just grpcio, protobuf, uvloop and hdrhistogram with ``PYTHONPATH`` at the repository.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.load import WorkerSpec, drive
from bench.procs import ServerProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--dealers", type=int, default=8)
    args = parser.parse_args(argv)
    import grpc

    dealers = [(f"d{i:02d}", "unused") for i in range(args.dealers)]
    with ServerProcess("bench.baseline", python=sys.executable) as server:
        specs = [
            WorkerSpec(
                target=server.target,
                auction_id="baseline",
                dealers=tuple(dealers[p :: args.procs]),
                mode="unary",
                per_dealer=args.orders // args.dealers,
                in_flight=max(1, args.in_flight // args.dealers),
                seed=p,
            )
            for p in range(args.procs)
        ]
        cpu0: list[float] = []
        result = drive(specs, on_start=lambda: cpu0.append(server.cpu()))
        cpu = server.cpu() - cpu0[0]
    print(
        json.dumps(
            {
                "grpcio": grpc.__version__,
                "per_s": round(result.per_s, 1),
                "p50_ms": result.percentile_ms(50),
                "p99_ms": result.percentile_ms(99),
                "server_cpu_us_per_call": round(cpu / max(1, result.ok) * 1e6, 1),
                "errors": result.errors,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
