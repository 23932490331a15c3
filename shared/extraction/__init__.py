"""Invoice extraction: the schema, the offline rules extractor, and validation."""
