"""The LLM side of extraction: the client (retries, circuit breaker), the prompt, the extractor,
its result cache, the per-owner budget and learning from corrections."""
