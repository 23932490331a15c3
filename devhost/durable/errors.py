"""What the durable engine raises; the client API maps each to its HTTP status in one place."""

from __future__ import annotations

from devhost.errors import DevhostError


class DurableError(Exception):
    """Base of the durable engine's errors."""


class DurableSetupError(DurableError, DevhostError):
    """The app's durable functions cannot be served as declared (the message names the one)."""


class UnknownOrchestrator(DurableError):
    """start_new named a function that is not an orchestrator of the app."""


class InstanceNotFound(DurableError):
    def __init__(self, instance_id: str) -> None:
        super().__init__(f"no orchestration instance with id '{instance_id}'")
        self.instance_id = instance_id


class InstanceGone(DurableError):
    """The instance has finished (Completed, Failed or Terminated)."""

    def __init__(self, instance_id: str, runtime_status: str) -> None:
        super().__init__(f"orchestration instance '{instance_id}' is {runtime_status}")
        self.instance_id = instance_id
        self.runtime_status = runtime_status
