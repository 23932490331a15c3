"""The devhost's one error type: a problem with the app or the local setup, said in one line."""

from __future__ import annotations


class DevhostError(Exception):
    """Start-up or configuration problem; the message names what to fix (function, setting)."""
