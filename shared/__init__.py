"""The product's core: documents, extraction, configuration and errors.

Importable without azure.functions; blueprints and the CLI call into it.

- `shared.documents`: sniffing, intake checks, ZIP expansion, parsing and OCR
- `shared.extraction`: the invoice schema, the rules extractor and validation
- `shared.pipeline`: the steps that turn bytes into extracted invoices
- `shared.config`: typed settings, read once
- `shared.observability`: JSON logs with correlation ids and redaction (`shared.logs`),
  Application Insights export (`shared.telemetry`), set up once at start-up
- `shared.errors`: the one error hierarchy
"""

__version__ = "0.1.0"
