-- A job's manifest: every document of the upload, in order, with where its bytes are staged,
-- so the orchestration can page through a large batch by position instead of carrying the list
-- in its history, and a retry can find the failed documents' bytes again.

ALTER TABLE job_documents
    ADD COLUMN position    integer,
    ADD COLUMN staged_blob text,
    ADD COLUMN sha256      text;
UPDATE job_documents SET position = 0 WHERE position IS NULL;
ALTER TABLE job_documents ALTER COLUMN position SET NOT NULL;
-- Positions identify a job's documents: a ZIP may hold two members with the same name.
ALTER TABLE job_documents DROP CONSTRAINT job_documents_pkey;
ALTER TABLE job_documents ADD PRIMARY KEY (job_id, position);
