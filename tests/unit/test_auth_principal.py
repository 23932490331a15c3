"""Principals and roles (shared/auth/principal.py)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.auth import Principal, Role, require
from shared.auth.principal import principal_from_claims
from shared.config import IssuerConfig
from shared.errors import Forbidden, Unauthorized

ISSUER = IssuerConfig(name="idp", issuer="https://idp.test", audience="api", jwks_uri="https://k")


def principal(*roles: Role) -> Principal:
    return Principal(user_id="idp-alice", roles=frozenset(roles), issuer="idp")


@pytest.mark.parametrize(
    ("held", "allowed"),
    [
        (Role.VIEWER, {Role.VIEWER}),
        (Role.PROCESSOR, {Role.VIEWER, Role.PROCESSOR}),
        (Role.ADMIN, {Role.VIEWER, Role.PROCESSOR, Role.ADMIN}),
    ],
)
def test_each_role_includes_the_roles_below_it(held: Role, allowed: set[Role]) -> None:
    assert {role for role in Role if principal(held).can(role)} == allowed


def test_only_admins_are_admins() -> None:
    assert principal(Role.ADMIN).is_admin
    assert not principal(Role.VIEWER, Role.PROCESSOR).is_admin


def test_require_raises_forbidden_without_the_role() -> None:
    require(principal(Role.PROCESSOR), Role.VIEWER)
    with pytest.raises(Forbidden, match="'admin'"):
        require(principal(Role.PROCESSOR), Role.ADMIN)
    with pytest.raises(Forbidden):
        require(principal(), Role.VIEWER)


@pytest.mark.parametrize(
    ("roles_claim", "default_roles", "expected"),
    [
        (["viewer", "processor"], (), {Role.VIEWER, Role.PROCESSOR}),
        (["admin", "Invoice.Approver", "owner"], (), {Role.ADMIN}),
        ("processor viewer", (), {Role.PROCESSOR, Role.VIEWER}),
        (None, ("viewer",), {Role.VIEWER}),
        (["superuser"], ("viewer",), {Role.VIEWER}),
        (["processor"], ("viewer",), {Role.PROCESSOR}),
        (["superuser", 7], (), set()),
        (None, (), set()),
        ({"admin": True}, (), set()),
    ],
)
def test_roles_come_from_the_claim_or_the_issuers_defaults(
    roles_claim: Any, default_roles: tuple[str, ...], expected: set[Role]
) -> None:
    issuer = IssuerConfig(
        name="idp", issuer="i", audience="a", jwks_uri="https://k", default_roles=default_roles
    )
    claims = {"sub": "alice"} | ({} if roles_claim is None else {"roles": roles_claim})
    assert principal_from_claims(issuer, claims).roles == expected


def test_a_principal_without_known_roles_can_do_nothing() -> None:
    nobody = principal_from_claims(ISSUER, {"sub": "alice", "roles": ["superuser"]})
    assert nobody.roles == frozenset()
    assert not any(nobody.can(role) for role in Role)


def test_the_user_id_is_the_issuer_name_and_the_user_claim() -> None:
    entra = IssuerConfig(name="entra", issuer="i", audience="a", jwks_uri="k", user_claim="oid")
    claims = {"sub": "pairwise", "oid": "6f1c2d3e-0000-4000-8000-000000000001"}
    assert principal_from_claims(entra, claims).user_id == (
        "entra-6f1c2d3e-0000-4000-8000-000000000001"
    )
    assert principal_from_claims(entra, claims).issuer == "entra"


@pytest.mark.parametrize(
    "claim",
    ["", None, 42, "alice/bob", "../etc", "alice bob", "al\u00efce", "x" * 125, "a\nb"],
)
def test_user_claims_that_cannot_make_a_safe_id_are_unauthorized(claim: Any) -> None:
    with pytest.raises(Unauthorized):
        principal_from_claims(ISSUER, {"sub": claim})


def test_the_longest_safe_user_id_is_accepted() -> None:
    user_id = principal_from_claims(ISSUER, {"sub": "x" * 124}).user_id
    assert len(user_id) == 128
