"""Identifiers with a checkable shape: IBAN (mod-97), BIC, VAT ids, document ids."""

from __future__ import annotations

import re

# An IBAN as printed: country, check digits, then groups that may be space-separated.
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?:[ \u00a0]?[A-Z0-9]{1,4}){3,8})\b")
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "IE": 22, "IT": 27, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "SE": 24,
    "LI": 21, "MC": 27, "SM": 27, "GR": 27, "HU": 28, "SK": 24, "SI": 19, "HR": 21, "RO": 24,
    "BG": 22, "EE": 20, "LV": 21, "LT": 20, "MT": 31, "CY": 28, "IS": 26,
}  # fmt: skip
_BIC_COUNTRIES = frozenset(_IBAN_LENGTHS) | {"US", "CA", "JP", "AU", "CN", "HK", "SG", "IN", "BR"}
_BIC = re.compile(r"\b([A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?)\b")

# VAT identification numbers by country, as printed (spaces and dots allowed inside).
_VAT_PATTERNS = (
    r"ATU\d{8}",
    r"BE[01]\d{9}",
    r"CHE[-\s]?\d{3}\.?\d{3}\.?\d{3}(?:\s?(?:MWST|TVA|IVA))?",
    r"DE\d{9}",
    r"DK\d{8}",
    r"ES[A-Z0-9]\d{7}[A-Z0-9]",
    r"FR[A-Z0-9]{2}\d{9}",
    r"GB(?:\d{9}|\d{12})",
    r"IE\d{7}[A-Z]{1,2}",
    r"IT\d{11}",
    r"LU\d{8}",
    r"NL\d{9}B\d{2}",
    r"PL\d{10}",
    r"PT\d{9}",
    r"SE\d{12}",
)
_VAT = re.compile(r"\b(" + "|".join(_VAT_PATTERNS) + r")\b")
_VAT_SPACED = re.compile(r"(?<![A-Z0-9])([A-Z]{2,3}[\s.]?(?:[A-Z0-9][\s.]?){8,13})(?![A-Z0-9])")

# An identifier token: has a digit, made of letters, digits and a few separators.
_ID_TOKEN = re.compile(r"^[#:]*([A-Za-z0-9][A-Za-z0-9\-/_.]*[A-Za-z0-9]|[0-9])[.,:;]?$")


def iban_is_valid(candidate: str) -> bool:
    iban = candidate.replace(" ", "").replace("\u00a0", "").upper()
    expected = _IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return False
    if not 15 <= len(iban) <= 34 or not iban.isalnum():
        return False
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def find_ibans(text: str) -> list[str]:
    """Valid IBANs in the text, compact and uppercase, in order of appearance."""
    found: list[str] = []
    upper = text.upper()
    for match in _IBAN.finditer(upper):
        raw = match.group(1)
        compact = re.sub(r"[\s\u00a0]", "", raw)
        # The greedy pattern may swallow a following word; shrink until the checksum holds.
        for end in range(len(compact), 14, -1):
            if iban_is_valid(compact[:end]):
                if compact[:end] not in found:
                    found.append(compact[:end])
                break
    return found


def find_bic(text: str) -> str | None:
    for match in _BIC.finditer(text):
        bic = match.group(1)
        # Positions 5-6 are a country code; that keeps words like "INVOICES" out.
        if bic[4:6] in _BIC_COUNTRIES:
            return bic
    return None


def find_vat_ids(text: str) -> list[str]:
    """VAT ids in the text, compact (no spaces or dots), in order of appearance."""
    found: list[str] = []
    upper = text.upper()
    for match in _VAT_SPACED.finditer(upper):
        compact = re.sub(r"[\s.]", "", match.group(1))
        for vat in _VAT.findall(compact):
            if vat not in found:
                found.append(vat)
    for vat in _VAT.findall(upper):
        compact = re.sub(r"[\s.]", "", vat)
        if compact not in found:
            found.append(compact)
    return found


def id_token(text: str) -> str | None:
    """The first identifier-looking word in `text` (must contain a digit)."""
    for word in text.split():
        match = _ID_TOKEN.match(word)
        if match and any(ch.isdigit() for ch in match.group(1)):
            return match.group(1)
    return None
