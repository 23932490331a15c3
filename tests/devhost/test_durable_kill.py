"""kill -9 in the middle of an orchestration, restart, and it completes without running again
the activities whose completion had been recorded."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import azure.durable_functions as df
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus

from devhost.durable import client_binding
from tests.devhost.durable_support import new_hub, run

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0


@contextmanager
def engine_process(database_url: str, task_hub: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The engine in its own process (tests/devhost/durable_runner.py); yields it and the origin
    of its client API once it is ready."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.devhost.durable_runner", database_url, task_hub],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # the runner prints READY or dies (EOF)
        assert line.startswith("READY "), f"runner did not start: {line!r}"
        yield process, f"http://127.0.0.1:{line.split()[1]}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def executions(effects: Path) -> Counter[str]:
    if not effects.exists():
        return Counter()
    return Counter(effects.read_text(encoding="utf-8").split())


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_kill_9_mid_orchestration_then_restart_completes_without_rerunning_activities(
    database_url: str, tmp_path: Path
) -> None:
    hub = new_hub()
    effects = tmp_path / "effects.txt"
    gate = tmp_path / "gate"
    request = {"path": str(effects), "gate": str(gate)}

    with engine_process(database_url, hub) as (process, origin):

        async def start() -> str:
            client = df.DurableOrchestrationClient(json.dumps(client_binding(origin, hub)))
            instance_id: str = await client.start_new("recorded_steps", None, request)
            return instance_id

        instance_id = run(start)
        # `gate` is scheduled only once the three first activities are recorded as completed;
        # it then blocks until the gate file exists, so the process dies in the middle.
        wait_until(lambda: executions(effects)["gate"] == 1, "the gate activity to start")
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    assert executions(effects) == Counter({"a0": 1, "a1": 1, "a2": 1, "gate": 1})
    gate.touch()

    with engine_process(database_url, hub) as (_, origin):

        async def finish() -> df.DurableOrchestrationStatus:
            client = df.DurableOrchestrationClient(json.dumps(client_binding(origin, hub)))
            deadline = time.monotonic() + WAIT
            while True:
                status = await client.get_status(instance_id)
                if status.runtime_status is OrchestrationRuntimeStatus.Completed:
                    return status
                assert status.runtime_status in (
                    OrchestrationRuntimeStatus.Running,
                    OrchestrationRuntimeStatus.Pending,
                ), status.output
                assert time.monotonic() < deadline, "the orchestration did not resume"
                await asyncio.sleep(0.05)

        status = run(finish)

    assert status.output == "done after after"
    # The activity that was running when the process died ran again (at least once); the ones
    # whose completion was recorded did not.
    assert executions(effects) == Counter({"a0": 1, "a1": 1, "a2": 1, "gate": 2, "after": 1})
