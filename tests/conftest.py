"""Shared fixtures."""

from __future__ import annotations

import pytest
from azure.functions.decorators.function_app import Function

pytest_plugins = [
    "tests.support.azurite",
    "tests.support.database",
    "tests.support.api",
    "tests.support.e2e",
]


@pytest.fixture(scope="session")
def functions() -> dict[str, Function]:
    """The app's functions by name (the SDK lists them once per process, so cache it)."""
    import function_app

    return {fn.get_function_name(): fn for fn in function_app.app.get_functions()}
