"""The document as layout-preserving text: what the LLM reads.

Each page's words (text layer or OCR) are set on a character grid: a row per line of the page,
each word at the column its x position maps to, so columns of a table and the two address
blocks side by side stay apart the way a person sees them. This is what pymupdf4llm does for
text PDFs; doing it from the parsed words works the same for scans, whose words come from OCR.
"""

from __future__ import annotations

from shared.documents.parse import ParsedDocument
from shared.extraction.layout import build_layout

# Characters across an A4 page (595 pt): small enough to keep tokens down, wide enough that
# neighbouring columns keep a space between them.
_COLUMNS = 110


def page_texts(document: ParsedDocument) -> list[str]:
    """One string per page, rows as lines, words at their horizontal position."""
    layout = build_layout(document)
    lines: dict[int, list[str]] = {page.number: [] for page in document.pages}
    for row in layout.rows:
        width = layout.page_widths.get(row.page) or 595.0
        scale = _COLUMNS / width
        line = ""
        for word in row.words:
            column = int(word.x0 * scale)
            if len(line) < column:
                line += " " * (column - len(line))
            elif line:
                line += " "
            line += word.text
        lines.setdefault(row.page, []).append(line.rstrip())
    return ["\n".join(page_lines) for _, page_lines in sorted(lines.items())]


def layout_text(document: ParsedDocument) -> str:
    return "\n\n".join(
        f"--- page {number} ---\n{text}"
        for number, text in enumerate(page_texts(document), start=1)
    )
