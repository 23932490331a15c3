"""Documents: sniffing, intake checks, ZIP expansion, parsing and OCR."""
