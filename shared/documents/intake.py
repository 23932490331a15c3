"""Intake: accept only documents the pipeline can process, and say why not.

Everything here runs on untrusted bytes before any expensive work, so the checks
are ordered cheapest first and every parser is bounded:

* the type comes from magic bytes (`sniff`), never from the file name;
* image headers are parsed with the standard library *before* MuPDF decodes
  anything, because MuPDF allocates the full pixel buffer of whatever size a
  header claims (a 100-byte PNG can ask for gigabytes);
* ZIP members are streamed with hard caps instead of trusting declared sizes.

Rejections raise `DocumentRejected` with one of the stable reason codes below;
inside a ZIP batch a bad member becomes a `RejectedMember` and the rest go on.
"""

from __future__ import annotations

import hashlib
import io
import logging
import lzma
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import pymupdf as _pymupdf

from shared.config import IntakeLimits
from shared.documents.sniff import (
    ZIP_ERRORS,
    MediaType,
    describe,
    is_office_document,
    looks_like_archive,
    sniff,
)
from shared.errors import DocumentRejected

__all__ = [
    "DAMAGED_IMAGE",
    "DAMAGED_PDF",
    "EMPTY_FILE",
    "ENCRYPTED_PDF",
    "REASON_CODES",
    "TOO_LARGE",
    "TOO_MANY_PAGES",
    "UNSUPPORTED_TYPE",
    "ZIP_DAMAGED",
    "ZIP_EMPTY",
    "ZIP_ENCRYPTED",
    "ZIP_NESTED_ARCHIVE",
    "ZIP_PATH_TRAVERSAL",
    "ZIP_TOO_LARGE",
    "ZIP_TOO_MANY_MEMBERS",
    "IncomingDocument",
    "RejectedMember",
    "check_document",
    "expand_zip",
    "intake",
]

logger = logging.getLogger(__name__)

# PyMuPDF ships only partial annotations (strict mypy rejects calls into its
# untyped functions), so it is used through an explicitly dynamic alias.
pymupdf: Any = _pymupdf

# Stable reason codes: clients and tests match on these strings.
EMPTY_FILE = "empty_file"
UNSUPPORTED_TYPE = "unsupported_type"
TOO_LARGE = "too_large"
TOO_MANY_PAGES = "too_many_pages"
ENCRYPTED_PDF = "encrypted_pdf"
DAMAGED_PDF = "damaged_pdf"
DAMAGED_IMAGE = "damaged_image"
ZIP_DAMAGED = "zip_damaged"
ZIP_ENCRYPTED = "zip_encrypted"
ZIP_EMPTY = "zip_empty"
ZIP_NESTED_ARCHIVE = "zip_nested_archive"
ZIP_PATH_TRAVERSAL = "zip_path_traversal"
ZIP_TOO_MANY_MEMBERS = "zip_too_many_members"
ZIP_TOO_LARGE = "zip_too_large"

REASON_CODES: frozenset[str] = frozenset(
    {
        EMPTY_FILE,
        UNSUPPORTED_TYPE,
        TOO_LARGE,
        TOO_MANY_PAGES,
        ENCRYPTED_PDF,
        DAMAGED_PDF,
        DAMAGED_IMAGE,
        ZIP_DAMAGED,
        ZIP_ENCRYPTED,
        ZIP_EMPTY,
        ZIP_NESTED_ARCHIVE,
        ZIP_PATH_TRAVERSAL,
        ZIP_TOO_MANY_MEMBERS,
        ZIP_TOO_LARGE,
    }
)

# Largest image (per page/frame) we let MuPDF decode: about a 200-megapixel photo
# or an A3 page at 900 dpi. Decoding allocates width x height x channels bytes, so
# this bounds memory per page (~540 MB RGB). Rejected as `too_large`.

# Bytes that make a file "blank": an upload of only these carries no document.
_BLANK_BYTES = b" \t\r\n\x0b\x0c\x00"

# ZIP central-directory records are parsed by zipfile into Python objects (about
# 0.5 KB and 15 us each), so a 50 MB archive of empty entries would cost seconds and
# hundreds of MB before any member check could run. Entries (documents plus folders,
# __MACOSX and hidden files) beyond this multiple of the member limit are refused.
_ZIP_ENTRIES_PER_MEMBER = 10
_ZIP_ENTRIES_SLACK = 100
_ZIP_READ_CHUNK = 1024 * 1024
_ZIP_SUPPORTED_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_ZIP_ENCRYPTED_FLAG = 0x1
_ZIP_JUNK_NAMES = frozenset({"thumbs.db", "desktop.ini"})
_DRIVE_LETTER = re.compile(r"[A-Za-z]:")
# What zipfile raises on malformed archives (CRC errors, bad headers, truncated
# streams, bad UTF-8 names...). All mean "this archive cannot be read".
_ZIP_ERRORS: tuple[type[Exception], ...] = (*ZIP_ERRORS, zlib.error, lzma.LZMAError)

# What PyMuPDF raises on unreadable input: FileDataError (a RuntimeError),
# ValueError, and MuPDF's own FzError* classes, which derive from Exception only.
_MUPDF_ERRORS: tuple[type[Exception], ...] = (
    RuntimeError,
    ValueError,
    pymupdf.mupdf.FzErrorBase,
)
_MUPDF_FILETYPES: dict[MediaType, str] = {
    MediaType.PNG: "png",
    MediaType.JPEG: "jpeg",
    MediaType.TIFF: "tiff",
}

_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_JPEG_FILL = re.compile(rb"\xff+")
_JPEG_EOI = b"\xff\xd9"
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_SOS = 0xDA
_JPEG_MAX_SEGMENTS = 4096
_TIFF_MAX_TAGS = 4096
_TIFF_MAX_VALUES = 4_000_000
_TIFF_WIDTH, _TIFF_HEIGHT = 256, 257
_TIFF_STRIP_OFFSETS, _TIFF_STRIP_BYTES = 273, 279
_TIFF_TILE_OFFSETS, _TIFF_TILE_BYTES = 324, 325
_TIFF_TAGS = frozenset(
    {
        _TIFF_WIDTH,
        _TIFF_HEIGHT,
        _TIFF_STRIP_OFFSETS,
        _TIFF_STRIP_BYTES,
        _TIFF_TILE_OFFSETS,
        _TIFF_TILE_BYTES,
    }
)
_TIFF_TYPES: dict[int, tuple[str, int]] = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4)}


@dataclass(frozen=True)
class IncomingDocument:
    """A document that passed intake and is ready for parsing/OCR."""

    name: str
    data: bytes
    media_type: MediaType
    pages: int
    sha256: str


@dataclass(frozen=True)
class RejectedMember:
    """A ZIP member that failed intake; the rest of the batch still goes on."""

    name: str
    code: str
    message: str


@dataclass(frozen=True)
class _Member:
    name: str
    data: bytes
    # False when the member was cut at max_document_bytes + 1 bytes.
    complete: bool


def intake(name: str, data: bytes, limits: IntakeLimits) -> list[IncomingDocument | RejectedMember]:
    """Check an upload; ZIP batches give one entry per document member, in order.

    A non-ZIP upload returns ``[IncomingDocument]`` or raises `DocumentRejected`.
    In a ZIP, member problems become `RejectedMember`; archive-level problems raise.
    """
    _require_content(data)
    _require_size(data, limits)
    if sniff(data) is not MediaType.ZIP:
        return [check_document(name, data, limits)]
    return [_check_member(member, limits) for member in _expand(name, data, limits)]


def check_document(name: str, data: bytes, limits: IntakeLimits) -> IncomingDocument:
    """Check one non-archive document (an upload or a ZIP member) and describe it."""
    _require_content(data)
    _require_size(data, limits)
    media_type = sniff(data)
    if media_type is None or media_type is MediaType.ZIP:
        raise DocumentRejected(
            f"Unsupported file type: this looks like {describe(data)}, but only PDF, PNG, "
            "JPEG and TIFF documents are accepted.",
            code=UNSUPPORTED_TYPE,
        )
    with _quiet_mupdf():
        if media_type is MediaType.PDF:
            pages = _check_pdf(name, data, limits)
        else:
            pages = _check_image(name, data, media_type, limits)
    return IncomingDocument(
        name=name,
        data=data,
        media_type=media_type,
        pages=pages,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def expand_zip(name: str, data: bytes, limits: IntakeLimits) -> list[tuple[str, bytes]]:
    """Run the archive-level checks and return ``(member_path, bytes)`` per document.

    Folders, ``__MACOSX/`` and hidden/OS junk files are skipped. A member larger
    than ``limits.max_document_bytes`` is returned cut at ``max_document_bytes + 1``
    bytes, so `check_document` rejects it as ``too_large`` without the full member
    ever being decompressed.
    """
    _require_size(data, limits)
    return [(member.name, member.data) for member in _expand(name, data, limits)]


def _check_member(member: _Member, limits: IntakeLimits) -> IncomingDocument | RejectedMember:
    if not member.complete:
        limit = _format_size(limits.max_document_bytes)
        message = f"Document is larger than the {limit} limit."
        return RejectedMember(name=member.name, code=TOO_LARGE, message=message)
    try:
        return check_document(member.name, member.data, limits)
    except DocumentRejected as exc:
        return RejectedMember(name=member.name, code=exc.code, message=exc.message)


# --- common checks -----------------------------------------------------------------


def _require_content(data: bytes) -> None:
    if not data:
        raise DocumentRejected("File is empty.", code=EMPTY_FILE)
    if not data.strip(_BLANK_BYTES):
        raise DocumentRejected(
            "File contains only blank characters (whitespace or zero bytes).", code=EMPTY_FILE
        )


def _require_size(data: bytes, limits: IntakeLimits) -> None:
    if len(data) > limits.max_document_bytes:
        size, limit = _format_size(len(data)), _format_size(limits.max_document_bytes)
        if size == limit:
            size, limit = f"{len(data):,} bytes", f"{limits.max_document_bytes:,} bytes"
        raise DocumentRejected(f"Document is {size}; the limit is {limit}.", code=TOO_LARGE)


def _format_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"


_mupdf_lock = threading.Lock()
_mupdf_depth = 0
_mupdf_displayed_errors = True


@contextmanager
def _quiet_mupdf() -> Iterator[None]:
    """Keep MuPDF from printing to stderr while we probe hostile files.

    Broken inputs are expected here and each one becomes a reason code (the MuPDF
    message is logged at debug level), so stderr noise would only bury real
    problems. The setting is process-global, hence the lock and nesting count;
    it is restored when the last caller leaves.
    """
    global _mupdf_depth, _mupdf_displayed_errors
    with _mupdf_lock:
        if _mupdf_depth == 0:
            _mupdf_displayed_errors = bool(pymupdf.TOOLS.mupdf_display_errors())
            pymupdf.TOOLS.mupdf_display_errors(False)
        _mupdf_depth += 1
    try:
        yield
    finally:
        with _mupdf_lock:
            _mupdf_depth -= 1
            if _mupdf_depth == 0:
                pymupdf.TOOLS.mupdf_display_errors(_mupdf_displayed_errors)


def _rejected(name: str, message: str, code: str, cause: BaseException) -> DocumentRejected:
    logger.debug("intake rejected %r (%s): %s: %s", name, code, type(cause).__name__, cause)
    return DocumentRejected(message, code=code)


# --- PDF ---------------------------------------------------------------------------


def _check_pdf(name: str, data: bytes, limits: IntakeLimits) -> int:
    """Open the PDF and load every page; return the page count.

    MuPDF silently repairs broken cross-reference tables. A repaired file is
    accepted only if it still has pages and every page object loads, which is what
    parsing needs. PDFs encrypted with an empty user password (owner-password
    restrictions only, common on bank and utility invoices) open without a password
    and are accepted: we only read them.
    """
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except _MUPDF_ERRORS as exc:
        raise _rejected(name, "PDF is damaged and cannot be opened.", DAMAGED_PDF, exc) from None
    with doc:
        if doc.needs_pass:
            raise DocumentRejected(
                "PDF is protected by a password; send it without the password.",
                code=ENCRYPTED_PDF,
            )
        try:
            pages = int(doc.page_count)
        except _MUPDF_ERRORS as exc:
            raise _rejected(name, "PDF page list is damaged.", DAMAGED_PDF, exc) from None
        if pages < 1:
            raise DocumentRejected("PDF has no pages.", code=DAMAGED_PDF)
        if pages > limits.max_pages:
            raise DocumentRejected(
                f"PDF has {pages} pages; the limit is {limits.max_pages}.", code=TOO_MANY_PAGES
            )
        for index in range(pages):
            try:
                doc.load_page(index)
            except _MUPDF_ERRORS as exc:
                raise _rejected(
                    name, f"PDF page {index + 1} is damaged and cannot be read.", DAMAGED_PDF, exc
                ) from None
    return pages


# --- images ------------------------------------------------------------------------


def _check_image(name: str, data: bytes, media_type: MediaType, limits: IntakeLimits) -> int:
    """Validate headers, then decode the first page/frame; return the page count.

    Headers of every frame are checked (size, pixel count, data inside the file)
    before anything is decoded, so no stage ever decodes an oversized frame. Only
    the first frame is decoded here (about 0.2 s for an A4 300 dpi scan): decoding
    every frame of a 200-page fax would make intake slow, and the header checks
    already catch truncated frames.
    """
    if media_type is MediaType.PNG:
        frames = _png_frames(data)
    elif media_type is MediaType.JPEG:
        frames = _jpeg_frames(data)
    else:
        frames = _tiff_frames(data, limits.max_pages)
    kind = _IMAGE_NAMES[media_type]
    if len(frames) > limits.max_pages:
        raise DocumentRejected(
            f"{kind} has more than {limits.max_pages} pages; the limit is {limits.max_pages}.",
            code=TOO_MANY_PAGES,
        )
    for width, height in frames:
        if width * height > limits.max_image_pixels:
            raise DocumentRejected(
                f"{kind} is {width:,} x {height:,} pixels; the limit is "
                f"{limits.max_image_pixels // 1_000_000} megapixels per page.",
                code=TOO_LARGE,
            )
    try:
        with pymupdf.open(stream=data, filetype=_MUPDF_FILETYPES[media_type]) as doc:
            pages = int(doc.page_count)
        # A full decode of the first image. Rendering the page instead would be
        # cheaper but is useless as a check: the draw device swallows decode errors
        # and paints whatever it got.
        pymupdf.Pixmap(data)
    except _MUPDF_ERRORS as exc:
        raise _rejected(
            name, f"{kind} is damaged and cannot be decoded.", DAMAGED_IMAGE, exc
        ) from None
    if pages < 1:
        raise DocumentRejected(f"{kind} has no pages.", code=DAMAGED_IMAGE)
    if pages != len(frames):
        logger.debug("intake: %r header walk found %d frames, MuPDF %d", name, len(frames), pages)
    if pages > limits.max_pages:
        raise DocumentRejected(
            f"{kind} has {pages} pages; the limit is {limits.max_pages}.", code=TOO_MANY_PAGES
        )
    return pages


_IMAGE_NAMES: dict[MediaType, str] = {
    MediaType.PNG: "PNG image",
    MediaType.JPEG: "JPEG image",
    MediaType.TIFF: "TIFF image",
}


def _damaged(kind: str, problem: str) -> DocumentRejected:
    return DocumentRejected(f"{kind} {problem}.", code=DAMAGED_IMAGE)


def _png_frames(data: bytes) -> list[tuple[int, int]]:
    """Size from IHDR; a missing IEND chunk means the file was cut short."""
    if len(data) < 33 or data[12:16] != b"IHDR" or data[8:12] != b"\x00\x00\x00\x0d":
        raise _damaged("PNG image", "has no valid header")
    (crc,) = struct.unpack_from(">I", data, 29)
    if zlib.crc32(data[12:29]) != crc:
        raise _damaged("PNG image", "has a corrupt header")
    width, height = struct.unpack_from(">II", data, 16)
    if width == 0 or height == 0:
        raise _damaged("PNG image", "has no pixels")
    if data.rfind(_PNG_IEND) < 33:
        raise _damaged("PNG image", "is truncated (its end marker is missing)")
    return [(width, height)]


def _jpeg_frames(data: bytes) -> list[tuple[int, int]]:
    """Walk the marker segments up to the scan for the frame size; require an end marker.

    A JPEG cut short still decodes (the rest is painted grey), which would hide
    missing totals from OCR, so the end-of-image marker must follow the scan data.
    """
    size = len(data)
    position = 2
    dimensions: tuple[int, int] | None = None
    for _ in range(_JPEG_MAX_SEGMENTS):
        if position >= size:
            raise _damaged("JPEG image", "is truncated")
        if data[position] != 0xFF:
            raise _damaged("JPEG image", "has corrupt headers")
        fill = _JPEG_FILL.match(data, position)
        position = fill.end() if fill else position
        if position >= size:
            raise _damaged("JPEG image", "is truncated")
        marker = data[position]
        position += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue  # standalone markers carry no length
        if marker in (0x00, 0xD8, 0xD9):
            raise _damaged("JPEG image", "has corrupt headers")
        if position + 2 > size:
            raise _damaged("JPEG image", "is truncated")
        (length,) = struct.unpack_from(">H", data, position)
        if length < 2 or position + length > size:
            raise _damaged("JPEG image", "is truncated")
        if marker in _JPEG_SOF:
            if length < 7:
                raise _damaged("JPEG image", "has a corrupt frame header")
            height, width = struct.unpack_from(">HH", data, position + 3)
            dimensions = (width, height)
        if marker == _JPEG_SOS:
            if dimensions is None or dimensions[0] == 0 or dimensions[1] == 0:
                raise _damaged("JPEG image", "has no valid frame header")
            if data.find(_JPEG_EOI, position + length) < 0:
                raise _damaged("JPEG image", "is truncated (its end marker is missing)")
            return [dimensions]
        position += length
    raise _damaged("JPEG image", "has implausibly many header segments")


def _tiff_frames(data: bytes, max_pages: int) -> list[tuple[int, int]]:
    """Walk the IFD chain: size of each frame and whether its data lies in the file.

    Stops after ``max_pages + 1`` frames (enough to reject the file) and refuses
    loops, oversized tag tables and strip/tile tables that would make this slow.
    """
    size = len(data)
    order = "<" if data[:2] == b"II" else ">"
    if size < 8:
        raise _damaged("TIFF image", "is truncated")
    (offset,) = struct.unpack_from(order + "I", data, 4)
    frames: list[tuple[int, int]] = []
    seen: set[int] = set()
    budget = [_TIFF_MAX_VALUES]
    while offset and len(frames) <= max_pages:
        if offset in seen:
            raise _damaged("TIFF image", "has a page list that loops back on itself")
        seen.add(offset)
        if offset + 2 > size:
            raise _damaged("TIFF image", "is truncated")
        (count,) = struct.unpack_from(order + "H", data, offset)
        end = offset + 2 + 12 * count
        if count > _TIFF_MAX_TAGS:
            raise _damaged("TIFF image", "has an implausibly large tag table")
        if end + 4 > size:
            raise _damaged("TIFF image", "is truncated")
        tags: dict[int, tuple[int, ...]] = {}
        for index, (tag, kind, number, _value) in enumerate(
            struct.iter_unpack(order + "HHI4s", data[offset + 2 : end])
        ):
            if tag in _TIFF_TAGS:
                entry = offset + 2 + 12 * index
                tags[tag] = _tiff_values(data, order, entry, kind, number, budget)
        frames.append(_tiff_frame(tags, size))
        (offset,) = struct.unpack_from(order + "I", data, end)
    if not frames:
        raise _damaged("TIFF image", "has no pages")
    return frames


def _tiff_values(
    data: bytes, order: str, entry: int, kind: int, number: int, budget: list[int]
) -> tuple[int, ...]:
    if kind not in _TIFF_TYPES:
        raise _damaged("TIFF image", "has a tag of an unexpected type")
    code, width = _TIFF_TYPES[kind]
    budget[0] -= number
    if budget[0] < 0:
        raise _damaged("TIFF image", "has implausibly many strips or tiles")
    length = number * width
    if length <= 4:
        where = entry + 8
    else:
        (where,) = struct.unpack_from(order + "I", data, entry + 8)
    if where + length > len(data):
        raise _damaged("TIFF image", "is truncated")
    return struct.unpack_from(f"{order}{number}{code}", data, where)


def _tiff_frame(tags: dict[int, tuple[int, ...]], size: int) -> tuple[int, int]:
    width = tags.get(_TIFF_WIDTH, ())
    height = tags.get(_TIFF_HEIGHT, ())
    if not width or not height or width[0] == 0 or height[0] == 0:
        raise _damaged("TIFF image", "has a page without a valid size")
    offsets = tags.get(_TIFF_STRIP_OFFSETS) or tags.get(_TIFF_TILE_OFFSETS)
    counts = tags.get(_TIFF_STRIP_BYTES) or tags.get(_TIFF_TILE_BYTES)
    if not offsets:
        raise _damaged("TIFF image", "has a page without image data")
    if counts is not None:  # byte counts may be omitted for uncompressed data
        if len(counts) != len(offsets):
            raise _damaged("TIFF image", "has inconsistent strip tables")
        if any(start + length > size for start, length in zip(offsets, counts, strict=True)):
            raise _damaged("TIFF image", "is truncated")
    return width[0], height[0]


# --- ZIP ---------------------------------------------------------------------------


def _expand(name: str, data: bytes, limits: IntakeLimits) -> list[_Member]:
    """Archive-level checks, then stream out each document member with hard caps."""
    max_entries = limits.max_zip_members * _ZIP_ENTRIES_PER_MEMBER + _ZIP_ENTRIES_SLACK
    entries = data.count(b"PK\x01\x02")  # upper bound on central-directory records
    if entries > max_entries:
        raise DocumentRejected(
            f"ZIP archive has {entries:,} entries; at most {max_entries:,} entries "
            f"({limits.max_zip_members:,} documents) are accepted.",
            code=ZIP_TOO_MANY_MEMBERS,
        )
    if is_office_document(data):
        raise DocumentRejected(
            f"Unsupported file type: this looks like {describe(data)}, but only PDF, PNG, "
            "JPEG and TIFF documents are accepted.",
            code=UNSUPPORTED_TYPE,
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            documents = _select_members(archive.infolist(), limits)
            return _read_members(archive, documents, limits)
    except _ZIP_ERRORS as exc:
        raise _rejected(
            name, "ZIP archive is damaged and cannot be read.", ZIP_DAMAGED, exc
        ) from None


def _select_members(infos: list[zipfile.ZipInfo], limits: IntakeLimits) -> list[zipfile.ZipInfo]:
    """Check every entry's name and flags; keep the ones that are documents."""
    documents: list[zipfile.ZipInfo] = []
    for info in infos:
        if _is_unsafe_path(info.orig_filename):
            raise DocumentRejected(
                f"ZIP member {info.orig_filename!r} has an unsafe path; member paths must be "
                "relative and stay inside the archive.",
                code=ZIP_PATH_TRAVERSAL,
            )
        if info.flag_bits & _ZIP_ENCRYPTED_FLAG:
            raise DocumentRejected(
                f"ZIP archive is password-protected (member {info.orig_filename!r}); "
                "send it without a password.",
                code=ZIP_ENCRYPTED,
            )
        if not _is_skipped(info):
            documents.append(info)
    if not documents:
        raise DocumentRejected("ZIP archive contains no documents.", code=ZIP_EMPTY)
    if len(documents) > limits.max_zip_members:
        raise DocumentRejected(
            f"ZIP archive has {len(documents):,} documents; the limit is "
            f"{limits.max_zip_members:,}.",
            code=ZIP_TOO_MANY_MEMBERS,
        )
    # Declared sizes may lie; they are used only to refuse early, never to accept.
    declared = sum(info.file_size for info in documents)
    if declared > limits.max_zip_expanded_bytes:
        raise DocumentRejected(
            f"ZIP archive expands to {_format_size(declared)}; the limit is "
            f"{_format_size(limits.max_zip_expanded_bytes)}.",
            code=ZIP_TOO_LARGE,
        )
    for info in documents:
        if info.compress_type not in _ZIP_SUPPORTED_METHODS:
            raise DocumentRejected(
                f"ZIP member {info.orig_filename!r} uses a compression method that cannot be "
                f"read (method {info.compress_type}).",
                code=ZIP_DAMAGED,
            )
    return documents


def _read_members(
    archive: zipfile.ZipFile, documents: list[zipfile.ZipInfo], limits: IntakeLimits
) -> list[_Member]:
    """Decompress members in order, never past the per-document or total limits."""
    members: list[_Member] = []
    expanded = 0
    for info in documents:
        remaining = limits.max_zip_expanded_bytes - expanded
        with archive.open(info) as stream:
            body, complete = _read_capped(stream, min(limits.max_document_bytes, remaining))
        expanded += len(body)
        if expanded > limits.max_zip_expanded_bytes:
            raise DocumentRejected(
                "ZIP archive expands to more than the "
                f"{_format_size(limits.max_zip_expanded_bytes)} limit.",
                code=ZIP_TOO_LARGE,
            )
        if _is_nested_archive(body):
            raise DocumentRejected(
                f"ZIP member {info.orig_filename!r} is itself an archive ({describe(body)}); "
                "nested archives are not accepted.",
                code=ZIP_NESTED_ARCHIVE,
            )
        members.append(_Member(name=info.orig_filename, data=body, complete=complete))
    return members


def _read_capped(stream: IO[bytes], cap: int) -> tuple[bytes, bool]:
    """Read at most ``cap + 1`` bytes; the flag says whether the stream ended first.

    Reading one byte past the cap is how an over-limit member is detected without
    trusting the size its header declares (zip bombs lie about it).
    """
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        chunk = stream.read(min(_ZIP_READ_CHUNK, cap + 1 - total))
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks), False


def _is_unsafe_path(path: str) -> bool:
    """Names that would escape an extraction folder on any OS, or hide a suffix."""
    return (
        "\x00" in path
        or "\\" in path
        or path.startswith("/")
        or _DRIVE_LETTER.match(path) is not None
        or ".." in path.split("/")
    )


def _is_skipped(info: zipfile.ZipInfo) -> bool:
    """Folders, macOS resource forks, hidden files and OS thumbnails are not documents."""
    if info.is_dir():
        return True
    parts = [part for part in info.orig_filename.split("/") if part not in ("", ".")]
    return (
        not parts
        or parts[0] == "__MACOSX"
        or any(part.startswith(".") for part in parts)
        or parts[-1].lower() in _ZIP_JUNK_NAMES
    )


def _is_nested_archive(body: bytes) -> bool:
    """By content: an archive that is not one of our documents or an office file."""
    if not looks_like_archive(body) or sniff(body) not in (None, MediaType.ZIP):
        return False
    return not is_office_document(body)
