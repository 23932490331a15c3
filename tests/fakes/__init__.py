"""Stand-ins for outside services that tests drive for real (over HTTP, on loopback)."""

from __future__ import annotations


class FakeClock:
    """A clock tests move by hand; pass it wherever code takes a `Callable[[], float]`."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
