"""The devhost's durable engine: orchestration overhead per activity, and activities per second.

    .venv/bin/python -m bench.devhost_durable [--workers 4] [--chains 10,50] [--fan-out 1000]
                                              [--instances 50] [--per-instance 20]
                                              [--database-url URL]

Activities do nothing, so every number is the engine's own cost: an episode (replaying the
history through the SDK, one transaction), the activity's dispatch and its completion (another
transaction). Three shapes:

- chain: one orchestration calling N activities one after another (N in `--chains`); time per
  activity is the latency overhead (each step is one episode, and each replays a longer
  history, so it grows with N);
- fan-out: one orchestration with `--fan-out` activities in one task_all; throughput when
  results are batched into few episodes;
- many: `--instances` orchestrations at once, each fanning out `--per-instance` activities;
  throughput with episodes of many instances competing.

Uses the embedded PostgreSQL 18 (in a temporary directory) unless --database-url.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import tempfile
import time
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

from devhost.durable import DurableEngine, HistoryStore


def noop(value: Any) -> Any:
    return value


def chain(context: Any) -> Generator[Any, Any, int]:
    total = 0
    for step in range(context.get_input()):
        total += yield context.call_activity("noop", step)
    return total


def fan_out(context: Any) -> Generator[Any, Any, int]:
    results = yield context.task_all(
        [context.call_activity("noop", i) for i in range(context.get_input())]
    )
    return sum(results)


async def timed(engine: DurableEngine, name: str, inputs: list[int]) -> float:
    started = time.perf_counter()
    ids = [await engine.start_new(name, None, value) for value in inputs]
    statuses = await asyncio.gather(*(engine.wait_for_completion(i, 600) for i in ids))
    elapsed = time.perf_counter() - started
    failed = [s for s in statuses if s.runtime_status != "Completed"]
    if failed:
        raise SystemExit(f"{len(failed)} orchestration(s) failed: {failed[0].output}")
    return elapsed


async def measure(args: argparse.Namespace, store: HistoryStore) -> list[tuple[str, str, str]]:
    engine = DurableEngine(
        {"chain": chain, "fan_out": fan_out},
        {"noop": noop},
        store,
        task_hub=f"bench{uuid.uuid4().hex[:8]}",
        activity_workers=args.workers,
    )
    rows: list[tuple[str, str, str]] = []
    async with engine:
        await timed(engine, "chain", [3])  # warm-up: imports, connections
        for length in args.chains:
            elapsed = await timed(engine, "chain", [length])
            rows.append(
                (
                    f"chain of {length}",
                    f"{elapsed / length * 1000:.1f} ms per activity",
                    f"{length / elapsed:.0f} activities/s",
                )
            )
        elapsed = await timed(engine, "fan_out", [args.fan_out])
        rows.append(
            (
                f"fan-out of {args.fan_out}",
                f"{elapsed:.2f} s ({elapsed / args.fan_out * 1000:.2f} ms per activity)",
                f"{args.fan_out / elapsed:.0f} activities/s",
            )
        )
        total = args.instances * args.per_instance
        elapsed = await timed(engine, "fan_out", [args.per_instance] * args.instances)
        rows.append(
            (
                f"{args.instances} x fan-out of {args.per_instance}",
                f"{elapsed:.2f} s",
                f"{total / elapsed:.0f} activities/s",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="activity workers")
    parser.add_argument(
        "--chains", type=lambda text: [int(n) for n in text.split(",")], default=[10, 50]
    )
    parser.add_argument("--fan-out", type=int, default=1000)
    parser.add_argument("--instances", type=int, default=50)
    parser.add_argument("--per-instance", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-durable-") as scratch:
        url = args.database_url
        if url is None:
            from shared.storage.database import embedded_url

            url = embedded_url(Path(scratch) / "postgres")
        store = HistoryStore(url)
        try:
            rows = asyncio.run(measure(args, store))
        finally:
            store.close()
    print(f"# devhost durable engine: {os.cpu_count()} CPUs, Python {platform.python_version()},")
    print(f"# {args.workers} activity workers, no-op activities")
    print("| shape | time | throughput |")
    print("| --- | --- | --- |")
    for shape, duration, throughput in rows:
        print(f"| {shape} | {duration} | {throughput} |")


if __name__ == "__main__":
    main()
