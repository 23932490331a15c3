"""Labels found in the layout: which field a phrase introduces, and where its value starts.

Shared by the field rules and the party finder, so both agree on what is a label:
two labels with no value between them are one label ("Mehrwertsteuer gesamt"); a
label that runs on inside a word is part of a value ("PO-59391"); short block
labels ("To", "An", "De", "Van") are common words in names and count only when
they open a segment alone or with a colon.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from shared.extraction.labels import Label, field_labels, match_label
from shared.extraction.layout import Layout, Segment
from shared.extraction.schema import MONEY_FIELDS


@dataclass(frozen=True, slots=True)
class Hit:
    label: Label
    segment: Segment
    tokens: int  # how many of the segment's tokens the label took
    at_start: bool = True  # the label opens its segment (a mid-phrase match is weaker)


_GENERIC_TOTALS = frozenset(
    {("total",), ("totale",), ("totaal",), ("summe",), ("gesamt",), ("somme",), ("suma",), ("sum",)}
)


def _colon_before(segment: Segment, token_index: int) -> bool:
    """True when a colon ends the text just before token `token_index` ("Terms: Due on ...")."""
    if token_index == 0:
        return False
    previous = segment.tokens[token_index - 1]
    return ":" in segment.words[previous.word].text[previous.end :]


def segment_labels(segment: Segment) -> list[tuple[Label, int, int]]:
    """(label, first token, token count) for each label in a segment, chains merged.

    Two labels with no value between are one label: "Mehrwertsteuer gesamt" is tax,
    and so is "Summe Umsatzsteuer", where a generic total word yields to the field
    it qualifies. A label that runs on inside a word ("PO-59391") is part of a value.
    """
    folded = segment.folded
    index = field_labels()
    found: list[tuple[Label, int, int]] = []
    start = 0
    while start < len(folded):
        hit = match_label(folded, start, index)
        if hit is None or _ends_inside_word(segment, start + hit[1]):
            start += 1
            continue
        label, length = hit
        if found and found[-1][1] + found[-1][2] == start and not _colon_before(segment, start):
            if label.field in BLOCK_FIELDS or (length == 1 and len(label.tokens[0]) <= 3):
                start += 1  # "USt-ID: DE 123...": a short word after a label is its value
                continue
            previous, first, count = found[-1]
            if previous.tokens in _GENERIC_TOTALS and label.field in MONEY_FIELDS:
                previous = label
            found[-1] = (previous, first, count + length)
        else:
            found.append((label, start, length))
        start += length
    return found


def label_hits(layout: Layout, skip_rows: set[int]) -> Iterator[Hit]:
    """Every label in the layout outside `skip_rows` (the item table)."""
    for row in layout.rows:
        if row.index in skip_rows:
            continue
        for segment in row.segments:
            # A segment may hold "Label: value Label: value" when the gap is small.
            for label, start, length in segment_labels(segment):
                if label.field in BLOCK_FIELDS and not _plausible_block_label(
                    segment, start, length
                ):
                    continue
                if start == 0:
                    yield Hit(label, segment, length)
                elif _is_word_start(segment, start):
                    yield Hit(label, _tail_segment(segment, start), length, at_start=False)


def _ends_inside_word(segment: Segment, token_end: int) -> bool:
    """True when the token before `token_end` is followed, in the same word, by more of it."""
    if token_end <= 0 or token_end > len(segment.tokens):
        return False
    last = segment.tokens[token_end - 1]
    rest = segment.words[last.word].text[last.end :]
    return bool(rest) and (rest[0].isalnum() or (rest[0] in "-/_" and rest[1:2].isalnum()))


BLOCK_FIELDS = frozenset({"customer_block", "vendor_block", "ship_to"})


def _plausible_block_label(segment: Segment, start: int, length: int) -> bool:
    """Short block labels ("To", "An", "De", "Da") are common words inside names and
    addresses ("Esposito & De Luca"); they count only opening a segment, and then
    only alone or followed by a colon."""
    if start != 0:
        return False
    label_text = "".join(t.text for t in segment.tokens[:length])
    if length > 1 or len(label_text) > 4:
        return True
    if length == len(segment.tokens):
        return True
    last = segment.tokens[length - 1]
    return segment.words[last.word].text[last.end :].lstrip().startswith(":")


def _is_word_start(segment: Segment, token_index: int) -> bool:
    if token_index == 0:
        return True
    return segment.tokens[token_index].word != segment.tokens[token_index - 1].word


def _tail_segment(segment: Segment, token_index: int) -> Segment:
    """The part of a segment from the word holding `token_index` on."""
    word = segment.tokens[token_index].word
    tail = Segment(segment.page, segment.row, segment.words[word:])
    tail.tokens = [type(t)(t.text, t.word - word, t.end) for t in segment.tokens if t.word >= word]
    return tail


def starts_with_label(segment: Segment) -> bool:
    """True when the segment opens with a label (a plausible one, for block labels)."""
    labels = segment_labels(segment)
    if not labels or labels[0][1] != 0:
        return False
    label, start, length = labels[0]
    return label.field not in BLOCK_FIELDS or _plausible_block_label(segment, start, length)


def colon_after(hit: Hit) -> bool:
    last = hit.segment.tokens[hit.tokens - 1]
    after = hit.segment.words[last.word].text[last.end :]
    if after.strip():
        return ":" in after
    following = hit.segment.words[last.word + 1 : last.word + 2]
    return bool(following) and following[0].text.startswith(":")
