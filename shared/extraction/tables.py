"""Line items from tables, including tables continued across pages.

A header row is a row whose words are mostly column labels (Description, Qty,
Unit price, Amount, VAT %...). Below it, a row with a number under the amount
column is an item; a row with only text right below an item continues that
item's description; a totals or "carried forward" row ends the table on that
page. On a following page the table resumes under a repeated header, or, when
the header is not repeated, under the previous page's columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from shared.documents.parse import Word
from shared.extraction.amounts import find_amounts, find_percentages, parse_amount
from shared.extraction.dates import find_dates
from shared.extraction.labels import COLUMN_LABELS, FIELD_LABELS, match_label
from shared.extraction.layout import Layout, Row, Token, tokens_of
from shared.extraction.schema import LineItem
from shared.extraction.text import fold

_NUMERIC = ("quantity", "unit_price", "amount", "tax_rate", "tax")
_STOP_FIELDS = frozenset(
    {"subtotal", "invoice_total", "total_tax", "amount_due", "total_discount", "carried_forward",
     "previous_unpaid_balance", "prepayment", "payment_terms", "iban", "swift"}
)  # fmt: skip


@dataclass(slots=True)
class Column:
    name: str
    x0: float
    x1: float

    @property
    def centre(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(slots=True)
class Table:
    columns: list[Column]
    header_rows: set[int] = field(default_factory=set)
    item_rows: set[int] = field(default_factory=set)
    items: list[LineItem] = field(default_factory=list)


def _word_tokens(word: Word) -> list[Token]:
    return tokens_of([word])


def _header_cells(row: Row) -> list[list[Word]]:
    """Words of one header cell stand a word-space apart; cells stand further apart."""
    word_space = 0.45 * row_height(row)
    cells: list[list[Word]] = []
    for word in row.words:
        if cells and word.x0 - cells[-1][-1].x1 <= word_space:
            cells[-1].append(word)
        else:
            cells.append([word])
    return cells


def header_columns(row: Row) -> list[Column] | None:
    """The columns of a table header row, or None when the row is not a header.

    Each header cell ("Prix unit. HT", "Unit", "Line total") is one column, named by
    the first column label in it; a label never spans two cells, so "Unit | Price"
    stays two columns while "Unit Price" is one.
    """
    if len(row.words) < 3:
        return None
    cells = _header_cells(row)
    if len(cells) < 3:
        return None
    columns: list[Column] = []
    unread: list[tuple[list[tuple[str, Word]], list[Word]]] = []
    for cell in cells:
        tokens: list[tuple[str, Word]] = [
            (token.text, word) for word in cell for token in _word_tokens(word)
        ]
        if not tokens:
            if "".join(w.text for w in cell) in ("#", "№", "N°", "Nº"):
                columns.append(Column("position", cell[0].x0, cell[-1].x1))
            continue  # other bare symbols
        found = _cell_columns(tokens)
        if found:
            columns.extend(found)
        else:
            unread.append((tokens, cell))
    if len(columns) >= 2:
        # In a row that already reads as a header, an OCR-garbled cell ("ety" for
        # "Qty") is the column whose label it misses by one character.
        for tokens, cell in list(unread):
            name = _near_label(tokens[0][0])
            if name is not None:
                columns.append(Column(name, cell[0].x0, cell[-1].x1))
                unread.remove((tokens, cell))
        columns.sort(key=lambda c: c.x0)
    unknown = len(unread)
    last_unknown = Column("amount", unread[-1][1][0].x0, unread[-1][1][-1].x1) if unread else None
    names = {c.name for c in columns}
    if (
        "amount" not in names
        and last_unknown is not None
        and columns
        and last_unknown.x0 > max(c.x1 for c in columns)
    ):
        # The right-most column of an item table is the line amount, even when its
        # header is unreadable (OCR) or worded in a way no vocabulary lists.
        columns.append(last_unknown)
        unknown -= 1
        names.add("amount")
    if len(columns) < 3 or unknown > 0.34 * (len(columns) + unknown):
        return None
    if "description" not in names or not names & {"amount", "unit_price"}:
        return None
    return _resolve_duplicates(columns)


_SINGLE_WORD_COLUMNS: dict[str, str] = {
    label.tokens[0]: label.field
    for labels in COLUMN_LABELS.values()
    for label in labels
    if len(label.tokens) == 1 and len(label.tokens[0]) >= 3
}
# OCR drops the space in a two-word header ("Unitcost", "Preciounitario").
_JOINED_COLUMNS: dict[str, str] = {
    "".join(label.tokens): label.field
    for labels in COLUMN_LABELS.values()
    for label in labels
    if len(label.tokens) > 1 and len("".join(label.tokens)) >= 6
}


def _near_label(token: str) -> str | None:
    """The column whose one-word label is one edit away from `token` (3+ letters),
    or whose words, run together, are `token` or one edit away from it."""
    if len(token) < 3:
        return None
    joined = _JOINED_COLUMNS.get(token)
    if joined is not None:
        return joined
    candidates = list(_SINGLE_WORD_COLUMNS.items())
    if len(token) >= 6:
        candidates += list(_JOINED_COLUMNS.items())
    for label, column in candidates:
        if abs(len(label) - len(token)) <= 1 and _one_edit_apart(label, token):
            return column
    return None


def _one_edit_apart(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if len(a) > len(b):
        a, b = b, a
    return any(a == b[:i] + b[i + 1 :] for i in range(len(b)))


def _cell_columns(tokens: list[tuple[str, Word]]) -> list[Column]:
    """Columns named in one header cell: usually one; more when cells ran together.

    Labels are matched longest first, so "Unit price" or "Prix unit HT" stay one
    column while "VAT% Net" (two headers OCR'd without a gap) becomes two. Unknown
    words and qualifying labels belong to the column before them.
    """
    texts = tuple(text for text, _ in tokens)
    columns: list[Column] = []
    start = 0
    while start < len(texts):
        hit = match_label(texts, start, COLUMN_LABELS)
        word = tokens[start][1]
        if hit is None:
            if columns:
                columns[-1].x1 = max(columns[-1].x1, word.x1)
            start += 1
            continue
        label, length = hit
        end_word = tokens[start + length - 1][1]
        # A later label opens a new column only when it names another numeric column
        # ("VAT% Net"); otherwise it qualifies the first ("Preis/Einh.", "Menge Stück").
        if columns and (columns[-1].name == label.field or label.field not in _NUMERIC):
            columns[-1].x1 = max(columns[-1].x1, end_word.x1)
        else:
            columns.append(Column(label.field, word.x0, end_word.x1))
        start += length
    if columns:
        columns[0].x0 = tokens[0][1].x0  # "Taux TVA": the cell starts at its first word
    return columns


def _resolve_duplicates(columns: list[Column]) -> list[Column]:
    """Right-most "Total"/"Amount" is the line amount; an earlier one is a unit price or tax."""
    seen: dict[str, int] = {}
    for index, column in enumerate(columns):
        seen.setdefault(column.name, 0)
        seen[column.name] += 1
        if column.name == "amount" and seen["amount"] > 1:
            # The earlier amount column is net or tax; keep the last as the line amount.
            for earlier in columns[:index]:
                if earlier.name == "amount":
                    earlier.name = "net_amount"
    return columns


def row_height(row: Row) -> float:
    return max(row.y1 - row.y0, 4.0)


def _is_numeric_column(column: Column) -> bool:
    return column.name in _NUMERIC or column.name == "net_amount"


def _nearest_numeric(word: Word, columns: list[Column]) -> Column | None:
    best: tuple[float, Column] | None = None
    centre = (word.x0 + word.x1) / 2
    for column in columns:
        if not _is_numeric_column(column):
            continue
        # Numbers are right-aligned, centred or left-aligned under their header.
        distance = min(
            abs(word.x1 - column.x1), abs(centre - column.centre), abs(word.x0 - column.x0)
        )
        if word.x1 >= column.x0 - 2 and word.x0 <= column.x1 + 2:
            distance = 0.0
        if best is None or distance < best[0]:
            best = (distance, column)
    return best[1] if best else None


def _text_column(word: Word, columns: list[Column]) -> str:
    """The text column a word belongs to: the last text column starting left of it."""
    text_columns = sorted((c for c in columns if not _is_numeric_column(c)), key=lambda c: c.x0)
    if not text_columns:
        return "description"
    chosen = text_columns[0].name
    if word.x1 < text_columns[0].x0 - 3:
        return "position"  # left of every header: a row number under an unlabelled "#"
    for column in text_columns:
        if column.x0 - 3 <= word.x0:
            chosen = column.name
    return chosen


_VALUE_WORDS = frozenset({"%", "€", "$", "£", "x", "X", "×", "-", "EUR", "USD", "GBP", "CHF"})


def _is_value_word(text: str) -> bool:
    """Digits with separators, signs, currency or percent: a cell value, not prose."""
    stripped = text.strip("()%€$£xX×-−+")
    for code in ("EUR", "USD", "GBP", "CHF"):
        stripped = stripped.replace(code, "")
    if text in _VALUE_WORDS:
        return True
    return (
        bool(stripped)
        and any(ch.isdigit() for ch in stripped)
        and not any(ch.isalpha() for ch in stripped)
    )


def _under_text_header(word: Word, columns: list[Column]) -> bool:
    """A number right under a position or code header ("Nr.", "#") is no quantity."""
    centre = (word.x0 + word.x1) / 2
    return any(
        not _is_numeric_column(c) and c.name != "description" and c.x0 - 3 <= centre <= c.x1 + 3
        for c in columns
    )


def _inside_numeric_column(word: Word, columns: list[Column]) -> bool:
    return any(
        _is_numeric_column(c) and word.x1 >= c.x0 - 2 and word.x0 <= c.x1 + 2 for c in columns
    )


def _money(text: str, decimal_separator: str | None) -> Decimal | None:
    amounts = find_amounts(text, decimal_separator)
    return amounts[-1].value if amounts else None


def _quantity(text: str, decimal_separator: str | None) -> Decimal | None:
    """A quantity or rate cell: "3", "2,5", "1.000", "12 x"."""
    cleaned = text.strip().strip("xX×").strip()
    found = parse_amount(cleaned, decimal_separator) if cleaned else None
    return found.value if found is not None else _money(text, decimal_separator)


@dataclass(slots=True)
class _Cells:
    text: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, value: str) -> None:
        self.text.setdefault(name, []).append(value)

    def get(self, name: str) -> str:
        return " ".join(self.text.get(name, []))


def _cells(row: Row, columns: list[Column]) -> _Cells:
    """Assign a row's words to columns.

    Prose (a description with "Cat 6, 1 m" in it) stays whole in its text column;
    only value words standing apart, or trailing a text run into a numeric column,
    are numbers of numeric columns.
    """
    cells = _Cells()
    left_edge = min(c.x0 for c in columns)
    for segment in row.segments:
        words = _join_grouped_numbers(segment.words, row_height(row))
        cell_value = [_is_value_word(w.text) for w in words]
        if not all(cell_value):
            # Only the leading and trailing runs of values that stand in numeric columns
            # are cells; numbers in the middle belong to the text.
            inside = [
                v and _inside_numeric_column(w, columns)
                for v, w in zip(cell_value, words, strict=True)
            ]
            lead = 0
            while lead < len(words) and inside[lead]:
                lead += 1
            trail = len(words)
            while trail > lead and inside[trail - 1]:
                trail -= 1
            cell_value = [i < lead or i >= trail for i in range(len(words))]
        for word, is_value in zip(words, cell_value, strict=True):
            if is_value and word.x1 < left_edge - 2:
                continue  # a row number in an unlabelled margin column
            column = None
            if is_value and not _under_text_header(word, columns):
                column = _nearest_numeric(word, columns)
            if column is not None:
                cells.add(column.name, word.text)
            elif not (is_value and word.text in _VALUE_WORDS):
                cells.add(_text_column(word, columns), word.text)
    return cells


def _join_grouped_numbers(words: list[Word], height: float) -> list[Word]:
    """Rejoin numbers whose digit groups the text layer split ("2 168,94", "€ 5 067,00")."""
    out: list[Word] = []
    for word in words:
        if out:
            previous = out[-1]
            close = word.x0 - previous.x1 <= 0.45 * height
            groups_digits = (
                previous.text.lstrip("-−(€$£").isdigit()
                and len(previous.text.lstrip("-−(€$£")) <= 3
                and word.text[:3].isdigit()
                and (len(word.text) == 3 or not word.text[3:4].isdigit())
            )
            if close and groups_digits:
                out[-1] = Word(
                    previous.x0,
                    min(previous.y0, word.y0),
                    word.x1,
                    max(previous.y1, word.y1),
                    f"{previous.text} {word.text}",
                )
                continue
        out.append(word)
    return out


def _is_stop_row(row: Row) -> bool:
    """A totals row (or a tax summary header) ends the items on this page."""
    for segment in row.segments:
        hit = match_label(segment.folded, 0, FIELD_LABELS)
        if hit is not None and hit[0].field in _STOP_FIELDS:
            return True
    return False


def _item_from(cells: _Cells, decimal_separator: str | None) -> LineItem | None:
    amount = _money(cells.get("amount"), decimal_separator)
    unit_price = _money(cells.get("unit_price"), decimal_separator)
    if amount is None:
        net = _money(cells.get("net_amount"), decimal_separator)
        amount = net
    if amount is None:
        return None
    quantity = (
        _quantity(cells.get("quantity"), decimal_separator) if "quantity" in cells.text else None
    )
    percentages = find_percentages(cells.get("tax_rate"))
    tax_rate = percentages[0][0] if percentages else None
    if tax_rate is None and cells.get("tax_rate"):
        tax_rate = _quantity(cells.get("tax_rate").rstrip("%"), decimal_separator)
    dates = find_dates(cells.get("date"))
    description = _clean_description(cells.get("description"))
    return LineItem(
        description=description,
        quantity=quantity,
        unit=cells.get("unit").strip() or None,
        unit_price=unit_price,
        amount=amount,
        tax_rate=tax_rate,
        product_code=cells.get("product_code").strip() or None,
        date=dates[0].value if dates else None,
    )


_EDGE_NOISE = " \t;:_|.,„“”'\"`~-–—"


def _clean_description(text: str) -> str | None:
    """Strip what table rules and OCR leave at the edges ("„Kabel", "Toner ;", "Öl _").

    Punctuation inside the text stays ("Cat. 6, 3 m - selon contrat-cadre").
    """
    words = text.split()
    while words and all(ch in _EDGE_NOISE for ch in words[-1]):
        words.pop()
    while words and all(ch in _EDGE_NOISE for ch in words[0]):
        words.pop(0)
    cleaned = " ".join(words).strip(" „“\"'")
    return cleaned or None


def _looks_like_item_row(cells: _Cells, decimal_separator: str | None) -> bool:
    return bool(find_amounts(cells.get("amount") or cells.get("net_amount"), decimal_separator))


def extract_tables(layout: Layout, decimal_separator: str | None) -> Table | None:
    """All line items of the document's item table, across pages.

    Tables are found by their header row; when no header can be read (OCR of a
    shaded header band, or wording no vocabulary lists), the columns are taken
    from the first run of rows that look like items.
    """
    table = _read_items(layout, decimal_separator)
    if table is None or not table.items:
        start = _first_item_run(layout, decimal_separator)
        if start is not None:
            columns = _synthetic_columns(layout.rows[start], decimal_separator)
            headerless = _read_items(layout, decimal_separator, preset=columns, first=start)
            if headerless is not None and headerless.items:
                return headerless
    return table


def _item_like(row: Row, decimal_separator: str | None) -> bool:
    """Text on the left, two or more numbers on the right, the last an amount."""
    segments = row.segments
    if len(segments) < 3 or not any(ch.isalpha() for ch in segments[0].text):
        return False
    numeric = [s for s in segments[1:] if all(_is_value_word(w.text) for w in s.words)]
    return len(numeric) >= 2 and bool(find_amounts(segments[-1].text, decimal_separator))


def _first_item_run(layout: Layout, decimal_separator: str | None) -> int | None:
    """The first row of two item-like rows close together (before any totals)."""
    rows = layout.rows
    for index, row in enumerate(rows):
        if _is_stop_row(row) or not _item_like(row, decimal_separator):
            continue
        for later in rows[index + 1 : index + 4]:
            if later.page == row.page and _item_like(later, decimal_separator):
                return index
    return None


def _synthetic_columns(row: Row, decimal_separator: str | None) -> list[Column]:
    """Columns read off an item row: description on the left, numbers right to left
    as amount, (tax rate,) unit price, quantity."""
    segments = row.segments
    columns = [Column("description", segments[0].x0, segments[0].x1)]
    numeric = [s for s in segments[1:] if all(_is_value_word(w.text) for w in s.words)]
    names: list[str] = []
    for segment in reversed(numeric):
        if not names:
            names.append("amount")
        elif find_percentages(segment.text) and "tax_rate" not in names:
            names.append("tax_rate")
        elif "unit_price" not in names:
            names.append("unit_price")
        elif "quantity" not in names:
            names.append("quantity")
        else:
            break
    for segment, name in zip(reversed(numeric), names, strict=False):
        columns.append(Column(name, segment.x0, segment.x1))
    return sorted(columns, key=lambda c: c.x0)


def _read_items(
    layout: Layout,
    decimal_separator: str | None,
    *,
    preset: list[Column] | None = None,
    first: int = 0,
) -> Table | None:
    """Read items from row `first` on, under header rows (or `preset` columns)."""
    table: Table | None = Table(columns=preset) if preset else None
    columns: list[Column] | None = preset
    closed_on_page: int | None = None  # a totals row ended the table on this page
    last_item_row: Row | None = None
    pending: _Cells | None = None  # the item being built (its description may still wrap)
    for row in layout.rows[first:]:
        found = header_columns(row)
        if found is not None:
            columns = found
            if table is None:
                table = Table(columns=found)
            table.header_rows.add(row.index)
            closed_on_page = None
            last_item_row = None
            continue
        if table is None or columns is None or row.page == closed_on_page:
            continue
        if _is_carried_forward(row):
            # "Carried forward" / "Brought forward": a running total, not an item,
            # and the table goes on after it.
            last_item_row = None
            continue
        if _is_stop_row(row):
            closed_on_page = row.page
            last_item_row = None
            continue
        cells = _cells(row, columns)
        if _looks_like_item_row(cells, decimal_separator):
            _flush(table, pending, decimal_separator)
            pending = cells
            table.item_rows.add(row.index)
            last_item_row = row
            continue
        if (
            last_item_row is not None
            and pending is not None
            and row.page == last_item_row.page
            # OCR boxes hug the glyphs, so the gap between wrapped lines looks larger
            # relative to box height than it does in a text layer.
            and row.y0 - last_item_row.y1 < 1.5 * row_height(last_item_row)
            and not find_amounts(row.text, decimal_separator)
            and _starts_under_description(row, columns)
        ):
            # A wrapped description: the text continues under the item's description.
            for value in cells.text.get("description", []):
                pending.add("description", value)
            table.item_rows.add(row.index)
            last_item_row = row
    if table is not None:
        _flush(table, pending, decimal_separator)
    return table


def _starts_under_description(row: Row, columns: list[Column]) -> bool:
    """A wrapped description line starts where descriptions start; a footer does not."""
    description = next((c for c in columns if c.name == "description"), None)
    if description is None or not row.words:
        return False
    return abs(row.words[0].x0 - description.x0) <= max(12.0, row_height(row))


def _is_carried_forward(row: Row) -> bool:
    folded = fold(row.text).split()
    for start in range(min(len(folded), 3)):
        hit = match_label(tuple(folded), start, FIELD_LABELS)
        if hit is not None and hit[0].field == "carried_forward":
            return True
    return False


def _flush(table: Table, cells: _Cells | None, decimal_separator: str | None) -> None:
    if cells is not None and (item := _item_from(cells, decimal_separator)) is not None:
        table.items.append(item)
