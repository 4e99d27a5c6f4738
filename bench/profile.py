"""Where the server's time goes under load: ``python -m bench.profile stream|unary N OUT``.

Starts a bench server, brings an auction to stage 2, attaches ``py-spy record`` (a sampling
profiler, installed into the venv for profiling only; not a dependency) to the server
process while load processes submit ``N`` orders, and prints the functions with the most
samples (self and inclusive) from py-spy's raw (collapsed) output written to ``OUT``.

A diagnostic, not a benchmark: sampling costs the server some CPU. Never attaches to a
process it did not start.
"""

from __future__ import annotations

import asyncio
import collections
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.load import WorkerSpec, drive
from bench.procs import ServerProcess
from bench.serverproc import dealer_ids, dealer_token
from bench.setup import open_stage2


def summarise(raw: Path, top_self: int = 30, top_incl: int = 60) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            incl[frame] += count
    out = [f"samples: {total}", "-- self"]
    out += [f"{100 * c / total:5.1f}%  {f}" for f, c in own.most_common(top_self)]
    out += ["-- inclusive"]
    out += [f"{100 * c / total:5.1f}%  {f}" for f, c in incl.most_common(top_incl)]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    mode, orders, out = argv[0], int(argv[1]), Path(argv[2])
    extra = argv[3:]  # e.g. --native (py-spy must pause the process to unwind native stacks)
    nonblocking = [] if "--native" in extra else ["--nonblocking"]
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with (
        tempfile.TemporaryDirectory() as tmp,
        ServerProcess(
            "bench.serverproc", ["--dealers", "25", "--journal", f"{tmp}/j.sqlite"]
        ) as server,
    ):
        asyncio.run(open_stage2(server.target, "profile", dealer_ids(25), 10**15))
        dealers = dealer_ids(25)[:8]
        specs = [
            WorkerSpec(
                target=server.target,
                auction_id="profile",
                dealers=tuple((d, dealer_token(d)) for d in dealers[p::2]),
                mode=mode,
                per_dealer=orders // 8,
                in_flight=8 if mode == "unary" else 1,
                seed=p,
            )
            for p in range(2)
        ]
        spy: list[subprocess.Popen[bytes]] = []

        def start() -> None:
            spy.append(
                subprocess.Popen(
                    [spy_bin, "record", "-p", str(server.pid), "-r", "250", "-f", "raw", *extra,
                     "-o", str(out), *nonblocking],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
            time.sleep(1.0)

        try:
            result = drive(specs, on_start=start)
        finally:
            for p in spy:
                p.send_signal(signal.SIGINT)
                p.wait(30)
    print(f"{mode}: {result.per_s:,.0f} orders/s while sampled, errors {result.errors}")
    print(summarise(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
