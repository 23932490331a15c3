"""The process's observability, set up once at start-up (function_app.py calls `setup`).

- logs: JSON or text (LOG_FORMAT), at LOG_LEVEL, with correlation fields and redaction
  (shared/logs.py);
- telemetry: with APPLICATIONINSIGHTS_CONNECTION_STRING set, spans and log records exported to
  Application Insights (shared/telemetry.py).
"""

from __future__ import annotations

import logging
import threading

from shared.config import LogSettings, load_log_settings
from shared.logs import configure_logging

_lock = threading.Lock()
_done = False


def setup(settings: LogSettings | None = None) -> None:
    """Configure logging and telemetry from the settings (the environment's by default).
    Only the first call in a process does anything."""
    global _done
    with _lock:
        if _done:
            return
        settings = settings or load_log_settings()
        configure_logging(settings)
        if settings.applicationinsights_connection_string:
            from shared.telemetry import configure_telemetry

            handler = configure_telemetry(settings.applicationinsights_connection_string)
            logging.getLogger().addHandler(handler)
        _done = True
