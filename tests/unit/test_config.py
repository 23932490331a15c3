"""Settings from the environment (shared/config.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from shared import config
from shared.config import (
    AuthSettings,
    BlobSettings,
    IntakeLimits,
    OcrSettings,
    Settings,
    get_settings,
    load_settings,
)
from shared.errors import ConfigurationError
from tests.support.settings_names import variables_read_by_load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SETTINGS = REPO_ROOT / "local.settings.sample.json"

# Every variable, a valid value different from the default, and where it lands.
INT_VARIABLES: dict[str, tuple[str, str, int]] = {
    "INTAKE_MAX_DOCUMENT_BYTES": ("intake", "max_document_bytes", 1234567),
    "INTAKE_MAX_PAGES": ("intake", "max_pages", 7),
    "INTAKE_MAX_ZIP_MEMBERS": ("intake", "max_zip_members", 9),
    "INTAKE_MAX_ZIP_EXPANDED_BYTES": ("intake", "max_zip_expanded_bytes", 7654321),
    "INTAKE_MAX_IMAGE_PIXELS": ("intake", "max_image_pixels", 1_000_000),
    "OCR_DPI": ("ocr", "dpi", 150),
    "OCR_MIN_TEXT_CHARS": ("ocr", "min_text_chars", 5),
    "OCR_MAX_PIXELS": ("ocr", "max_pixels", 1_000_000),
    "DATABASE_POOL_MAX": ("database", "pool_max", 3),
    "AUTH_JWKS_CACHE_SECONDS": ("auth", "jwks_cache_seconds", 60),
    "AUTH_LEEWAY_SECONDS": ("auth", "leeway_seconds", 5),
    "RATE_LIMIT_API_PER_MINUTE": ("rate_limits", "api_per_minute", 100),
    "RATE_LIMIT_UPLOADS_PER_MINUTE": ("rate_limits", "uploads_per_minute", 3),
    "UPLOAD_SAS_MINUTES": ("blobs", "upload_sas_minutes", 2),
    "LLM_TIMEOUT_SECONDS": ("llm", "timeout_seconds", 5),
    "LLM_MAX_ATTEMPTS": ("llm", "max_attempts", 2),
    "LLM_MAX_INPUT_TOKENS": ("llm", "max_input_tokens", 3000),
    "LLM_MAX_OUTPUT_TOKENS": ("llm", "max_output_tokens", 1000),
    "LLM_MONTHLY_TOKEN_BUDGET": ("llm", "monthly_token_budget", 50_000),
    "LLM_BREAKER_FAILURES": ("llm", "breaker_failures", 2),
    "LLM_BREAKER_COOLDOWN_SECONDS": ("llm", "breaker_cooldown_seconds", 9),
    "EMBEDDINGS_DIMENSIONS": ("embeddings", "dimensions", 384),
    "EMBEDDINGS_TIMEOUT_SECONDS": ("embeddings", "timeout_seconds", 5),
    "KEY_VAULT_REFRESH_SECONDS": ("key_vault", "refresh_seconds", 60),
}
# Top-level integer settings: name -> (attribute, a valid non-default value).
TOP_LEVEL_INT_VARIABLES: dict[str, tuple[str, int]] = {
    "FLOW_WINDOW": ("flow_window", 3),
    "FLOW_CHUNK": ("flow_chunk", 7),
    "PARSE_WORKERS": ("parse_workers", 2),
}
STRING_VARIABLES = (
    "OCR_LANGUAGES",
    "EXTRACTOR",
    "DATABASE_URL",
    "EMBEDDED_POSTGRES_DIR",
    "REDIS_URL",
    "AUTH_ISSUERS",
    "INVOICES_STORAGE",
    "INVOICES_STORAGE__blobServiceUri",
    "METRICS_TOKEN",
    "METRICS_AUTH",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "WebPubSubConnectionString",
    "WebPubSubConnectionString__serviceUri",
    "DATABASE_AUTH",
    "KEY_VAULT_URL",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "OPENAI_MODEL",
    "OPENAI_API_VERSION",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_DEPLOYMENT",
    "AZURE_OPENAI_API_KEY",
    "EMBEDDINGS_MODEL",
    "DUPLICATE_MAX_DISTANCE",
    "LLM_PRICE_INPUT_PER_MTOK",
    "LLM_PRICE_OUTPUT_PER_MTOK",
    "LLM_VISION",
)


def test_source_scan_finds_exactly_the_variables_this_file_tests() -> None:
    # A new variable in config.py must get a row in INT_VARIABLES or STRING_VARIABLES.
    assert variables_read_by_load_settings() == set(INT_VARIABLES) | set(STRING_VARIABLES) | set(
        TOP_LEVEL_INT_VARIABLES
    )


@pytest.mark.parametrize("name", sorted(TOP_LEVEL_INT_VARIABLES))
def test_each_top_level_integer_variable_is_read(name: str) -> None:
    attribute, value = TOP_LEVEL_INT_VARIABLES[name]
    assert getattr(load_settings({name: str(value)}), attribute) == value
    with pytest.raises(ConfigurationError, match=rf"^{name} must be"):
        load_settings({name: "0"})


def test_every_variable_appears_in_the_sample_local_settings() -> None:
    values = json.loads(SAMPLE_SETTINGS.read_text(encoding="utf-8"))["Values"]
    missing = variables_read_by_load_settings() - set(values)
    assert not missing, f"add to local.settings.sample.json: {sorted(missing)}"


def test_sample_local_settings_values_load_and_equal_the_defaults() -> None:
    # ...except what only makes sense locally: the dev issuer and Azurite.
    values = json.loads(SAMPLE_SETTINGS.read_text(encoding="utf-8"))["Values"]
    settings = load_settings(values)
    assert [issuer.name for issuer in settings.auth.issuers] == ["dev"]
    assert settings.blobs.connection_string == "UseDevelopmentStorage=true"
    assert dataclasses.replace(settings, auth=AuthSettings(), blobs=BlobSettings()) == Settings()


def test_every_variable_is_read_into_its_setting() -> None:
    env = {name: str(value) for name, (_, _, value) in INT_VARIABLES.items()}
    env |= {"OCR_LANGUAGES": "eng+deu", "EXTRACTOR": "rules"}
    settings = load_settings(env)
    for name, (group, attribute, value) in INT_VARIABLES.items():
        assert getattr(getattr(settings, group), attribute) == value, name
    assert settings.ocr.languages == "eng+deu"
    assert settings.extractor == "rules"


@pytest.mark.parametrize("name", sorted(INT_VARIABLES))
def test_each_integer_variable_is_read_on_its_own(name: str) -> None:
    group, attribute, value = INT_VARIABLES[name]
    settings = load_settings({name: str(value)})
    assert getattr(getattr(settings, group), attribute) == value
    # and nothing else moves
    expected = getattr(Settings(), group).__class__(**{attribute: value})
    assert getattr(settings, group) == expected


def test_defaults_when_nothing_is_set() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.intake == IntakeLimits()
    assert settings.ocr == OcrSettings()
    assert settings.extractor == "rules"


def test_empty_values_mean_the_default() -> None:
    env = dict.fromkeys(list(INT_VARIABLES) + list(STRING_VARIABLES), "")
    assert load_settings(env) == Settings()


def test_unrelated_variables_are_ignored() -> None:
    assert load_settings({"PATH": "/usr/bin", "OCR": "x", "INTAKE": "y"}) == Settings()


@pytest.mark.parametrize("raw", ["abc", "1.5", "10MB", "1e6", "0x10"])
@pytest.mark.parametrize("name", sorted(INT_VARIABLES))
def test_non_integer_value_raises_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{name} must be an integer") as excinfo:
        load_settings({name: raw})
    assert excinfo.value.code == "configuration_error"
    assert repr(raw) in excinfo.value.message


@pytest.mark.parametrize("raw", ["0", "-1", "-300"])
@pytest.mark.parametrize("name", sorted(INT_VARIABLES))
def test_non_positive_value_raises_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{name} must be positive"):
        load_settings({name: raw})


@pytest.mark.parametrize("value", ["rules", "RULES", " Rules "])
def test_extractor_name_is_case_and_space_insensitive(value: str) -> None:
    assert load_settings({"EXTRACTOR": value}).extractor == "rules"


@pytest.mark.parametrize("value", ["azure", "rule", "rules,llm"])
def test_unknown_extractor_raises_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^EXTRACTOR must be one of"):
        load_settings({"EXTRACTOR": value})


OPENAI = {"OPENAI_MODEL": "gpt-4o-mini", "OPENAI_API_KEY": "sk-test"}
AZURE = {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com", "AZURE_OPENAI_DEPLOYMENT": "d"}


@pytest.mark.parametrize(
    "llm", [OPENAI, AZURE, {"OPENAI_MODEL": "m", "OPENAI_BASE_URL": "http://h"}]
)
def test_llm_extractor_accepts_any_complete_llm_configuration(llm: dict[str, str]) -> None:
    settings = load_settings({"EXTRACTOR": "llm", **llm})
    assert settings.extractor == "llm" and settings.llm.configured


@pytest.mark.parametrize(
    "llm",
    [{}, {"OPENAI_MODEL": "m"}, {"AZURE_OPENAI_ENDPOINT": "https://x"}, {"OPENAI_API_KEY": "k"}],
)
def test_llm_extractor_without_a_complete_configuration_refuses_to_start(
    llm: dict[str, str],
) -> None:
    with pytest.raises(ConfigurationError, match=r"^EXTRACTOR=llm needs"):
        load_settings({"EXTRACTOR": "llm", **llm})
    assert load_settings({"EXTRACTOR": "auto", **llm}).extractor == "auto"


def test_the_model_name_is_the_azure_deployment_or_the_openai_model() -> None:
    assert load_settings(AZURE | {"OPENAI_MODEL": "ignored"}).llm.model_name == "d"
    assert load_settings(OPENAI).llm.model_name == "gpt-4o-mini"


@pytest.mark.parametrize(("raw", "value"), [("0", 0.0), ("0.15", 0.15), ("2.5", 2.5)])
def test_llm_prices_are_non_negative_numbers(raw: str, value: float) -> None:
    llm = load_settings({"LLM_PRICE_INPUT_PER_MTOK": raw, "LLM_PRICE_OUTPUT_PER_MTOK": raw}).llm
    assert llm.price_input_per_million == llm.price_output_per_million == value


@pytest.mark.parametrize("raw", ["-1", "abc", "nan", "inf"])
def test_bad_llm_prices_raise_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^LLM_PRICE_INPUT_PER_MTOK must be"):
        load_settings({"LLM_PRICE_INPUT_PER_MTOK": raw})


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("No", False)])
def test_llm_vision_is_a_boolean(raw: str, value: bool) -> None:
    assert load_settings({"LLM_VISION": raw}).llm.vision is value
    with pytest.raises(ConfigurationError, match=r"^LLM_VISION must be true or false"):
        load_settings({"LLM_VISION": "maybe"})


@pytest.mark.parametrize(("raw", "value"), [("0", 0.0), ("0.25", 0.25), ("2", 2.0)])
def test_duplicate_max_distance_is_a_cosine_distance(raw: str, value: float) -> None:
    assert load_settings({"DUPLICATE_MAX_DISTANCE": raw}).duplicate_max_distance == value


@pytest.mark.parametrize("raw", ["-0.1", "abc", "nan", "2.01"])
def test_a_distance_outside_zero_to_two_raises_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^DUPLICATE_MAX_DISTANCE "):
        load_settings({"DUPLICATE_MAX_DISTANCE": raw})


def test_embedding_dimensions_stop_at_what_the_hnsw_index_takes() -> None:
    assert load_settings({"EMBEDDINGS_DIMENSIONS": "2000"}).embeddings.dimensions == 2000
    with pytest.raises(ConfigurationError, match=r"^EMBEDDINGS_DIMENSIONS must be at most 2000"):
        load_settings({"EMBEDDINGS_DIMENSIONS": "3072"})


def test_an_embeddings_model_without_an_endpoint_refuses_to_start() -> None:
    with pytest.raises(ConfigurationError, match=r"^EMBEDDINGS_MODEL needs an endpoint"):
        load_settings({"EMBEDDINGS_MODEL": "text-embedding-3-small"})
    for endpoint in (
        {"AZURE_OPENAI_ENDPOINT": "https://x.openai.azure.com"},
        {"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"},
        {"OPENAI_API_KEY": "k"},
    ):
        settings = load_settings({"EMBEDDINGS_MODEL": "text-embedding-3-small", **endpoint})
        assert settings.llm.embeddings_model == "text-embedding-3-small"


def test_get_settings_reads_the_process_environment_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(INT_VARIABLES) + list(STRING_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OCR_DPI", "200")
    get_settings.cache_clear()
    try:
        assert get_settings().ocr.dpi == 200
        monkeypatch.setenv("OCR_DPI", "250")
        assert get_settings().ocr.dpi == 200  # cached: read once per process
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("name", ["RATE_LIMIT_API_PER_MINUTE", "RATE_LIMIT_UPLOADS_PER_MINUTE"])
def test_rate_limits_above_what_the_limiter_can_count_are_refused(name: str) -> None:
    assert load_settings({name: "60000000"}) is not None
    with pytest.raises(ConfigurationError, match=rf"^{name} must be at most 60000000"):
        load_settings({name: "60000001"})


@pytest.mark.parametrize(
    ("name", "raw", "read"),
    [
        ("LOG_FORMAT", "TEXT", lambda s: s.logging.format == "text"),
        ("LOG_FORMAT", " json ", lambda s: s.logging.format == "json"),
        ("LOG_LEVEL", "debug", lambda s: s.logging.level == "DEBUG"),
        ("LOG_LEVEL", "Warning", lambda s: s.logging.level == "WARNING"),
        ("METRICS_AUTH", "function_key", lambda s: s.metrics_auth == "function_key"),
        ("METRICS_AUTH", "TOKEN", lambda s: s.metrics_auth == "token"),
        (
            "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "InstrumentationKey=00000000-0000-0000-0000-000000000000",
            lambda s: (
                s.logging.applicationinsights_connection_string
                == "InstrumentationKey=00000000-0000-0000-0000-000000000000"
            ),
        ),
    ],
)
def test_observability_variables_are_read_case_insensitively(
    name: str, raw: str, read: Any
) -> None:
    assert read(load_settings({name: raw}))


@pytest.mark.parametrize(
    ("name", "raw"),
    [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "verbose"), ("LOG_LEVEL", "CRITICAL"),
     ("METRICS_AUTH", "none"), ("METRICS_AUTH", "function-key")],
)  # fmt: skip
def test_unknown_observability_choices_are_refused_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{name} must be one of"):
        load_settings({name: raw})


def test_start_up_readers_see_the_same_values_as_load_settings() -> None:
    env = {"LOG_FORMAT": "text", "LOG_LEVEL": "ERROR", "METRICS_AUTH": "function_key"}
    assert config.load_log_settings(env) == load_settings(env).logging
    assert config.metrics_auth_mode(env) == load_settings(env).metrics_auth == "function_key"


@pytest.mark.parametrize(
    ("raw", "mode"), [("entra", "entra"), (" Entra ", "entra"), ("", "password")]
)
def test_database_auth_is_password_or_entra(raw: str, mode: str) -> None:
    assert load_settings({"DATABASE_AUTH": raw}).database.auth == mode


def test_an_unknown_database_auth_raises_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^DATABASE_AUTH must be one of"):
        load_settings({"DATABASE_AUTH": "kerberos"})


def test_web_pubsub_through_a_managed_identity_counts_as_configured() -> None:
    uri = "https://wps.webpubsub.azure.com"
    settings = load_settings({"WebPubSubConnectionString__serviceUri": uri})
    assert settings.web_pubsub_connection == uri
    both = {"WebPubSubConnectionString": "Endpoint=x", "WebPubSubConnectionString__serviceUri": uri}
    assert load_settings(both).web_pubsub_connection == "Endpoint=x"


def test_key_vault_settings() -> None:
    settings = load_settings(
        {"KEY_VAULT_URL": "https://kv.vault.azure.net/", "KEY_VAULT_REFRESH_SECONDS": "60"}
    )
    assert settings.key_vault.url == "https://kv.vault.azure.net/"
    assert settings.key_vault.refresh_seconds == 60
    assert load_settings({}).key_vault.url is None
