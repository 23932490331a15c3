"""Intake checks: every rejection has a stable code, good documents get through.

All fixtures are built in code (PyMuPDF for PDFs, Pillow for images, zipfile for
batches); nothing binary is committed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import struct
import zipfile
import zlib
from typing import Any

import pymupdf as _pymupdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from shared.config import IntakeLimits
from shared.documents import intake as intake_module
from shared.documents.intake import (
    DAMAGED_IMAGE,
    DAMAGED_PDF,
    EMPTY_FILE,
    ENCRYPTED_PDF,
    REASON_CODES,
    TOO_LARGE,
    TOO_MANY_PAGES,
    UNSUPPORTED_TYPE,
    ZIP_DAMAGED,
    ZIP_EMPTY,
    ZIP_ENCRYPTED,
    ZIP_NESTED_ARCHIVE,
    ZIP_PATH_TRAVERSAL,
    ZIP_TOO_LARGE,
    ZIP_TOO_MANY_MEMBERS,
    IncomingDocument,
    RejectedMember,
    check_document,
    expand_zip,
    intake,
)
from shared.documents.sniff import MediaType
from shared.errors import DocumentRejected

# PyMuPDF's partial annotations trip strict mypy; use it dynamically.
pymupdf: Any = _pymupdf

LIMITS = IntakeLimits()

# --- fixture builders ----------------------------------------------------------------


def make_pdf(pages: int = 1, **save_options: object) -> bytes:
    doc = pymupdf.open()
    for number in range(pages):
        page = doc.new_page()
        page.insert_text((72, 72), f"Invoice INV-{number} Total 100.00 EUR")
    data: bytes = doc.tobytes(**save_options)
    return data


def make_image(fmt: str, size: tuple[int, int] = (40, 30), **options: object) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "white").save(out, fmt, **options)
    return out.getvalue()


def make_tiff(frames: int) -> bytes:
    images = [Image.new("L", (40, 30), shade * 40) for shade in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "TIFF", save_all=True, append_images=images[1:])
    return out.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def make_raw_tiff(order: str, *, tile: int | None = None, size: int = 32) -> bytes:
    """Uncompressed 8-bit grey TIFF in either byte order, in one strip or in tiles."""
    pixels = bytes((x * 7 + y) % 256 for y in range(size) for x in range(size))
    step = tile or size
    chunks = [
        b"".join(
            pixels[(ty + row) * size + tx : (ty + row) * size + tx + step] for row in range(step)
        )
        for ty in range(0, size, step)
        for tx in range(0, size, step)
    ]
    offsets = [8 + step * step * index for index in range(len(chunks))]
    tables = struct.pack(f"{order}{len(chunks)}I", *offsets)
    tables += struct.pack(f"{order}{len(chunks)}I", *[step * step] * len(chunks))
    tables_at = 8 + len(pixels)

    def entry(tag: int, kind: int, count: int, value: int) -> bytes:
        packed = (
            struct.pack(f"{order}HH", value, 0) if kind == 3 else struct.pack(f"{order}I", value)
        )
        return struct.pack(f"{order}HHI", tag, kind, count) + packed

    entries = [(256, 4, 1, size), (257, 4, 1, size), (258, 3, 1, 8), (259, 3, 1, 1)]
    entries += [(262, 3, 1, 1), (277, 3, 1, 1)]
    if tile is None:
        entries += [(273, 4, 1, 8), (278, 4, 1, size), (279, 4, 1, len(pixels))]
    else:
        entries += [(322, 3, 1, tile), (323, 3, 1, tile)]
        entries += [
            (324, 4, len(chunks), tables_at),
            (325, 4, len(chunks), tables_at + len(chunks) * 4),
        ]
    ifd = struct.pack(f"{order}H", len(entries)) + b"".join(entry(*e) for e in entries)
    ifd += struct.pack(f"{order}I", 0)
    magic = b"II*\x00" if order == "<" else b"MM\x00*"
    body = b"".join(chunks) + (tables if tile else b"")
    return magic + struct.pack(f"{order}I", 8 + len(body)) + body + ifd


def make_png_raw(width: int, height: int, idat: bytes) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def make_zip(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as archive:
        for name, body in members:
            archive.writestr(zipfile.ZipInfo(name), body, compress_type=method)
    return out.getvalue()


def patch_zip_headers(data: bytes, local_offset: int, central_offset: int, value: bytes) -> bytes:
    """Overwrite a field in every local and central header (zipfile cannot write them)."""
    patched = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        start = patched.find(signature)
        while start >= 0:
            patched[start + offset : start + offset + len(value)] = value
            start = patched.find(signature, start + 4)
    return bytes(patched)


PDF = make_pdf(2)
PNG = make_image("PNG")
JPEG = make_image("JPEG")
TIFF = make_tiff(3)


def rejection(name: str, data: bytes, limits: IntakeLimits = LIMITS) -> DocumentRejected:
    with pytest.raises(DocumentRejected) as caught:
        intake(name, data, limits)
    assert caught.value.code in REASON_CODES
    return caught.value


# --- accepted documents ----------------------------------------------------------------


def test_pdf_is_accepted_with_its_page_count_and_sha256() -> None:
    [document] = intake("invoice.pdf", PDF, LIMITS)
    assert document == IncomingDocument(
        name="invoice.pdf",
        data=PDF,
        media_type=MediaType.PDF,
        pages=2,
        sha256=hashlib.sha256(PDF).hexdigest(),
    )


@pytest.mark.parametrize(
    ("data", "media_type", "pages"),
    [(PNG, MediaType.PNG, 1), (JPEG, MediaType.JPEG, 1), (TIFF, MediaType.TIFF, 3)],
)
def test_images_are_accepted_and_tiff_frames_count_as_pages(
    data: bytes, media_type: MediaType, pages: int
) -> None:
    document = check_document("scan", data, LIMITS)
    assert (document.media_type, document.pages) == (media_type, pages)
    assert document.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("order", "tile"),
    [("<", None), (">", None), ("<", 16), (">", 16)],
    ids=["II", "MM", "II-tiled", "MM-tiled"],
)
def test_tiff_in_either_byte_order_with_strips_or_tiles_is_accepted(
    order: str, tile: int | None
) -> None:
    assert check_document("scan.tif", make_raw_tiff(order, tile=tile), LIMITS).pages == 1


def test_type_is_taken_from_content_never_from_file_name() -> None:
    assert check_document("photo.jpg", PDF, LIMITS).media_type is MediaType.PDF
    assert check_document("invoice.pdf", PNG, LIMITS).media_type is MediaType.PNG
    assert rejection("invoice.pdf", b"just some text").code == UNSUPPORTED_TYPE


def test_pdf_with_junk_before_its_header_is_accepted() -> None:
    assert check_document("a.pdf", b"\xef\xbb\xbf\r\n" + PDF, LIMITS).pages == 2


def test_pdf_with_destroyed_xref_is_accepted_once_repaired_into_readable_pages() -> None:
    broken = PDF[: PDF.rindex(b"xref")] + b"garbage" * 10
    assert check_document("a.pdf", broken, LIMITS).pages == 2


def test_pdf_with_only_an_owner_password_is_accepted_because_it_opens_without_one() -> None:
    data = make_pdf(1, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", permissions=0)
    assert check_document("restricted.pdf", data, LIMITS).pages == 1


# --- rejected documents ------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b" \r\n\t ", bytes(100)])
def test_empty_or_blank_file_is_rejected_as_empty(data: bytes) -> None:
    assert rejection("a.pdf", data).code == EMPTY_FILE


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        (b"Invoice 42, total 10 EUR", "plain text"),
        (b"GIF89a" + bytes(20), "GIF"),
        (make_zip([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<d/>")]), "Word"),
        (gzip.compress(PDF), "gzip"),
        (b"II+\x00\x08\x00\x00\x00" + bytes(16), "BigTIFF"),
    ],
)
def test_unknown_type_is_rejected_saying_what_it_looks_like(data: bytes, phrase: str) -> None:
    error = rejection("invoice.pdf", data)
    assert error.code == UNSUPPORTED_TYPE
    assert phrase in error.message


def test_document_over_the_size_limit_is_rejected_before_parsing() -> None:
    limits = IntakeLimits(max_document_bytes=len(PDF) - 1)
    error = rejection("a.pdf", PDF, limits)
    assert error.code == TOO_LARGE
    assert f"{len(PDF) - 1:,} bytes" in error.message


def test_pdf_over_the_page_limit_is_rejected_naming_count_and_limit() -> None:
    error = rejection("a.pdf", make_pdf(3), IntakeLimits(max_pages=2))
    assert (error.code, error.message) == (TOO_MANY_PAGES, "PDF has 3 pages; the limit is 2.")


def test_tiff_with_more_frames_than_the_page_limit_is_rejected() -> None:
    assert rejection("fax.tif", TIFF, IntakeLimits(max_pages=2)).code == TOO_MANY_PAGES


def test_pdf_that_needs_a_password_is_rejected_as_encrypted() -> None:
    data = make_pdf(1, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")
    assert rejection("secret.pdf", data).code == ENCRYPTED_PDF


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + os.urandom(4096),
        PDF[:100],
        b"%PDF-1.4\n",
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF",
    ],
    ids=["garbage-after-header", "truncated", "header-only", "zero-pages"],
)
def test_unreadable_pdf_is_rejected_as_damaged(data: bytes) -> None:
    error = rejection("a.pdf", data)
    assert error.code == DAMAGED_PDF
    assert "Traceback" not in error.message


def test_truncated_pdf_is_either_rejected_or_repaired_into_loadable_pages() -> None:
    for cut in (len(PDF) // 4, len(PDF) // 2, len(PDF) - 50):
        try:
            document = check_document("a.pdf", PDF[:cut], LIMITS)
        except DocumentRejected as error:
            assert error.code == DAMAGED_PDF
        else:
            with pymupdf.open(stream=document.data, filetype="pdf") as doc:
                assert doc.page_count == document.pages >= 1
                for page in doc:
                    assert page.rect.width > 0


@pytest.mark.parametrize(
    "data",
    [
        PNG[: len(PNG) // 2],
        PNG[:40],  # header only: MuPDF alone would decode this as a blank image
        make_png_raw(40, 30, b"definitely not zlib data"),  # valid chunks, undecodable
        b"\x89PNG\r\n\x1a\n" + os.urandom(200),
        JPEG[:3] + os.urandom(500),
        JPEG[: len(JPEG) - 40],  # truncated: MuPDF would paint the rest grey
        TIFF[:60],
        TIFF[: len(TIFF) - 30],
    ],
    ids=[
        "png-truncated",
        "png-header-only",
        "png-corrupt-pixels",
        "png-garbage",
        "jpeg-garbage",
        "jpeg-truncated",
        "tiff-header-only",
        "tiff-truncated",
    ],
)
def test_undecodable_image_is_rejected_as_damaged(data: bytes) -> None:
    assert rejection("scan", data).code == DAMAGED_IMAGE


def test_tiff_whose_image_data_lies_past_the_end_of_the_file_is_rejected() -> None:
    data = make_raw_tiff("<")
    assert rejection("scan.tif", data[:-200] + data[-126:]).code == DAMAGED_IMAGE  # bytes cut


def test_tiff_whose_page_list_loops_is_rejected_instead_of_hanging() -> None:
    data = bytearray(TIFF)
    (first_ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, first_ifd)
    struct.pack_into("<I", data, first_ifd + 2 + 12 * count, first_ifd)
    assert rejection("fax.tif", bytes(data)).code == DAMAGED_IMAGE


def test_image_claiming_huge_dimensions_is_rejected_before_decoding() -> None:
    bomb = make_png_raw(30_000, 30_000, zlib.compress(b"\x00" * 30_001))
    error = rejection("bomb.png", bomb)
    assert error.code == TOO_LARGE
    assert "30,000 x 30,000 pixels" in error.message


# --- ZIP batches ---------------------------------------------------------------------------


def test_zip_members_come_back_in_order_with_bad_ones_as_rejected_members() -> None:
    archive = make_zip(
        [
            ("batch/a.pdf", PDF),
            ("batch/broken.pdf", b"%PDF-1.4\n" + os.urandom(500)),
            ("batch/b.png", PNG),
            ("batch/notes.txt", b"call the supplier"),
            ("batch/c.jpg", JPEG),
            ("batch/empty.pdf", b""),
        ]
    )
    results = intake("batch.zip", archive, LIMITS)
    assert [(r.name, type(r).__name__) for r in results] == [
        ("batch/a.pdf", "IncomingDocument"),
        ("batch/broken.pdf", "RejectedMember"),
        ("batch/b.png", "IncomingDocument"),
        ("batch/notes.txt", "RejectedMember"),
        ("batch/c.jpg", "IncomingDocument"),
        ("batch/empty.pdf", "RejectedMember"),
    ]
    rejected = [r for r in results if isinstance(r, RejectedMember)]
    assert [r.code for r in rejected] == [DAMAGED_PDF, UNSUPPORTED_TYPE, EMPTY_FILE]
    accepted = [r for r in results if isinstance(r, IncomingDocument)]
    assert [d.sha256 for d in accepted] == [hashlib.sha256(b).hexdigest() for b in (PDF, PNG, JPEG)]


def test_zip_skips_folders_macos_metadata_and_hidden_files_without_counting_them() -> None:
    archive = make_zip(
        [
            ("batch/", b""),
            ("batch/a.pdf", PDF),
            ("__MACOSX/batch/._a.pdf", b"\x00\x05\x16\x07junk"),
            ("batch/.DS_Store", b"\x00\x00\x00\x01Bud1"),
            (".hidden/b.pdf", PDF),
            ("batch/Thumbs.db", b"\xd0\xcf\x11\xe0"),
            ("./batch/b.png", PNG),
        ]
    )
    limits = IntakeLimits(max_zip_members=2)
    assert expand_zip("batch.zip", archive, limits) == [
        ("batch/a.pdf", PDF),
        ("./batch/b.png", PNG),
    ]
    assert [r.name for r in intake("batch.zip", archive, limits)] == [
        "batch/a.pdf",
        "./batch/b.png",
    ]


def test_zip_member_over_the_size_limit_is_rejected_alone_and_never_fully_expanded() -> None:
    big = b"%PDF-1.4\n" + bytes(200_000)
    archive = make_zip([("big.pdf", big), ("a.pdf", PDF)])
    limits = IntakeLimits(max_document_bytes=100_000)
    [(_, cut), _] = expand_zip("batch.zip", archive, limits)
    assert len(cut) == 100_001
    first, second = intake("batch.zip", archive, limits)
    assert isinstance(first, RejectedMember) and first.code == TOO_LARGE
    assert isinstance(second, IncomingDocument)


@pytest.mark.parametrize(
    "data",
    [
        b"PK\x03\x04" + os.urandom(300),
        make_zip([("a.pdf", PDF)])[:-30],
        # flip a byte of compressed data: CRC check fails while reading
        (lambda z: z[:60] + bytes([z[60] ^ 0xFF]) + z[61:])(make_zip([("a.pdf", PDF)])),
        # compression method 9 (Deflate64), which zipfile cannot read
        patch_zip_headers(make_zip([("a.pdf", PDF)]), 8, 10, b"\x09\x00"),
    ],
    ids=["garbage", "truncated", "corrupt-data", "unsupported-method"],
)
def test_unreadable_zip_is_rejected_as_damaged(data: bytes) -> None:
    assert rejection("batch.zip", data).code == ZIP_DAMAGED


def test_zip_with_an_encrypted_member_is_rejected_whole() -> None:
    archive = make_zip([("a.pdf", PDF), ("b.pdf", PDF)])
    encrypted = patch_zip_headers(archive, 6, 8, b"\x01\x00")
    assert rejection("batch.zip", encrypted).code == ZIP_ENCRYPTED


@pytest.mark.parametrize(
    "name",
    ["../evil.pdf", "batch/../../evil.pdf", "/etc/evil.pdf", "C:/evil.pdf", "batch\\evil.pdf"],
)
def test_zip_member_path_escaping_the_archive_is_rejected_whole(name: str) -> None:
    archive = make_zip([("a.pdf", PDF), (name, PDF)])
    error = rejection("batch.zip", archive)
    assert error.code == ZIP_PATH_TRAVERSAL


def test_zip_member_name_with_nul_byte_is_rejected_as_path_traversal() -> None:
    archive = make_zip([("evil.pdf~.exe", PDF)]).replace(b"evil.pdf~", b"evil.pdf\x00")
    assert rejection("batch.zip", archive).code == ZIP_PATH_TRAVERSAL


@pytest.mark.parametrize(
    "inner",
    [make_zip([("a.pdf", PDF)]), gzip.compress(PDF), b"7z\xbc\xaf\x27\x1c" + bytes(64)],
    ids=["zip", "gzip", "7z"],
)
def test_zip_holding_an_archive_is_rejected_by_content_whatever_its_name(inner: bytes) -> None:
    archive = make_zip([("a.pdf", PDF), ("innocent.pdf", inner)])
    assert rejection("batch.zip", archive).code == ZIP_NESTED_ARCHIVE


def test_office_file_inside_a_zip_is_an_unsupported_member_not_a_nested_archive() -> None:
    docx = make_zip([("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<d/>")])
    [accepted, rejected] = intake("batch.zip", make_zip([("a.pdf", PDF), ("c.docx", docx)]), LIMITS)
    assert isinstance(accepted, IncomingDocument)
    assert isinstance(rejected, RejectedMember) and rejected.code == UNSUPPORTED_TYPE


def test_zip_with_more_documents_than_allowed_is_rejected() -> None:
    archive = make_zip([(f"{n}.pdf", PDF) for n in range(3)])
    error = rejection("batch.zip", archive, IntakeLimits(max_zip_members=2))
    assert error.code == ZIP_TOO_MANY_MEMBERS
    assert "3 documents; the limit is 2" in error.message


def test_zip_with_huge_numbers_of_entries_is_rejected_before_listing_them() -> None:
    archive = make_zip([(f"d{n}/", b"") for n in range(200)] + [("a.pdf", PDF)])
    assert rejection("batch.zip", archive, IntakeLimits(max_zip_members=5)).code == (
        ZIP_TOO_MANY_MEMBERS
    )


def test_zip_expanding_past_the_total_limit_is_rejected() -> None:
    archive = make_zip([(f"{n}.pdf", PDF) for n in range(3)])
    limits = IntakeLimits(max_zip_expanded_bytes=2 * len(PDF) + 10)
    assert rejection("batch.zip", archive, limits).code == ZIP_TOO_LARGE


def test_zip_bomb_with_lying_size_header_is_rejected_without_expanding_it() -> None:
    bomb_body = b"%PDF-1.4\n" + bytes(5_000_000)
    archive = make_zip([("bomb.pdf", bomb_body)])
    lying = patch_zip_headers(archive, 22, 24, struct.pack("<I", 1000))
    assert len(lying) < 10_000
    limits = IntakeLimits(max_document_bytes=1_000_000, max_zip_expanded_bytes=2_000_000)
    # zipfile stops at the declared size, then the CRC no longer matches.
    assert rejection("bomb.zip", lying, limits).code == ZIP_DAMAGED


def test_member_reads_stop_one_byte_past_the_cap_whatever_the_stream_holds() -> None:
    class CountingStream(io.BytesIO):
        consumed = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            self.consumed += len(chunk)
            return chunk

    stream = CountingStream(bytes(10_000_000))
    body, complete = intake_module._read_capped(stream, 1_000_000)
    assert (len(body), complete, stream.consumed) == (1_000_001, False, 1_000_001)
    assert intake_module._read_capped(io.BytesIO(b"abc"), 3) == (b"abc", True)


@pytest.mark.parametrize(
    "members",
    [
        [],
        [("batch/", b""), ("__MACOSX/._a.pdf", b"x"), (".DS_Store", b"x")],
    ],
    ids=["no-entries", "only-junk"],
)
def test_zip_without_document_members_is_rejected_as_empty(
    members: list[tuple[str, bytes]],
) -> None:
    assert rejection("batch.zip", make_zip(members)).code == ZIP_EMPTY


def test_broken_files_keep_mupdf_quiet_and_restore_its_error_display(
    capfd: pytest.CaptureFixture[str],
) -> None:
    original = pymupdf.TOOLS.mupdf_display_errors()
    pymupdf.TOOLS.mupdf_display_errors(True)
    try:
        for data in (b"%PDF-1.4\n" + os.urandom(2000), PDF[: len(PDF) // 2], PNG[:-20], TIFF[:60]):
            with contextlib.suppress(DocumentRejected):
                intake("broken", data, LIMITS)
        assert capfd.readouterr().err == ""
        assert pymupdf.TOOLS.mupdf_display_errors() is True
    finally:
        pymupdf.TOOLS.mupdf_display_errors(original)


# --- robustness ------------------------------------------------------------------------------

SEEDS = [PDF, PNG, JPEG, TIFF, make_zip([("a.pdf", PDF), ("b.png", PNG)])]


def _assert_intake_returns_or_rejects(data: bytes) -> None:
    try:
        results = intake("fuzz", data, IntakeLimits(max_document_bytes=1_000_000))
    except DocumentRejected as error:
        assert error.code in REASON_CODES
        assert error.message and "\n" not in error.message
    else:
        assert results
        for result in results:
            if isinstance(result, RejectedMember):
                assert result.code in REASON_CODES


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=4096))
def test_intake_on_arbitrary_bytes_returns_or_raises_document_rejected(data: bytes) -> None:
    _assert_intake_returns_or_rejects(data)


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
    st.floats(0.05, 1.0),
)
def test_intake_on_corrupted_real_files_returns_or_raises_document_rejected(
    seed: bytes, flips: list[tuple[float, int]], keep: float
) -> None:
    data = bytearray(seed[: max(1, int(len(seed) * keep))])
    for where, value in flips:
        data[int(where * len(data))] = value
    _assert_intake_returns_or_rejects(bytes(data))
