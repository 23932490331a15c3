"""Fixtures for API tests: a fresh user per test, with tokens for any roles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from tests.support.api import Client


@dataclass(frozen=True)
class User:
    name: str
    client: Client

    @property
    def owner(self) -> str:
        """The owner id the API derives from this user's dev-issuer token."""
        return f"dev-{self.name}"

    def token(self, *roles: str) -> str:
        return self.client.token(self.name, *(roles or ("processor",)))


def new_user(api: Client) -> User:
    return User(f"u{uuid.uuid4().hex[:12]}", api)


@pytest.fixture
def alice(api: Client) -> User:
    return new_user(api)


@pytest.fixture
def bob(api: Client) -> User:
    return new_user(api)
