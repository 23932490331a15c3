"""The orchestrators replayed through the Durable Functions SDK against recorded histories.

The histories in tests/flow/histories/ were recorded from real runs
(`python -m tests.flow.capture_histories`). Replaying one must schedule exactly the activities
and sub-orchestrations the history records, with the same inputs, in the same order, and end
with the recorded output: that is what keeps a running orchestration valid across a deploy,
and what the Durable Task runtime checks on every replay.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from blueprints import flow
from devhost.durable.replay import run_episode

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
SCHEDULED = {4: "CallActivity", 7: "CallSubOrchestrator"}  # TaskScheduled, SubOrchestration...
EXECUTION_COMPLETED = 1
ORCHESTRATORS = {"ingest": flow.ingest, "process_document": flow.process_document}


def _recorded(history: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    return [
        (SCHEDULED[e["EventType"]], e["Name"], json.loads(e["Input"]) if e.get("Input") else None)
        for e in history
        if e["EventType"] in SCHEDULED
    ]


def _context(record: dict[str, Any], history: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "history": history,
        "input": record["input"],
        "instanceId": record["instanceId"],
        "isReplaying": True,
        "parentInstanceId": None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
    }


def _replayed(signature: list[list[Any]]) -> list[tuple[str, str]]:
    """(kind, name) of each scheduled action; retries are the host's business, not the kind's."""
    return [(kind.removesuffix("WithRetry"), name.split("@")[0]) for kind, name in signature]


def _user_function(name: str) -> Any:
    function = ORCHESTRATORS[name]
    return getattr(function, "_function", function).get_user_function()


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
def test_replaying_a_recorded_history_schedules_what_it_recorded(path: Path) -> None:
    record = json.loads(path.read_text())
    history = record["history"]
    episode = run_episode(_user_function(record["name"]), _context(record, history))
    assert episode.error is None
    assert episode.done
    completed = next(e for e in history if e["EventType"] == EXECUTION_COMPLETED)
    assert json.loads(episode.output or "null") == json.loads(completed["Result"])
    assert _replayed(episode.signature) == [(kind, name) for kind, name, _ in _recorded(history)]


@pytest.mark.parametrize("path", HISTORIES, ids=lambda path: path.stem)
def test_every_prefix_of_the_history_replays_without_diverging(path: Path) -> None:
    """An orchestration resumes from any point of its history: each episode boundary
    (OrchestratorStarted) replays to a schedule that extends the recorded one."""
    record = json.loads(path.read_text())
    history = record["history"]
    recorded = [(kind, name) for kind, name, _ in _recorded(history)]
    cuts = [n for n, e in enumerate(history) if e["EventType"] == 12 and n > 0]
    for cut in cuts:
        episode = run_episode(_user_function(record["name"]), _context(record, history[:cut]))
        assert episode.error is None, (cut, episode.error)
        replayed = _replayed(episode.signature)
        assert replayed == recorded[: len(replayed)], cut


def test_activity_inputs_carry_references_not_document_content() -> None:
    """Issue contract: history holds blob paths and ids, never page text or file bytes."""
    for path in HISTORIES:
        for _kind, name, payload in _recorded(json.loads(path.read_text())["history"]):
            text = json.dumps(payload)
            assert len(text) < 2000, (path.stem, name)
            assert "%PDF" not in text and "words" not in text, (path.stem, name)


def test_a_changed_orchestrator_is_caught_by_the_replay() -> None:
    """The check can fail: replaying the ingest history with the per-document orchestrator
    schedules something else entirely."""
    record = json.loads((Path(__file__).parent / "histories" / "ingest-zip.json").read_text())
    episode = run_episode(_user_function("process_document"), _context(record, record["history"]))
    recorded = [(kind, name) for kind, name, _ in _recorded(record["history"])]
    assert _replayed(episode.signature) != recorded
