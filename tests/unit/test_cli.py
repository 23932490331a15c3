"""The command line, `python -m shared extract`, run as a real subprocess.

Each process start costs over a second (PyMuPDF imports its layout model), so the
module fixture starts every scenario at once and the tests then read the finished runs.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymupdf as _pymupdf
import pytest

from shared.__main__ import main
from shared.config import get_settings
from shared.extraction.schema import DATE_FIELDS, INVOICE_FIELDS, LINE_ITEM_FIELDS, MONEY_FIELDS
from tests.corpus.generator import generate_corpus

# PyMuPDF's partial annotations trip strict mypy; use it dynamically.
pymupdf: Any = _pymupdf

REPO_ROOT = Path(__file__).resolve().parents[2]
LINE_ITEM_MONEY = ("amount", "tax")
LINE_ITEM_NUMBERS = ("quantity", "unit_price", "tax_rate")  # may carry more decimals
ALWAYS_PRESENT = ("line_items", "confidence", "warnings", "extractor", "pages", "status")
# plain decimal notation: no exponent, no grouping, no currency
MONEY = re.compile(r"-?\d+\.\d{2}")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(*args: str | Path) -> Run:
    # The settings under test are the defaults, whatever the developer's shell exports.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("INTAKE_", "OCR_")) and name != "EXTRACTOR"
    }
    env["PYTHONIOENCODING"] = "utf-8"
    proc = subprocess.run(
        [sys.executable, "-m", "shared", "extract", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def objects_in(stdout: str) -> list[dict[str, Any]]:
    """Every JSON object printed on stdout, however it is indented."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(stdout) and stdout[position].isspace():
            position += 1
        if position == len(stdout):
            return objects
        value, position = decoder.raw_decode(stdout, position)
        assert isinstance(value, dict), value
        objects.append(value)


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def encrypted_pdf(path: Path) -> None:
    with pymupdf.open() as doc:
        page = doc.new_page()
        page.insert_text((72, 72), "Invoice INV-1 Total 100.00 EUR")
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="x", owner_pw="y")


def bad_inputs(directory: Path) -> tuple[Path, Path, Path]:
    """An empty file, a text file and a password-protected PDF."""
    empty, text, locked = directory / "empty.pdf", directory / "notes.txt", directory / "locked.pdf"
    empty.write_bytes(b"")
    text.write_text("Invoice INV-1, total 100.00 EUR. Please pay soon.\n", encoding="utf-8")
    encrypted_pdf(locked)
    return empty, text, locked


@dataclass(frozen=True)
class Doc:
    id: str
    pdf_path: Path
    pages: int
    truth: dict[str, Any]


@dataclass(frozen=True)
class Scenarios:
    items: list[Doc]  # the generated invoices, in corpus order
    zipped: list[Doc]  # the three PDFs in batch.zip, in order; damaged.zip holds the first two
    runs: dict[str, Run]

    def __getitem__(self, name: str) -> Run:
        return self.runs[name]


def run_scenarios(tmp: Path) -> dict[str, Any]:
    """Build every input and run the three CLI processes at once.

    * "rejected": an empty file, a text file, an encrypted PDF and a missing file;
    * "files": the six generated PDFs, then batch.zip (three of them), default output;
    * "damaged_json": `--json` on damaged.zip (two good PDFs around a cut-off one).
    """
    tmp.mkdir(parents=True, exist_ok=True)
    empty, text, locked = bad_inputs(tmp)
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures: dict[str, Future[Run]] = {}

        def start(name: str, *args: str | Path) -> None:
            futures[name] = pool.submit(run_cli, *args)

        # The rejections need no corpus: start them while the corpus is generated.
        start("rejected", empty, text, locked, tmp / "no-such-file.pdf")
        items = generate_corpus(tmp / "corpus", count=6, seed=3, scans=False)
        # the single-page invoices with the fewest line items keep the ZIP runs short
        zipped = sorted(
            (item for item in items if item.pages == 1), key=lambda i: len(i.truth["line_items"])
        )[:3]
        batch = tmp / "batch.zip"
        batch.write_bytes(zip_of({i.pdf_path.name: i.pdf_path.read_bytes() for i in zipped}))
        start("files", *(item.pdf_path for item in items), batch)
        first, second = (item.pdf_path for item in zipped[:2])
        damaged = tmp / "damaged.zip"
        members = {
            first.name: first.read_bytes(),
            "broken.pdf": second.read_bytes()[:300],  # a cut-off download
            second.name: second.read_bytes(),
        }
        damaged.write_bytes(zip_of(members))
        start("damaged_json", "--json", damaged)
        runs = {name: vars(future.result()) for name, future in futures.items()}
    docs = [
        {"id": i.id, "pdf_path": str(i.pdf_path), "pages": i.pages, "truth": i.truth} for i in items
    ]
    return {"items": docs, "zipped": [i.id for i in zipped], "runs": runs}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Scenarios:
    # Under pytest-xdist (CI runs `-n 2`) every worker would run this module fixture;
    # the first one runs the scenarios, the others wait on the lock and read its results.
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    results = root / "cli-scenarios.json"
    with (root / "cli-scenarios.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not results.exists():
            data = run_scenarios(root / "cli-scenarios")
            results.write_text(json.dumps(data), encoding="utf-8")
        data = json.loads(results.read_text(encoding="utf-8"))
    items = [Doc(d["id"], Path(d["pdf_path"]), d["pages"], d["truth"]) for d in data["items"]]
    by_id = {item.id: item for item in items}
    return Scenarios(
        items=items,
        zipped=[by_id[item_id] for item_id in data["zipped"]],
        runs={name: Run(**run) for name, run in data["runs"].items()},
    )


def by_document(run: Run) -> dict[str, dict[str, Any]]:
    return {obj["document"]: obj for obj in objects_in(run.stdout)}


def plain_outputs(runs: Scenarios) -> list[dict[str, Any]]:
    """The objects of the six plain PDF files, in argument order."""
    outputs = by_document(runs["files"])
    return [outputs[str(item.pdf_path)] for item in runs.items]


def floats_in(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for item in value.values() for f in floats_in(item)]
    if isinstance(value, list):
        return [f for item in value for f in floats_in(item)]
    return []


# --------------------------------------------------------------------------- output shape


def test_each_document_gives_one_json_object_and_exit_code_0(runs: Scenarios) -> None:
    run = runs["files"]
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    documents = [obj["document"] for obj in objects_in(run.stdout)]
    # a plain file is named by its path, a ZIP member by its name in the archive
    expected = [str(item.pdf_path) for item in runs.items]
    expected += [item.pdf_path.name for item in runs.zipped]
    assert documents == expected


def test_output_has_fields_flat_plus_the_result_keys(runs: Scenarios) -> None:
    allowed = set(INVOICE_FIELDS) | set(ALWAYS_PRESENT) | {"document"}
    for obj in objects_in(runs["files"].stdout):
        assert set(ALWAYS_PRESENT) <= set(obj)
        assert set(obj) <= allowed, set(obj) - allowed
        assert obj["extractor"] == "rules"
        assert obj["status"] in {"extracted", "needs_review"}
        assert obj["status"] == ("needs_review" if obj["warnings"] else "extracted")
        assert isinstance(obj["pages"], int)
        assert all(isinstance(code, str) for code in obj["warnings"])
        assert all(0.0 <= value <= 1.0 for value in obj["confidence"].values())
        assert set(obj["confidence"]) <= set(INVOICE_FIELDS)
        for line in obj["line_items"]:
            assert set(line) <= set(LINE_ITEM_FIELDS)
        # nulls are left out, never printed
        assert None not in obj.values()


def test_page_counts_match_the_documents(runs: Scenarios) -> None:
    for item, obj in zip(runs.items, plain_outputs(runs), strict=True):
        assert obj["pages"] == item.pages, item.id


def test_money_is_printed_as_decimal_strings_never_floats(runs: Scenarios) -> None:
    seen = 0
    for obj in objects_in(runs["files"].stdout):
        # confidences are the only JSON numbers with a fraction
        assert floats_in({k: v for k, v in obj.items() if k != "confidence"}) == []
        for name in MONEY_FIELDS:
            if name in obj:
                seen += 1
                assert isinstance(obj[name], str), (name, obj[name])
                assert MONEY.fullmatch(obj[name]), (name, obj[name])
        for line in obj["line_items"]:
            for name in LINE_ITEM_MONEY:
                if name in line:
                    assert isinstance(line[name], str), (name, line[name])
                    assert MONEY.fullmatch(line[name]), (name, line[name])
            for name in LINE_ITEM_NUMBERS:
                if name in line:
                    assert isinstance(line[name], str), (name, line[name])
                    assert NUMBER.fullmatch(line[name]), (name, line[name])
    assert seen >= 9 * 2  # every invoice has at least a total and a subtotal or tax


def test_dates_are_printed_in_iso_format(runs: Scenarios) -> None:
    seen = 0
    for obj in objects_in(runs["files"].stdout):
        dates = [obj[name] for name in DATE_FIELDS if name in obj]
        dates += [line["date"] for line in obj["line_items"] if "date" in line]
        for value in dates:
            seen += 1
            assert ISO_DATE.fullmatch(value), value
            assert dt.date.fromisoformat(value).isoformat() == value
    assert seen >= 9  # every generated invoice has an issue date


def test_invoice_id_and_total_match_the_generated_truth(runs: Scenarios) -> None:
    for item, obj in zip(runs.items, plain_outputs(runs), strict=True):
        assert obj.get("invoice_id") == item.truth["invoice_id"], item.id
        assert Decimal(obj["invoice_total"]) == Decimal(item.truth["invoice_total"]), item.id


def test_default_output_is_indented_json(runs: Scenarios) -> None:
    stdout = runs["files"].stdout
    assert stdout.startswith("{\n  ")
    assert len(stdout.splitlines()) > len(runs.items) + len(runs.zipped)


# --------------------------------------------------------------------------- ZIP and --json


def test_zip_of_three_pdfs_gives_three_objects_equal_to_the_plain_files(runs: Scenarios) -> None:
    plain = by_document(runs["files"])
    from_zip = objects_in(runs["files"].stdout)[len(runs.items) :]
    assert len(from_zip) == 3
    for item, obj in zip(runs.zipped, from_zip, strict=True):
        assert obj["document"] == item.pdf_path.name
        assert obj == plain[str(item.pdf_path)] | {"document": item.pdf_path.name}


def test_json_flag_prints_one_compact_object_per_line(runs: Scenarios) -> None:
    stdout = runs["damaged_json"].stdout
    assert stdout.endswith("\n")
    lines = stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        obj = json.loads(line)
        assert isinstance(obj, dict)
        assert line == json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def test_json_flag_changes_only_the_formatting(runs: Scenarios) -> None:
    plain = by_document(runs["files"])
    compact = [json.loads(line) for line in runs["damaged_json"].stdout.splitlines()]
    for item, obj in zip(runs.zipped[:2], compact, strict=True):
        assert obj == plain[str(item.pdf_path)] | {"document": item.pdf_path.name}


def test_zip_with_a_damaged_member_reports_it_and_extracts_the_rest(runs: Scenarios) -> None:
    run = runs["damaged_json"]
    assert run.returncode == 1
    good = [item.pdf_path.name for item in runs.zipped[:2]]
    assert [obj["document"] for obj in objects_in(run.stdout)] == good
    assert len(run.stderr_lines) == 1, run.stderr
    (line,) = run.stderr_lines
    assert "broken.pdf" in line
    assert "damaged_pdf" in line
    assert "Traceback" not in run.stderr


# --------------------------------------------------------------------------- rejections
#
# One process gets all four bad inputs (each process start costs over a second); the
# exit code of each input alone is checked through `main()` in this process.

REJECTIONS = [
    ("empty.pdf", "empty_file"),
    ("notes.txt", "unsupported_type"),
    ("locked.pdf", "encrypted_pdf"),
]


def test_rejected_inputs_exit_2_with_one_line_each_naming_the_reason(runs: Scenarios) -> None:
    run = runs["rejected"]
    assert run.returncode == 2
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    lines = run.stderr_lines
    assert len(lines) == len(REJECTIONS) + 1, run.stderr
    for line, (name, code) in zip(lines, REJECTIONS, strict=False):
        assert name in line
        assert f"rejected ({code})" in line
    assert "no-such-file.pdf" in lines[-1]
    assert "cannot read" in lines[-1]


@pytest.fixture
def default_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("INTAKE_", "OCR_")) or name == "EXTRACTOR":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("default_settings")
@pytest.mark.parametrize(("name", "code"), [*REJECTIONS, ("no-such-file.pdf", "cannot read")])
def test_each_rejected_input_alone_exits_2_with_one_stderr_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, code: str
) -> None:
    bad_inputs(tmp_path)
    assert main(["extract", str(tmp_path / name)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert code in err


def test_usage_error_without_files_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["extract"])
    assert excinfo.value.code == 2
    assert "FILE" in capsys.readouterr().err
