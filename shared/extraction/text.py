"""Text normalisation shared by label matching and scoring."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lowercase, strip accents, map punctuation to spaces, collapse spaces.

    "Nº de Factura:" -> "no de factura"; "Rechnungs-Nr." -> "rechnungs nr".
    Labels and document words go through the same function, so either form matches.
    """
    decomposed = unicodedata.normalize("NFKD", text.replace("ß", "ss"))
    ascii_only = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NON_ALNUM.sub(" ", ascii_only).strip()


def tokens(text: str) -> tuple[str, ...]:
    folded = fold(text)
    return tuple(folded.split()) if folded else ()
