"""AUTH_ISSUERS parsing (shared.config.parse_issuers): each kind's defaults and every bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.config import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    IssuerConfig,
    load_settings,
    parse_issuers,
)
from shared.errors import ConfigurationError


def parse(*entries: Any) -> tuple[IssuerConfig, ...]:
    return parse_issuers(json.dumps(list(entries)))


def test_no_issuers_by_default() -> None:
    assert parse_issuers("[]") == ()
    assert load_settings({}).auth.issuers == ()


def test_entra_fills_in_the_tenants_endpoints_and_uses_oid() -> None:
    (entra,) = parse({"kind": "entra", "tenant_id": "t-1", "audience": "api://invoices"})
    assert entra == IssuerConfig(
        name="entra",
        issuer="https://login.microsoftonline.com/t-1/v2.0",
        audience="api://invoices",
        jwks_uri="https://login.microsoftonline.com/t-1/discovery/v2.0/keys",
        algorithms=("RS256",),
        user_claim="oid",
        roles_claim="roles",
        default_roles=(),
    )


def test_google_fills_in_its_endpoints_and_keeps_default_roles() -> None:
    (google,) = parse({"kind": "google", "audience": "id.apps", "default_roles": ["viewer"]})
    assert google.name == "google"
    assert google.issuer == "https://accounts.google.com"
    assert google.jwks_uri == "https://www.googleapis.com/oauth2/v3/certs"
    assert google.user_claim == "sub"
    assert google.default_roles == ("viewer",)


def test_oidc_takes_every_field_from_the_entry() -> None:
    entry = {
        "kind": "oidc",
        "name": "okta",
        "issuer": "https://example.okta.com",
        "audience": "api://invoices",
        "jwks_uri": "https://example.okta.com/oauth2/v1/keys",
        "algorithms": ["RS256", "ES256"],
        "user_claim": "uid",
        "roles_claim": "groups",
        "default_roles": ["viewer"],
    }
    (okta,) = parse(entry)
    assert okta == IssuerConfig(
        name="okta",
        issuer="https://example.okta.com",
        audience="api://invoices",
        jwks_uri="https://example.okta.com/oauth2/v1/keys",
        algorithms=("RS256", "ES256"),
        user_claim="uid",
        roles_claim="groups",
        default_roles=("viewer",),
    )


def test_dev_points_at_its_key_dir_as_an_absolute_file_uri(tmp_path: Path) -> None:
    (dev,) = parse({"kind": "dev", "key_dir": str(tmp_path / "keys")})
    assert (dev.name, dev.issuer, dev.audience) == ("dev", DEV_ISSUER, DEV_AUDIENCE)
    assert dev.jwks_uri == f"file://{tmp_path}/keys/jwks.json"


def test_dev_defaults_to_the_data_dir() -> None:
    (dev,) = parse({"kind": "dev"})
    assert dev.jwks_uri == f"file://{os.path.abspath('.data/dev-issuer')}/jwks.json"


def test_several_issuers_with_distinct_names() -> None:
    issuers = parse(
        {"kind": "entra", "tenant_id": "t-1", "audience": "api://a"},
        {"kind": "entra", "name": "partner", "tenant_id": "t-2", "audience": "api://a"},
        {"kind": "google", "audience": "id.apps"},
    )
    assert [issuer.name for issuer in issuers] == ["entra", "partner", "google"]


def test_duplicate_names_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="unique"):
        parse(
            {"kind": "entra", "tenant_id": "t-1", "audience": "api://a"},
            {"kind": "entra", "tenant_id": "t-2", "audience": "api://b"},
        )


@pytest.mark.parametrize("raw", ["", "not json", "[{]", '{"kind": "dev"}', '"dev"', '["dev"]'])
def test_anything_but_a_json_list_of_objects_is_rejected(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="AUTH_ISSUERS"):
        parse_issuers(raw)


@pytest.mark.parametrize(
    ("entry", "missing"),
    [
        ({"kind": "entra", "audience": "api://a"}, "tenant_id"),
        ({"kind": "entra", "tenant_id": "t"}, "audience"),
        ({"kind": "google"}, "audience"),
        ({"kind": "oidc", "issuer": "i", "audience": "a", "jwks_uri": "https://k"}, "name"),
        ({"kind": "oidc", "name": "n", "audience": "a", "jwks_uri": "https://k"}, "issuer"),
        ({"kind": "oidc", "name": "n", "issuer": "i", "jwks_uri": "https://k"}, "audience"),
        ({"kind": "oidc", "name": "n", "issuer": "i", "audience": "a"}, "jwks_uri"),
        ({"kind": "oidc", "name": "", "issuer": "i", "audience": "a", "jwks_uri": "k"}, "name"),
        ({"kind": "entra", "tenant_id": 7, "audience": "api://a"}, "tenant_id"),
    ],
)
def test_missing_or_empty_fields_are_named(entry: dict[str, Any], missing: str) -> None:
    with pytest.raises(ConfigurationError, match=repr(missing)):
        parse(entry)


@pytest.mark.parametrize("kind", [None, "saml", "Entra", 3])
def test_unknown_kinds_are_rejected(kind: Any) -> None:
    with pytest.raises(ConfigurationError, match="kind"):
        parse({"kind": kind, "audience": "a"} if kind is not None else {"audience": "a"})


@pytest.mark.parametrize("value", ["viewer", [1], {"viewer": True}])
def test_list_fields_must_be_lists_of_strings(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="default_roles"):
        parse({"kind": "google", "audience": "id.apps", "default_roles": value})


def test_load_settings_reads_auth_issuers() -> None:
    env = {"AUTH_ISSUERS": json.dumps([{"kind": "google", "audience": "id.apps"}])}
    (google,) = load_settings(env).auth.issuers
    assert google.audience == "id.apps"
