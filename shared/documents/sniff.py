"""Identify documents from their leading bytes, never from their file names.

Names and client-declared content types are untrusted and often wrong (a PDF saved
as ``scan.jpg``, a Word file renamed to ``.pdf``), so every decision downstream is
based on the magic bytes read here. Only the standard library is used: sniffing
must be cheap and safe on hostile input.
"""

from __future__ import annotations

import io
import struct
import zipfile
from enum import StrEnum

__all__ = ["MediaType", "describe", "is_office_document", "looks_like_archive", "sniff"]


class MediaType(StrEnum):
    """The document types the pipeline accepts (ZIP only as a batch container)."""

    PDF = "application/pdf"
    PNG = "image/png"
    JPEG = "image/jpeg"
    TIFF = "image/tiff"
    ZIP = "application/zip"


# Acrobat accepts "%PDF-" anywhere in the first 1024 bytes (BOMs, mail headers and
# other junk before it are common in the wild) and MuPDF opens such files too.
_PDF_MAGIC = b"%PDF-"
_PDF_SEARCH_WINDOW = 1024

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
# Classic TIFF only: MuPDF cannot read BigTIFF ("II+\0" / "MM\0+").
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*")
_BIGTIFF_MAGICS = (b"II+\x00", b"MM\x00+")
# Local file header, empty archive (end of central directory), spanned archive.
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")

# Archive and compressed-stream signatures at offset 0, with a name for messages.
# Two-byte signatures that collide easily with other data (ARJ, binary cpio) are
# left out on purpose: a false positive rejects a whole batch.
_ARCHIVE_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"),
    (b"\x1f\x8b\x08", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive"),
    (b"\x04\x22\x4d\x18", "an LZ4 archive"),
    (b"LZIP", "an lzip archive"),
    (b"MSCF\x00\x00\x00\x00", "a Windows cabinet archive"),
    (b"!<arch>\n", "an ar archive"),
    (b"xar!", "a xar archive"),
    (b"070707", "a cpio archive"),
    (b"070701", "a cpio archive"),
    (b"070702", "a cpio archive"),
)
_ISO9660_OFFSETS = (0x8001, 0x8801, 0x9001)
# A real office file has at most a few thousand parts.
_OFFICE_MAX_ENTRIES = 10_000
# What zipfile raises on malformed archives; RuntimeError covers NotImplementedError
# ("zip file version 25.5") and encrypted entries.
ZIP_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    RuntimeError,
    OverflowError,
    IndexError,
    KeyError,
)

# Other formats people upload by mistake; only used to word the rejection message.
_OTHER_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Microsoft Office document (DOC, XLS or MSG)"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "a JPEG 2000 image"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
)

# Formats that may embed a PDF near their start (an e-mail with an attachment)
# but are not PDFs themselves.
_NOT_PDF_MAGICS = _BIGTIFF_MAGICS + tuple(magic for magic, _ in _OTHER_MAGICS)


def sniff(data: bytes) -> MediaType | None:
    """Return the accepted media type the bytes start with, or None.

    Fixed-offset signatures are checked before the PDF search window so that an
    archive or image holding a PDF near its start is not mistaken for one.
    """
    head = data[:8]
    if head.startswith(_PDF_MAGIC):
        return MediaType.PDF
    if head.startswith(_PNG_MAGIC):
        return MediaType.PNG
    if head.startswith(_JPEG_MAGIC):
        return MediaType.JPEG
    if head.startswith(_TIFF_MAGICS):
        return MediaType.TIFF
    if head.startswith(_ZIP_MAGICS):
        return MediaType.ZIP
    if head.startswith(_NOT_PDF_MAGICS) or _archive_name(data) is not None:
        return None
    if data.find(_PDF_MAGIC, 0, _PDF_SEARCH_WINDOW) >= 0:
        return MediaType.PDF
    return None


def looks_like_archive(data: bytes) -> bool:
    """True when the bytes start like an archive or compressed stream.

    Used to refuse archives nested inside a ZIP batch: they are decided by content,
    so renaming ``inner.zip`` to ``inner.pdf`` does not get it past intake.
    """
    return _archive_name(data) is not None


def is_office_document(data: bytes) -> bool:
    """True for ZIP-based single documents: DOCX/XLSX/PPTX, OpenDocument, EPUB.

    They share the ZIP magic but are one document, not a batch; telling them apart
    lets intake reject them as an unsupported type instead of expanding them. Only
    the central directory is read (no member is decompressed), and archives with an
    implausible number of entries are not examined.
    """
    if not data.startswith(b"PK\x03\x04") or data.count(b"PK\x01\x02") > _OFFICE_MAX_ENTRIES:
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except ZIP_ERRORS:
        return False
    return "[Content_Types].xml" in names or names[:1] == ["mimetype"]


def describe(data: bytes) -> str:
    """A short human phrase for what the bytes look like, for rejection messages."""
    if not data:
        return "an empty file"
    media_type = sniff(data)
    if media_type is MediaType.ZIP and is_office_document(data):
        return _office_name(data)
    if media_type is not None:
        return _MEDIA_NAMES[media_type]
    if data.startswith(_BIGTIFF_MAGICS):
        return "a BigTIFF image"
    archive = _archive_name(data)
    if archive is not None:
        return archive
    for magic, name in _OTHER_MAGICS:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image"
    if data[:2] == b"BM" and data[6:10] == b"\x00\x00\x00\x00":
        return "a BMP image"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc", b"heim", b"heis"):
            return "a HEIC/HEIF image (for example an iPhone photo)"
        if brand in (b"avif", b"avis"):
            return "an AVIF image"
        return "a video or audio file"
    return _describe_text(data[:1024])


_MEDIA_NAMES: dict[MediaType, str] = {
    MediaType.PDF: "a PDF document",
    MediaType.PNG: "a PNG image",
    MediaType.JPEG: "a JPEG image",
    MediaType.TIFF: "a TIFF image",
    MediaType.ZIP: "a ZIP archive",
}


def _archive_name(data: bytes) -> str | None:
    for magic, name in _ARCHIVE_MAGICS:
        if data.startswith(magic):
            return name
    if data[:3] == b"BZh" and data[3:4].isdigit() and data[3:4] != b"0":
        return "a bzip2 archive"
    if data[257:262] == b"ustar":  # POSIX and GNU tar
        return "a tar archive"
    if any(data[offset : offset + 5] == b"CD001" for offset in _ISO9660_OFFSETS):
        return "a disk image (ISO)"
    return None


def _office_name(data: bytes) -> str:
    if data[30:38] == b"mimetype":
        if b"application/epub+zip" in data[:200]:
            return "an EPUB e-book"
        return "an OpenDocument file"
    if b"word/" in data:
        return "a Word document (DOCX)"
    if b"xl/" in data:
        return "an Excel workbook (XLSX)"
    if b"ppt/" in data:
        return "a PowerPoint presentation (PPTX)"
    return "an Office Open XML document"


def _describe_text(head: bytes) -> str:
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):
            return "plain text"
    try:
        # A multi-byte character may be cut at the end of the window.
        text = head.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return "an unrecognised binary file"
        text = head[: exc.start].decode("utf-8")
    if not text or any(ord(ch) < 32 and ch not in "\t\n\r\f" for ch in text):
        return "an unrecognised binary file"
    lowered = text.lstrip().lower()
    if lowered.startswith("<?xml"):
        return "an SVG image" if "<svg" in lowered else "an XML file"
    if lowered.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    if lowered.startswith("<svg"):
        return "an SVG image"
    if lowered.startswith(("{", "[")):
        return "a JSON or other text file"
    return "plain text"
