"""Visual rows and segments: the layout model the rules extractor reads.

Words are grouped into rows by vertical overlap (so a two-column header gives one
row with two segments), and a row is cut into segments where the horizontal gap
between words is wider than about one character height. A segment is a phrase
such as "Invoice No.: INV-1001" or "ACME GmbH"; labels and values are found among
segments to the right of or below one another.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from shared.documents.parse import ParsedDocument, Word
from shared.extraction.text import fold

_RUN = re.compile(r"[^\W_]+")


def middle_value(values: list[float]) -> float:
    """The median of a non-empty list (statistics.median is slow on a hot path)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


@dataclass(slots=True)
class Token:
    text: str  # folded
    word: int  # index of the word in the segment
    end: int  # end offset of the token's run in the word's original text


@dataclass(slots=True)
class Segment:
    page: int
    row: int  # global row index
    words: list[Word]
    tokens: list[Token] = field(default_factory=list)

    @property
    def x0(self) -> float:
        return self.words[0].x0

    @property
    def x1(self) -> float:
        return self.words[-1].x1

    @property
    def y0(self) -> float:
        return min(w.y0 for w in self.words)

    @property
    def y1(self) -> float:
        return max(w.y1 for w in self.words)

    @property
    def height(self) -> float:
        return middle_value([w.height for w in self.words])

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def folded(self) -> tuple[str, ...]:
        return tuple(t.text for t in self.tokens)

    def text_after_token(self, count: int) -> str:
        """The segment's original text after its first `count` tokens."""
        if count <= 0:
            return self.text
        if count > len(self.tokens):
            return ""
        last = self.tokens[count - 1]
        rest_of_word = self.words[last.word].text[last.end :]
        rest_of_word = rest_of_word.lstrip(" :.#-–—|/)")
        tail = [w.text for w in self.words[last.word + 1 :]]
        return " ".join(([rest_of_word] if rest_of_word else []) + tail).strip()


@dataclass(slots=True)
class Row:
    index: int
    page: int
    y0: float
    y1: float
    words: list[Word]
    segments: list[Segment] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(slots=True)
class Layout:
    rows: list[Row]
    page_heights: dict[int, float]
    page_widths: dict[int, float]
    # Rows of the item table (header and items), set once tables are read, so that
    # address blocks and free-text searches do not run into the table.
    table_rows: set[int] = field(default_factory=set)

    @property
    def segments(self) -> list[Segment]:
        return [segment for row in self.rows for segment in row.segments]


def tokens_of(words: list[Word]) -> list[Token]:
    out: list[Token] = []
    for index, word in enumerate(words):
        for match in _RUN.finditer(word.text):
            folded = fold(match.group()).replace(" ", "")
            if folded:
                out.append(Token(folded, index, match.end()))
    return out


def _group_rows(words: tuple[Word, ...]) -> list[list[Word]]:
    """Rows by vertical position: a word joins the row whose middle line is near its own.

    Comparing middles (not boxes) keeps tightly spaced lines apart even when OCR
    boxes of tall or descending glyphs overlap the next line.
    """
    rows: list[tuple[float, float, list[Word]]] = []  # (middle, height, words)
    for word in sorted(words, key=lambda w: (w.y0 + w.y1) / 2):
        middle = (word.y0 + word.y1) / 2
        if rows:
            row_middle, row_height, members = rows[-1]
            if abs(middle - row_middle) <= 0.4 * min(row_height, word.height) + 0.5:
                members.append(word)
                # Running means: a row's line moves little as words join it.
                n = len(members)
                rows[-1] = (
                    row_middle + (middle - row_middle) / n,
                    row_height + (word.height - row_height) / n,
                    members,
                )
                continue
        rows.append((middle, word.height, [word]))
    return [sorted(members, key=lambda w: w.x0) for _, _, members in rows]


def _split_segments(words: list[Word]) -> list[list[Word]]:
    height = middle_value([w.height for w in words])
    # OCR boxes hug the glyphs, so box height understates the type size of big text;
    # the width of a character keeps word spaces in large type from splitting phrases.
    char_width = middle_value([(w.x1 - w.x0) / max(len(w.text), 1) for w in words])
    gap_limit = max(height * 0.9, char_width * 1.6, 4.0)
    segments: list[list[Word]] = [[words[0]]]
    for previous, word in itertools.pairwise(words):
        if word.x0 - previous.x1 > gap_limit:
            segments.append([word])
        else:
            segments[-1].append(word)
    return segments


def build_layout(document: ParsedDocument) -> Layout:
    rows: list[Row] = []
    for page in document.pages:
        for row_words in _group_rows(page.words):
            row = Row(
                index=len(rows),
                page=page.number,
                y0=min(w.y0 for w in row_words),
                y1=max(w.y1 for w in row_words),
                words=row_words,
            )
            for seg_words in _split_segments(row_words):
                row.segments.append(
                    Segment(page.number, row.index, seg_words, tokens_of(seg_words))
                )
            rows.append(row)
    return Layout(
        rows=rows,
        page_heights={p.number: p.height for p in document.pages},
        page_widths={p.number: p.width for p in document.pages},
    )
