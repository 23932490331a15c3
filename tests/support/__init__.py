"""Test support: pytest plugins and helpers that start real local services."""
