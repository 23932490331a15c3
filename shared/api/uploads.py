"""POST /uploads: a write-only URL for exactly one new blob under the caller's prefix."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from shared.api.call import Call
from shared.api.http import ApiResponse
from shared.blobs import upload_ticket


class UploadRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255, description="The document's file name")


class UploadTicketOut(BaseModel):
    upload_id: str
    blob_path: str = Field(description="{owner}/{upload_id}/{filename} in invoices-incoming")
    url: str = Field(description="PUT the file here; write-only, for this blob alone")
    method: str = "PUT"
    headers: dict[str, str] = Field(description="Send these headers with the PUT")
    expires_at: dt.datetime


def create_upload(call: Call) -> ApiResponse:
    request = call.body(UploadRequest)
    settings = call.services.settings.blobs
    ticket = upload_ticket(
        call.services.blobs,
        settings,
        call.principal.user_id,
        request.filename,
        dt.datetime.now(dt.UTC),
    )
    body = UploadTicketOut(
        upload_id=ticket.upload_id,
        blob_path=ticket.blob_path,
        url=ticket.url,
        method=ticket.method,
        headers=dict(ticket.headers),
        expires_at=ticket.expires_at,
    )
    return ApiResponse.json(201, body)
