"""Who is calling, and what they may do.

A `Principal` is built from verified token claims only; the HTTP layer gets it
from `Authenticator.authenticate` and passes it down to the repositories.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shared.config import IssuerConfig
from shared.errors import Forbidden, Unauthorized


class Role(StrEnum):
    """Roles from least to most powerful; each includes everything below it."""

    VIEWER = "viewer"
    PROCESSOR = "processor"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Role.VIEWER: 1, Role.PROCESSOR: 2, Role.ADMIN: 3}

# The user id becomes a blob path segment and an owner column: keep it to a safe alphabet.
_USER_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


@dataclass(frozen=True)
class Principal:
    # "<issuer name>-<user claim>", e.g. "entra-6f1c...", so two issuers' users never collide.
    user_id: str
    roles: frozenset[Role]
    # The IssuerConfig name that vouched for this user.
    issuer: str

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def can(self, role: Role) -> bool:
        """True when one of the principal's roles is `role` or above it."""
        return any(held.rank >= role.rank for held in self.roles)


def require(principal: Principal, role: Role) -> None:
    """Raise `Forbidden` unless the principal holds `role` or a role above it."""
    if not principal.can(role):
        raise Forbidden(f"this action needs the {role.value!r} role")


def user_id_for(issuer: IssuerConfig, claim_value: object) -> str:
    """The owner id for a user claim; `Unauthorized` when it cannot make a safe id."""
    if not isinstance(claim_value, str) or not claim_value:
        raise Unauthorized(f"token lacks a usable {issuer.user_claim!r} claim")
    user_id = f"{issuer.name}-{claim_value}"
    if not _USER_ID.fullmatch(user_id):
        raise Unauthorized(f"token's {issuer.user_claim!r} claim is not a valid user id")
    return user_id


def roles_from(issuer: IssuerConfig, claims: Mapping[str, Any]) -> frozenset[Role]:
    """Known roles from the issuer's roles claim; the issuer's defaults when it carries none.

    Unknown role names are ignored (an IdP may grant roles for other apps), so a
    token with no known role and no defaults yields no roles at all.
    """
    raw = claims.get(issuer.roles_claim)
    names: list[str] = []
    if isinstance(raw, str):
        names = raw.split()
    elif isinstance(raw, list):
        names = [name for name in raw if isinstance(name, str)]
    known = frozenset(Role(name) for name in names if name in _ROLE_VALUES)
    if known:
        return known
    return frozenset(Role(name) for name in issuer.default_roles if name in _ROLE_VALUES)


_ROLE_VALUES = frozenset(role.value for role in Role)


def principal_from_claims(issuer: IssuerConfig, claims: Mapping[str, Any]) -> Principal:
    """Map verified claims to a Principal (the claims must already be verified)."""
    return Principal(
        user_id=user_id_for(issuer, claims.get(issuer.user_claim)),
        roles=roles_from(issuer, claims),
        issuer=issuer.name,
    )
