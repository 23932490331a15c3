"""Jobs (list, get with per-document outcomes) and upload URLs."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlsplit

from psycopg_pool import ConnectionPool

from shared.storage import documents, jobs
from tests.api.conftest import User
from tests.support.api import Client
from tests.support.azurite import Azurite


def _job(pool: ConnectionPool, owner: str, outcomes: dict[str, str]) -> str:
    job_id = f"job-{uuid.uuid4().hex}"
    with pool.connection() as conn:
        jobs.start(conn, job_id=job_id, owner=owner, source_blob=f"{owner}/up/batch.zip")
        jobs.add_documents(
            conn, job_id, [jobs.ManifestEntry(n, name) for n, name in enumerate(outcomes)]
        )
        for position, (name, outcome) in enumerate(outcomes.items()):
            document = documents.register(
                conn,
                owner=owner,
                sha256=hashlib.sha256(f"{job_id}{name}".encode()).hexdigest(),
                blob_path=f"{owner}/up/batch.zip",
                member_name=name,
            )
            failed = outcome == "failed"
            jobs.record_document(
                conn,
                job_id=job_id,
                position=position,
                outcome=outcome,
                document_id=document.id,
                error_code="pdf_encrypted" if failed else None,
                error_message="the PDF is encrypted" if failed else None,
            )
        jobs.finish(conn, job_id)
    return job_id


def test_job_with_per_document_outcomes(api: Client, pool: ConnectionPool, alice: User) -> None:
    job_id = _job(
        pool, alice.owner, {"a.pdf": "extracted", "b.pdf": "failed", "c.pdf": "extracted"}
    )
    response = api.get(f"/api/jobs/{job_id}", token=alice.token("viewer"))
    assert response.status == 200
    job = response.json()
    assert job["status"] == "completed_with_errors"
    assert (job["documents_total"], job["documents_succeeded"], job["documents_failed"]) == (
        3,
        2,
        1,
    )
    failed = [d for d in job["documents"] if d["outcome"] == "failed"]
    assert failed == [
        {
            "position": 1,
            "name": "b.pdf",
            "document_id": failed[0]["document_id"],
            "outcome": "failed",
            "error_code": "pdf_encrypted",
            "error_message": "the PDF is encrypted",
            "invoice_id": None,
        }
    ]


def test_jobs_list_pages_and_filters(api: Client, pool: ConnectionPool, alice: User) -> None:
    done = [_job(pool, alice.owner, {"a.pdf": "extracted"}) for _ in range(3)]
    partial = _job(pool, alice.owner, {"a.pdf": "failed"})
    token = alice.token("viewer")
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        page = api.get("/api/jobs", token=token, query=query).json()
        seen += [job["id"] for job in page["items"]]
        assert all("documents" not in job or job["documents"] is None for job in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [partial, *reversed(done)]
    filtered = api.get("/api/jobs", token=token, query={"status": "completed_with_errors"}).json()
    assert [job["id"] for job in filtered["items"]] == [partial]
    assert api.get("/api/jobs", token=token, query={"status": "done"}).status == 400


def test_upload_url_writes_exactly_one_blob_under_the_callers_prefix(
    api: Client, alice: User, azurite: Azurite
) -> None:
    response = api.post("/api/uploads", token=alice.token("processor"),
                        json_body={"filename": "../../bob/invoice 7.pdf"})  # fmt: skip
    assert response.status == 201, response.body
    ticket = response.json()
    assert ticket["blob_path"].startswith(f"{alice.owner}/{ticket['upload_id']}/")
    assert ticket["blob_path"].endswith("/invoice 7.pdf")
    put = urllib.request.Request(ticket["url"], data=b"%PDF-1.7 test", method="PUT",
                                 headers=ticket["headers"])  # fmt: skip
    with urllib.request.urlopen(put) as uploaded:
        assert uploaded.status == 201
    container = azurite.settings.incoming_container
    service = __import__("shared.blobs", fromlist=["blob_service"]).blob_service(azurite.settings)
    blob = service.get_blob_client(container, ticket["blob_path"])
    assert blob.download_blob().readall() == b"%PDF-1.7 test"
    # The same signature cannot read, nor write anywhere else.
    parts = urlsplit(ticket["url"])
    other = parts._replace(path=parts.path.replace(alice.owner, "dev-someone-else")).geturl()
    for url, method, body in ((ticket["url"], "GET", None), (other, "PUT", b"x")):
        request = urllib.request.Request(url, data=body, method=method, headers=ticket["headers"])
        try:
            urllib.request.urlopen(request)
            raise AssertionError(f"{method} {url} was allowed")
        except urllib.error.HTTPError as error:
            assert error.code == 403


def test_upload_needs_a_filename(api: Client, alice: User) -> None:
    for body in ({}, {"filename": ""}, {"filename": "..."}, {"filename": "a\u202egpj.exe"}):
        response = api.post("/api/uploads", token=alice.token("processor"), json_body=body)
        assert response.status == 400, body
        assert response.json()["field"] == "filename"
