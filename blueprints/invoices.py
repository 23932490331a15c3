"""The invoice routes under /api/invoices."""

from __future__ import annotations

import azure.functions as func

from blueprints._http import serve

bp = func.Blueprint()  # type: ignore[no-untyped-call]
PUBLIC = func.AuthLevel.ANONYMOUS  # the bearer JWT is checked in code


@bp.route(route="invoices", methods=["GET"], auth_level=PUBLIC)
def list_invoices(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "list_invoices")


@bp.route(route="invoices/search", methods=["GET"], auth_level=PUBLIC)
def search_invoices(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "search_invoices")


@bp.route(route="invoices/export", methods=["GET"], auth_level=PUBLIC)
def export_invoices(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "export_invoices")


@bp.route(route="invoices/{id}", methods=["GET"], auth_level=PUBLIC)
def get_invoice(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "get_invoice")


@bp.route(route="invoices/{id}", methods=["PATCH"], auth_level=PUBLIC)
def patch_invoice(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "patch_invoice")


@bp.route(route="invoices/{id}", methods=["DELETE"], auth_level=PUBLIC)
def delete_invoice(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "delete_invoice")


@bp.route(route="invoices/{id}/approve", methods=["POST"], auth_level=PUBLIC)
def approve_invoice(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "approve_invoice")


@bp.route(route="invoices/{id}/reject", methods=["POST"], auth_level=PUBLIC)
def reject_invoice(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "reject_invoice")


@bp.route(route="invoices/{id}/events", methods=["GET"], auth_level=PUBLIC)
def invoice_events(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "invoice_events")


@bp.route(route="invoices/{id}/similar", methods=["GET"], auth_level=PUBLIC)
def similar_invoices(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "similar_invoices")


@bp.route(route="invoices/{id}/document", methods=["GET"], auth_level=PUBLIC)
def invoice_document(req: func.HttpRequest) -> func.HttpResponse:
    return serve(req, "invoice_document")
