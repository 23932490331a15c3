"""OpenTelemetry: spans around API requests and flow activities, and, when
APPLICATIONINSIGHTS_CONNECTION_STRING is set, export of spans and log records to Application
Insights with the Azure Monitor exporters.

Without a connection string nothing is configured: `span()` then uses OpenTelemetry's no-op
tracer (a few attribute writes per call), and logs go only where shared/logs.py sends them.

Exported log records carry the correlation fields as custom dimensions, the message and
traceback as RedactionFilter left them, and the trace context of the span they were logged in
(so Application Insights shows a request's or an activity's logs under it). The exporter's own
logs (and the HTTP client's under it) are never exported: each export would log another one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from shared.logs import CorrelationFilter, RedactionFilter, correlation_of

if TYPE_CHECKING:
    from opentelemetry.sdk._logs import LoggerProvider

SERVICE_NAME = "invoice-functions"
_tracer = trace.get_tracer("invoices")
# Loggers whose records would feed back into the export (or only describe it).
_NOT_EXPORTED = ("azure.monitor.opentelemetry", "azure.core", "opentelemetry", "urllib3")


@contextmanager
def span(
    name: str, *, kind: SpanKind = SpanKind.INTERNAL, attributes: Mapping[str, Any] | None = None
) -> Iterator[Span]:
    """A span around the block; an exception escaping it is recorded on the span."""
    clean = {key: value for key, value in (attributes or {}).items() if value is not None}
    with _tracer.start_as_current_span(name, kind=kind, attributes=clean) as current:
        yield current


class ExportHandler(logging.Handler):
    """Sends log records to an OpenTelemetry LoggerProvider (the Azure Monitor exporter)."""

    def __init__(self, provider: LoggerProvider) -> None:
        super().__init__()
        self.provider = provider
        self.addFilter(CorrelationFilter())
        self.addFilter(RedactionFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_NOT_EXPORTED):
            return
        from opentelemetry._logs import SeverityNumber

        try:
            attributes: dict[str, Any] = {
                key: str(value) for key, value in correlation_of(record).items()
            }
            if record.exc_info and record.exc_info[0] is not None:
                attributes["exception.type"] = record.exc_info[0].__name__
                attributes["exception.message"] = record.getMessage()
                attributes["exception.stacktrace"] = record.exc_text or ""
            severity = {
                logging.DEBUG: SeverityNumber.DEBUG,
                logging.INFO: SeverityNumber.INFO,
                logging.WARNING: SeverityNumber.WARN,
                logging.ERROR: SeverityNumber.ERROR,
            }.get(record.levelno, SeverityNumber.FATAL)
            self.provider.get_logger(record.name).emit(
                timestamp=int(record.created * 1e9),
                context=otel_context.get_current(),
                severity_number=severity,
                severity_text=record.levelname,
                body=record.getMessage(),
                attributes=attributes,
            )
        except Exception:
            self.handleError(record)


def configure_telemetry(connection_string: str) -> ExportHandler:
    """Install tracer and logger providers exporting to Application Insights; returns the
    logging handler to add to the root logger."""
    from azure.monitor.opentelemetry.exporter import (
        AzureMonitorLogExporter,
        AzureMonitorTraceExporter,
    )
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": SERVICE_NAME})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(AzureMonitorTraceExporter(connection_string=connection_string))
    )
    trace.set_tracer_provider(tracer_provider)
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(
        BatchLogRecordProcessor(AzureMonitorLogExporter(connection_string=connection_string))
    )
    set_logger_provider(logger_provider)
    return ExportHandler(logger_provider)


def flush(timeout_millis: int = 10_000) -> None:
    """Export what is buffered now (the providers also flush when the process exits)."""
    from opentelemetry._logs import get_logger_provider

    for provider in (trace.get_tracer_provider(), get_logger_provider()):
        force_flush = getattr(provider, "force_flush", None)
        if force_flush is not None:
            force_flush(timeout_millis)
