"""Thin Azure Functions adapters: triggers and bindings in, `shared/` calls, responses out."""
