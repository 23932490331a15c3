"""Type detection from magic bytes: what intake trusts instead of file names."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import tarfile
import zipfile
from typing import Any

import pymupdf as _pymupdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from shared.documents.sniff import (
    MediaType,
    describe,
    is_office_document,
    looks_like_archive,
    sniff,
)

# PyMuPDF's partial annotations trip strict mypy; use it dynamically.
pymupdf: Any = _pymupdf


def _pdf() -> bytes:
    doc = pymupdf.open()
    doc.new_page()
    data: bytes = doc.tobytes()
    return data


def _image(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, fmt, **options)
    return out.getvalue()


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


def _tar() -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as archive:
        info = tarfile.TarInfo("invoice.pdf")
        body = _pdf()
        info.size = len(body)
        archive.addfile(info, io.BytesIO(body))
    return out.getvalue()


PDF = _pdf()
PNG = _image("PNG")
JPEG = _image("JPEG")
TIFF = _image("TIFF")
DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
ODT = _zip(
    {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"},
    method=zipfile.ZIP_STORED,
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, MediaType.PDF),
        (PNG, MediaType.PNG),
        (JPEG, MediaType.JPEG),
        (TIFF, MediaType.TIFF),
        (_image("TIFF", compression="tiff_lzw"), MediaType.TIFF),
        (b"MM\x00*" + bytes(12), MediaType.TIFF),
        (_zip({"a.pdf": PDF}), MediaType.ZIP),
        (b"PK\x05\x06" + bytes(18), MediaType.ZIP),
    ],
)
def test_sniff_recognises_accepted_types_from_their_magic_bytes(
    data: bytes, expected: MediaType
) -> None:
    assert sniff(data) is expected


def test_sniff_finds_pdf_header_after_leading_junk_within_1024_bytes() -> None:
    assert sniff(b"\xef\xbb\xbf" + PDF) is MediaType.PDF
    assert sniff(b"x" * 1000 + PDF) is MediaType.PDF


def test_sniff_ignores_pdf_header_beyond_1024_bytes() -> None:
    assert sniff(b"x" * 1024 + PDF) is None


def test_sniff_reports_zip_holding_a_stored_pdf_as_zip_not_pdf() -> None:
    archive = _zip({"a.pdf": PDF}, method=zipfile.ZIP_STORED)
    assert archive.find(b"%PDF-") < 1024
    assert sniff(archive) is MediaType.ZIP


def test_sniff_reports_tar_holding_a_pdf_as_not_ours() -> None:
    assert sniff(_tar()) is None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is an invoice in plain text",
        b"II+\x00\x08\x00\x00\x00" + bytes(8),  # BigTIFF: MuPDF cannot read it
        b"GIF89a" + bytes(10),
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(10),
        gzip.compress(PDF, mtime=0),
    ],
)
def test_sniff_returns_none_for_types_we_do_not_accept(data: bytes) -> None:
    assert sniff(data) is None


@pytest.mark.parametrize(
    "data",
    [
        _zip({"a.pdf": PDF}),
        b"PK\x05\x06" + bytes(18),
        gzip.compress(b"x", mtime=0),
        bz2.compress(b"x"),
        lzma.compress(b"x"),
        b"7z\xbc\xaf\x27\x1c" + bytes(10),
        b"Rar!\x1a\x07\x00" + bytes(10),
        b"Rar!\x1a\x07\x01\x00" + bytes(10),
        b"\x28\xb5\x2f\xfd" + bytes(10),
        b"MSCF\x00\x00\x00\x00" + bytes(10),
        _tar(),
        bytes(0x8001) + b"CD001" + bytes(10),
    ],
)
def test_looks_like_archive_detects_archives_and_compressed_streams(data: bytes) -> None:
    assert looks_like_archive(data)


@pytest.mark.parametrize("data", [PDF, PNG, JPEG, TIFF, b"", b"plain text", b"BZh0"])
def test_looks_like_archive_is_false_for_documents_and_text(data: bytes) -> None:
    assert not looks_like_archive(data)


def test_office_files_are_recognised_as_single_documents() -> None:
    assert is_office_document(DOCX)
    assert is_office_document(ODT)


def test_zip_batch_is_not_an_office_document_even_when_it_stores_one() -> None:
    batch = _zip({"cover.docx": DOCX, "a.pdf": PDF}, method=zipfile.ZIP_STORED)
    assert b"[Content_Types].xml" in batch
    assert not is_office_document(batch)
    assert not is_office_document(b"PK\x03\x04 truncated")


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (DOCX, "Word document"),
        (ODT, "OpenDocument"),
        (b"Invoice 42\nTotal: 10 EUR\n", "plain text"),
        (b"<!DOCTYPE html><html></html>", "HTML"),
        (b"GIF89a" + bytes(10), "GIF"),
        (b"\x00\x00\x00\x18ftypheic" + bytes(10), "HEIC"),
        (gzip.compress(b"x", mtime=0), "gzip"),
        (b"II+\x00" + bytes(12), "BigTIFF"),
        (PDF, "PDF"),
        (bytes(range(256)), "binary"),
    ],
)
def test_describe_names_what_a_file_looks_like_for_rejection_messages(
    data: bytes, phrase: str
) -> None:
    assert phrase in describe(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_sniffing_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    assert sniff(data) in (None, *MediaType)
    assert isinstance(looks_like_archive(data), bool)
    assert isinstance(is_office_document(data), bool)
    assert describe(data)


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from([b"PK\x03\x04", b"%PDF-", b"II*\x00", b"\x89PNG\r\n\x1a\n", b"BZh9"]),
    st.binary(max_size=1024),
)
def test_sniffing_never_raises_on_magic_followed_by_garbage(magic: bytes, tail: bytes) -> None:
    data = magic + tail
    sniff(data)
    looks_like_archive(data)
    is_office_document(data)
    assert describe(data)
