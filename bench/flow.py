"""End-to-end throughput: documents per minute through the whole local stack.

    .venv/bin/python -m bench.flow [--pdfs 200] [--scans 50] [--window 8]

Starts the stack as `python -m devhost start` does (a subprocess: devhost running the real
function_app, Azurite, embedded PostgreSQL), drops each generated invoice as its own upload
into invoices-incoming, and times from the first drop until every job has finished: blob
trigger, orchestration, parse/OCR, extraction, storage, progress messages, blob moves.
Text PDFs and scans are measured separately. Prints a Markdown table for the README.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import tempfile
import time
import uuid
from pathlib import Path

from shared.flow.ids import job_id_for
from shared.storage.database import embedded_url
from tests.corpus.generator import generate_item
from tests.e2e.stack import Stack, make_stack

DONE = ("completed", "completed_with_errors", "failed")


def run_batch(stack: Stack, files: list[Path], label: str) -> tuple[float, int, int]:
    user = f"bench{uuid.uuid4().hex[:6]}"
    token = stack.token(user, "viewer")
    incoming = stack.blobs().get_container_client("invoices-incoming")
    jobs = []
    started = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        blob = f"dev-{user}/{uuid.uuid4().hex[:8]}/{path.name}"
        incoming.upload_blob(blob, data)
        jobs.append(job_id_for(blob, hashlib.sha256(data).hexdigest()))
    pending = set(jobs)
    succeeded = failed = 0
    while pending:
        time.sleep(0.5)
        for job_id in list(pending):
            status, job = stack.call("GET", f"/api/jobs/{job_id}", token=token)
            if status == 200 and job["status"] in DONE:
                pending.discard(job_id)
                succeeded += job["documents_succeeded"]
                failed += job["documents_failed"]
        if time.perf_counter() - started > 3600:
            raise SystemExit(f"{label}: {len(pending)} jobs still running after an hour")
    return time.perf_counter() - started, succeeded, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=int, default=200)
    parser.add_argument("--scans", type=int, default=50)
    parser.add_argument("--window", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-flow-"))
    work.chmod(0o755)
    corpus = work / "corpus"
    corpus.mkdir()
    print(f"generating {args.pdfs} text PDFs and {args.scans} scans ...", flush=True)
    pdfs = [generate_item(corpus, n, 505, scans=False).pdf_path for n in range(args.pdfs)]
    scans = [generate_item(corpus, 1000 + n, 505, scans=True).scan_path for n in range(args.scans)]
    url = embedded_url(work / "pg", keep_running=False, delete_on_exit=True)
    stack = make_stack(work, url, f"bench{uuid.uuid4().hex[:6]}")
    stack.env["FLOW_WINDOW"] = str(args.window)
    stack.start()
    try:
        print(f"\n{platform.machine()}, {args.window} documents at once per upload\n")
        print("| input | documents | wall time | documents/minute | failed |")
        print("|---|---:|---:|---:|---:|")
        for label, files in (("text PDFs", pdfs), ("scans (OCR)", [p for p in scans if p])):
            if not files:
                continue
            elapsed, _, failed = run_batch(stack, files, label)
            print(f"| {label}, one upload each | {len(files)} | {elapsed:.1f} s | "
                  f"{60 * len(files) / elapsed:.0f} | {failed} |", flush=True)  # fmt: skip
    finally:
        stack.stop()


if __name__ == "__main__":
    main()
