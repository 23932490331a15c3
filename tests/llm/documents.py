"""Small invoice PDFs of one fictional vendor whose labels no dictionary knows
("Vorgangskennung" for the invoice number), for tests of learning from corrections."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fpdf import FPDF

from shared.config import OcrSettings
from shared.documents.parse import ParsedDocument, parse_document
from shared.documents.sniff import MediaType

VENDOR = "Nordlicht Handels GmbH"


def vendor_invoice_pdf(
    number: str, total: Decimal = Decimal("23.80"), label: str = "Vorgangskennung"
) -> bytes:
    net = (total / Decimal("1.19")).quantize(Decimal("0.01"))
    tax = total - net
    pdf = FPDF(format="A4")
    # Fixed, so the same arguments give the same bytes (the result cache is keyed by content).
    pdf.set_creation_date(dt.datetime(2026, 5, 3, tzinfo=dt.UTC))
    pdf.add_page()
    pdf.set_font("Helvetica", size=14)
    pdf.cell(0, 8, VENDOR, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, "Hafenstrasse 5, 20457 Hamburg", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.cell(100, 6, "Contoso Ltd")
    pdf.cell(0, 6, f"{label}: {number}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(100, 6, "Main Street 1, London")
    pdf.cell(0, 6, "Datum: 03.05.2026", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    for left, right in (
        ("Schrauben M6, 10 Stueck", f"{net:.2f}".replace(".", ",")),
        ("Summe netto", f"{net:.2f}".replace(".", ",")),
        ("MwSt 19 %", f"{tax:.2f}".replace(".", ",")),
        ("Gesamtbetrag EUR", f"{total:.2f}".replace(".", ",")),
    ):
        pdf.cell(120, 6, left)
        pdf.cell(0, 6, right, align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def parsed(data: bytes) -> ParsedDocument:
    return parse_document(data, MediaType.PDF, OcrSettings())
