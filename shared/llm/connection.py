"""One openai client for the configured endpoint: Azure OpenAI or any OpenAI-compatible URL.

Azure OpenAI authenticates with the managed identity (an Entra ID token for Cognitive
Services, from azure-identity) unless AZURE_OPENAI_API_KEY is set. The client's own retries are
off: shared.llm.client retries itself, so it can honour Retry-After, count every attempt in the
metrics and feed the circuit breaker.
"""

from __future__ import annotations

from openai import AzureOpenAI, OpenAI

from shared.config import LlmSettings
from shared.errors import ConfigurationError

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"


def openai_client(llm: LlmSettings) -> OpenAI:
    if llm.azure_endpoint:
        if llm.azure_api_key:
            return AzureOpenAI(
                azure_endpoint=llm.azure_endpoint,
                api_key=llm.azure_api_key,
                api_version=llm.api_version,
                timeout=llm.timeout_seconds,
                max_retries=0,
            )
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider

        provider = get_bearer_token_provider(DefaultAzureCredential(), COGNITIVE_SERVICES_SCOPE)
        return AzureOpenAI(
            azure_endpoint=llm.azure_endpoint,
            azure_ad_token_provider=provider,
            api_version=llm.api_version,
            timeout=llm.timeout_seconds,
            max_retries=0,
        )
    if not (llm.base_url or llm.api_key):
        raise ConfigurationError(
            "no LLM endpoint is configured (OPENAI_BASE_URL or OPENAI_API_KEY)"
        )
    return OpenAI(
        base_url=llm.base_url,
        # Local servers (vLLM, Ollama) take any key; the client insists on one.
        api_key=llm.api_key or "not-needed",
        timeout=llm.timeout_seconds,
        max_retries=0,
    )
