"""PDF rendering of a composed ``Document`` with fpdf2: fonts, page flow and the layouts.

Every layout places all strings of the document (parties, meta fields, table, totals, payment
details, notes); they differ in where and how. Fonts: the fpdf2 core fonts (Helvetica, Times,
Courier, encoded as windows-1252 so "€" works) and the DejaVu TrueType fonts when present in
/usr/share/fonts/truetype/dejavu/. The font is drawn per item independently of what is
installed; when DejaVu is missing the item falls back to the matching core font, so a corpus
generated without DejaVu differs only in fonts (and a narrow no-break space becomes a
no-break space), never in content or ground truth.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from fontTools import subset, ttLib
from fpdf import FPDF

from tests.corpus.model import Block, Document, Pair

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
TTF_FONTS: dict[str, tuple[str, str, dict[str, str]]] = {
    # key: (fpdf family name, core fallback, style -> file)
    "dejavu-sans": (
        "dejavusans",
        "helvetica",
        {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"},
    ),
    "dejavu-condensed": (
        "dejavucond",
        "helvetica",
        {
            "": "DejaVuSansCondensed.ttf",
            "B": "DejaVuSansCondensed-Bold.ttf",
            "I": "DejaVuSansCondensed-Oblique.ttf",
        },
    ),
    "dejavu-serif": (
        "dejavuserif",
        "times",
        {"": "DejaVuSerif.ttf", "B": "DejaVuSerif-Bold.ttf", "I": "DejaVuSerif-Italic.ttf"},
    ),
    "dejavu-mono": (
        "dejavumono",
        "courier",
        {
            "": "DejaVuSansMono.ttf",
            "B": "DejaVuSansMono-Bold.ttf",
            "I": "DejaVuSansMono-Oblique.ttf",
        },
    ),
}
CORE_FONTS = ("helvetica", "times", "courier")
BODY_FONTS: tuple[tuple[str, int], ...] = (
    ("helvetica", 30),
    ("dejavu-sans", 25),
    ("dejavu-condensed", 15),
    ("times", 15),
    ("dejavu-serif", 15),
)
PT = 0.3528  # mm per point
FIXED_DATE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def ttf_available(key: str) -> bool:
    return key in TTF_FONTS and all((FONT_DIR / f).is_file() for f in TTF_FONTS[key][2].values())


# the windows-1252 repertoire (what the core fonts can print) plus the narrow no-break space
_CP1252 = bytes(range(0x20, 0x100)).decode("windows-1252", "ignore")
SUBSET_UNICODES = {ord(ch) for ch in _CP1252} | {0x202F}
_subset_dir: tempfile.TemporaryDirectory[str] | None = None
_subsets: dict[str, Path] = {}


def font_subset(name: str) -> Path:
    """The DejaVu file ``name`` cut down to the glyphs the corpus uses, made once per process.

    fpdf2 parses the whole font on every ``add_font`` (~0.15 s for DejaVu); the subset parses
    in ~0.01 s, which keeps corpus generation fast. Glyph shapes and metrics are unchanged.
    """
    global _subset_dir
    if name not in _subsets:
        if _subset_dir is None:
            _subset_dir = tempfile.TemporaryDirectory(prefix="invoice-corpus-fonts-")
        options = subset.Options()
        options.layout_features = []
        options.hinting = False
        options.notdef_outline = True
        options.glyph_names = True
        options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM"]
        font = ttLib.TTFont(FONT_DIR / name, lazy=True, recalcTimestamp=False)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=SUBSET_UNICODES)
        subsetter.subset(font)
        path = Path(_subset_dir.name) / name
        font.save(path)
        _subsets[name] = path
    return _subsets[name]


class Canvas:
    """A thin drawing layer over fpdf2 with absolute positioning in mm and manual page flow."""

    def __init__(self, font_key: str, page_format: str) -> None:
        pdf: Any = FPDF(unit="mm", format=page_format)
        pdf.core_fonts_encoding = "windows-1252"
        pdf.set_auto_page_break(False)
        pdf.set_margins(0, 0, 0)
        pdf.c_margin = 0
        pdf.set_creation_date(FIXED_DATE)
        pdf.set_creator("invoice corpus generator")
        self.pdf = pdf
        self.ttf_files: dict[str, str] = {}
        self.registered: set[str] = set()
        self.widths: dict[tuple[str, str], float] = {}  # (style, text) -> width at 1 pt
        if font_key in TTF_FONTS and ttf_available(font_key):
            self.family, _, self.ttf_files = TTF_FONTS[font_key]
            self.ttf = True
        else:
            self.family = TTF_FONTS[font_key][1] if font_key in TTF_FONTS else font_key
            self.ttf = False
        self.font_used = font_key if self.ttf else self.family
        pdf.add_page()
        self.w: float = pdf.w
        self.h: float = pdf.h
        self.bottom: float = self.h - 20
        self.top: float = 15
        self.footer: Callable[[Canvas, int], None] | None = None
        self.continuation: Callable[[Canvas], float] | None = None

    # -- text
    def set_font(self, size: float, style: str = "") -> None:
        base_style = style.replace("U", "")
        if self.ttf and base_style not in self.registered:  # TrueType styles load lazily
            self.pdf.add_font(self.family, base_style, font_subset(self.ttf_files[base_style]))
            self.registered.add(base_style)
        self.pdf.set_font(self.family, style, size)

    def safe(self, text: str) -> str:
        if self.ttf:
            return text
        text = text.replace("\u202f", "\u00a0")
        return text.encode("windows-1252", "replace").decode("windows-1252")

    def width(self, text: str, size: float, style: str = "") -> float:
        key = (style, text)
        if key not in self.widths:  # string widths are linear in the font size
            self.set_font(10, style)
            self.widths[key] = float(self.pdf.get_string_width(self.safe(text))) / 10
        return self.widths[key] * size

    @staticmethod
    def lh(size: float) -> float:
        return size * PT * 1.25

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        style: str = "",
        align: str = "L",
        w: float = 0.0,
        gray: int = 0,
    ) -> float:
        """One line of text; with ``w`` it is aligned in that width and shrunk to fit."""
        text = self.safe(text)
        if w:
            while size > 5 and self.width(text, size, style) > w:
                size -= 0.25
        width = w or self.width(text, size, style) + 0.01
        self.set_font(size, style)
        self.pdf.set_text_color(gray)
        if align == "R" and not w:
            x -= width
        self.pdf.set_xy(x, y)
        self.pdf.cell(width, self.lh(size), text, align=align)
        return self.lh(size)

    def right(self, x_right: float, y: float, text: str, size: float, style: str = "") -> float:
        return self.text(x_right, y, text, size, style, align="R")

    def wrap(self, text: str, width: float, size: float, style: str = "") -> list[str]:
        lines: list[str] = []
        current = ""
        for word in text.split(" "):
            trial = f"{current} {word}" if current else word
            if current and self.width(trial, size, style) > width:
                lines.append(current)
                current = word
            else:
                current = trial
        return [*lines, current] if current else lines

    def paragraph(
        self,
        x: float,
        y: float,
        text: str,
        width: float,
        size: float,
        style: str = "",
        gray: int = 0,
    ) -> float:
        for line in self.wrap(text, width, size, style):
            y += self.text(x, y, line, size, style, gray=gray)
        return y

    def lines(
        self, x: float, y: float, texts: list[str], size: float, style: str = "", align: str = "L"
    ) -> float:
        for t in texts:
            y += self.text(x, y, t, size, style, align=align)
        return y

    # -- graphics
    def rule(self, x1: float, y: float, x2: float, width: float = 0.2, gray: int = 0) -> None:
        self.pdf.set_draw_color(gray)
        self.pdf.set_line_width(width)
        self.pdf.line(x1, y, x2, y)

    def box(
        self, x: float, y: float, w: float, h: float, fill: int | None = None, border: bool = True
    ) -> None:
        self.pdf.set_line_width(0.2)
        self.pdf.set_draw_color(0)
        if fill is not None:
            self.pdf.set_fill_color(fill)
        style = ("F" if fill is not None else "") + ("D" if border else "")
        if style:
            self.pdf.rect(x, y, w, h, style="DF" if style == "FD" else style)

    def logo(self, x: float, y: float, brand: str, size: float, gray: int) -> float:
        """A logo-like mark: a filled disc with the initial, then the brand name."""
        d = size * PT * 1.6
        self.pdf.set_fill_color(gray)
        self.pdf.ellipse(x, y, d, d, style="F")
        initial = brand[:1]
        self.text(x, y + d / 2 - self.lh(size * 0.8) / 2, initial, size * 0.8, "B", "C", d, 255)
        self.text(x + d + 2, y + d / 2 - self.lh(size) / 2, brand, size, "B", gray=gray)
        return d

    # -- flow
    def new_page(self) -> float:
        if self.footer:
            self.footer(self, self.pdf.page_no())
        self.pdf.add_page()
        return self.continuation(self) if self.continuation else self.top

    def ensure(self, y: float, height: float) -> float:
        return self.new_page() if y + height > self.bottom else y

    def finish(self, path: Path) -> int:
        if self.footer:
            self.footer(self, self.pdf.page_no())
        self.pdf.output(str(path))
        return int(self.pdf.pages_count)


@dataclass(frozen=True)
class Style:
    base: float  # body font size
    small: float
    title: float
    name: float
    margin: float
    label_gray: int
    header_fill: int | None
    grid: bool
    row_rules: bool
    zebra: bool
    pad: float
    totals_box: bool
    label_bold: bool


def choose_style(rng: random.Random) -> Style:
    base = rng.choice((8.0, 8.5, 9.0, 9.0, 9.5, 10.0, 10.5))
    return Style(
        base=base,
        small=base - rng.choice((1.0, 1.5, 2.0)),
        title=rng.choice((14.0, 16.0, 18.0, 20.0, 24.0)),
        name=rng.choice((12.0, 14.0, 16.0, 18.0, 20.0)),
        margin=rng.choice((12.0, 15.0, 18.0, 20.0, 22.0)),
        label_gray=rng.choice((0, 0, 80, 110)),
        header_fill=rng.choice((None, 215, 230, 240)),
        grid=rng.random() < 0.25,
        row_rules=rng.random() < 0.5,
        zebra=rng.random() < 0.15,
        pad=rng.choice((0.8, 1.2, 1.6)),
        totals_box=rng.random() < 0.25,
        label_bold=rng.random() < 0.5,
    )


# --------------------------------------------------------------------------- shared pieces


def pack(cv: Canvas, parts: list[str], sep: str, width: float, size: float) -> list[str]:
    """Join parts with ``sep`` into as few lines as fit ``width``; never splits a part."""
    lines: list[str] = []
    for part in parts:
        if lines and cv.width(lines[-1] + sep + part, size) <= width:
            lines[-1] += sep + part
        else:
            lines.append(part)
    return lines


def fit_pairs(
    cv: Canvas, pairs: list[Pair], width: float, size: float, stacked: bool = False
) -> tuple[list[Pair], list[Pair]]:
    """Split meta pairs into those that fit a block of ``width`` and the (long) rest."""
    fits: list[Pair] = []
    rest: list[Pair] = []
    for p in pairs:
        value_w = cv.width(p.value, size)
        need = value_w if stacked else cv.width(p.label, size, "B") + value_w + 4
        (fits if need <= width else rest).append(p)
    return fits, rest


def long_pairs(cv: Canvas, x: float, y: float, pairs: list[Pair], st: Style) -> float:
    """Meta pairs too long for their block: "Label value" on a line of their own."""
    for p in pairs:
        lw = cv.width(p.label + " ", st.base, "B")
        cv.text(x, y, p.label, st.base, "B", gray=st.label_gray)
        y += cv.text(x + lw, y, p.value, st.base) + 0.5
    return y + (2 if pairs else 0)


def party_block(
    cv: Canvas,
    x: float,
    y: float,
    block: Block,
    st: Style,
    *,
    label: str | None = None,
    name_size: float | None = None,
    align: str = "L",
) -> float:
    if label:
        y += cv.text(x, y, label, st.small, "B", align=align, gray=st.label_gray)
    y += cv.text(x, y, block.name, name_size or st.base, "B", align=align)
    if block.attn:
        y += cv.text(x, y, block.attn, st.base, align=align)
    y = cv.lines(x, y, block.lines, st.base, align=align)
    return cv.lines(x, y, block.extra, st.small, align=align)


def meta_columns(
    cv: Canvas, x: float, y: float, width: float, pairs: list[Pair], st: Style, value_right: bool
) -> float:
    """Labels in one column, values to their right (left- or right-aligned)."""
    size = st.base
    label_w = max((cv.width(p.label, size, "B" if st.label_bold else "") for p in pairs), default=0)
    label_w = min(label_w + 3, width * 0.55)
    for p in pairs:
        cv.text(
            x, y, p.label, size, "B" if st.label_bold else "", w=label_w - 2, gray=st.label_gray
        )
        cv.text(x + label_w, y, p.value, size, align="R" if value_right else "L", w=width - label_w)
        y += cv.lh(size) + 0.4
    return y


def meta_inline(cv: Canvas, x: float, y: float, pairs: list[Pair], st: Style, align: str) -> float:
    """Label and value as one string per line."""
    for p in pairs:
        y += cv.text(x, y, f"{p.label} {p.value}", st.base, align=align)
    return y


def meta_stacked(
    cv: Canvas, x: float, y: float, width: float, pairs: list[Pair], st: Style, per_row: int
) -> float:
    """A band of cells, each with the label above its value."""
    col_w = width / per_row
    for start in range(0, len(pairs), per_row):
        for i, p in enumerate(pairs[start : start + per_row]):
            cx = x + i * col_w
            label = p.label.rstrip(":")
            cv.text(cx, y, label, st.small, "B", w=col_w - 3, gray=st.label_gray or 90)
            cv.text(cx, y + cv.lh(st.small), p.value, st.base, w=col_w - 3)
        y += cv.lh(st.small) + cv.lh(st.base) + 2.5
    return y


def meta_grid(cv: Canvas, x: float, y: float, width: float, pairs: list[Pair], st: Style) -> float:
    """A bordered two-column table: label cell (shaded) | value cell."""
    size = st.base
    label_w = min(max(cv.width(p.label, size, "B") for p in pairs) + 4, width * 0.55)
    h = cv.lh(size) + 1.6
    for p in pairs:
        cv.box(x, y, label_w, h, fill=st.header_fill or 235)
        cv.box(x + label_w, y, width - label_w, h)
        cv.text(x + 1.5, y + 0.8, p.label, size, "B", w=label_w - 3)
        cv.text(x + label_w + 1.5, y + 0.8, p.value, size, w=width - label_w - 3)
        y += h
    return y


def meta_header_row(
    cv: Canvas, x: float, y: float, width: float, pairs: list[Pair], st: Style
) -> float:
    """Bordered table with the labels as a header row and the values in the row below."""
    per_row = min(len(pairs), 5)
    col_w = width / per_row
    h = cv.lh(st.base) + 1.6
    for start in range(0, len(pairs), per_row):
        chunk = pairs[start : start + per_row]
        for i, p in enumerate(chunk):
            cx = x + i * col_w
            cv.box(cx, y, col_w, h, fill=st.header_fill or 230)
            cv.box(cx, y + h, col_w, h)
            cv.text(cx + 1, y + 0.8, p.label.rstrip(":"), st.small, "B", "C", col_w - 2)
            cv.text(cx + 1, y + h + 0.8, p.value, st.base, "", "C", col_w - 2)
        y += 2 * h + 2
    return y


def meta_dotted(cv: Canvas, x: float, y: float, pairs: list[Pair], size: float) -> float:
    """ERP style "Label ......: value" with dot leaders (monospace layouts)."""
    width = max(len(p.label.rstrip(":")) for p in pairs) + 3
    for p in pairs:
        label = p.label.rstrip(":")
        y += cv.text(x, y, f"{label} {'.' * (width - len(label))}: {p.value}", size)
    return y


# --------------------------------------------------------------------------- items table


def column_widths(cv: Canvas, doc: Document, total_w: float, size: float) -> list[float]:
    hpad = 1.5
    widths: list[float] = []
    sums = doc.money_table.format(sum(doc.row_amounts, Decimal(0)), plain=doc.table_plain)
    for col in doc.columns:
        if col.key == "desc":
            widths.append(0.0)
            continue
        cells = [row[col.key] for row in doc.rows] + ([sums] if col.key == "amount" else [])
        content = max(cv.width(c, size) for c in cells)
        header = cv.width(col.header, size, "B")
        widths.append(max(content, min(header, content + 12), 5.0) + 2 * hpad)
    widths[[c.key for c in doc.columns].index("desc")] = total_w - sum(widths)
    return widths


def draw_table(
    cv: Canvas, doc: Document, x: float, y: float, total_w: float, st: Style, size: float
) -> float:
    keys = [c.key for c in doc.columns]
    desc_i = keys.index("desc")
    while True:  # smaller type only when the description column would get too narrow
        widths = column_widths(cv, doc, total_w, size)
        if widths[desc_i] >= 50 or size <= 6.5:
            break
        size -= 0.5
    lh = cv.lh(size)
    xs = [x + sum(widths[:i]) for i in range(len(widths))]
    amount_i = keys.index("amount")

    def header(y: float) -> float:
        h = lh + 2 * st.pad
        if st.header_fill is not None:
            cv.box(x, y, total_w, h, fill=st.header_fill, border=st.grid)
        for col, cx, w in zip(doc.columns, xs, widths, strict=True):
            if st.grid:
                cv.box(cx, y, w, h)
            cv.text(cx + 1.5, y + st.pad, col.header, size, "B", col.align, w - 3)
        if st.header_fill is None or not st.grid:
            cv.rule(x, y + h, x + total_w, 0.35)
        return y + h + 0.6

    def carry_line(y: float, label: str, amount: Decimal) -> float:
        value = doc.money_table.format(amount, plain=doc.table_plain)
        cv.text(xs[desc_i] + 1.5, y, label, size, "I")
        cv.text(xs[amount_i] + 1.5, y, value, size, "B", "R", widths[amount_i] - 3)
        return y + lh + 1.5

    y = header(y)
    running = Decimal(0)
    for i, row in enumerate(doc.rows):
        desc_lines = cv.wrap(row["desc"], widths[desc_i] - 3, size)
        h = len(desc_lines) * lh + 2 * st.pad
        reserve = lh + 3 if doc.carried else 0
        first_page_full = doc.first_page_rows is not None and i == doc.first_page_rows
        if y + h > cv.bottom - reserve or (first_page_full and cv.pdf.page_no() == 1):
            page = cv.pdf.page_no()
            if doc.carried:
                carry_line(y + 1, doc.carried, running)
            y = cv.new_page()
            if doc.brought:
                y = carry_line(y, doc.brought.format(p=page), running)
            if doc.repeat_header:
                y = header(y)
        if st.zebra and i % 2:
            cv.box(x, y, total_w, h, fill=242, border=False)
        for key, cx, w, col in zip(keys, xs, widths, doc.columns, strict=True):
            if st.grid:
                cv.box(cx, y, w, h)
            if key == "desc":
                cv.lines(cx + 1.5, y + st.pad, desc_lines, size)
            else:
                cv.text(cx + 1.5, y + st.pad, row[key], size, "", col.align, w - 3)
        y += h
        if st.row_rules and not st.grid:
            cv.rule(x, y, x + total_w, 0.1, 150)
        running += doc.row_amounts[i]
    return y + 2


# --------------------------------------------------------------------------- totals


def totals_height(cv: Canvas, doc: Document, st: Style) -> float:
    h = len(doc.totals) * (cv.lh(st.base + 1) + 1.2) + 4
    if doc.tax_table:
        h += (len(doc.tax_table) + 1) * (cv.lh(st.small) + 1.5) + 4
    return h


def draw_tax_table(cv: Canvas, doc: Document, x: float, y: float, st: Style) -> float:
    assert doc.tax_table
    size = st.small
    rows = [doc.tax_table_header, *doc.tax_table]
    widths = [max(cv.width(r[i], size, "B") for r in rows) + 6 for i in range(3)]
    h = cv.lh(size) + 1.2
    for n, row in enumerate(rows):
        cx = x
        for i, cell in enumerate(row):
            cv.box(cx, y, widths[i], h, fill=(st.header_fill or 235) if n == 0 else None)
            cv.text(cx + 1.5, y + 0.6, cell, size, "B" if n == 0 else "", "R", widths[i] - 3)
            cx += widths[i]
        y += h
    return y + 3


def draw_totals(
    cv: Canvas, doc: Document, x_right: float, y: float, st: Style, leaders: bool = False
) -> float:
    size = st.base
    if st.totals_box and not leaders:
        x_right -= 1.5  # keep the frame inside the right margin
    label_w = max(cv.width(t.label, size + 1, "B") for t in doc.totals)
    value_w = max(cv.width(t.value, size + 1, "B") for t in doc.totals)
    gap = 6.0
    x_left = x_right - value_w - gap - label_w
    top = y
    for t in doc.totals:
        s = size + 1 if t.strong else size
        style = "B" if t.strong else ""
        if t.strong:
            cv.rule(x_left, y, x_right, 0.4)
            y += 0.8
            if st.totals_box and not leaders:
                cv.box(x_left - 1.5, y - 0.5, x_right - x_left + 3, cv.lh(s) + 1, fill=225)
        if leaders:
            dots = "." * max(2, int((label_w + gap - cv.width(t.label + " ", s, style)) / 1.8))
            cv.text(x_left, y, f"{t.label} {dots}", s, style, w=label_w + gap - 1)
        else:
            cv.text(x_left, y, t.label, s, style, w=label_w + 1)
        y += cv.text(x_right - value_w, y, t.value, s, style, "R", value_w) + 1.2
        if t.strong and st.totals_box:
            cv.rule(x_left, y, x_right, 0.6)
    if st.totals_box and not leaders:
        cv.box(x_left - 1.5, top - 1.5, x_right - x_left + 3, y - top + 2)
    return y + 3


# --------------------------------------------------------------------------- flow helpers


def body(cv: Canvas, doc: Document, y: float, st: Style, *, leaders: bool = False) -> float:
    """Currency note, items table, tax summary, totals and notes (shared by all layouts)."""
    m = st.margin
    width = cv.w - 2 * m
    if doc.currency_note:
        y += cv.text(m, y, doc.currency_note, st.small, "I", "R", width) + 1
    y = draw_table(cv, doc, m, y, width, st, st.base - 0.5)
    y = cv.ensure(y, totals_height(cv, doc, st))
    if doc.tax_table:
        y_tax = draw_tax_table(cv, doc, m, y, st)
        y = max(draw_totals(cv, doc, cv.w - m, y, st, leaders), y_tax)
    else:
        y = draw_totals(cv, doc, cv.w - m, y, st, leaders)
    for note in doc.notes:
        height = len(cv.wrap(note, width, st.small)) * cv.lh(st.small) + 1
        y = cv.ensure(y, height)
        y = cv.paragraph(m, y, note, width, st.small) + 1
    return y + 2


def bank_block(cv: Canvas, doc: Document, x: float, y: float, st: Style, width: float) -> float:
    if not doc.bank:
        return y
    lines = bank_lines(cv, doc, width, st.small)
    y = cv.ensure(y, (len(lines) + 2) * cv.lh(st.small) + 2)
    y += cv.text(x, y, doc.bank_heading, st.small, "B")
    return cv.lines(x, y, lines, st.small) + 2


def page_text(doc: Document, page: int) -> str:
    assert doc.page_label
    return doc.page_label.format(p=page, n="{nb}")


def simple_continuation(doc: Document, st: Style) -> Callable[[Canvas], float]:
    def draw(cv: Canvas) -> float:
        m = st.margin
        y = m
        cv.text(m, y, doc.vendor.name, st.small, "B")
        cv.right(cv.w - m, y, f"{doc.subject} ({doc.continued})", st.small)
        y += cv.lh(st.small) + 1.5
        cv.rule(m, y, cv.w - m, 0.2, 120)
        return y + 4

    return draw


def footer_lines(
    doc: Document, st: Style, lines: list[str], align: str
) -> Callable[[Canvas, int], None]:
    """A footer of small text lines above the bottom margin plus the page label."""

    def draw(cv: Canvas, page: int) -> None:
        m = st.margin
        lh = cv.lh(st.small)
        y = cv.h - m - lh * len(lines)
        cv.rule(m, y - 2, cv.w - m, 0.2, 140)
        for line in lines:
            y += cv.text(m, y, line, st.small, align=align, w=cv.w - 2 * m)
        if doc.page_label:
            top = cv.h - m - lh * len(lines) - 3 - cv.lh(st.small)
            cv.right(cv.w - m, top, page_text(doc, page), st.small)

    return draw


def footer_height(cv: Canvas, st: Style, n_lines: int) -> float:
    return cv.h - st.margin - cv.lh(st.small) * (n_lines + 1) - 8


def vendor_lines(doc: Document) -> list[str]:
    return [doc.vendor.name, *doc.vendor.lines]


def bank_lines(cv: Canvas, doc: Document, width: float, size: float, sep: str = "") -> list[str]:
    """Payment details as printed: joined on lines (never inside a value) or one per line."""
    joiner = sep or doc.bank_sep
    return pack(cv, doc.bank, joiner, width, size) if joiner else list(doc.bank)


def joined(cv: Canvas, parts: list[str], width: float, size: float) -> list[str]:
    return pack(cv, parts, " · ", width, size)


# --------------------------------------------------------------------------- layouts


def layout_classic(cv: Canvas, doc: Document, st: Style, rng: random.Random) -> float:
    """Vendor name large at the top left, title and "label  value" meta at the top right."""
    m = st.margin
    y = m
    y += cv.text(m, y, doc.vendor.name, st.name, "B") + 1
    y = cv.lines(m, y, doc.vendor.lines, st.base)
    y = cv.lines(m, y, doc.contact, st.small)
    if doc.vendor_tax:
        y += cv.text(m, y, doc.vendor_tax, st.small)
    meta_w = rng.choice((80.0, 90.0))
    pairs, rest = fit_pairs(cv, doc.meta, meta_w, st.base)
    right_y = m + cv.right(cv.w - m, m, doc.title, st.title, "B") + 3
    right_y = meta_columns(cv, cv.w - m - meta_w, right_y, meta_w, pairs, st, rng.random() < 0.6)
    y = max(y, right_y) + 6
    by = party_block(cv, m, y, doc.customer, st, label=doc.customer_label)
    if doc.ship:
        by = max(by, party_block(cv, m + 80, y, doc.ship, st, label=doc.ship_label))
    y = long_pairs(cv, m, by + 4, rest, st) + 2
    width = cv.w - 2 * m
    lines = bank_lines(cv, doc, width, st.small, "  ·  ") + joined(cv, doc.legal, width, st.small)
    cv.footer = footer_lines(doc, st, lines, "C")
    cv.bottom = footer_height(cv, st, len(lines))
    cv.continuation = simple_continuation(doc, st)
    return body(cv, doc, y, st)


def layout_letter(cv: Canvas, doc: Document, st: Style, rng: random.Random) -> float:
    """German business letter (DIN 5008 like): logo, sender line, window address, info block,
    subject line, salutation; vendor details in a multi-column footer."""
    m = st.margin
    cv.logo(cv.w - m - 70, m, doc.brand, st.name + 4, rng.choice((40, 70, 100)))
    sender = " · ".join([doc.vendor.name, *doc.vendor.lines[:2]])
    cv.text(m + 2, 46, sender, 6.5, "U", w=85)
    party_block(cv, m + 2, 52, doc.customer, st)
    info_x = cv.w - m - 75
    pairs = doc.meta
    if rng.random() < 0.5:  # the number is in the subject line; often not repeated
        pairs = [p for p in pairs if p.field != "invoice_id"]
    pairs, rest = fit_pairs(cv, pairs, 75, st.base)
    info_y = meta_columns(cv, info_x, 52, 75, pairs, st, value_right=False)
    y = max(98.0, info_y + 6)
    if doc.ship:
        y = party_block(cv, m + 2, y, doc.ship, st, label=doc.ship_label) + 4
    y += cv.text(m, y, doc.subject, st.base + 3, "B") + 3
    y = long_pairs(cv, m, y, rest, st) + 1
    if doc.salutation:
        y += cv.text(m, y, doc.salutation[0], st.base) + 2
        y = cv.paragraph(m, y, doc.salutation[1], cv.w - 2 * m, st.base) + 3

    columns = [
        vendor_lines(doc),
        [*doc.contact, *([doc.vendor_tax] if doc.vendor_tax else [])],
        [doc.bank_heading, *doc.bank] if doc.bank else [],  # one part per line here
    ]
    columns = [c for c in columns if c]
    size = st.small - 0.5
    col_w = (cv.w - 2 * m) / (len(columns) + (1 if doc.legal else 0))
    # values (addresses, IBAN) shrink to fit their column; only the legal text wraps
    legal = [w for line in doc.legal for w in cv.wrap(line, col_w - 3, size)]
    n_lines = max([len(c) for c in columns] + [len(legal)])

    def footer(cv: Canvas, page: int) -> None:
        lh = cv.lh(size)
        top = cv.h - m - n_lines * lh
        cv.rule(m, top - 2, cv.w - m, 0.2, 120)
        for i, col in enumerate([*columns, legal]):
            for j, line in enumerate(col):
                cv.text(m + i * col_w, top + j * lh, line, size, w=col_w - 3)
        if doc.page_label:
            cv.right(cv.w - m, top - 4 - cv.lh(st.small), page_text(doc, page), st.small)

    cv.footer = footer
    cv.bottom = cv.h - m - n_lines * cv.lh(size) - 10
    cv.continuation = simple_continuation(doc, st)
    return body(cv, doc, y, st)


def layout_stacked(cv: Canvas, doc: Document, st: Style, rng: random.Random) -> float:
    """Title at the top left, vendor block right-aligned; meta as a band of label-above-value
    cells; bill-to block with its label above."""
    m = st.margin
    y = m
    cv.text(m, y, doc.title, st.title, "B")
    vy = party_block(cv, cv.w - m, y, replace(doc.vendor, extra=doc.contact), st, align="R")
    if doc.vendor_tax:
        vy += cv.right(cv.w - m, vy, doc.vendor_tax, st.small)
    y = max(y + cv.lh(st.title), vy) + 6
    cv.rule(m, y - 2, cv.w - m, 0.3)
    per_row = rng.choice((3, 4, 5))
    pairs, rest = fit_pairs(cv, doc.meta, (cv.w - 2 * m) / per_row - 3, st.base, stacked=True)
    y = meta_stacked(cv, m, y, cv.w - 2 * m, pairs, st, per_row) + 3
    label = doc.customer_label.rstrip(":").upper() if doc.customer_label else None
    by = party_block(cv, m, y, doc.customer, st, label=label)
    if doc.ship:
        by = max(by, party_block(cv, cv.w / 2, y, doc.ship, st, label=doc.ship_label.upper()))
    y = long_pairs(cv, m, by + 4, rest, st) + 2
    width = cv.w - 2 * m
    lines = bank_lines(cv, doc, width, st.small) + joined(cv, doc.legal, width, st.small)
    cv.footer = footer_lines(doc, st, lines, "L")
    cv.bottom = footer_height(cv, st, len(lines))
    cv.continuation = simple_continuation(doc, st)
    return body(cv, doc, y, st)


def layout_boxed(cv: Canvas, doc: Document, st: Style, rng: random.Random) -> float:
    """Vendor name and one-line address at the top; meta in a bordered table."""
    m = st.margin
    y = m
    centered = rng.random() < 0.4
    align = "C" if centered else "L"
    width = cv.w - 2 * m if centered else 0.0
    y += cv.text(m, y, doc.vendor.name, st.name, "B", align, width)
    full = cv.w - 2 * m
    extra = [*doc.contact, *([doc.vendor_tax] if doc.vendor_tax else [])]
    for line in joined(cv, doc.vendor.lines, full, st.small) + joined(cv, extra, full, st.small):
        y += cv.text(m, y, line, st.small, "", align, width)
    y += 4
    cv.rule(m, y, cv.w - m, 0.4)
    y += 4
    y += cv.text(m, y, doc.title, st.title, "B") + 3
    if rng.random() < 0.5:
        grid_w = 88.0
        pairs, rest = fit_pairs(cv, doc.meta, grid_w - 3, st.base)
        gy = meta_grid(cv, cv.w - m - grid_w, y, grid_w, pairs, st)
        by = party_block(cv, m, y, doc.customer, st, label=doc.customer_label)
        if doc.ship:
            by = party_block(cv, m, by + 3, doc.ship, st, label=doc.ship_label)
        y = max(gy, by) + 4
    else:
        by = party_block(cv, m, y, doc.customer, st, label=doc.customer_label)
        if doc.ship:
            by = max(by, party_block(cv, cv.w / 2, y, doc.ship, st, label=doc.ship_label))
        per_row = min(len(doc.meta), 5)
        pairs, rest = fit_pairs(cv, doc.meta, full / max(per_row, 1) - 2, st.base, stacked=True)
        y = meta_header_row(cv, m, by + 5, full, pairs, st) + 1
    y = long_pairs(cv, m, y, rest, st) + 2
    lines = bank_lines(cv, doc, full, st.small, "  ·  ") + doc.legal
    cv.footer = footer_lines(doc, st, lines, "L")
    cv.bottom = footer_height(cv, st, len(lines))
    cv.continuation = simple_continuation(doc, st)
    return body(cv, doc, y, st)


def layout_footer_vendor(cv: Canvas, doc: Document, st: Style, rng: random.Random) -> float:
    """A logo-like brand at the top; the legal vendor name and details only in the footer."""
    m = st.margin
    y = m
    d = cv.logo(m, y, doc.brand, st.name + 6, rng.choice((30, 60, 90)))
    full = cv.w - 2 * m
    pairs, rest = fit_pairs(cv, doc.meta, full - 80, st.base)
    right_y = m + cv.right(cv.w - m, m, doc.title, st.title, "B") + 2
    right_y = meta_inline(cv, cv.w - m, right_y, pairs, st, "R")
    y = max(y + d + 10, right_y + 6)
    by = party_block(cv, m, y, doc.customer, st, label=doc.customer_label)
    if doc.ship:
        by = max(by, party_block(cv, m + 85, y, doc.ship, st, label=doc.ship_label))
    y = long_pairs(cv, m, by + 5, rest, st) + 3
    size = st.small
    lines = [
        *joined(cv, vendor_lines(doc) + ([doc.vendor_tax] if doc.vendor_tax else []), full, size),
        *joined(cv, doc.contact, full, size),
        *bank_lines(cv, doc, full, size, "  ·  "),
        *joined(cv, doc.legal, full, size),
    ]
    cv.footer = footer_lines(doc, st, lines, "C")
    cv.bottom = footer_height(cv, st, len(lines))
    cv.continuation = simple_continuation(doc, st)
    return body(cv, doc, y, st)


def layout_mirrored(cv: Canvas, doc: Document, st: Style, rng: random.Random) -> float:
    """Customer block top left, vendor block right-aligned top right, centred title, meta
    pairs side by side on one or two lines, bank details in the body."""
    m = st.margin
    y = m
    vy = party_block(cv, cv.w - m, y, doc.vendor, st, name_size=st.name - 2, align="R")
    vy = cv.lines(cv.w - m, vy, doc.contact, st.small, align="R")
    if doc.vendor_tax:
        vy += cv.right(cv.w - m, vy, doc.vendor_tax, st.small)
    by = party_block(cv, m, y + 12, doc.customer, st, label=doc.customer_label)
    y = max(vy, by) + 6
    y += cv.text(m, y, doc.title, st.title, "B", "C", cv.w - 2 * m) + 3
    # pairs side by side, wrapping to the next line when the row is full
    x = m
    size = st.base
    for p in doc.meta:
        lw = cv.width(p.label + " ", size, "B")
        vw = cv.width(p.value, size)
        if x + lw + vw > cv.w - m and x > m:
            x = m
            y += cv.lh(size) + 1
        cv.text(x, y, p.label, size, "B")
        cv.text(x + lw, y, p.value, size)
        x += lw + vw + 8
    y += cv.lh(size) + 6
    if doc.ship:
        y = party_block(cv, m, y, doc.ship, st, label=doc.ship_label) + 4
    lines = joined(cv, doc.legal, cv.w - 2 * m - 30, st.small) or [doc.vendor.name]

    def footer(cv: Canvas, page: int) -> None:
        lh = cv.lh(st.small)
        top = cv.h - m - lh * len(lines)
        cv.lines(m, top, lines, st.small)
        if doc.page_label:
            cv.right(cv.w - m, top + lh * (len(lines) - 1), page_text(doc, page), st.small)

    cv.footer = footer
    cv.bottom = cv.h - m - cv.lh(st.small) * len(lines) - 6
    cv.continuation = simple_continuation(doc, st)
    y = body(cv, doc, y, st)
    return bank_block(cv, doc, m, y, st, cv.w - 2 * m)


def layout_mono(cv: Canvas, doc: Document, st: Style, rng: random.Random) -> float:
    """ERP/line-printer style: monospace, rules of '=' and '-', dot leaders."""
    m = st.margin
    size = min(st.base, 9.0)
    chars = int((cv.w - 2 * m) / cv.width("x", size))
    y = m
    y += cv.text(m, y, doc.vendor.name, size + 2, "B")
    y = cv.lines(m, y, doc.vendor.lines, size)
    if doc.vendor_tax:
        y += cv.text(m, y, doc.vendor_tax, size)
    y += cv.text(m, y, "=" * chars, size)
    title = doc.title.upper() if doc.title != doc.subject else doc.title  # data stay as is
    y += cv.text(m, y, title, size + 3, "B", "C", cv.w - 2 * m)
    y += cv.text(m, y, "=" * chars, size) + 2
    full = cv.w - 2 * m
    leader_w = max(len(p.label) for p in doc.meta) + 5  # "Label ....: " in characters
    value_w = full * 0.56 - cv.width("x" * leader_w, size)
    pairs, rest = fit_pairs(cv, doc.meta, value_w, size, stacked=True)
    left_y = meta_dotted(cv, m, y, pairs, size)
    half = m + full * 0.58
    small = replace(st, base=size, small=size)
    right_y = party_block(cv, half, y, doc.customer, small, label=doc.customer_label)
    y = max(left_y, right_y) + 3
    if doc.ship:
        y = party_block(cv, half, y, doc.ship, small, label=doc.ship_label) + 3
    y = long_pairs(cv, m, y, rest, small)
    mono = replace(st, base=size + 0.5, header_fill=None, grid=False, zebra=False, totals_box=False)
    lines = [
        *bank_lines(cv, doc, full, size - 1, "  "),
        *doc.contact[:1],
        *joined(cv, doc.legal, full, size - 1),
    ]

    def footer(cv: Canvas, page: int) -> None:
        lh = cv.lh(size - 1)
        top = cv.h - m - lh * (len(lines) + 1)
        cv.text(m, top - lh, "-" * chars, size - 1)
        cv.lines(m, top, lines, size - 1)
        if doc.page_label:
            cv.right(cv.w - m, top + lh * len(lines), page_text(doc, page), size - 1)

    cv.footer = footer
    cv.bottom = cv.h - m - cv.lh(size - 1) * (len(lines) + 3) - 4
    cv.continuation = simple_continuation(doc, st)
    return body(cv, doc, y, mono, leaders=True)


LAYOUTS: dict[str, Callable[[Canvas, Document, Style, random.Random], float]] = {
    "classic": layout_classic,
    "letter": layout_letter,
    "stacked": layout_stacked,
    "boxed": layout_boxed,
    "footer_vendor": layout_footer_vendor,
    "mirrored": layout_mirrored,
    "mono": layout_mono,
}


def choose_font(rng: random.Random, layout: str) -> str:
    keys = [key for key, _ in BODY_FONTS]
    key = rng.choices(keys, [weight for _, weight in BODY_FONTS])[0]
    if layout == "mono":
        return "dejavu-mono" if key.startswith("dejavu") else "courier"
    return key


def render(doc: Document, layout: str, path: Path, rng: random.Random) -> tuple[int, str]:
    """Write the PDF; returns (page count, font actually used)."""
    font = choose_font(rng, layout)
    style = choose_style(rng)
    cv = Canvas(font, doc.page_format)
    cv.top = style.margin
    LAYOUTS[layout](cv, doc, style, rng)
    return cv.finish(path), cv.font_used
